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
    /// A sequence frame.
    Seq {
        /// Stream id (0 = thread mode).
        stream: u8,
        /// Sequence number within the stream.
        n: u32,
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
        let len = self.u32()? as usize;
        Some(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}

impl Marker {
    /// Read a marker of `kind` from `args` (frame bytes after the index).
    /// Returns the marker and the bytes it used, or `None` if `args` is too short.
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
            MarkerKind::Seq => Self::Seq {
                stream: r.u8()?,
                n: r.u32()?,
            },
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
