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
        if read == last && write < read {
            // Everything before the wrap was read: the reader goes on at the start.
            read = 0;
        }
        if write >= read {
            return Ok(self.storage[read..write].to_vec());
        }
        if last < read {
            return Err(RecoverError::Inconsistent {
                write: self.write,
                read: self.read,
                last: self.last,
            });
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

/// A run that would pass, but whose frames reached the host only partly
/// over the link (`recovered` of them from the stopped target's queue), did
/// not show a working link: it is a `timeout` when the runner stopped the
/// target at a deadline, else a `fail`, with the reason saying so.
pub fn judge(judgement: &mut Judgement, stop: &Stop, recovered: u64) {
    if judgement.verdict != Verdict::Pass || recovered == 0 {
        return;
    }
    let (verdict, outcome) = match stop {
        Stop::Deadline | Stop::TestDeadline => (Verdict::Timeout, Outcome::Timeout),
        _ => (Verdict::Fail, Outcome::Fail),
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
mod tests {
    use super::*;

    fn passed() -> Judgement {
        Judgement {
            verdict: Verdict::Pass,
            reason: None,
            tests: vec![crate::report::cases::TestCase {
                name: "t".into(),
                outcome: Outcome::Pass,
                message: None,
                location: None,
                duration_s: 0.0,
                capture: None,
            }],
        }
    }

    #[test]
    fn a_pass_that_needed_recovered_frames_is_a_timeout_at_a_deadline_else_a_fail() {
        for (stop, verdict, outcome) in [
            (Stop::Deadline, Verdict::Timeout, Outcome::Timeout),
            (Stop::TestDeadline, Verdict::Timeout, Outcome::Timeout),
            (Stop::SourceClosed, Verdict::Fail, Outcome::Fail),
        ] {
            let mut j = passed();
            judge(&mut j, &stop, 3);
            assert_eq!((j.verdict, j.tests[0].outcome), (verdict, outcome));
            assert!(j
                .reason
                .unwrap()
                .starts_with("3 frames reached the host only"));
            assert!(j.tests[0].message.is_some());
        }
    }

    #[test]
    fn nothing_recovered_or_no_pass_keeps_the_judgement() {
        let mut j = passed();
        judge(&mut j, &Stop::Deadline, 0);
        assert_eq!((j.verdict, j.reason), (Verdict::Pass, None));
        let mut j = passed();
        j.verdict = Verdict::Crash;
        j.tests[0].outcome = Outcome::Crash;
        judge(&mut j, &Stop::Deadline, 3);
        assert_eq!(
            (j.verdict, j.tests[0].outcome),
            (Verdict::Crash, Outcome::Crash)
        );
        assert_eq!(j.reason, None);
    }

    fn image(storage: &[u8], write: u32, read: u32, last: u32) -> QueueImage {
        QueueImage {
            storage: storage.to_vec(),
            write,
            read,
            last,
            read_in_progress: false,
            committed: 0,
            released: 0,
        }
    }

    #[test]
    fn an_empty_queue_holds_nothing() {
        assert_eq!(image(b"abcdefgh", 3, 3, 8).queued().unwrap(), b"");
        assert_eq!(image(b"abcdefgh", 0, 0, 0).queued().unwrap(), b"");
    }

    #[test]
    fn an_unwrapped_queue_holds_read_to_write() {
        assert_eq!(image(b"abcdefgh", 6, 2, 8).queued().unwrap(), b"cdef");
    }

    #[test]
    fn a_full_queue_holds_every_byte() {
        assert_eq!(image(b"abcdefgh", 8, 0, 8).queued().unwrap(), b"abcdefgh");
        // Wrapped and full: write is one short of read.
        assert_eq!(image(b"abcdefgh", 3, 4, 8).queued().unwrap(), b"efghabc");
    }

    #[test]
    fn a_wrapped_queue_reads_to_the_watermark_then_from_the_start() {
        // `g` and `h` were skipped at the wrap: `last` holds the line at 6.
        assert_eq!(image(b"abcdefgh", 2, 4, 6).queued().unwrap(), b"efab");
    }

    #[test]
    fn a_wrapped_queue_read_up_to_the_watermark_goes_on_at_the_start() {
        assert_eq!(image(b"abcdefgh", 2, 6, 6).queued().unwrap(), b"ab");
    }

    #[test]
    fn indices_out_of_bounds_or_contradicting_are_errors() {
        let err = image(b"abcd", 5, 0, 4).queued().unwrap_err();
        assert_eq!(
            err,
            RecoverError::Index {
                name: "write",
                value: 5,
                capacity: 4
            }
        );
        assert!(matches!(
            image(b"abcd", 0, 5, 4).queued(),
            Err(RecoverError::Index { name: "read", .. })
        ));
        assert!(matches!(
            image(b"abcd", 0, 0, 5).queued(),
            Err(RecoverError::Index { name: "last", .. })
        ));
        assert!(matches!(
            image(b"abcdefgh", 1, 5, 3).queued(),
            Err(RecoverError::Inconsistent { .. })
        ));
    }

    #[test]
    fn a_read_in_flight_skips_the_bytes_it_already_sent() {
        let mut grant = image(b"abcdefgh", 6, 2, 8);
        grant.read_in_progress = true;
        grant.released = 100;
        // 102 received: two bytes of the grant (`c`, `d`) reached the host.
        assert_eq!(grant.unsent(102).unwrap(), b"ef");
        assert_eq!(grant.unsent(100).unwrap(), b"cdef");
        // More than the queue holds, or fewer than released: the count is not trusted.
        assert_eq!(grant.unsent(105).unwrap(), b"cdef");
        assert_eq!(grant.unsent(99).unwrap(), b"cdef");
        // Without a read in flight nothing the host has came from the queue's bytes.
        grant.read_in_progress = false;
        assert_eq!(grant.unsent(102).unwrap(), b"cdef");
    }

    fn descriptor(version: u32, capacity: u32) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for word in [version, capacity, 0x2000_0000, 4, 8, 12, 16, 20, 21, 24, 28] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn a_descriptor_gives_the_addresses_and_is_checked() {
        let layout = QueueLayout::parse(0x100, &descriptor(1, 1024)).unwrap();
        assert_eq!(
            (
                layout.capacity,
                layout.storage,
                layout.write,
                layout.read,
                layout.last
            ),
            (1024, 0x2000_0000, 4, 8, 12)
        );
        assert_eq!(
            (layout.read_in_progress, layout.committed, layout.released),
            (20, 24, 28)
        );
        let reason = |bytes: &[u8]| match QueueLayout::parse(0x100, bytes) {
            Err(RecoverError::Descriptor { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&descriptor(2, 1024)).contains("version 2"));
        assert!(reason(&descriptor(1, 0)).contains("capacity 0"));
        assert!(reason(&descriptor(1, MAX_CAPACITY + 1)).contains("capacity"));
        assert!(reason(&descriptor(1, 1024)[..51]).contains("51 bytes"));
        let mut wrong = descriptor(1, 1024);
        wrong[0] = b'X';
        assert!(reason(&wrong).contains("magic"));
    }

    #[test]
    fn the_image_is_read_from_the_layouts_addresses() {
        let layout = QueueLayout::parse(0, &descriptor(1, 4)).unwrap();
        let memory = |address: u32, len: usize| -> Result<Vec<u8>, ()> {
            Ok(match address {
                0x2000_0000 => b"wxyz"[..len].to_vec(),
                20 => vec![1],
                a => (a + 1).to_le_bytes()[..len].to_vec(),
            })
        };
        let image = QueueImage::from_reads(&layout, memory).unwrap();
        assert_eq!(image.storage, b"wxyz");
        assert_eq!((image.write, image.read, image.last), (5, 9, 13));
        assert_eq!((image.committed, image.released), (25, 29));
        assert!(image.read_in_progress);
        let failing = |_: u32, _: usize| -> Result<Vec<u8>, &str> { Err("gone") };
        assert_eq!(QueueImage::from_reads(&layout, failing), Err("gone"));
    }
}
