//! The log queue: a bbqueue of encoded frames, filled by the logger and read by one consumer.
//!
//! Every read of the queue goes through one read slot ([`RingState`]): the
//! bbqueue read grant is parked there while its bytes are being moved, so
//!
//! - a synchronous drain step (a chunk of at most [`DRAIN_CHUNK`] bytes,
//!   moved inside one critical section) that panics in its consumer leaves
//!   a read the failure path can find, count and release;
//! - a [`Transfer`] (a DMA transfer, or any consumer that needs interrupts)
//!   can hold its grant across critical sections and interrupts, and
//!   [`flush`](crate::flush) and the `block` policy wait for it (through the
//!   link's `wait_transfer` hook) before they move later bytes: bytes never
//!   leave out of order.

use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicU32, Ordering};

use bbqueue::prod_cons::stream::StreamGrantR;
use bbqueue::traits::notifier::polling::Polling;
use critical_section::{CriticalSection, Mutex};

use crate::descriptor::{QueueCoord, QueueStorage};
use crate::policy::{FrameQueue, QueueFull};
use crate::{Link, QUEUE_SIZE};

/// Most bytes moved out of the queue per critical section while draining.
///
/// Bounds how long a drain keeps interrupts waiting: one chunk of sink writes.
pub const DRAIN_CHUNK: usize = 32;

/// A bbqueue over the storage and coordination whose addresses
/// [`HIL_TRANSPORT_QUEUE`](crate::HIL_TRANSPORT_QUEUE) names. `N` is its
/// capacity ([`QUEUE_SIZE`]: there is one such queue).
pub(crate) type Jerk<const N: usize> = bbqueue::BBQueue<QueueStorage, QueueCoord, Polling>;

/// The queue every log frame goes through.
static QUEUE: Jerk<QUEUE_SIZE> = Jerk::new();

/// The read slot and byte counters of [`QUEUE`].
pub(crate) static STATE: RingState<'static, QUEUE_SIZE> = RingState::new();

/// The link registered by [`init`](crate::init) / [`init_with`](crate::init_with).
static LINK: LinkCell = LinkCell::new();

/// Holds the registered [`Link`], and its commit hook on its own (one load per log call).
pub(crate) struct LinkCell(Mutex<Cell<Option<Link>>>, Mutex<Cell<Option<Hook>>>);

/// A hook of the link.
type Hook = fn();

impl LinkCell {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(Cell::new(None)), Mutex::new(Cell::new(None)))
    }

    /// Registers `link`; returns false when one was registered before.
    pub(crate) fn register(&self, link: Link) -> bool {
        critical_section::with(|cs| {
            let slot = self.0.borrow(cs);
            let first = slot.get().is_none();
            if first {
                slot.set(Some(link));
                self.1.borrow(cs).set(link.on_commit);
            }
            first
        })
    }

    /// The registered link, if any.
    pub(crate) fn get(&self) -> Option<Link> {
        critical_section::with(|cs| self.0.borrow(cs).get())
    }

    /// The commit hook; the caller is inside a critical section already.
    #[inline]
    fn on_commit(&self, cs: CriticalSection<'_>) -> Option<fn()> {
        self.1.borrow(cs).get()
    }
}

/// Registers the link; returns false when one was registered before.
pub(crate) fn register_link(link: Link) -> bool {
    LINK.register(link)
}

/// The registered link, if any.
pub(crate) fn link() -> Option<Link> {
    LINK.get()
}

/// The log queue with its read slot and link.
pub(crate) fn log_queue() -> FrameRing<'static, QUEUE_SIZE> {
    FrameRing::new(&QUEUE, &STATE, &LINK)
}

/// A read grant of a queue of `N` bytes.
type Grant<'q, const N: usize> = StreamGrantR<&'q Jerk<N>>;

/// What holds the parked read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadKind {
    /// A synchronous drain step of `len` bytes, inside one critical section of the context that took it.
    Chunk {
        /// The bytes handed to the consumer.
        len: usize,
    },
    /// A [`Transfer`] of `len` bytes, released by [`FrameRing::finish_transfer`].
    Transfer {
        /// Which transfer.
        id: u32,
        /// Its bytes.
        len: usize,
    },
}

/// The consumer side's state of one queue: the parked read and byte counters.
pub(crate) struct RingState<'q, const N: usize> {
    read: Mutex<RefCell<Option<(Grant<'q, N>, ReadKind)>>>,
    /// Bytes that entered the queue (frames, reports, truncated prefixes).
    pub(crate) committed: AtomicU32,
    /// Bytes that left it (moved out, or released unsent after a failure).
    pub(crate) released: AtomicU32,
    /// Id of the last transfer started.
    transfers: AtomicU32,
}

impl<const N: usize> RingState<'_, N> {
    pub(crate) const fn new() -> Self {
        Self {
            read: Mutex::new(RefCell::new(None)),
            committed: AtomicU32::new(0),
            released: AtomicU32::new(0),
            transfers: AtomicU32::new(0),
        }
    }
}

/// Adds `n` to `counter`; the caller is inside a critical section (no CAS on thumbv6m).
fn add(counter: &AtomicU32, n: usize) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n as u32),
        Ordering::Relaxed,
    );
}

/// An outstanding read of the queue that outlives one critical section: hand
/// [`Transfer::as_ptr`] and [`Transfer::len`] to a DMA engine, then give the
/// transfer back to [`Drain::finish_transfer`](crate::Drain::finish_transfer)
/// when it has completed.
///
/// The bytes stay reserved in the queue until then, so nothing overwrites
/// them and nothing later can leave before them.
#[derive(Debug)]
pub struct Transfer {
    id: u32,
    ptr: *const u8,
    len: usize,
}

// SAFETY: a `Transfer` is a token plus the address of bytes in a `static`
// queue that stay reserved until the token is handed back; moving it to the
// interrupt handler that completes the transfer is its purpose.
unsafe impl Send for Transfer {}

impl Transfer {
    /// Address of the first byte to send (in RAM: fine for EasyDMA and other DMA engines).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// Number of bytes to send (never 0).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a transfer has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes to send, valid while the transfer is outstanding.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the bytes are reserved in the queue by the parked read grant
        // until this transfer is finished (which consumes it) or settled by a
        // flush (after which the application must not use it: documented).
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// What a flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Bytes moved into the sink.
    pub moved: usize,
    /// Bytes still queued because a read was in progress that the flush could
    /// not finish (a drain step whose consumer did not return, e.g. it
    /// panicked, or a transfer without a `wait_transfer` hook).
    pub stuck: usize,
}

/// A bbqueue used as a queue of whole frames, with its read slot and link.
pub(crate) struct FrameRing<'q, const N: usize> {
    queue: &'q Jerk<N>,
    state: &'q RingState<'q, N>,
    link: &'q LinkCell,
}

impl<'q, const N: usize> FrameRing<'q, N> {
    /// Wraps `queue`, its `state` and the `link` it drains into.
    pub(crate) fn new(queue: &'q Jerk<N>, state: &'q RingState<'q, N>, link: &'q LinkCell) -> Self {
        Self { queue, state, link }
    }

    /// Bytes in the queue: committed and not yet released.
    pub(crate) fn queued(&self) -> usize {
        let s = self.state;
        s.committed
            .load(Ordering::Relaxed)
            .wrapping_sub(s.released.load(Ordering::Relaxed)) as usize
    }

    /// Moves up to `max` of the oldest bytes into `consume`, which returns how
    /// many it took, inside one critical section. Returns the bytes moved
    /// (0: nothing to move, or a read is in progress).
    pub(crate) fn drain_chunk(
        &self,
        max: usize,
        consume: &mut impl FnMut(&[u8]) -> usize,
    ) -> usize {
        critical_section::with(|cs| {
            let Ok(grant) = self.queue.stream_consumer().read() else {
                return 0;
            };
            let len = grant.len().min(max);
            // SAFETY: the grant reserves these bytes; it stays parked in the
            // read slot until they are released below (or, if `consume` never
            // returns, by the failure path, after which this frame is gone).
            let bytes = unsafe { core::slice::from_raw_parts(grant.as_ptr(), len) };
            let slot = self.state.read.borrow(cs);
            slot.replace(Some((grant, ReadKind::Chunk { len })));
            let moved = consume(bytes).min(len);
            if let Some((grant, _)) = slot.take() {
                grant.release(moved);
                add(&self.state.released, moved);
            }
            moved
        })
    }

    /// Drains chunk by chunk into `consume` until the queue is empty, `consume`
    /// takes nothing, or `limit` bytes have moved. Returns the bytes moved.
    pub(crate) fn drain_with(
        &self,
        limit: usize,
        mut consume: impl FnMut(&[u8]) -> usize,
    ) -> usize {
        let mut moved = 0;
        while moved < limit {
            match self.drain_chunk(DRAIN_CHUNK.min(limit - moved), &mut consume) {
                0 => break,
                chunk => moved += chunk,
            }
        }
        moved
    }

    /// [`FrameRing::drain_with`] for a consumer that takes every byte it is given.
    pub(crate) fn drain(&self, limit: usize, mut consume: impl FnMut(&[u8])) -> usize {
        self.drain_with(limit, |bytes| {
            consume(bytes);
            bytes.len()
        })
    }

    /// Starts a [`Transfer`] of at most `max` bytes; `None` when the queue is
    /// empty or a read is in progress.
    pub(crate) fn start_transfer(&self, max: usize) -> Option<Transfer> {
        critical_section::with(|cs| {
            let slot = self.state.read.borrow(cs);
            if max == 0 || slot.borrow().is_some() {
                return None;
            }
            let grant = self.queue.stream_consumer().read().ok()?;
            let len = grant.len().min(max);
            let id = self.state.transfers.load(Ordering::Relaxed).wrapping_add(1);
            self.state.transfers.store(id, Ordering::Relaxed);
            let transfer = Transfer {
                id,
                ptr: grant.as_ptr(),
                len,
            };
            slot.replace(Some((grant, ReadKind::Transfer { id, len })));
            Some(transfer)
        })
    }

    /// Releases the bytes of `transfer`, which has completed. Returns how many;
    /// 0 when a flush already settled it.
    pub(crate) fn finish_transfer(&self, transfer: Transfer) -> usize {
        critical_section::with(|cs| {
            let slot = self.state.read.borrow(cs);
            let ours = matches!(&*slot.borrow(), Some((_, ReadKind::Transfer { id, .. })) if *id == transfer.id);
            if !ours {
                return 0;
            }
            let (grant, _) = slot.take().expect("checked above");
            grant.release(transfer.len);
            add(&self.state.released, transfer.len);
            transfer.len
        })
    }

    /// A transfer in flight is waited for (the link's `wait_transfer` hook)
    /// and released, so a synchronous drain can go on after it. False when a
    /// read is in progress that cannot be settled.
    fn settle(&self, cs: CriticalSection<'_>) -> bool {
        let slot = self.state.read.borrow(cs);
        let kind = match &*slot.borrow() {
            None => return true,
            Some((_, kind)) => *kind,
        };
        let wait = self.link.0.borrow(cs).get().and_then(|l| l.wait_transfer);
        match (kind, wait) {
            (ReadKind::Transfer { len, .. }, Some(wait)) => {
                wait();
                if let Some((grant, _)) = slot.take() {
                    grant.release(len);
                    add(&self.state.released, len);
                }
                true
            }
            _ => false,
        }
    }

    /// A synchronous drain step into the link's sink, settling a transfer in
    /// flight first. 0 when nothing could move.
    fn sync_chunk(&self) -> usize {
        let Some(link) = self.link.get() else {
            return 0;
        };
        critical_section::with(|cs| {
            if !self.settle(cs) {
                return 0;
            }
            self.drain_chunk(DRAIN_CHUNK, &mut |bytes| {
                (link.write)(bytes);
                bytes.len()
            })
        })
    }

    /// Drains everything into the sink in one critical section (a transfer in
    /// flight is waited for first), so nothing can be added meanwhile.
    pub(crate) fn flush_to_sink(&self) -> Flushed {
        critical_section::with(|_| {
            let mut moved = 0;
            loop {
                match self.sync_chunk() {
                    0 => break,
                    n => moved += n,
                }
            }
            Flushed {
                moved,
                stuck: self.queued(),
            }
        })
    }

    /// `first` and `second` with one grant, out of line: every push but the
    /// log call's own goes through here, so that one stays inlined (the
    /// per-call cost).
    #[inline(never)]
    fn push_cold(&mut self, first: &[u8], second: &[u8]) -> Result<(), QueueFull> {
        // One grant for both: they are in the queue whole or not at all.
        let len = first.len() + second.len();
        let mut grant = self
            .queue
            .stream_producer()
            .grant_exact(len)
            .map_err(|_| QueueFull)?;
        let (head, tail) = grant.split_at_mut(first.len());
        head.copy_from_slice(first);
        tail.copy_from_slice(second);
        grant.commit(len);
        self.committed(len);
        Ok(())
    }

    /// `len` bytes entered the queue: counted, and the link's commit hook told.
    #[inline]
    fn committed(&self, len: usize) {
        // SAFETY: producers run inside the logger's (or a report's) critical section.
        let cs = unsafe { CriticalSection::new() };
        add(&self.state.committed, len);
        if let Some(hook) = self.link.on_commit(cs) {
            hook();
        }
    }

    /// Releases a read that a failure abandoned (its context never resumes):
    /// a drain step whose consumer panicked, or a transfer that cannot
    /// complete. Returns the bytes released unsent.
    ///
    /// # Safety
    ///
    /// The context that holds the read must never resume, and no DMA may
    /// still read its bytes (they are reused for later frames).
    pub(crate) unsafe fn abandon_read(&self) -> usize {
        critical_section::with(|cs| {
            let Some((grant, kind)) = self.state.read.borrow(cs).take() else {
                return 0;
            };
            let (ReadKind::Chunk { len } | ReadKind::Transfer { len, .. }) = kind;
            grant.release(len);
            add(&self.state.released, len);
            len
        })
    }

    /// Empties the queue and its counters, and forgets a parked read (host tests only).
    #[cfg(test)]
    pub(crate) fn reset_for_test(&self) {
        critical_section::with(|cs| {
            drop(self.state.read.borrow(cs).take());
        });
        self.drain(usize::MAX, |_| {});
    }
}

impl<const N: usize> FrameQueue for FrameRing<'_, N> {
    #[inline]
    fn try_push(&mut self, frame: &[u8]) -> Result<(), QueueFull> {
        // One grant for the whole frame: it is in the queue whole or not at all.
        let mut grant = self
            .queue
            .stream_producer()
            .grant_exact(frame.len())
            .map_err(|_| QueueFull)?;
        grant.copy_from_slice(frame);
        grant.commit(frame.len());
        self.committed(frame.len());
        Ok(())
    }

    fn try_push_pair(&mut self, first: &[u8], second: &[u8]) -> Result<(), QueueFull> {
        self.push_cold(first, second)
    }

    fn try_push_cold(&mut self, frame: &[u8]) -> Result<(), QueueFull> {
        self.push_cold(&[], frame)
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
        self.committed(fits);
        fits
    }

    fn drain_chunk_to_sink(&mut self) -> usize {
        self.sync_chunk()
    }
}
