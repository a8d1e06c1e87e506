//! rzCOBS, the frame encoding of defmt's wire format: decode (host) and encode (tests, fuzzing).
//!
//! defmt-decoder keeps its decoder private and re-buffers the whole stream per
//! frame; here one frame is decoded into a reused buffer.
//!
//! ```text
//! 0xxxxxxx  for each bit from LSB: 0 = copy one byte, 1 = a zero byte (7 positions)
//! 1nnnnnnn  copy n+7 bytes, then a zero byte
//! 11111111  copy 134 bytes
//! ```
//! The frame is processed back to front (it is *reverse* COBS).

/// The frame is not valid rzCOBS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid rzcobs frame: {0}")]
pub struct RzcobsError(&'static str);

/// Decode one frame (without its `0x00` delimiter) into `out` (cleared first).
///
/// Two passes back to front: the first checks that every group and run is
/// complete and sums the decoded length, the second copies the literal bytes
/// straight to their final places (runs as whole slices), so nothing is
/// pushed byte by byte or reversed. On error `out` is left empty.
pub fn decode_into(frame: &[u8], out: &mut Vec<u8>) -> Result<(), RzcobsError> {
    out.clear();
    let len = decoded_len(frame)?;
    // Zeros everywhere a group or run puts one; the literals are copied over.
    out.resize(len, 0);
    let mut end = frame.len();
    let mut pos = len;
    while end > 0 {
        let code = frame[end - 1];
        end -= 1;
        match code {
            0x01..=0x7f => {
                let literals = usize::from(GROUP_LITERALS[usize::from(code)]);
                let mut src = &frame[end - literals..end];
                end -= literals;
                pos -= 7;
                for (bit, slot) in out[pos..pos + 7].iter_mut().enumerate() {
                    if code & (1 << bit) == 0 {
                        *slot = src[0];
                        src = &src[1..];
                    }
                }
            }
            0x80..=0xfe => {
                let run = usize::from(code & 0x7f) + 7;
                pos -= run + 1;
                out[pos..pos + run].copy_from_slice(&frame[end - run..end]);
                end -= run;
            }
            // 0xff (a zero code cannot get past `decoded_len`).
            _ => {
                pos -= 134;
                out[pos..pos + 134].copy_from_slice(&frame[end - 134..end]);
                end -= 134;
            }
        }
    }
    debug_assert_eq!(pos, 0);
    Ok(())
}

/// Literal bytes a group code (`0x01..=0x7f`) takes: its clear bits of seven
/// (a table: `count_ones` is a loop on baseline x86-64).
const GROUP_LITERALS: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut code = 0;
    while code < 128 {
        table[code] = 7 - (code as u8).count_ones() as u8;
        code += 1;
    }
    table
};

/// The decoded length of `frame`, or why it is not valid rzcobs (the first
/// problem found from the back, as decoding meets it).
fn decoded_len(frame: &[u8]) -> Result<usize, RzcobsError> {
    let mut len = 0;
    let mut end = frame.len();
    while end > 0 {
        let code = frame[end - 1];
        end -= 1;
        let (literals, decoded, short) = match code {
            0 => return Err(RzcobsError("zero byte inside a frame")),
            0x01..=0x7f => (
                usize::from(GROUP_LITERALS[usize::from(code)]),
                7,
                "frame ends inside a group",
            ),
            0x80..=0xfe => {
                let run = usize::from(code & 0x7f) + 7;
                (run, run + 1, "frame ends inside a run")
            }
            0xff => (134, 134, "frame ends inside a run"),
        };
        end = end.checked_sub(literals).ok_or(RzcobsError(short))?;
        len += decoded;
    }
    Ok(len)
}

/// Encode `data` as one rzCOBS frame, appended to `out` with its `0x00` delimiter.
///
/// Byte-identical to defmt's on-target encoder (checked in host-tests).
pub fn encode_frame(data: &[u8], out: &mut Vec<u8>) {
    let mut run: u8 = 0;
    let mut zeros: u8 = 0;
    for &byte in data {
        if run < 7 {
            if byte == 0 {
                zeros |= 1 << run;
            } else {
                out.push(byte);
            }
            run += 1;
            if run == 7 && zeros != 0 {
                out.push(zeros);
                run = 0;
                zeros = 0;
            }
        } else if byte == 0 {
            out.push((run - 7) | 0x80);
            run = 0;
            zeros = 0;
        } else {
            out.push(byte);
            run += 1;
            if run == 134 {
                out.push(0xff);
                run = 0;
                zeros = 0;
            }
        }
    }
    match run {
        0 => {}
        1..=6 => out.push((zeros | (0xff << run)) & 0x7f),
        _ => out.push((run - 7) | 0x80),
    }
    out.push(0);
}

#[cfg(test)]
mod tests {
    //! The two-pass decoder against the straightforward one it replaced.

    use super::*;

    /// Byte by byte back to front, then reversed: the reference.
    fn reference(frame: &[u8]) -> Result<Vec<u8>, RzcobsError> {
        let mut out = Vec::new();
        let mut data = frame.iter().rev().copied();
        while let Some(code) = data.next() {
            match code {
                0 => return Err(RzcobsError("zero byte inside a frame")),
                0x01..=0x7f => {
                    for bit in (0..7).rev() {
                        if code & (1 << bit) == 0 {
                            out.push(
                                data.next()
                                    .ok_or(RzcobsError("frame ends inside a group"))?,
                            );
                        } else {
                            out.push(0);
                        }
                    }
                }
                0x80..=0xfe => {
                    out.push(0);
                    for _ in 0..(code & 0x7f) + 7 {
                        out.push(data.next().ok_or(RzcobsError("frame ends inside a run"))?);
                    }
                }
                0xff => {
                    for _ in 0..134 {
                        out.push(data.next().ok_or(RzcobsError("frame ends inside a run"))?);
                    }
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    fn same_as_reference(frame: &[u8]) {
        let mut out = vec![0xAA; 3];
        let got = decode_into(frame, &mut out).map(|()| out);
        assert_eq!(got, reference(frame), "frame {frame:02x?}");
    }

    #[test]
    fn every_frame_of_up_to_two_bytes_decodes_as_before() {
        same_as_reference(&[]);
        for a in 0..=255u8 {
            same_as_reference(&[a]);
            for b in 0..=255u8 {
                same_as_reference(&[a, b]);
            }
        }
    }

    #[test]
    fn random_and_encoded_frames_decode_as_before() {
        // xorshift32: a fixed, reproducible sequence.
        let mut state: u32 = 0x4849_4c21;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 400) as usize;
            let zeros = next() % 4;
            let data: Vec<u8> = (0..len)
                .map(|_| match next() % 4 < zeros {
                    true => 0,
                    false => next() as u8,
                })
                .collect();
            // Arbitrary bytes (mostly invalid) and valid encodings, whole and cut.
            same_as_reference(&data);
            let mut encoded = Vec::new();
            encode_frame(&data, &mut encoded);
            encoded.pop();
            same_as_reference(&encoded);
            let cut = (next() as usize) % (encoded.len() + 1);
            same_as_reference(&encoded[cut..]);
            same_as_reference(&encoded[..cut]);
        }
    }
}
