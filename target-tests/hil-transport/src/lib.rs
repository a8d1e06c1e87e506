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

mod logger;
mod policy;
mod queue;
mod report;
mod staging;

include!(concat!(env!("OUT_DIR"), "/config.rs"));

pub use queue::DRAIN_CHUNK;

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

/// Registers `sink` and returns the handle that drains the queue.
///
/// The sink is used by [`Drain::drain_to_sink`], by [`flush`] and by the
/// `block` policy. Frames logged before `init` wait in the queue.
///
/// # Panics
///
/// When called a second time: the queue has one consumer, and one sink.
pub fn init(sink: Sink) -> Drain {
    assert!(
        queue::register_sink(sink),
        "hil_transport::init called twice: the queue has one consumer"
    );
    logger::learn_drop_report_index();
    Drain { _private: () }
}

/// The consumer side of the log queue, handed out once by [`init`].
///
/// Each step of a drain moves at most [`DRAIN_CHUNK`] bytes inside one
/// critical section, so the consumer callback runs with interrupts disabled
/// and must be short (a blocking UART write of one chunk, or a copy). A log
/// call from inside the callback is dropped (and counted), not queued.
pub struct Drain {
    _private: (),
}

impl Drain {
    /// Moves the queued bytes out into `consume`, oldest first, chunk by chunk.
    ///
    /// Takes everything that is in the queue when called, plus what interrupts
    /// add meanwhile, up to [`QUEUE_SIZE`] bytes per call (so a drain ends even
    /// when interrupts log faster than it moves). Returns the number of bytes moved.
    pub fn drain_into(&self, consume: impl FnMut(&[u8])) -> usize {
        let moved = queue::log_queue().drain(QUEUE_SIZE, consume);
        // Space is back: a pending drop report goes out now, not with the next frame.
        report::push_pending(&mut queue::log_queue());
        moved
    }

    /// Moves at most one chunk ([`DRAIN_CHUNK`] bytes) into the sink: a throttled drain.
    pub fn drain_chunk_to_sink(&self) -> usize {
        let moved = match queue::sink() {
            Some(sink) => queue::log_queue().drain(DRAIN_CHUNK, sink),
            None => 0,
        };
        report::push_pending(&mut queue::log_queue());
        moved
    }

    /// Like [`Drain::drain_into`], into the sink registered by [`init`].
    pub fn drain_to_sink(&self) -> usize {
        match queue::sink() {
            Some(sink) => self.drain_into(sink),
            None => 0,
        }
    }
}

/// Drains the whole queue into the sink, from any context.
///
/// Runs in one critical section, so nothing can be added meanwhile. Meant for
/// panic and fault handlers; works while the application holds the [`Drain`]
/// (no read of the queue is ever left open across an interrupt). Does nothing
/// before [`init`]. Returns the number of bytes moved.
pub fn flush() -> usize {
    queue::log_queue().flush_to_sink()
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

#[cfg(test)]
mod tests {
    //! Host test of the whole logger: defmt log calls in, rzcobs frames out.

    use std::sync::Mutex;

    /// Everything the sink received.
    static SENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

    fn record(bytes: &[u8]) {
        SENT.lock().unwrap().extend_from_slice(bytes);
    }

    // The host has no defmt.x linker script to provide these.
    defmt::timestamp!("");

    #[cfg(feature = "policy-block")]
    #[test]
    fn log_calls_arrive_as_whole_counted_frames() {
        let drain = crate::init(record);
        assert!(std::panic::catch_unwind(|| crate::init(record)).is_err());
        // More than the queue holds: the block policy drains into the sink.
        for n in 0..300u32 {
            defmt::info!("frame {=u32}", n);
        }
        assert_eq!(crate::attempted(), 300);
        assert_eq!(crate::dropped(), 0);
        // Longer than MAX_FRAME: dropped whole.
        defmt::info!("{=[u8]}", &[0x55u8; crate::MAX_FRAME][..]);
        assert_eq!((crate::attempted(), crate::dropped()), (301, 1));
        defmt::info!("frame {=u32}", 300);
        drain.drain_to_sink();
        crate::flush();
        let sent = SENT.lock().unwrap();
        // A separator first, then 301 frames, each ended by one.
        assert_eq!(sent[0], 0);
        let frames: Vec<&[u8]> = sent[1..].split(|&byte| byte == 0).collect();
        assert_eq!(
            frames.len(),
            302,
            "301 frames and the empty rest after the last"
        );
        assert!(frames[..301]
            .iter()
            .all(|frame| !frame.is_empty() && frame.len() < 16));
    }

    #[cfg(not(any(feature = "policy-block", feature = "policy-truncate")))]
    #[test]
    fn every_dropped_frame_is_counted_and_reported_before_the_next_one() {
        let drain = crate::init(record);
        // Nothing drains: the queue fills, later frames are dropped whole.
        for n in 0..300u32 {
            defmt::info!("frame {=u32}", n);
        }
        let dropped = crate::dropped();
        assert_eq!(crate::attempted(), 300);
        assert!(dropped > 0 && dropped < 300, "dropped {dropped}");
        assert_eq!(crate::report::pending(), dropped);
        // Draining makes room: the report goes in at once, then the next frame.
        drain.drain_to_sink();
        assert_eq!(crate::report::pending(), 0);
        defmt::info!("frame {=u32}", 300);
        crate::flush();
        let sent = SENT.lock().unwrap();
        let report = crate::report::encode(dropped).unwrap();
        let frames: Vec<&[u8]> = sent[1..].split_inclusive(|&byte| byte == 0).collect();
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
}
