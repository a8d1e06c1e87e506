//! Splits a serial byte stream into rzcobs frames on `0x00`, with byte offsets and loss counts.
//!
//! The framer is fed whatever arrived (any chunking) and hands out each
//! complete frame once, with the offset of its first byte in the capture. It
//! never buffers more than `max_frame_len` bytes: a longer run without a
//! delimiter is skipped and counted, so host memory stays bounded on garbage.

/// One complete frame: its rzcobs bytes (no delimiter) and where it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// Offset of the frame's first byte in the whole stream.
    pub offset: u64,
    /// The rzcobs-encoded bytes between two delimiters.
    pub bytes: &'a [u8],
}

/// Counts of what the framer could not hand out as a frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FramerStats {
    /// Bytes fed in total.
    pub bytes: u64,
    /// Frames longer than the maximum, skipped whole.
    pub oversize_frames: u64,
    /// Bytes in those oversize frames.
    pub oversize_bytes: u64,
}

/// Splits a byte stream on `0x00` delimiters.
#[derive(Debug)]
pub struct Framer {
    max_frame_len: usize,
    buf: Vec<u8>,
    /// Offset of `buf[0]` (or of the frame being skipped) in the stream.
    frame_start: u64,
    /// Length of the oversize frame being skipped, if any.
    skipping: Option<u64>,
    stats: FramerStats,
}

/// Default maximum frame length: far above any defmt frame our firmware sends.
pub const DEFAULT_MAX_FRAME_LEN: usize = 4096;

impl Framer {
    /// A framer that skips frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            max_frame_len,
            buf: Vec::with_capacity(max_frame_len.min(1 << 16)),
            frame_start: 0,
            skipping: None,
            stats: FramerStats::default(),
        }
    }

    /// What the framer has counted so far.
    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// Bytes of an unfinished frame held back, waiting for its delimiter.
    pub fn pending(&self) -> usize {
        self.buf.len() + self.skipping.unwrap_or(0) as usize
    }

    /// Bytes held in memory for the unfinished frame: never more than the maximum frame length.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Offset of the unfinished frame's first byte.
    pub fn pending_offset(&self) -> u64 {
        self.frame_start
    }

    /// Feed `data`; `on_frame` is called once per complete frame, in order.
    pub fn feed(&mut self, mut data: &[u8], mut on_frame: impl FnMut(RawFrame<'_>)) {
        let mut pos = self.stats.bytes;
        self.stats.bytes += data.len() as u64;
        while !data.is_empty() {
            let Some(zero) = data.iter().position(|&b| b == 0) else {
                self.take_partial(data);
                return;
            };
            let (body, rest) = data.split_at(zero);
            let frame_end = pos + zero as u64;
            if let Some(skipped) = self.skipping.take() {
                self.count_oversize(skipped + body.len() as u64);
            } else if self.buf.is_empty() {
                if !body.is_empty() {
                    if body.len() > self.max_frame_len {
                        self.count_oversize(body.len() as u64);
                    } else {
                        on_frame(RawFrame {
                            offset: pos,
                            bytes: body,
                        });
                    }
                }
            } else if self.buf.len() + body.len() > self.max_frame_len {
                self.count_oversize((self.buf.len() + body.len()) as u64);
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(body);
                on_frame(RawFrame {
                    offset: self.frame_start,
                    bytes: &self.buf,
                });
                self.buf.clear();
            }
            pos = frame_end + 1;
            self.frame_start = pos;
            data = &rest[1..];
        }
    }

    /// Bytes of an unfinished frame at the end of the stream, given up on.
    pub fn finish(&mut self) -> Option<(u64, usize)> {
        let pending = self.pending();
        self.buf.clear();
        self.skipping = None;
        (pending > 0).then_some((self.frame_start, pending))
    }

    fn take_partial(&mut self, data: &[u8]) {
        if let Some(skipped) = self.skipping.as_mut() {
            *skipped += data.len() as u64;
        } else if self.buf.len() + data.len() > self.max_frame_len {
            self.skipping = Some((self.buf.len() + data.len()) as u64);
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    fn count_oversize(&mut self, len: u64) {
        self.stats.oversize_frames += 1;
        self.stats.oversize_bytes += len;
    }
}
