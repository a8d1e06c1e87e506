//! The log queue: a bbqueue of encoded frames, filled by the logger and drained to the sink.
//!
//! Every read of the queue happens inside a critical section, one chunk of at
//! most [`DRAIN_CHUNK`] bytes at a time, and hands the chunk to its consumer
//! before the section ends. So a read grant is never held across code that
//! can be interrupted, and any context (the panic handler included) can take
//! the consumer side at any time, even while the application holds the
//! [`Drain`](crate::Drain) handle.

use core::cell::Cell;

use bbqueue::nicknames::Jerk;
use critical_section::Mutex;

use crate::policy::{FrameQueue, QueueFull};
use crate::{Sink, QUEUE_SIZE};

/// Most bytes moved out of the queue per critical section while draining.
///
/// Bounds how long a drain keeps interrupts waiting: one chunk of sink writes.
pub const DRAIN_CHUNK: usize = 32;

/// The queue every log frame goes through.
static QUEUE: Jerk<QUEUE_SIZE> = Jerk::new();

/// The sink registered by [`init`](crate::init).
static SINK: Mutex<Cell<Option<Sink>>> = Mutex::new(Cell::new(None));

/// Registers the sink; returns false when one was registered before.
pub(crate) fn register_sink(sink: Sink) -> bool {
    critical_section::with(|cs| {
        let slot = SINK.borrow(cs);
        let first = slot.get().is_none();
        if first {
            slot.set(Some(sink));
        }
        first
    })
}

/// The registered sink, if any.
pub(crate) fn sink() -> Option<Sink> {
    critical_section::with(|cs| SINK.borrow(cs).get())
}

/// The log queue together with the sink it drains into.
pub(crate) fn log_queue() -> FrameRing<'static, QUEUE_SIZE> {
    FrameRing::new(&QUEUE, sink())
}

/// A bbqueue used as a queue of whole frames, with a sink to drain into.
pub(crate) struct FrameRing<'q, const N: usize> {
    queue: &'q Jerk<N>,
    sink: Option<Sink>,
}

impl<'q, const N: usize> FrameRing<'q, N> {
    /// Wraps `queue`; `sink` is where [`FrameQueue::drain_chunk_to_sink`] writes.
    pub(crate) fn new(queue: &'q Jerk<N>, sink: Option<Sink>) -> Self {
        Self { queue, sink }
    }

    /// Moves up to [`DRAIN_CHUNK`] of the oldest bytes into `consume`, inside
    /// one critical section. Returns the number of bytes moved (0: nothing to move,
    /// or the queue is being read further up this context's stack).
    pub(crate) fn drain_chunk(&self, consume: &mut impl FnMut(&[u8])) -> usize {
        critical_section::with(|_| match self.queue.stream_consumer().read() {
            Ok(grant) => {
                let moved = grant.len().min(DRAIN_CHUNK);
                consume(&grant[..moved]);
                grant.release(moved);
                moved
            }
            Err(_) => 0,
        })
    }

    /// Drains chunk by chunk into `consume` until the queue is empty or `limit`
    /// bytes have moved. Returns the number of bytes moved.
    pub(crate) fn drain(&self, limit: usize, mut consume: impl FnMut(&[u8])) -> usize {
        let mut moved = 0;
        while moved < limit {
            match self.drain_chunk(&mut consume) {
                0 => break,
                chunk => moved += chunk,
            }
        }
        moved
    }

    /// Drains everything into the sink, in one critical section, so nothing
    /// can be added meanwhile. Returns the number of bytes moved.
    pub(crate) fn flush_to_sink(&self) -> usize {
        match self.sink {
            Some(sink) => critical_section::with(|_| self.drain(usize::MAX, sink)),
            None => 0,
        }
    }
}

impl<const N: usize> FrameQueue for FrameRing<'_, N> {
    fn try_push(&mut self, frame: &[u8]) -> Result<(), QueueFull> {
        // One grant for the whole frame: it is in the queue whole or not at all.
        let mut grant = self
            .queue
            .stream_producer()
            .grant_exact(frame.len())
            .map_err(|_| QueueFull)?;
        grant.copy_from_slice(frame);
        grant.commit(frame.len());
        Ok(())
    }

    fn push_prefix(&mut self, frame: &[u8]) -> usize {
        let Ok(mut grant) = self
            .queue
            .stream_producer()
            .grant_max_remaining(frame.len())
        else {
            return 0;
        };
        let fits = grant.len().min(frame.len());
        grant[..fits].copy_from_slice(&frame[..fits]);
        grant.commit(fits);
        fits
    }

    fn drain_chunk_to_sink(&mut self) -> usize {
        match self.sink {
            Some(sink) => self.drain_chunk(&mut |bytes| sink(bytes)),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Host tests of the bbqueue frame ring.

    use std::cell::RefCell;

    use bbqueue::nicknames::Jerk;

    use super::{FrameRing, DRAIN_CHUNK};
    use crate::policy::FrameQueue;

    std::thread_local! {
        static SENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    fn record(bytes: &[u8]) {
        SENT.with(|sent| sent.borrow_mut().extend_from_slice(bytes));
    }

    fn take_sent() -> Vec<u8> {
        SENT.with(|sent| sent.take())
    }

    #[test]
    fn frames_come_out_in_order_in_bounded_chunks() {
        let queue = Jerk::<256>::new();
        let mut ring = FrameRing::new(&queue, Some(record));
        let frames: Vec<Vec<u8>> = (0u8..10).map(|n| vec![n; 20]).collect();
        for frame in &frames {
            ring.try_push(frame).unwrap();
        }
        let mut chunks = Vec::new();
        let moved = ring.drain(usize::MAX, |chunk| chunks.push(chunk.to_vec()));
        assert_eq!(moved, 200);
        assert!(chunks.iter().all(|chunk| chunk.len() <= DRAIN_CHUNK));
        assert_eq!(chunks.concat(), frames.concat());
    }

    #[test]
    fn a_frame_that_does_not_fit_leaves_the_queue_unchanged() {
        let queue = Jerk::<64>::new();
        let mut ring = FrameRing::new(&queue, Some(record));
        ring.try_push(&[1; 40]).unwrap();
        assert!(ring.try_push(&[2; 30]).is_err());
        assert_eq!(ring.flush_to_sink(), 40);
        assert_eq!(take_sent(), [1; 40]);
    }

    #[test]
    fn half_the_capacity_always_fits_into_an_emptied_queue() {
        // Whatever the read/write position, a drained queue takes a frame of
        // capacity/2 bytes: the rule behind `MAX_FRAME <= QUEUE_SIZE / 2`.
        const CAPACITY: usize = 64;
        for offset in 0..CAPACITY {
            let queue = Jerk::<CAPACITY>::new();
            let mut ring = FrameRing::new(&queue, Some(record));
            if offset > 0 {
                ring.try_push(&vec![0; offset]).unwrap();
                ring.flush_to_sink();
            }
            let frame = vec![7; CAPACITY / 2];
            assert!(ring.try_push(&frame).is_ok(), "offset {offset}");
            take_sent();
            ring.flush_to_sink();
            assert_eq!(take_sent(), frame, "offset {offset}");
        }
    }

    #[test]
    fn the_drain_limit_is_respected_per_call() {
        let queue = Jerk::<128>::new();
        let mut ring = FrameRing::new(&queue, None);
        ring.try_push(&[3; 100]).unwrap();
        assert_eq!(ring.drain(DRAIN_CHUNK, |_| {}), DRAIN_CHUNK);
        assert_eq!(ring.drain(usize::MAX, |_| {}), 100 - DRAIN_CHUNK);
        // Without a sink, flushing moves nothing.
        ring.try_push(&[4; 10]).unwrap();
        assert_eq!(ring.flush_to_sink(), 0);
        assert_eq!(ring.drain_chunk_to_sink(), 0);
    }
}
