//! The `frame-check` feature: a CRC-16/CCITT-FALSE over each frame's defmt bytes, appended inside the rzcobs frame.
//!
//! Every frame (log calls and drop reports) is encoded by [`Encoder`]:
//! defmt's rzcobs encoder itself without the feature; with it, a wrapper that
//! feeds every byte defmt hands it (string index, timestamp, arguments) to a
//! [`Crc`] and, before the frame is closed, writes the CRC (little-endian)
//! through the same encoder: the check value is inside the rzcobs frame, so
//! framing and delimiters are unchanged. The
//! runner finds the table below by its symbol name in the ELF, knows that
//! every frame carries a check value, strips it and counts a frame that fails
//! it as corrupted.

/// The frame encoder: defmt's own (no check value).
#[cfg(not(feature = "frame-check"))]
pub(crate) use defmt::Encoder;

/// Bytes of the check value in each frame, before encoding.
pub(crate) const LEN: usize = if cfg!(feature = "frame-check") { 2 } else { 0 };

/// defmt's rzcobs encoder, with the CRC of the frame's bytes written before the frame is closed.
#[cfg(feature = "frame-check")]
pub(crate) struct Encoder {
    inner: defmt::Encoder,
    crc: Crc,
}

#[cfg(feature = "frame-check")]
impl Encoder {
    /// A new encoder (the stream's first separator comes before its first frame).
    pub(crate) const fn new() -> Self {
        Self {
            inner: defmt::Encoder::new(),
            crc: Crc::new(),
        }
    }

    /// Starts a frame: a new CRC.
    #[inline]
    pub(crate) fn start_frame(&mut self, write: impl FnMut(&[u8])) {
        self.crc = Crc::new();
        self.inner.start_frame(write);
    }

    /// Encodes `data`, adding it to the CRC.
    #[inline]
    pub(crate) fn write(&mut self, data: &[u8], write: impl FnMut(&[u8])) {
        self.crc.update(data);
        self.inner.write(data, write);
    }

    /// Writes the check value and closes the frame.
    #[inline]
    pub(crate) fn end_frame(&mut self, mut write: impl FnMut(&[u8])) {
        self.inner.write(&self.crc.bytes(), &mut write);
        self.inner.end_frame(write);
    }
}

/// CRC-16/CCITT-FALSE lookup table (poly 0x1021). Its symbol name tells the
/// runner that this firmware checks its frames: keep name and contents.
#[cfg(feature = "frame-check")]
#[no_mangle]
#[used]
pub static HIL_FRAME_CHECK_CRC16: [u16; 256] = table();

#[cfg(feature = "frame-check")]
const fn table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// A running CRC-16/CCITT-FALSE (init 0xffff, no reflection, no final XOR).
#[cfg(feature = "frame-check")]
#[derive(Clone, Copy)]
pub(crate) struct Crc(u16);

#[cfg(feature = "frame-check")]
impl Crc {
    /// The CRC of no bytes.
    pub(crate) const fn new() -> Self {
        Self(0xffff)
    }

    /// Adds `bytes`.
    #[inline]
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            let i = usize::from((self.0 >> 8) as u8 ^ byte);
            self.0 = (self.0 << 8) ^ HIL_FRAME_CHECK_CRC16[i];
        }
    }

    /// The check value as it goes into the frame: little-endian.
    #[inline]
    pub(crate) fn bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }
}

#[cfg(all(test, feature = "frame-check"))]
pub(crate) mod tests {
    //! The table-driven CRC is CRC-16/CCITT-FALSE, bit for bit; every frame the logger sends ends with it.

    use super::Crc;

    /// Bit by bit: the reference.
    pub(crate) fn reference(data: &[u8]) -> u16 {
        data.iter().fold(0xffff, |crc, &byte| {
            let mut crc = crc ^ (u16::from(byte) << 8);
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    #[test]
    fn the_crc_is_crc16_ccitt_false() {
        let mut crc = Crc::new();
        crc.update(b"1234");
        crc.update(b"56789");
        assert_eq!(crc.bytes(), 0x29b1u16.to_le_bytes());
        for len in 0..300usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let mut crc = Crc::new();
            crc.update(&data);
            assert_eq!(crc.bytes(), reference(&data).to_le_bytes(), "{len} bytes");
        }
    }

    /// rzcobs-decode one frame (its delimiter included), byte by byte back to front.
    fn decode(frame: &[u8]) -> Vec<u8> {
        let (&0, frame) = frame.split_last().expect("a frame") else {
            panic!("no delimiter: {frame:02x?}");
        };
        let mut out = Vec::new();
        let mut data = frame.iter().rev().copied();
        while let Some(code) = data.next() {
            match code {
                0x01..=0x7f => {
                    for bit in (0..7).rev() {
                        out.push(if code & (1 << bit) == 0 {
                            data.next().unwrap()
                        } else {
                            0
                        });
                    }
                }
                0x80..=0xfe => {
                    out.push(0);
                    for _ in 0..(code & 0x7f) + 7 {
                        out.push(data.next().unwrap());
                    }
                }
                0xff => out.extend((0..134).map(|_| data.next().unwrap())),
                0 => panic!("zero inside a frame"),
            }
        }
        out.reverse();
        out
    }

    /// The defmt bytes and the check value of a decoded frame of `len` defmt bytes (padding after them: zeros).
    fn split(decoded: &[u8], len: usize) -> (&[u8], [u8; 2]) {
        assert!(decoded[len + 2..].iter().all(|&b| b == 0), "{decoded:02x?}");
        assert!(decoded.len() - len - 2 < 7, "at most six padding zeros");
        (&decoded[..len], [decoded[len], decoded[len + 1]])
    }

    #[test]
    fn a_log_call_ends_with_the_crc_of_its_defmt_bytes() {
        let _s = crate::tests::setup();
        let frame = crate::tests::alone(|| defmt::info!("checked {=u32}", 0x1122_3344u32));
        let decoded = decode(&frame);
        // Index, the host tests' timestamp, the argument.
        let timestamp = crate::tests::timestamp_bytes();
        let end = 2 + timestamp.len();
        let (data, check) = split(&decoded, end + 4);
        assert_eq!(data[2..end], timestamp);
        assert_eq!(data[end..], 0x1122_3344u32.to_le_bytes());
        assert_eq!(check, reference(data).to_le_bytes());
    }

    #[test]
    fn a_drop_report_ends_with_the_crc_of_its_defmt_bytes() {
        let _lock = crate::report::test_lock();
        crate::report::reset_for_test([0x34, 0x12]);
        let frame = crate::report::encode(7).unwrap();
        let decoded = decode(&frame);
        let end = 2 + crate::tests::timestamp_bytes().len();
        let (data, check) = split(&decoded, end + 4);
        assert_eq!(data[..2], [0x34, 0x12]);
        assert_eq!(data[end..], 7u32.to_le_bytes());
        assert_eq!(check, reference(data).to_le_bytes());
    }
}
