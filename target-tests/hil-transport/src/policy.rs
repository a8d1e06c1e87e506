//! Overflow policy: what the logger does with a frame that does not fit into the queue.
//!
//! The logger hands every finished frame to [`Selected::deliver`] together with
//! the queue (behind [`FrameQueue`], so the decision can be tested without a
//! target). A policy either gets the whole frame into the queue or drops it
//! whole; it never leaves part of a frame behind.
//!
//! Three policies, one per cargo feature, [`Selected`] is the one enabled:
//! [`DropWhole`] (`policy-drop`, the default), [`Truncate`] (`policy-truncate`)
//! and [`Block`] (`policy-block`).

use core::sync::atomic::{AtomicBool, Ordering};

/// The queue has no room for the whole frame right now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueueFull;

/// The queue as a policy sees it.
#[allow(dead_code)] // Each policy uses the part of the queue it needs.
pub(crate) trait FrameQueue {
    /// Puts the whole frame into the queue, or nothing at all.
    fn try_push(&mut self, frame: &[u8]) -> Result<(), QueueFull>;

    /// Puts `first` and then `second` into the queue with one grant: both whole, or nothing.
    fn try_push_pair(&mut self, first: &[u8], second: &[u8]) -> Result<(), QueueFull>;

    /// [`FrameQueue::try_push`] off the log call's hot path (reports,
    /// separators): kept out of line so the hot path's push stays inlined.
    fn try_push_cold(&mut self, frame: &[u8]) -> Result<(), QueueFull> {
        self.try_push(frame)
    }

    /// Puts as much of the frame's start as fits into the queue; returns how much.
    fn push_prefix(&mut self, frame: &[u8]) -> usize;

    /// Moves the oldest queued bytes (one chunk) out into the sink, synchronously.
    ///
    /// Returns how many bytes were moved; 0 when nothing could be moved (the
    /// queue is empty, no sink is registered, or the queue is being read).
    fn drain_chunk_to_sink(&mut self) -> usize;
}

/// What became of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The whole frame is in the queue.
    Queued,
    /// The frame was discarded (whole, or truncated); the caller counts it as dropped.
    Dropped,
    /// The frame was discarded and must not be counted (test-only fault injection).
    #[allow(dead_code)] // Only with the test-only feature `test-uncounted-drops`.
    Lost,
}

/// An overflow policy.
pub(crate) trait OverflowPolicy {
    /// The policy's name, as reported in the `hil:start` marker.
    const NAME: &'static str;

    /// Gets `frame` into `queue` or drops it, both whole.
    fn deliver(queue: &mut impl FrameQueue, frame: &[u8]) -> Delivery;

    /// A frame too long for the staging buffer is discarded: how it is counted.
    fn discard() -> Delivery {
        Delivery::Dropped
    }
}

/// `block`: while the frame does not fit, drain the queue into the sink
/// synchronously, then queue the frame.
///
/// The frame is dropped only when draining cannot make room: no sink is
/// registered yet, or the logger runs while the queue is being read (a log
/// call from inside a drain callback).
#[allow(dead_code)] // Only the selected policy runs in a build; all are unit-tested.
pub(crate) struct Block;

impl OverflowPolicy for Block {
    const NAME: &'static str = "block";

    fn deliver(queue: &mut impl FrameQueue, frame: &[u8]) -> Delivery {
        loop {
            if queue.try_push(frame).is_ok() {
                return Delivery::Queued;
            }
            if queue.drain_chunk_to_sink() == 0 {
                return Delivery::Dropped;
            }
        }
    }
}

/// `drop`: a frame that does not fit is dropped whole and counted; before the
/// next frame that fits, a drop report (`hil:drop n=N`) with the number dropped
/// since the last report enters the queue.
///
/// The report and that frame enter with one grant: when the report would fit
/// but the frame would not, neither goes in and the count goes on, so a
/// nearly full queue does not fill up with small `n=1` reports (the report
/// also goes in alone as soon as a drain or flush frees space).
///
/// With the test-only feature `test-uncounted-drops` the drops are neither
/// counted nor reported: the loss the host's overflow check must catch.
#[allow(dead_code)] // Only the selected policy runs in a build; all are unit-tested.
pub(crate) struct DropWhole;

impl OverflowPolicy for DropWhole {
    const NAME: &'static str = "drop";

    fn deliver(queue: &mut impl FrameQueue, frame: &[u8]) -> Delivery {
        let pushed = match crate::report::pending_report() {
            None => queue.try_push(frame),
            Some(report) => queue
                .try_push_pair(&report, frame)
                .map(|()| crate::report::reported(report.count)),
        };
        match pushed {
            Ok(()) => Delivery::Queued,
            Err(QueueFull) => dropped_and_reported(),
        }
    }

    fn discard() -> Delivery {
        dropped_and_reported()
    }
}

#[allow(dead_code)] // Used by `DropWhole` only.
fn dropped_and_reported() -> Delivery {
    if cfg!(feature = "test-uncounted-drops") {
        Delivery::Lost
    } else {
        crate::report::count_drop();
        Delivery::Dropped
    }
}

/// `truncate` (what defmt-bbq does): write as much of the frame as fits and
/// discard the rest, its closing delimiter included, so the next frame merges
/// into it. Kept to test that the host recovers; every truncated frame is
/// counted as dropped, no report is sent.
///
/// With the test-only feature `test-uncounted-drops` the truncated frames are
/// not counted: the loss the host's truncate identity must catch.
#[allow(dead_code)] // Only the selected policy runs in a build; all are unit-tested.
pub(crate) struct Truncate;

impl OverflowPolicy for Truncate {
    const NAME: &'static str = "truncate";

    fn deliver(queue: &mut impl FrameQueue, frame: &[u8]) -> Delivery {
        if queue.try_push(frame).is_ok() {
            // Its delimiter ends whatever it merged into.
            PARTIAL.store(false, Ordering::Relaxed);
            return Delivery::Queued;
        }
        if queue.push_prefix(frame) > 0 {
            PARTIAL.store(true, Ordering::Relaxed);
        }
        truncated()
    }
}

#[allow(dead_code)] // Used by `Truncate` only.
fn truncated() -> Delivery {
    if cfg!(feature = "test-uncounted-drops") {
        Delivery::Lost
    } else {
        Delivery::Dropped
    }
}

/// The last bytes queued are a truncated frame's, without its delimiter.
static PARTIAL: AtomicBool = AtomicBool::new(false);

/// Forgets a partial frame (host tests: the policy tests use the flag too).
#[cfg(test)]
pub(crate) fn reset_for_test() {
    PARTIAL.store(false, Ordering::Relaxed);
}

/// Ends a frame the `truncate` policy left partial with a delimiter, so the
/// next frame arrives whole (the failure path: the panic message must not
/// merge into it). The cut frame arrives malformed, already counted as dropped.
pub(crate) fn end_partial_frame(queue: &mut impl FrameQueue) {
    if !cfg!(feature = "policy-truncate") {
        // Only `truncate` leaves partial frames; compiled out elsewhere, so no
        // other push competes with the log call's for inlining (the per-call cost).
        return;
    }
    critical_section::with(|_| {
        if PARTIAL.load(Ordering::Relaxed) && queue.push_prefix(&[0]) == 1 {
            PARTIAL.store(false, Ordering::Relaxed);
        }
    });
}

#[cfg(any(
    all(feature = "policy-drop", feature = "policy-truncate"),
    all(feature = "policy-drop", feature = "policy-block"),
    all(feature = "policy-truncate", feature = "policy-block"),
))]
compile_error!("hil-transport: enable at most one of policy-drop, policy-truncate, policy-block");

/// The policy this build uses.
#[cfg(feature = "policy-block")]
pub(crate) type Selected = Block;
/// The policy this build uses.
#[cfg(feature = "policy-truncate")]
pub(crate) type Selected = Truncate;
/// The policy this build uses.
#[cfg(not(any(feature = "policy-block", feature = "policy-truncate")))]
pub(crate) type Selected = DropWhole;

#[cfg(test)]
mod tests {
    //! Host tests of the overflow policies, against a fake queue.

    use super::{Block, Delivery, DropWhole, FrameQueue, OverflowPolicy, QueueFull, Truncate};

    /// A byte queue of fixed capacity that drains `chunk` bytes per step.
    struct FakeQueue {
        queued: Vec<u8>,
        capacity: usize,
        chunk: usize,
        has_sink: bool,
        sent: Vec<u8>,
    }

    impl FakeQueue {
        fn new(capacity: usize, chunk: usize) -> Self {
            Self {
                queued: Vec::new(),
                capacity,
                chunk,
                has_sink: true,
                sent: Vec::new(),
            }
        }
    }

    impl FrameQueue for FakeQueue {
        fn try_push(&mut self, frame: &[u8]) -> Result<(), QueueFull> {
            if self.queued.len() + frame.len() > self.capacity {
                return Err(QueueFull);
            }
            self.queued.extend_from_slice(frame);
            Ok(())
        }

        fn try_push_pair(&mut self, first: &[u8], second: &[u8]) -> Result<(), QueueFull> {
            if self.queued.len() + first.len() + second.len() > self.capacity {
                return Err(QueueFull);
            }
            self.queued.extend_from_slice(first);
            self.queued.extend_from_slice(second);
            Ok(())
        }

        fn push_prefix(&mut self, frame: &[u8]) -> usize {
            let fits = frame.len().min(self.capacity - self.queued.len());
            self.queued.extend_from_slice(&frame[..fits]);
            fits
        }

        fn drain_chunk_to_sink(&mut self) -> usize {
            if !self.has_sink {
                return 0;
            }
            let moved = self.chunk.min(self.queued.len());
            self.sent.extend(self.queued.drain(..moved));
            moved
        }
    }

    #[test]
    fn a_frame_that_fits_is_queued_without_draining() {
        let mut queue = FakeQueue::new(16, 4);
        assert_eq!(Block::deliver(&mut queue, &[1, 2, 3]), Delivery::Queued);
        assert_eq!(queue.queued, [1, 2, 3]);
        assert!(queue.sent.is_empty());
    }

    #[test]
    fn a_full_queue_drains_just_enough_then_queues_in_order() {
        let mut queue = FakeQueue::new(8, 2);
        assert_eq!(Block::deliver(&mut queue, &[1; 6]), Delivery::Queued);
        assert_eq!(Block::deliver(&mut queue, &[2; 5]), Delivery::Queued);
        // Six bytes queued, five to add: four had to go (two chunks of two).
        assert_eq!(queue.sent, [1; 4]);
        assert_eq!(queue.queued, [1, 1, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn without_a_sink_an_overflowing_frame_is_dropped_whole() {
        let mut queue = FakeQueue::new(8, 2);
        queue.has_sink = false;
        assert_eq!(Block::deliver(&mut queue, &[1; 6]), Delivery::Queued);
        assert_eq!(Block::deliver(&mut queue, &[2; 5]), Delivery::Dropped);
        assert_eq!(queue.queued, [1; 6]);
    }

    #[test]
    fn the_policy_name_is_block() {
        assert_eq!(Block::NAME, "block");
    }

    #[test]
    fn truncate_writes_what_fits_and_discards_the_rest() {
        let mut queue = FakeQueue::new(8, 2);
        assert_eq!(Truncate::deliver(&mut queue, &[1; 6]), Delivery::Queued);
        assert_eq!(
            Truncate::deliver(&mut queue, &[2, 3, 4, 0]),
            Delivery::Dropped
        );
        assert_eq!(
            queue.queued,
            [1, 1, 1, 1, 1, 1, 2, 3],
            "no delimiter: the next frame merges"
        );
    }

    #[test]
    fn drop_reports_precede_the_next_frame_that_fits_and_count_every_drop() {
        let _lock = crate::report::test_lock();
        crate::report::reset_for_test([0x34, 0x12]);
        let mut queue = FakeQueue::new(16, 2);
        assert_eq!(DropWhole::deliver(&mut queue, &[1; 12]), Delivery::Queued);
        assert_eq!(DropWhole::deliver(&mut queue, &[2; 6]), Delivery::Dropped);
        assert_eq!(DropWhole::deliver(&mut queue, &[3; 6]), Delivery::Dropped);
        assert_eq!(crate::report::pending(), 2);
        queue.queued.clear();
        assert_eq!(DropWhole::deliver(&mut queue, &[4; 3]), Delivery::Queued);
        assert_eq!(crate::report::pending(), 0);
        let report = crate::report::encode(2).unwrap();
        let (head, tail) = queue.queued.split_at(report.len());
        assert_eq!(head, &report[..], "the report first");
        assert_eq!(tail, [4; 3], "then the frame, whole");
    }

    #[test]
    fn a_drop_report_that_does_not_fit_keeps_counting() {
        let _lock = crate::report::test_lock();
        crate::report::reset_for_test([0x34, 0x12]);
        let mut queue = FakeQueue::new(8, 2);
        assert_eq!(DropWhole::deliver(&mut queue, &[1; 7]), Delivery::Queued);
        assert_eq!(DropWhole::deliver(&mut queue, &[2; 3]), Delivery::Dropped);
        // One byte free: neither the report nor a one-byte frame goes in ahead of it.
        assert_eq!(DropWhole::deliver(&mut queue, &[3]), Delivery::Dropped);
        assert_eq!(crate::report::pending(), 2);
        assert_eq!(queue.queued, [1; 7]);
    }

    #[cfg(feature = "policy-drop")]
    #[test]
    fn a_pending_report_pushed_alone_goes_in_whole_or_stays_pending() {
        let _lock = crate::report::test_lock();
        crate::report::reset_for_test([0x34, 0x12]);
        let report = crate::report::encode(1).unwrap();
        let mut queue = FakeQueue::new(report.len() + 1, 2);
        let filler = vec![1; report.len()];
        assert_eq!(DropWhole::deliver(&mut queue, &filler), Delivery::Queued);
        assert_eq!(DropWhole::deliver(&mut queue, &[2; 3]), Delivery::Dropped);
        // No room for the report: nothing goes in, the drop is still to be reported.
        assert!(!crate::report::push_pending(&mut queue));
        assert_eq!(queue.queued, filler);
        assert_eq!(crate::report::pending(), 1);
        // Room again: the report alone, whole, and nothing left pending.
        queue.queued.clear();
        assert!(crate::report::push_pending(&mut queue));
        assert_eq!(queue.queued, &report[..]);
        assert_eq!(crate::report::pending(), 0);
    }

    #[cfg(feature = "policy-truncate")]
    #[test]
    fn a_cut_frame_gets_one_delimiter_once_there_is_room_and_a_frame_cut_to_nothing_none() {
        let _lock = crate::report::test_lock();
        super::reset_for_test();
        let mut queue = FakeQueue::new(8, 2);
        // A full queue: nothing of the frame goes in, nothing is partial.
        assert_eq!(Truncate::deliver(&mut queue, &[1; 8]), Delivery::Queued);
        assert_eq!(Truncate::deliver(&mut queue, &[2; 3]), Delivery::Dropped);
        queue.queued.clear();
        super::end_partial_frame(&mut queue);
        assert!(
            queue.queued.is_empty(),
            "no delimiter for a frame that never started"
        );
        // Cut after 2 bytes; no room for the delimiter yet: it waits.
        assert_eq!(Truncate::deliver(&mut queue, &[1; 6]), Delivery::Queued);
        assert_eq!(Truncate::deliver(&mut queue, &[3; 4]), Delivery::Dropped);
        super::end_partial_frame(&mut queue);
        assert_eq!(queue.queued, [1, 1, 1, 1, 1, 1, 3, 3]);
        // Room: the delimiter goes in once.
        queue.queued.clear();
        super::end_partial_frame(&mut queue);
        super::end_partial_frame(&mut queue);
        assert_eq!(queue.queued, [0]);
    }

    /// Known issue: with room for a report but not for the frame after it,
    /// every drop put a small `n=1` report in, instead of one report of the total.
    #[test]
    fn a_nearly_full_queue_gets_one_report_of_the_total_not_many_small_ones() {
        let _lock = crate::report::test_lock();
        crate::report::reset_for_test([0x34, 0x12]);
        let report_len = crate::report::encode(1).unwrap().len();
        let mut queue = FakeQueue::new(64, 2);
        // Room for two reports, not for a report and a frame.
        let filler = 64 - 2 * report_len;
        assert_eq!(
            DropWhole::deliver(&mut queue, &vec![1; filler]),
            Delivery::Queued
        );
        for _ in 0..5 {
            assert_eq!(DropWhole::deliver(&mut queue, &[2; 40]), Delivery::Dropped);
        }
        assert_eq!(
            queue.queued.len(),
            filler,
            "no report went in without its frame"
        );
        assert_eq!(crate::report::pending(), 5);
        queue.queued.clear();
        assert_eq!(DropWhole::deliver(&mut queue, &[3; 4]), Delivery::Queued);
        let report = crate::report::encode(5).unwrap();
        assert_eq!(
            &queue.queued[..report.len()],
            &report[..],
            "one report of all five"
        );
        assert_eq!(&queue.queued[report.len()..], [3; 4]);
    }
}
