//! The check value hil-transport's `frame-check` feature appends to every frame: CRC-16/CCITT-FALSE, stripped and verified here.
//!
//! The firmware computes the CRC over the frame's defmt bytes (string index,
//! timestamp, arguments) and appends it, little-endian, before the rzcobs
//! encoder closes the frame. rzcobs does not keep a frame's length: decoding
//! may add up to six zero bytes at the end, and a CRC that ends in zero bytes
//! looks like padding. [`strip`] therefore tries each way the trailing zeros
//! can split into check value and padding (one way unless the CRC ends in a
//! zero byte), most padding first, and accepts the frame if one verifies.
//!
//! The runner knows the firmware uses it from the ELF: the transport's CRC
//! table is the symbol [`SYMBOL`].

/// The ELF symbol that says the firmware appends a check value to every frame (hil-transport's CRC table).
pub const SYMBOL: &str = "HIL_FRAME_CHECK_CRC16";

/// Bytes the check value takes in a frame, before rzcobs encoding.
pub const LEN: usize = 2;

/// Most zero bytes rzcobs decoding pads a frame with.
const MAX_PADDING: usize = 6;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xffff, no reflection, no final XOR) of `data`.
pub fn crc16(data: &[u8]) -> u16 {
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

/// The length of the defmt bytes of `decoded` (an rzcobs-decoded frame with
/// its check value and padding), or `None` when the check value does not verify.
pub fn strip(decoded: &[u8]) -> Option<usize> {
    let zeros = decoded.iter().rev().take_while(|&&b| b == 0).count();
    // Most padding first: with less, the data would end in the check value
    // and zeros, and a check value whose two bytes are equal is the CRC of
    // exactly that (CRC-16's residue), so it would verify at the wrong length.
    (0..=zeros.min(MAX_PADDING)).rev().find_map(|padding| {
        let data_len = decoded.len().checked_sub(padding + LEN)?;
        let check = [decoded[data_len], decoded[data_len + 1]];
        (crc16(&decoded[..data_len]) == u16::from_le_bytes(check)).then_some(data_len)
    })
}

#[cfg(test)]
mod tests {
    //! The CRC is the standard one; stripping finds the data behind any padding and rejects any single-bit error.

    use super::*;
    use crate::rzcobs;

    /// What the firmware sends: data and its check value, rzcobs-encoded (delimiter dropped), then decoded.
    fn sent(data: &[u8]) -> Vec<u8> {
        let mut framed = data.to_vec();
        framed.extend_from_slice(&crc16(data).to_le_bytes());
        let mut encoded = Vec::new();
        rzcobs::encode_frame(&framed, &mut encoded);
        encoded.pop();
        let mut decoded = Vec::new();
        rzcobs::decode_into(&encoded, &mut decoded).unwrap();
        decoded
    }

    #[test]
    fn the_crc_is_crc16_ccitt_false() {
        assert_eq!(crc16(b"123456789"), 0x29b1);
        assert_eq!(crc16(b""), 0xffff);
    }

    #[test]
    fn strip_finds_the_data_of_every_length_behind_the_padding() {
        for len in 0..40u8 {
            // Data ending in zeros too: they must not be taken for padding.
            let data: Vec<u8> = (0..len).map(|i| if i % 3 == 0 { 0 } else { i }).collect();
            assert_eq!(strip(&sent(&data)), Some(data.len()), "{data:?}");
        }
    }

    #[test]
    fn a_check_value_ending_in_zero_bytes_still_verifies() {
        // Find data whose CRC's last (high) byte is zero: it looks like padding.
        let data = (0u32..)
            .map(|i| i.to_le_bytes().to_vec())
            .find(|d| crc16(d) >> 8 == 0)
            .unwrap();
        let decoded = sent(&data);
        assert_eq!(strip(&decoded), Some(data.len()));
    }

    #[test]
    fn every_single_bit_error_fails_the_check() {
        let data = [0x34, 0x12, 1, 2, 3, 0, 0, 9, 0xff];
        let mut framed = data.to_vec();
        framed.extend_from_slice(&crc16(&data).to_le_bytes());
        for bit in 0..framed.len() * 8 {
            let mut bad = framed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(strip(&bad), None, "bit {bit}");
        }
    }

    #[test]
    fn frames_too_short_for_a_check_value_fail() {
        assert_eq!(strip(&[]), None);
        assert_eq!(strip(&[0xff]), None);
        assert_eq!(strip(&[0, 0, 0]), None);
    }
}
