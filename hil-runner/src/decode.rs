//! Decodes one framed rzcobs frame into a test marker or a log frame, or says why it is malformed.

use defmt_decoder::Frame;

use crate::firmware::Firmware;
use crate::frame_check;
use crate::markers::Marker;
use crate::rzcobs;

/// Why a frame was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Not valid rzcobs.
    #[error("not valid rzcobs")]
    Rzcobs,
    /// Shorter than a string index.
    #[error("too short for a defmt frame")]
    TooShort,
    /// The string index is not in the ELF's table.
    #[error("string index {0:#06x} is not in the ELF's defmt table")]
    UnknownIndex(u16),
    /// The arguments do not match the format string, or a sequence frame fails its check value.
    #[error("arguments do not match the format string (or fail their check value)")]
    Arguments,
    /// Bytes left over after the arguments (rzcobs pads at most 6 zeros).
    #[error("{0} bytes left after the arguments")]
    Trailing(usize),
    /// The frame's check value does not verify (firmware built with hil-transport's `frame-check`): corrupted.
    #[error("check value does not verify: corrupted")]
    Corrupted,
}

/// What a valid frame holds.
pub enum Content<'t> {
    /// A test marker.
    Marker(Marker),
    /// Any other defmt log frame.
    Log(Frame<'t>),
}

/// Decodes frames of one firmware, reusing its buffer.
pub struct FrameDecoder<'t> {
    firmware: &'t Firmware,
    buf: Vec<u8>,
}

impl<'t> FrameDecoder<'t> {
    /// A decoder for frames of `firmware`.
    pub fn new(firmware: &'t Firmware) -> Self {
        Self {
            firmware,
            buf: Vec::with_capacity(256),
        }
    }

    /// Decode one frame's rzcobs bytes (no delimiter).
    pub fn decode(&mut self, rzcobs_bytes: &[u8]) -> Result<Content<'t>, Malformed> {
        rzcobs::decode_into(rzcobs_bytes, &mut self.buf).map_err(|_| Malformed::Rzcobs)?;
        if self.firmware.frame_check() {
            let len = frame_check::strip(&self.buf).ok_or(Malformed::Corrupted)?;
            self.buf.truncate(len);
        }
        let Some((index, args)) = self.buf.split_first_chunk::<2>() else {
            return Err(Malformed::TooShort);
        };
        let index = u16::from_le_bytes(*index);
        let (content, used) = match self.firmware.marker(index) {
            Some(kind) => {
                // The firmware's defmt timestamp (if any) comes before the marker's arguments.
                let skip = self
                    .firmware
                    .timestamp_len(&self.buf)
                    .ok_or(Malformed::Arguments)?;
                let (marker, used) =
                    Marker::read(kind, &args[skip..]).ok_or(Malformed::Arguments)?;
                (Content::Marker(marker), 2 + skip + used)
            }
            None => {
                let (frame, used) = self
                    .firmware
                    .table()
                    .decode(&self.buf)
                    .map_err(|_| self.unknown_or_bad(index))?;
                (Content::Log(frame), used)
            }
        };
        check_padding(&self.buf[used..])?;
        Ok(content)
    }

    /// The rzcobs-decoded bytes of the last frame (index and arguments), for rendering.
    pub fn decoded(&self) -> &[u8] {
        &self.buf
    }

    fn unknown_or_bad(&self, index: u16) -> Malformed {
        if self
            .firmware
            .table()
            .indices()
            .any(|i| i == usize::from(index))
        {
            Malformed::Arguments
        } else {
            Malformed::UnknownIndex(index)
        }
    }
}

/// rzcobs decoding pads a frame with up to six zero bytes; anything else is corruption.
fn check_padding(rest: &[u8]) -> Result<(), Malformed> {
    if rest.len() < 7 && rest.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(Malformed::Trailing(rest.len()))
    }
}
