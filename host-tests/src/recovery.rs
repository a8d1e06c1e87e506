//! Recovery model shared by the property tests and the fuzz target: real frame streams, corrupted, then checked.
//!
//! A [`Case`] is a list of marker frames (encoded with the string indices of a
//! real firmware ELF's defmt table) and a list of corruptions: truncated
//! frames, lost delimiters, inserted garbage, bit flips and swapped chunks.
//! [`check`] decodes the corrupted stream with the runner's framer and
//! decoder, fed in pieces of a given size, and returns the first broken
//! invariant:
//!
//! 1. host memory stays bounded: the framer never buffers more than the
//!    maximum frame length;
//! 2. every frame accepted as a sequence frame is byte-identical to one of
//!    the originals (sequence frames carry a check value; other markers do
//!    not, and may be accepted corrupted);
//! 3. every original frame that survived intact, with the delimiter before it
//!    intact, is decoded at its new offset: decoding is back in step one frame
//!    after the last corrupted byte.

use std::collections::{HashMap, HashSet};

use hil_runner::decode::{Content, FrameDecoder};
use hil_runner::firmware::Firmware;
use hil_runner::framer::Framer;
use hil_runner::markers::Marker;

/// Maximum frame length the framer is run with.
pub const MAX_FRAME_LEN: usize = 512;

/// One original frame, from a few numbers.
#[derive(Debug, Clone, Copy)]
pub struct FrameSpec {
    /// Which marker (modulo 8).
    pub kind: u8,
    /// Seeds for its arguments.
    pub a: u32,
    /// Seeds for its arguments.
    pub b: u32,
}

/// One corruption of the encoded stream; positions are taken modulo its length.
#[derive(Debug, Clone, Copy)]
pub enum Corruption {
    /// Cut `len` bytes ending at the frame delimiter at or after `at` (delimiter included).
    Truncate {
        /// Where.
        at: usize,
        /// How many bytes.
        len: u8,
    },
    /// Remove the delimiter at or after `at`.
    LoseDelimiter {
        /// Where.
        at: usize,
    },
    /// Insert garbage before `at`.
    Insert {
        /// Where.
        at: usize,
        /// The bytes (zeros included, so fake delimiters too).
        bytes: [u8; 8],
        /// How many of them.
        len: u8,
    },
    /// Flip one bit of the byte at `at`.
    FlipBit {
        /// Where.
        at: usize,
        /// Which bit (modulo 8).
        bit: u8,
    },
    /// Swap the `len`-byte chunks at `a` and `b`.
    SwapChunks {
        /// First chunk.
        a: usize,
        /// Second chunk.
        b: usize,
        /// Their length.
        len: u8,
    },
}

/// A whole test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The original frames.
    pub frames: Vec<FrameSpec>,
    /// The corruptions, applied in order.
    pub corruptions: Vec<Corruption>,
    /// Bytes fed to the framer at a time (at least 1).
    pub chunk: usize,
}

/// The marker a spec stands for.
pub fn marker(spec: FrameSpec) -> Marker {
    let FrameSpec { kind, a, b } = spec;
    match kind % 8 {
        0..=2 => Marker::Seq {
            stream: (a % 3) as u8,
            n: a / 3,
            g: b,
            len: 4 + (b % 220),
        },
        3 => Marker::Drop { dropped: a },
        4 => Marker::Param {
            name: ["queue", "frames", "burst_bytes"][(a % 3) as usize].into(),
            value: b,
        },
        5 => Marker::Stream {
            stream: (a % 3) as u8,
            sent: b,
        },
        6 => Marker::End {
            attempted: a,
            dropped: b,
        },
        _ => Marker::Boot {
            board: "lm3s6965evb".into(),
            test: "x".repeat((a % 40) as usize),
        },
    }
}

/// One byte of the corrupted stream: its value and, if untouched, where it was in the original.
type Byte = (u8, Option<usize>);

/// The encoded original stream and the corrupted one.
pub struct Streams {
    /// Original rzcobs frames, each with its delimiter, one after the other.
    pub original: Vec<u8>,
    /// Start offset and length (delimiter excluded) of each original frame.
    pub frames: Vec<(usize, usize)>,
    /// The corrupted stream.
    pub corrupted: Vec<Byte>,
}

/// Encode `case.frames` with `firmware`'s string indices and apply the corruptions.
pub fn build(firmware: &Firmware, case: &Case) -> Streams {
    let mut original = Vec::new();
    let mut frames = Vec::new();
    for &spec in &case.frames {
        let start = original.len();
        original.extend(crate::marker_frame(firmware, &marker(spec)));
        frames.push((start, original.len() - start - 1));
    }
    let mut corrupted: Vec<Byte> = original
        .iter()
        .enumerate()
        .map(|(i, &b)| (b, Some(i)))
        .collect();
    for &c in &case.corruptions {
        corrupt(&mut corrupted, c);
    }
    Streams {
        original,
        frames,
        corrupted,
    }
}

fn next_delimiter(s: &[Byte], at: usize) -> Option<usize> {
    s.iter().skip(at).position(|&(b, _)| b == 0).map(|p| p + at)
}

fn corrupt(s: &mut Vec<Byte>, c: Corruption) {
    if s.is_empty() {
        return;
    }
    let len = s.len();
    match c {
        Corruption::Truncate { at, len: cut } => {
            if let Some(end) = next_delimiter(s, at % len) {
                let start = (end + 1).saturating_sub(usize::from(cut).max(1));
                s.drain(start..=end);
            }
        }
        Corruption::LoseDelimiter { at } => {
            if let Some(d) = next_delimiter(s, at % len) {
                s.remove(d);
            }
        }
        Corruption::Insert { at, bytes, len: n } => {
            let n = usize::from(n) % (bytes.len() + 1);
            let at = at % (len + 1);
            s.splice(at..at, bytes[..n].iter().map(|&b| (b, None)));
        }
        Corruption::FlipBit { at, bit } => {
            let byte = &mut s[at % len];
            *byte = (byte.0 ^ (1 << (bit % 8)), None);
        }
        Corruption::SwapChunks { a, b, len: n } => {
            let n = usize::from(n).max(1);
            let (mut a, mut b) = (a % len, b % len);
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            if a + n <= b && b + n <= len {
                let first: Vec<Byte> = s[a..a + n].to_vec();
                let second: Vec<Byte> = s[b..b + n].to_vec();
                s.splice(b..b + n, first);
                s.splice(a..a + n, second);
            }
        }
    }
}

/// Run the framer and decoder over the corrupted stream and check the invariants.
pub fn check(firmware: &Firmware, case: &Case) -> Result<(), String> {
    let streams = build(firmware, case);
    let bytes: Vec<u8> = streams.corrupted.iter().map(|&(b, _)| b).collect();
    let originals: HashSet<&[u8]> = streams
        .frames
        .iter()
        .map(|&(start, len)| &streams.original[start..start + len])
        .collect();

    // Decode, in pieces.
    let mut framer = Framer::new(MAX_FRAME_LEN);
    let mut decoder = FrameDecoder::new(firmware);
    let mut valid: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut broken = None;
    for piece in bytes.chunks(case.chunk.max(1)) {
        framer.feed(piece, |f| {
            let content = decoder.decode(f.bytes);
            if let Ok(Content::Marker(Marker::Seq { .. })) = content {
                if !originals.contains(f.bytes) && broken.is_none() {
                    broken = Some(format!(
                        "a corrupted frame at byte {} was accepted as a sequence frame: {:02x?}",
                        f.offset, f.bytes
                    ));
                }
            }
            if content.is_ok() {
                valid.insert(f.offset, f.bytes.to_vec());
            }
        });
        if framer.buffered() > MAX_FRAME_LEN {
            return Err(format!(
                "the framer holds {} bytes (max {MAX_FRAME_LEN})",
                framer.buffered()
            ));
        }
    }
    if let Some(b) = broken {
        return Err(b);
    }

    // Every intact original frame (with an intact delimiter before it) is decoded where it now is.
    let position: HashMap<usize, usize> = streams
        .corrupted
        .iter()
        .enumerate()
        .filter_map(|(pos, &(_, orig))| Some((orig?, pos)))
        .collect();
    for &(start, len) in &streams.frames {
        let Some(&pos) = position.get(&start) else {
            continue;
        };
        let intact = (start..=start + len).all(|i| position.get(&i) == Some(&(pos + i - start)));
        let preceded = match start.checked_sub(1) {
            Some(delimiter) => pos > 0 && position.get(&delimiter) == Some(&(pos - 1)),
            None => pos == 0,
        };
        if !(intact && preceded) {
            continue;
        }
        let expected = &streams.original[start..start + len];
        match valid.get(&(pos as u64)) {
            Some(found) if found == expected => {}
            _ => {
                return Err(format!(
                    "original frame {start}..{} survived intact at byte {pos} but was not decoded",
                    start + len
                ))
            }
        }
    }
    Ok(())
}
