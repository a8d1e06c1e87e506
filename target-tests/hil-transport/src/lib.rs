//! A defmt global logger that sends rzcobs frames through a bbqueue to a serial sink.
//!
//! Every log call is encoded by defmt's rzcobs [`defmt::Encoder`] into a
//! staging buffer and then enters a [`bbqueue`] with one grant: **a
//! frame is in the queue whole or not at all.** The application drains the
//! queue into its serial link however the board likes (polled UART,
//! interrupt, DMA, USB CDC) through the [`Drain`] handle that [`init`]
//! returns; [`flush`] empties the queue into the registered [`Sink`] from any
//! context, for example a panic handler.
//!
//! ```ignore
//! let drain = hil_transport::init(board::uart_write);
//! defmt::info!("hello");
//! drain.drain_to_sink();
//! ```
//!
//! # Log calls are atomic
//!
//! A log call runs inside one critical section, from defmt's `acquire` to its
//! `release`. Logging from thread mode and from interrupts is therefore safe:
//! an interrupt that fires during a log call runs right after the call, and
//! its frame follows the interrupted one. A log call inside a log call (from a
//! `Format` impl, or from a non-maskable handler that interrupted one) panics
//! with a clear message; [`is_logging`] tells a panic handler not to log then.
//!
//! # Overflow policy
//!
//! What happens to a frame that does not fit is chosen at build time
//! ([`POLICY`]), one cargo feature each:
//!
//! - `drop` (`policy-drop`, the default): a frame that does not fit is
//!   dropped whole and counted; as soon as space returns (the next frame that
//!   fits, or the next drain), a drop report frame `hil:drop n=N` with the
//!   number dropped since the last report enters the queue first. A partial
//!   frame never enters the queue.
//! - `truncate` (`policy-truncate`, what defmt-bbq does): as much of the
//!   frame as fits is written and the rest discarded, its delimiter too, so
//!   the next frame merges into it. Counted as dropped; no report. Kept to
//!   test the host's recovery.
//! - `block` (`policy-block`): the logger drains the queue synchronously
//!   into the sink until the frame fits. A frame is dropped only when no sink
//!   is registered yet (before [`init`]) or when it is logged from inside a
//!   drain callback.
//!
//! The test-only feature `test-uncounted-drops` makes `drop` lose frames
//! without counting or reporting them, and `truncate` truncate frames without
//! counting them: the faults the host's checks must catch.
//!
//! Independently of the policy, a frame whose encoding is longer than
//! [`MAX_FRAME`] is dropped whole. Every dropped frame is counted
//! ([`dropped`]), next to every frame the logger was asked to send
//! ([`attempted`]).
//!
//! # Build-time configuration
//!
//! - `HIL_QUEUE_SIZE`: queue capacity in bytes ([`QUEUE_SIZE`], default 1024).
//! - `HIL_MAX_FRAME`: longest frame in bytes ([`MAX_FRAME`], default 512 or
//!   `QUEUE_SIZE / 2` if smaller; at most `QUEUE_SIZE / 2`, so a frame always
//!   fits into an emptied queue).
//!
//! # When not to use it
//!
//! - When a probe is attached anyway and RTT works: `defmt-rtt` needs no
//!   UART and costs the target less time.
//! - When interrupt latency matters more than the log: every log call
//!   disables interrupts for the encoding of one frame, and with the `block`
//!   policy a full queue keeps them disabled while it drains over the UART.
//! - On multi-core targets where several cores log: it relies on a critical
//!   section that excludes every other logging context.
//! - When the serial link is shared with other traffic: the stream is raw
//!   rzcobs frames, meant for a defmt decoder.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

mod descriptor;
mod logger;
mod policy;
mod queue;
mod report;
mod staging;

include!(concat!(env!("OUT_DIR"), "/config.rs"));

pub use descriptor::{QueueDescriptor, DESCRIPTOR_VERSION, HIL_TRANSPORT_QUEUE};
pub use queue::{Flushed, Transfer, DRAIN_CHUNK};

use core::sync::atomic::Ordering;

use policy::OverflowPolicy;

const _: () = assert!(
    MAX_FRAME <= QUEUE_SIZE / 2,
    "MAX_FRAME must fit into an emptied queue"
);

/// Name of the overflow policy this build uses (`"drop"`, `"truncate"` or `"block"`).
pub const POLICY: &str = policy::Selected::NAME;

/// Where the encoded byte stream goes: the board's blocking serial write.
pub type Sink = fn(&[u8]);

/// How the queue reaches the serial link: the one consumer of the queue.
///
/// Whatever drains the queue in normal operation (a polled loop, a TX
/// interrupt, DMA), [`flush`] and the `block` policy move bytes through
/// `write`, and only after a [`Transfer`] in flight has completed
/// (`wait_transfer`): bytes never leave out of order.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Blocking write of bytes to the link (polled UART): used by
    /// [`Drain::drain_to_sink`], [`flush`] and the `block` policy.
    pub write: Sink,
    /// Called whenever bytes have entered the queue, inside the critical
    /// section of the log call: a place to start the TX interrupt or a DMA
    /// transfer (typically: enable the UART's TX interrupt, or pend the
    /// drain's interrupt). Must be short and must not log.
    pub on_commit: Option<fn()>,
    /// For DMA drains: waits (polling the peripheral) until the [`Transfer`]
    /// in flight has completed and clears its completion event, so its
    /// interrupt handler does not see it again. [`flush`] and the `block`
    /// policy call it, inside a critical section, before they write later
    /// bytes; the transport then releases the transfer's bytes itself. Without
    /// it a flush leaves the queue alone while a transfer is in flight.
    pub wait_transfer: Option<fn()>,
}

impl Link {
    /// A link that is a blocking write only (polled drains).
    pub const fn blocking(write: Sink) -> Self {
        Self {
            write,
            on_commit: None,
            wait_transfer: None,
        }
    }
}

/// Registers `sink` and returns the handle that drains the queue: [`init_with`]
/// a [`Link::blocking`].
///
/// # Panics
///
/// When called a second time: the queue has one consumer, and one sink.
pub fn init(sink: Sink) -> Drain {
    init_with(Link::blocking(sink))
}

/// Registers `link` and returns the handle that drains the queue.
///
/// Frames logged before `init_with` wait in the queue.
///
/// # Panics
///
/// When called a second time: the queue has one consumer.
pub fn init_with(link: Link) -> Drain {
    assert!(
        queue::register_link(link),
        "hil_transport::init called twice: the queue has one consumer"
    );
    logger::learn_drop_report_index();
    descriptor::keep();
    Drain { _private: () }
}

/// The consumer side of the log queue, handed out once by [`init`].
///
/// Four ways to drain, one per kind of board driver (see the crate's README):
///
/// - polled: [`Drain::drain_to_sink`] (or [`Drain::drain_into`]) from the main loop;
/// - TX interrupt: [`Drain::write_with`] from the UART's interrupt handler,
///   moving what the TX FIFO takes; the [`Link::on_commit`] hook enables the
///   interrupt when a frame arrives;
/// - DMA: [`Drain::start_transfer`] hands out a read that outlives one
///   critical section, [`Drain::finish_transfer`] releases it when the DMA
///   completes; [`Link::wait_transfer`] lets [`flush`] wait for it;
/// - throttled: [`Drain::drain_chunk_to_sink`], one chunk per call.
///
/// Each synchronous drain step moves at most [`DRAIN_CHUNK`] bytes inside one
/// critical section, so those consumer callbacks run with interrupts disabled
/// and must be short. A log call from inside a callback is dropped (and
/// counted), not queued. An interrupt handler reaches the handle through
/// [`Drain::into_static`].
pub struct Drain {
    _private: (),
}

/// The one [`Drain`] handle, for interrupt handlers ([`Drain::into_static`]).
static DRAIN: Drain = Drain { _private: () };

impl Drain {
    /// The handle as a `'static` reference, for interrupt handlers: the queue
    /// still has one consumer, now reachable from any context.
    pub fn into_static(self) -> &'static Drain {
        &DRAIN
    }

    /// Moves the queued bytes out into `consume`, oldest first, chunk by chunk.
    ///
    /// Takes everything that is in the queue when called, plus what interrupts
    /// add meanwhile, up to [`QUEUE_SIZE`] bytes per call (so a drain ends even
    /// when interrupts log faster than it moves). Returns the number of bytes moved.
    pub fn drain_into(&self, consume: impl FnMut(&[u8])) -> usize {
        let mut queue = queue::log_queue();
        let moved = queue.drain(QUEUE_SIZE, consume);
        // Space is back: a pending drop report goes out now, not with the next frame.
        report::push_pending(&mut queue);
        moved
    }

    /// Moves bytes into `take`, which returns how many of the bytes it was
    /// given it took (a TX FIFO's free space; 0 stops the drain). Meant for a
    /// UART's TX interrupt handler. Returns the number of bytes moved.
    pub fn write_with(&self, take: impl FnMut(&[u8]) -> usize) -> usize {
        let mut queue = queue::log_queue();
        let moved = queue.drain_with(QUEUE_SIZE, take);
        if moved > 0 {
            report::push_pending(&mut queue);
        }
        moved
    }

    /// Starts a DMA-style transfer of at most `max` queued bytes (contiguous;
    /// a queue that wraps needs a second transfer). `None` when the queue is
    /// empty or a transfer is already in flight.
    ///
    /// The bytes stay reserved in the queue until [`Drain::finish_transfer`]
    /// (or a [`flush`] that waited for the transfer through
    /// [`Link::wait_transfer`]); logging goes on meanwhile.
    pub fn start_transfer(&self, max: usize) -> Option<Transfer> {
        queue::log_queue().start_transfer(max)
    }

    /// Releases the bytes of a completed `transfer`: returns how many (0 when
    /// a flush already waited for it and released them). A pending drop
    /// report enters the freed space.
    pub fn finish_transfer(&self, transfer: Transfer) -> usize {
        let mut queue = queue::log_queue();
        let released = queue.finish_transfer(transfer);
        report::push_pending(&mut queue);
        released
    }

    /// Moves at most one chunk ([`DRAIN_CHUNK`] bytes) into the sink: a throttled drain.
    pub fn drain_chunk_to_sink(&self) -> usize {
        let mut queue = queue::log_queue();
        let moved = policy::FrameQueue::drain_chunk_to_sink(&mut queue);
        report::push_pending(&mut queue);
        moved
    }

    /// Like [`Drain::drain_into`], into the sink registered by [`init`].
    pub fn drain_to_sink(&self) -> usize {
        match queue::link() {
            Some(link) => self.drain_into(link.write),
            None => 0,
        }
    }
}

/// Bytes in the queue now (frames and reports not yet moved out).
pub fn queued() -> usize {
    queue::log_queue().queued()
}

/// Drains the whole queue into the sink, from any context, and the pending
/// drop report with it.
///
/// Runs in one critical section, so nothing can be added meanwhile; a
/// [`Transfer`] in flight is waited for first ([`Link::wait_transfer`]).
/// Meant for panic and fault handlers and the end of a run; works while the
/// application holds the [`Drain`]. Does nothing before [`init`].
///
/// Returns what it moved and what it could not: bytes stay `stuck` when a
/// read is in progress that the flush cannot finish (a drain step whose
/// consumer never returned, e.g. it panicked, or a transfer without a
/// `wait_transfer` hook). [`flush_for_failure`] releases such a read.
pub fn flush() -> Flushed {
    let mut queue = queue::log_queue();
    critical_section::with(|_| {
        let mut flushed = queue.flush_to_sink();
        if report::pending() > 0 && report::push_pending(&mut queue) {
            let rest = queue.flush_to_sink();
            flushed.moved += rest.moved;
            flushed.stuck = rest.stuck;
        }
        flushed
    })
}

/// The failure path of a panic or fault handler: sends what is queued, then
/// what `log` logs (the panic message), so the message arrives whole after
/// everything logged before it, whatever the policy and however full the
/// queue was.
///
/// In order: a read that the failure abandoned (a drain step whose consumer
/// panicked) is released, its bytes counted in the result's `stuck` (the
/// frame they belonged to arrives cut, and the host counts it malformed);
/// the queue is flushed (the drop report of a `drop` queue that overflowed
/// included); a frame the `truncate` policy left partial is ended (a
/// delimiter), so the message does not merge into it; `log` runs; the queue
/// is flushed again.
///
/// # Safety
///
/// The context that was interrupted by the failure must never resume: a read
/// it holds is released, and its bytes are reused. Call it from a panic
/// handler or a fault handler that does not return, with interrupts disabled.
pub unsafe fn flush_for_failure(log: impl FnOnce()) -> Flushed {
    let queue = queue::log_queue();
    critical_section::with(|_| {
        // SAFETY: the caller's contract: the failed context never resumes.
        let abandoned = unsafe { queue.abandon_read() };
        let mut flushed = flush();
        policy::end_partial_frame(&mut queue::log_queue());
        log();
        let after = flush();
        flushed.moved += after.moved;
        flushed.stuck = abandoned + after.stuck;
        flushed
    })
}

/// Frames the logger was asked to send so far: every completed log call.
pub fn attempted() -> u32 {
    logger::ATTEMPTED.load(Ordering::Relaxed)
}

/// Encoded bytes of all frames the logger was asked to send so far (whether
/// they were queued or not): lets a test log an exact number of bytes.
pub fn attempted_bytes() -> u32 {
    logger::ATTEMPTED_BYTES.load(Ordering::Relaxed)
}

/// Frames dropped whole so far (overflow policy, or longer than [`MAX_FRAME`]).
pub fn dropped() -> u32 {
    logger::DROPPED.load(Ordering::Relaxed)
}

/// Whether a log call is in progress in some context.
///
/// A panic or fault handler checks it before logging: true means the failure
/// happened inside the logger, and logging again would re-enter it.
pub fn is_logging() -> bool {
    logger::is_taken()
}

mod check;

#[cfg(test)]
pub(crate) mod tests {
    //! Host tests of the whole logger: defmt log calls in, rzcobs frames out.
    //!
    //! One logger, one queue and one link per process: every test takes
    //! [`setup`], which serialises the tests and empties the queue.

    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    use std::sync::{Mutex, MutexGuard};

    use crate::{Drain, Link};

    /// The host tests' timestamp value (`{=u32:us}`): constant, so a log call's bytes are too.
    pub(crate) const TIMESTAMP: u32 = 0x0102_0304;

    /// Bytes of the timestamp's tail (`{=[u8]}`, after its length): none unless a test sets some.
    static TIMESTAMP_TAIL_LEN: AtomicUsize = AtomicUsize::new(0);
    /// The tail's bytes: no zero among them.
    static TIMESTAMP_TAIL: [u8; 64] = [0xa5; 64];

    // The host has no defmt.x linker script: a timestamp of our own, so every
    // host test also checks that frames and drop reports carry one.
    defmt::timestamp!(
        "{=u32:us} {=[u8]}",
        TIMESTAMP,
        &TIMESTAMP_TAIL[..TIMESTAMP_TAIL_LEN.load(Ordering::Relaxed)]
    );

    /// Gives the host tests' timestamp a tail of `tail` bytes (until the next
    /// call; [`setup`] sets none), and returns its raw bytes from then on.
    pub(crate) fn set_timestamp_tail(tail: usize) -> Vec<u8> {
        TIMESTAMP_TAIL_LEN.store(tail, Ordering::Relaxed);
        timestamp_bytes()
    }

    /// The raw bytes the host tests' timestamp writes now.
    pub(crate) fn timestamp_bytes() -> Vec<u8> {
        let tail = TIMESTAMP_TAIL_LEN.load(Ordering::Relaxed);
        let mut bytes = TIMESTAMP.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(tail as u32).to_le_bytes());
        bytes.extend_from_slice(&TIMESTAMP_TAIL[..tail]);
        bytes
    }

    /// Everything the sink received.
    static SENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    /// Commit hook calls.
    static COMMITS: AtomicU32 = AtomicU32::new(0);
    /// The fake DMA's transfer in flight: address and length.
    static DMA: Mutex<Option<(usize, usize)>> = Mutex::new(None);
    /// Whether `interrupts_enabled` runs the fake interrupt's log call.
    static IRQ_ARMED: AtomicBool = AtomicBool::new(false);

    std::thread_local! {
        static IN_IRQ: Cell<bool> = const { Cell::new(false) };
    }

    fn record(bytes: &[u8]) {
        SENT.lock().unwrap().extend_from_slice(bytes);
    }

    fn on_commit() {
        COMMITS.fetch_add(1, Ordering::Relaxed);
    }

    /// The fake DMA completes its transfer: its bytes reach the wire now.
    fn wait_transfer() {
        if let Some((ptr, len)) = DMA.lock().unwrap().take() {
            // SAFETY: the transfer's bytes are reserved until it is released.
            record(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) });
        }
    }

    /// Called by the logger wherever interrupts are enabled again in the
    /// middle of its own work: a pending interrupt runs there and logs.
    pub(crate) fn interrupts_enabled() {
        if IRQ_ARMED.swap(false, Ordering::Relaxed) {
            IN_IRQ.with(|c| c.set(true));
            irq_frame();
            IN_IRQ.with(|c| c.set(false));
        }
    }

    fn irq_frame() {
        defmt::info!("irq frame {=u32}", 0xA5A5);
    }

    pub(crate) struct Setup {
        _lock: MutexGuard<'static, ()>,
        drain: &'static Drain,
    }

    /// Serialises the test, registers the link once, empties queue and sink.
    pub(crate) fn setup() -> Setup {
        let lock = crate::report::test_lock();
        static DRAIN: std::sync::OnceLock<&'static Drain> = std::sync::OnceLock::new();
        let drain = *DRAIN.get_or_init(|| {
            crate::init_with(Link {
                write: record,
                on_commit: Some(on_commit),
                wait_transfer: Some(wait_transfer),
            })
            .into_static()
        });
        crate::queue::log_queue().reset_for_test();
        // The policy and report unit tests set these statics too.
        crate::report::reset_pending_for_test();
        crate::policy::reset_for_test();
        set_timestamp_tail(0);
        crate::logger::learn_drop_report_index();
        SENT.lock().unwrap().clear();
        *DMA.lock().unwrap() = None;
        Setup { _lock: lock, drain }
    }

    fn take_sent() -> Vec<u8> {
        std::mem::take(&mut *SENT.lock().unwrap())
    }

    /// Frames with their delimiters, without empty ones (separators).
    fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .split_inclusive(|&b| b == 0)
            .filter(|f| f.len() > 1)
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// The bytes of `log` logged alone into an empty queue.
    pub(crate) fn alone(log: impl FnOnce()) -> Vec<u8> {
        assert_eq!(crate::flush().stuck, 0);
        take_sent();
        log();
        let _ = crate::flush();
        let bytes = take_sent();
        let mut f = frames(&bytes);
        assert_eq!(f.len(), 1, "one frame");
        f.pop().unwrap()
    }

    fn numbered(n: u32) {
        defmt::info!("frame {=u32} {=[u8]}", n, &[0x55u8; 20][..]);
    }

    fn panic_message() {
        defmt::error!("panicked at src/main.rs:7: {=str}", "queue full");
    }

    #[cfg(feature = "policy-block")]
    #[test]
    fn log_calls_arrive_as_whole_counted_frames() {
        let s = setup();
        assert!(std::panic::catch_unwind(|| crate::init(record)).is_err());
        let (attempted, dropped) = (crate::attempted(), crate::dropped());
        // More than the queue holds: the block policy drains into the sink.
        for n in 0..300u32 {
            defmt::info!("frame {=u32}", n);
        }
        assert_eq!(crate::attempted() - attempted, 300);
        assert_eq!(crate::dropped() - dropped, 0);
        // Longer than MAX_FRAME: dropped whole.
        defmt::info!("{=[u8]}", &[0x55u8; crate::MAX_FRAME][..]);
        assert_eq!(
            (crate::attempted() - attempted, crate::dropped() - dropped),
            (301, 1)
        );
        defmt::info!("frame {=u32}", 300);
        s.drain.drain_to_sink();
        let _ = crate::flush();
        let sent = take_sent();
        let frames = frames(&sent);
        assert_eq!(frames.len(), 301);
        assert!(frames.iter().all(|frame| frame.len() < 20));
    }

    #[cfg(not(any(feature = "policy-block", feature = "policy-truncate")))]
    #[test]
    fn every_dropped_frame_is_counted_and_reported_before_the_next_one() {
        let s = setup();
        let (attempted, dropped) = (crate::attempted(), crate::dropped());
        // Nothing drains: the queue fills, later frames are dropped whole.
        for n in 0..300u32 {
            defmt::info!("frame {=u32}", n);
        }
        let dropped = crate::dropped() - dropped;
        assert_eq!(crate::attempted() - attempted, 300);
        assert!(dropped > 0 && dropped < 300, "dropped {dropped}");
        assert_eq!(crate::report::pending(), dropped);
        // Draining makes room: the report goes in at once, then the next frame.
        s.drain.drain_to_sink();
        assert_eq!(crate::report::pending(), 0);
        defmt::info!("frame {=u32}", 300);
        let _ = crate::flush();
        let sent = take_sent();
        let report = crate::report::encode(dropped).unwrap();
        let frames = frames(&sent);
        let reports = frames.iter().filter(|f| **f == &report[..]).count();
        assert_eq!(reports, 1, "one report with the whole count");
        assert_eq!(
            frames.len() as u32 - 1 + dropped,
            301,
            "received + reported dropped == attempted"
        );
        assert_eq!(
            frames[frames.len() - 2],
            &report[..],
            "the report precedes the frame after it"
        );
    }

    /// Bug: capture mode was set outside a critical section, so an interrupt
    /// that logged between the store and the capture's log call had its frame
    /// taken for the drop report's: lost uncounted, and its index learned.
    #[test]
    fn an_interrupt_right_after_capture_mode_is_set_logs_normally() {
        let _s = setup();
        let index = crate::report::index();
        assert!(index.is_some());
        let irq = alone(irq_frame);
        let attempted = crate::attempted();
        IRQ_ARMED.store(true, Ordering::Relaxed);
        crate::logger::learn_drop_report_index();
        assert!(!IRQ_ARMED.load(Ordering::Relaxed), "the interrupt ran");
        assert_eq!(crate::report::index(), index, "the drop report's index");
        assert_eq!(
            crate::attempted(),
            attempted + 1,
            "the interrupt's frame counted"
        );
        let _ = crate::flush();
        assert_eq!(frames(&take_sent()), [irq], "and sent");
    }

    /// Bug: `defmt::flush()` is an acquire/flush/release of its own, and the
    /// logger counted that empty "frame" as attempted.
    #[test]
    fn defmt_flush_leaves_attempted_unchanged() {
        let _s = setup();
        numbered(1);
        let (attempted, bytes) = (crate::attempted(), crate::attempted_bytes());
        defmt::flush();
        assert_eq!(crate::attempted(), attempted);
        assert_eq!(crate::attempted_bytes(), bytes);
        assert_eq!(
            frames(&take_sent()).len(),
            1,
            "the queued frame, nothing else"
        );
        assert_eq!(crate::queued(), 0);
        numbered(2);
        assert_eq!(crate::attempted(), attempted + 1);
    }

    /// Bug: the panic handler logged the panic marker before flushing: with a
    /// full queue, `drop` dropped it (no report followed) and `truncate`
    /// merged it into the truncated frame.
    #[test]
    fn the_panic_message_arrives_whole_after_a_burst_that_filled_the_queue() {
        let _s = setup();
        let expected = alone(panic_message);
        let (attempted, dropped) = (crate::attempted(), crate::dropped());
        for n in 0..200 {
            numbered(n);
        }
        // SAFETY: nothing was interrupted.
        let flushed = unsafe { crate::flush_for_failure(panic_message) };
        assert_eq!(flushed.stuck, 0);
        let sent = take_sent();
        let frames = frames(&sent);
        assert_eq!(frames.last(), Some(&expected), "the message, whole, last");
        let dropped = crate::dropped() - dropped;
        assert_eq!(crate::attempted() - attempted, 201);
        match crate::POLICY {
            "drop" => {
                assert!(dropped > 0);
                let report = crate::report::encode(dropped).unwrap();
                assert_eq!(frames[frames.len() - 2], &report[..], "after its report");
                assert_eq!(frames.len() as u32, 201 - dropped + 1);
            }
            "truncate" => {
                assert!(dropped > 0);
                // The whole frames, then the cut one (ended), then the message.
                assert_eq!(frames.len() as u32, 200 - dropped + 1 + 1);
            }
            _ => assert_eq!((dropped, frames.len()), (0, 201)),
        }
    }

    /// Bug: a panic inside the sink left its read grant open, and a flush
    /// then moved nothing and said nothing.
    #[test]
    fn a_flush_after_a_panic_inside_the_sink_reports_what_it_could_not_move() {
        let s = setup();
        let expected = alone(panic_message);
        for n in 0..5 {
            numbered(n);
        }
        let queued = crate::queued();
        assert!(queued > crate::DRAIN_CHUNK);
        let panicked = std::panic::catch_unwind(|| {
            s.drain.drain_into(|_| panic!("the UART driver panicked"));
        });
        assert!(panicked.is_err());
        let flushed = crate::flush();
        assert_eq!(
            flushed,
            crate::Flushed {
                moved: 0,
                stuck: queued
            }
        );
        // The failure path releases the abandoned read and sends the rest.
        // SAFETY: the panicked drain never resumes.
        let flushed = unsafe { crate::flush_for_failure(panic_message) };
        assert_eq!(flushed.stuck, crate::DRAIN_CHUNK, "the chunk the sink had");
        assert_eq!(flushed.moved, queued - crate::DRAIN_CHUNK + expected.len());
        assert!(take_sent().ends_with(&expected));
        assert_eq!(crate::queued(), 0);
    }

    #[test]
    fn the_commit_hook_runs_for_every_frame_queued() {
        let _s = setup();
        let before = COMMITS.load(Ordering::Relaxed);
        for n in 0..3 {
            numbered(n);
        }
        assert_eq!(COMMITS.load(Ordering::Relaxed) - before, 3);
        let _ = crate::flush();
    }

    #[test]
    fn a_tx_interrupt_drain_moves_what_the_fifo_takes() {
        let s = setup();
        let expected = alone(|| numbered(9));
        numbered(9);
        assert_eq!(crate::queued(), expected.len());
        let mut out = Vec::new();
        // A FIFO with room for 5 bytes per interrupt.
        while s.drain.write_with(|bytes| {
            let take = bytes.len().min(5);
            out.extend_from_slice(&bytes[..take]);
            take
        }) > 0
        {}
        assert_eq!(out, expected);
        assert_eq!(crate::queued(), 0);
        let mut fifo_full = |_: &[u8]| 0;
        numbered(9);
        assert_eq!(
            s.drain.write_with(&mut fifo_full),
            0,
            "a full FIFO takes nothing"
        );
        assert_eq!(crate::queued(), expected.len());
        let _ = crate::flush();
    }

    #[test]
    fn a_flush_waits_for_the_transfer_in_flight_so_bytes_stay_in_order() {
        let s = setup();
        let (a, b) = (alone(|| numbered(1)), alone(|| numbered(2)));
        numbered(1);
        let transfer = s.drain.start_transfer(usize::MAX).unwrap();
        assert_eq!(transfer.bytes(), &a[..]);
        assert!(
            s.drain.start_transfer(usize::MAX).is_none(),
            "one at a time"
        );
        *DMA.lock().unwrap() = Some((transfer.as_ptr() as usize, transfer.len()));
        // Logging goes on while the DMA reads; a flush waits for it.
        numbered(2);
        assert_eq!(crate::queued(), a.len() + b.len());
        let flushed = crate::flush();
        assert_eq!(
            flushed,
            crate::Flushed {
                moved: b.len(),
                stuck: 0
            }
        );
        assert_eq!(take_sent(), [a, b].concat(), "in order");
        // The DMA interrupt comes late: the flush released the transfer already.
        assert_eq!(s.drain.finish_transfer(transfer), 0);
    }

    #[test]
    fn a_completed_transfer_releases_its_bytes() {
        let s = setup();
        let a = alone(|| numbered(3));
        numbered(3);
        numbered(3);
        let transfer = s.drain.start_transfer(a.len()).unwrap();
        assert_eq!(transfer.len(), a.len());
        record(transfer.bytes());
        assert_eq!(s.drain.finish_transfer(transfer), a.len());
        assert_eq!(crate::queued(), a.len());
        let next = s.drain.start_transfer(usize::MAX).unwrap();
        record(next.bytes());
        s.drain.finish_transfer(next);
        assert_eq!(take_sent(), [a.clone(), a].concat());
        assert!(s.drain.start_transfer(usize::MAX).is_none(), "empty");
    }

    #[cfg(feature = "policy-block")]
    #[test]
    fn block_waits_for_the_transfer_in_flight_so_bytes_stay_in_order() {
        let s = setup();
        let expected: Vec<Vec<u8>> = (0..100).map(|n| alone(|| numbered(n))).collect();
        numbered(0);
        let transfer = s.drain.start_transfer(usize::MAX).unwrap();
        *DMA.lock().unwrap() = Some((transfer.as_ptr() as usize, transfer.len()));
        // More than the queue holds: the policy waits for the DMA, then writes.
        for n in 1..100 {
            numbered(n);
        }
        let _ = crate::flush();
        assert_eq!(frames(&take_sent()), expected);
    }
}
