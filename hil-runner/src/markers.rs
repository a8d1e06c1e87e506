//! The test markers (`hil-protocol`) as the host sees them: found in the ELF's table, read from frame bytes.
//!
//! Marker arguments are `u8`, `u32` or `str`, so they are read straight from
//! the decoded frame bytes (defmt wire format: little-endian integers, a
//! string as a `u32` length and its bytes) without rendering any text.

use hil_protocol::fmt;

/// Which marker a format string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    /// [`fmt::BOOT`]
    Boot,
    /// [`fmt::START`]
    Start,
    /// [`fmt::PARAM`]
    Param,
    /// [`fmt::SEQ`]
    Seq,
    /// [`fmt::DROP`]
    Drop,
    /// [`fmt::STREAM`]
    Stream,
    /// [`fmt::END`]
    End,
    /// [`fmt::PANIC`]
    Panic,
}

impl MarkerKind {
    /// The marker whose format string is `format`, if any.
    pub fn from_format(format: &str) -> Option<Self> {
        Some(match format {
            fmt::BOOT => Self::Boot,
            fmt::START => Self::Start,
            fmt::PARAM => Self::Param,
            fmt::SEQ => Self::Seq,
            fmt::DROP => Self::Drop,
            fmt::STREAM => Self::Stream,
            fmt::END => Self::End,
            fmt::PANIC => Self::Panic,
            _ => return None,
        })
    }
}

/// A marker with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// The firmware booted on `board`, running `test`.
    Boot {
        /// Board the firmware was built for.
        board: String,
        /// Test name.
        test: String,
    },
    /// The test started, with the transport's overflow policy.
    Start {
        /// Test name.
        test: String,
        /// Overflow policy (`block`, `drop`, `truncate`).
        policy: String,
    },
    /// One named test parameter.
    Param {
        /// Parameter name.
        name: String,
        /// Its value.
        value: u32,
    },
    /// A sequence frame whose payload passed its check.
    Seq {
        /// Stream id (0 = thread mode).
        stream: u8,
        /// Sequence number within the stream.
        n: u32,
        /// Sequence number across all streams, in the order frames entered the transport.
        g: u32,
        /// Payload bytes (check value included).
        len: u32,
    },
    /// A drop report: frames dropped since the previous report.
    Drop {
        /// Frames dropped.
        dropped: u32,
    },
    /// Sequence frames the firmware logged on one stream.
    Stream {
        /// Stream id.
        stream: u8,
        /// Frames logged.
        sent: u32,
    },
    /// The test ended, with the transport's own counters.
    End {
        /// Frames the transport was asked to send before this one.
        attempted: u32,
        /// Frames it dropped.
        dropped: u32,
    },
    /// The firmware panicked.
    Panic {
        /// The panic message.
        message: String,
    },
}

impl Marker {
    /// The frame bytes after the string index: the inverse of [`Marker::read`]
    /// (for building streams in tests and fuzzing). A `Seq` gets its valid payload.
    pub fn write_args(&self, out: &mut Vec<u8>) {
        let str = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        match self {
            Self::Boot { board: a, test: b } | Self::Start { test: a, policy: b } => {
                str(out, a);
                str(out, b);
            }
            Self::Param { name, value } => {
                str(out, name);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Self::Seq { stream, n, g, len } => {
                out.push(*stream);
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&g.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
                let start = out.len();
                out.resize(start + *len as usize, 0);
                hil_protocol::seq_payload(*stream, *n, *g, &mut out[start..]);
            }
            Self::Drop { dropped } => out.extend_from_slice(&dropped.to_le_bytes()),
            Self::Stream { stream, sent } => {
                out.push(*stream);
                out.extend_from_slice(&sent.to_le_bytes());
            }
            Self::End { attempted, dropped } => {
                out.extend_from_slice(&attempted.to_le_bytes());
                out.extend_from_slice(&dropped.to_le_bytes());
            }
            Self::Panic { message } => str(out, message),
        }
    }

    /// Which marker this is.
    pub fn kind(&self) -> MarkerKind {
        match self {
            Self::Boot { .. } => MarkerKind::Boot,
            Self::Start { .. } => MarkerKind::Start,
            Self::Param { .. } => MarkerKind::Param,
            Self::Seq { .. } => MarkerKind::Seq,
            Self::Drop { .. } => MarkerKind::Drop,
            Self::Stream { .. } => MarkerKind::Stream,
            Self::End { .. } => MarkerKind::End,
            Self::Panic { .. } => MarkerKind::Panic,
        }
    }
}

/// Reads marker arguments from the bytes after a frame's string index.
struct ArgReader<'a>(&'a [u8]);

impl<'a> ArgReader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        Some(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

impl Marker {
    /// Read a marker of `kind` from `args` (frame bytes after the index).
    /// Returns the marker and the bytes it used, or `None` if `args` is too short
    /// or a sequence frame's payload fails its check.
    pub fn read(kind: MarkerKind, args: &[u8]) -> Option<(Self, usize)> {
        let mut r = ArgReader(args);
        let marker = match kind {
            MarkerKind::Boot => Self::Boot {
                board: r.str()?,
                test: r.str()?,
            },
            MarkerKind::Start => Self::Start {
                test: r.str()?,
                policy: r.str()?,
            },
            MarkerKind::Param => Self::Param {
                name: r.str()?,
                value: r.u32()?,
            },
            MarkerKind::Seq => {
                let (stream, n, g) = (r.u8()?, r.u32()?, r.u32()?);
                let payload = r.bytes()?;
                if !hil_protocol::seq_payload_is_valid(stream, n, g, payload) {
                    return None;
                }
                let len = payload.len() as u32;
                Self::Seq { stream, n, g, len }
            }
            MarkerKind::Drop => Self::Drop { dropped: r.u32()? },
            MarkerKind::Stream => Self::Stream {
                stream: r.u8()?,
                sent: r.u32()?,
            },
            MarkerKind::End => Self::End {
                attempted: r.u32()?,
                dropped: r.u32()?,
            },
            MarkerKind::Panic => Self::Panic { message: r.str()? },
        };
        Some((marker, args.len() - r.0.len()))
    }
}
