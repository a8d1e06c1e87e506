//! Frames still in the transport's queue when the core stops: read out of target RAM and decoded as if they had arrived.
//!
//! hil-transport names its queue in the ELF: the descriptor static
//! `HIL_TRANSPORT_QUEUE` (layout in `target-tests/hil-transport/README.md`)
//! gives the storage's address and capacity and the addresses of bbqueue's
//! `write`, `read` and `last` indices, its `read_in_progress` flag and the
//! transport's byte counters. When the core has stopped (a HardFault, a
//! breakpoint, a halt at the timeout) the backend reads those
//! ([`QueueLayout::ranges`], [`QueueImage::from_reads`]); [`QueueImage::unsent`]
//! gives the bytes a reader would have got next, the wrap resolved, minus
//! what a read in flight had already sent; [`recover`] feeds them through the
//! run's own framer and decoder after the captured bytes, so the frames join
//! the ordering and loss accounting and are counted as `recovered`.

use crate::analysis::{Analyzer, SeenFrame};
use crate::report::cases::Outcome;
use crate::report::Verdict;
use crate::speaks::{Judgement, Stop};

/// The descriptor's symbol.
pub const DESCRIPTOR_SYMBOL: &str = "HIL_TRANSPORT_QUEUE";
/// The descriptor's first bytes.
const MAGIC: &[u8; 8] = b"HILQUEUE";
/// The descriptor layout this runner reads.
const VERSION: u32 = 1;
/// Bytes of a version-1 descriptor: magic, version, capacity, ten addresses.
const DESCRIPTOR_LEN: usize = 52;
/// The largest queue read (a bad descriptor must not make the runner read megabytes).
pub const MAX_CAPACITY: u32 = 1 << 20;

/// Where a backend's watch puts the queue it read at the stop, for [`crate::backend::Backend::take_queue_image`].
pub type ImageSlot = std::sync::Arc<std::sync::Mutex<Option<Result<QueueImage, RecoverError>>>>;

/// Why the queue could not be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// The ELF's `HIL_TRANSPORT_QUEUE` is not a descriptor this runner reads.
    #[error("{DESCRIPTOR_SYMBOL} at {address:#010x} in the ELF: {reason}")]
    Descriptor {
        /// The symbol's address.
        address: u32,
        /// What is wrong.
        reason: String,
    },
    /// An index read from the target is out of the queue's bounds.
    #[error("queue index `{name}` = {value} is beyond the queue's {capacity} bytes")]
    Index {
        /// `write`, `read` or `last`.
        name: &'static str,
        /// Its value.
        value: u32,
        /// The queue's capacity.
        capacity: u32,
    },
    /// The indices contradict each other (wrapped, but `last` before `read`).
    #[error("queue indices inconsistent: write={write} read={read} last={last}")]
    Inconsistent {
        /// `write`.
        write: u32,
        /// `read`.
        read: u32,
        /// `last`.
        last: u32,
    },
    /// The backend could not read target memory.
    #[error("cannot read the queue from the target: {0}")]
    Read(String),
}

/// Where the queue's parts are in target memory (from the descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLayout {
    /// Bytes of storage.
    pub capacity: u32,
    /// Address of the storage.
    pub storage: u32,
    /// Address of `write`.
    pub write: u32,
    /// Address of `read`.
    pub read: u32,
    /// Address of `last`.
    pub last: u32,
    /// Address of `read_in_progress` (a byte).
    pub read_in_progress: u32,
    /// Address of the bytes-committed counter.
    pub committed: u32,
    /// Address of the bytes-released counter.
    pub released: u32,
}

impl QueueLayout {
    /// The layout the ELF's descriptor gives; `None` when the ELF has no descriptor (not hil-transport).
    pub fn from_elf(elf: &[u8]) -> Result<Option<Self>, RecoverError> {
        use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
        let Ok(file) = object::File::parse(elf) else {
            return Ok(None);
        };
        let Some(symbol) = file.symbols().find(|s| s.name() == Ok(DESCRIPTOR_SYMBOL)) else {
            return Ok(None);
        };
        let address = symbol.address() as u32;
        let bad = |reason: &str| RecoverError::Descriptor {
            address,
            reason: reason.to_owned(),
        };
        let section = symbol
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
            .ok_or_else(|| bad("not in a section"))?;
        let data = section.data().map_err(|_| bad("section has no data"))?;
        let start = symbol.address().wrapping_sub(section.address()) as usize;
        let bytes = data
            .get(start..start.saturating_add(DESCRIPTOR_LEN))
            .ok_or_else(|| bad("shorter than a descriptor"))?;
        Self::parse(address, bytes).map(Some)
    }

    /// A descriptor's bytes (little-endian, 32-bit target) as a layout.
    pub fn parse(address: u32, bytes: &[u8]) -> Result<Self, RecoverError> {
        let bad = |reason: String| RecoverError::Descriptor { address, reason };
        if bytes.len() < DESCRIPTOR_LEN {
            return Err(bad(format!("{} bytes, not {DESCRIPTOR_LEN}", bytes.len())));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad("no HILQUEUE magic".into()));
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        if word(8) != VERSION {
            return Err(bad(format!(
                "layout version {}, this runner reads {VERSION}",
                word(8)
            )));
        }
        let capacity = word(12);
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(bad(format!(
                "capacity {capacity} (1 to {MAX_CAPACITY} bytes)"
            )));
        }
        Ok(Self {
            capacity,
            storage: word(16),
            write: word(20),
            read: word(24),
            last: word(28),
            read_in_progress: word(36),
            committed: word(44),
            released: word(48),
        })
    }

    /// The memory a backend reads for [`QueueImage::from_reads`]: (address, length).
    pub fn ranges(&self) -> [(u32, usize); 7] {
        [
            (self.storage, self.capacity as usize),
            (self.write, 4),
            (self.read, 4),
            (self.last, 4),
            (self.read_in_progress, 1),
            (self.committed, 4),
            (self.released, 4),
        ]
    }
}

/// The queue as the stopped target left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueImage {
    /// The storage's bytes.
    pub storage: Vec<u8>,
    /// Next byte written.
    pub write: u32,
    /// Next byte read.
    pub read: u32,
    /// End of the readable bytes while wrapped.
    pub last: u32,
    /// A read grant was out.
    pub read_in_progress: bool,
    /// Bytes that ever entered the queue.
    pub committed: u32,
    /// Bytes that ever left it.
    pub released: u32,
}

impl QueueImage {
    /// The image from the target's memory: `read(address, len)` for each of [`QueueLayout::ranges`].
    pub fn from_reads<E>(
        layout: &QueueLayout,
        mut read: impl FnMut(u32, usize) -> Result<Vec<u8>, E>,
    ) -> Result<Self, E> {
        let mut word = |address: u32| -> Result<u32, E> {
            let bytes = read(address, 4)?;
            Ok(u32::from_le_bytes(
                bytes
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0xff; 4]),
            ))
        };
        let (write, index_read, last) =
            (word(layout.write)?, word(layout.read)?, word(layout.last)?);
        let (committed, released) = (word(layout.committed)?, word(layout.released)?);
        let in_flight = read(layout.read_in_progress, 1)?;
        Ok(Self {
            storage: read(layout.storage, layout.capacity as usize)?,
            write,
            read: index_read,
            last,
            read_in_progress: in_flight.first().is_some_and(|&b| b != 0),
            committed,
            released,
        })
    }

    /// The queued bytes, oldest first, as bbqueue's reader would get them.
    pub fn queued(&self) -> Result<Vec<u8>, RecoverError> {
        let capacity = self.storage.len() as u32;
        for (name, value) in [
            ("write", self.write),
            ("read", self.read),
            ("last", self.last),
        ] {
            if value > capacity {
                return Err(RecoverError::Index {
                    name,
                    value,
                    capacity,
                });
            }
        }
        let (write, mut read, last) = (self.write as usize, self.read as usize, self.last as usize);
        if write < read && last < read {
            // Wrapped, with the watermark before the reader: no queue is left so.
            return Err(RecoverError::Inconsistent {
                write: self.write,
                read: self.read,
                last: self.last,
            });
        }
        if read == last && write < read {
            // Everything before the wrap was read: the reader goes on at the start.
            read = 0;
        }
        if write >= read {
            return Ok(self.storage[read..write].to_vec());
        }
        // Wrapped: from `read` to the watermark `last`, then from the start to `write`.
        let mut bytes = self.storage[read..last].to_vec();
        bytes.extend_from_slice(&self.storage[..write]);
        Ok(bytes)
    }

    /// The queued bytes that have not reached the host, which has `received` bytes.
    ///
    /// A read in flight (a drain step or a DMA transfer the stop interrupted)
    /// may have sent part of its bytes without releasing them: those are the
    /// bytes received beyond the transport's released count, and are skipped.
    /// When that count makes no sense (the link lost bytes), nothing is skipped.
    pub fn unsent(&self, received: u64) -> Result<Vec<u8>, RecoverError> {
        let mut queued = self.queued()?;
        if self.read_in_progress {
            let sent = (received as u32).wrapping_sub(self.released) as usize;
            if sent <= queued.len() {
                queued.drain(..sent);
            }
        }
        Ok(queued)
    }
}

/// Feed what the stopped target still had queued (`image`, if the backend
/// read one) into `analyzer` after the captured bytes: its frames are
/// counted as recovered; a failed read or a bad image is noted in the summary.
pub fn recover<'t>(
    analyzer: &mut Analyzer<'t>,
    image: Option<Result<QueueImage, RecoverError>>,
    on_frame: impl FnMut(SeenFrame<'_, 't>),
) {
    let Some(image) = image else {
        return;
    };
    match image.and_then(|image| image.unsent(analyzer.summary().bytes)) {
        Ok(bytes) => analyzer.feed_recovered(&bytes, on_frame),
        Err(e) => {
            tracing::warn!("frames still queued on the target could not be recovered: {e}");
            analyzer.recovery_failed(e.to_string());
        }
    }
}

/// A run that would pass at a deadline (the runner stopped a target that
/// never sent its end over the link), but only because `recovered` frames
/// came out of the stopped target's queue, did not show a working link: it
/// is a `timeout`, with the reason saying so. A target that stopped by itself
/// (an exit without a flush) keeps its verdict; the count is in the report.
pub fn judge(judgement: &mut Judgement, stop: &Stop, recovered: u64) {
    if judgement.verdict != Verdict::Pass || recovered == 0 {
        return;
    }
    let (verdict, outcome) = match stop {
        Stop::Deadline | Stop::TestDeadline => (Verdict::Timeout, Outcome::Timeout),
        _ => return,
    };
    let reason = format!(
        "{recovered} frames reached the host only from the target's queue, read after it \
         stopped: the link stopped carrying them"
    );
    for test in judgement
        .tests
        .iter_mut()
        .filter(|t| t.outcome == Outcome::Pass)
    {
        test.outcome = outcome;
        test.message = Some(reason.clone());
    }
    judgement.verdict = verdict;
    judgement.reason = Some(reason);
}

#[cfg(test)]
mod tests;
