//! Overflow policy: what the logger does with a frame that does not fit into the queue.
//!
//! The logger hands every finished frame to [`Selected::deliver`] together with
//! the queue (behind [`FrameQueue`], so the decision can be tested without a
//! target). A policy either gets the whole frame into the queue or drops it
//! whole; it never leaves part of a frame behind.
//!
//! This version has one policy, [`Block`] (cargo feature `policy-block`, also
//! the default). `drop` and `truncate` are meant to be added next to it, each
//! behind its own cargo feature, with [`Selected`] picking the one enabled.

/// The queue has no room for the whole frame right now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueueFull;

/// The queue as a policy sees it.
pub(crate) trait FrameQueue {
    /// Puts the whole frame into the queue, or nothing at all.
    fn try_push(&mut self, frame: &[u8]) -> Result<(), QueueFull>;

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
    /// The frame was discarded whole; the caller counts it as dropped.
    Dropped,
}

/// An overflow policy.
pub(crate) trait OverflowPolicy {
    /// The policy's name, as reported in the `hil:start` marker.
    const NAME: &'static str;

    /// Gets `frame` into `queue` or drops it, both whole.
    fn deliver(queue: &mut impl FrameQueue, frame: &[u8]) -> Delivery;
}

/// `block`: while the frame does not fit, drain the queue into the sink
/// synchronously, then queue the frame.
///
/// The frame is dropped only when draining cannot make room: no sink is
/// registered yet, or the logger runs while the queue is being read (a log
/// call from inside a drain callback).
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

/// The policy this build uses.
pub(crate) type Selected = Block;

#[cfg(test)]
mod tests {
    //! Host tests of the overflow policies, against a fake queue.

    use super::{Block, Delivery, FrameQueue, OverflowPolicy, QueueFull};

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
}
