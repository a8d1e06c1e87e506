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
pub fn decode_into(frame: &[u8], out: &mut Vec<u8>) -> Result<(), RzcobsError> {
    out.clear();
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
    Ok(())
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
