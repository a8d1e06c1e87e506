//! The defmt global logger: one critical section per log call, one queue grant per frame.
//!
//! `acquire` enters a critical section and starts a frame, `write` encodes
//! into the staging buffer, `release` ends the frame, hands it whole to the
//! overflow policy and leaves the critical section. A log call is therefore
//! atomic: an interrupt that fires during it runs right after it.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use critical_section::RestoreState;

use crate::policy::{Delivery, OverflowPolicy, Selected};
use crate::staging::Staging;
use crate::MAX_FRAME;
use crate::{check::Encoder, queue};

/// Frames the logger was asked to send (completed log calls).
pub(crate) static ATTEMPTED: AtomicU32 = AtomicU32::new(0);
/// Encoded bytes of every frame the logger was asked to send.
pub(crate) static ATTEMPTED_BYTES: AtomicU32 = AtomicU32::new(0);
/// Frames dropped whole: by the overflow policy, or longer than `MAX_FRAME`.
pub(crate) static DROPPED: AtomicU32 = AtomicU32::new(0);

/// Set while a log call is in progress (between `acquire` and `release`).
static TAKEN: AtomicBool = AtomicBool::new(false);

/// What the logger does with the bytes defmt hands it ([`MODE`]).
mod mode {
    /// A log call: encode and queue the frame.
    pub(super) const NORMAL: u8 = 0;
    /// [`learn_drop_report_index`](super::learn_drop_report_index): record the
    /// raw bytes, learn the string index from them, send nothing.
    pub(super) const CAPTURE: u8 = 1;
    /// [`with_timestamp`](super::with_timestamp): record the raw bytes of
    /// defmt's timestamp function.
    pub(super) const TIMESTAMP: u8 = 2;
    /// `defmt::flush()`: the "log call" carries no frame; nothing is counted.
    pub(super) const FLUSH: u8 = 3;
}

/// The logger's mode; only changed inside a critical section.
static MODE: AtomicU8 = AtomicU8::new(mode::NORMAL);

/// Raw (unencoded) bytes recorded in the `CAPTURE` and `TIMESTAMP` modes.
struct Raw {
    bytes: [u8; RAW_MAX],
    len: usize,
}

/// Room for a report's index, timestamp and count.
const RAW_MAX: usize = crate::report::RAW_MAX;

impl Raw {
    fn push(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(RAW_MAX - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&bytes[..take]);
        self.len += take;
    }
}

/// The raw-bytes recorder.
struct RawCell(UnsafeCell<Raw>);

// SAFETY: only accessed through `raw`, inside a critical section, while `MODE`
// is `CAPTURE` or `TIMESTAMP` (set and reset inside that same section).
unsafe impl Sync for RawCell {}

static RAW: RawCell = RawCell(UnsafeCell::new(Raw {
    bytes: [0; RAW_MAX],
    len: 0,
}));

/// The raw-bytes recorder.
///
/// # Safety
///
/// Inside a critical section, with no other reference from this function alive.
unsafe fn raw() -> &'static mut Raw {
    // SAFETY: the caller's contract.
    unsafe { &mut *RAW.0.get() }
}

/// Learns the string index of `hil:drop` by logging one report in capture mode.
///
/// Capture mode and the log call share one critical section: an interrupt
/// cannot log in between (its frame would be taken for the report's, lost
/// uncounted, and every later report would carry its index).
pub(crate) fn learn_drop_report_index() {
    critical_section::with(|_| {
        MODE.store(mode::CAPTURE, Ordering::Relaxed);
        // SAFETY: inside the critical section; no other reference alive.
        unsafe { raw() }.len = 0;
        hil_protocol::emit::drop_report(0);
    });
    #[cfg(test)]
    crate::tests::interrupts_enabled();
}

/// Runs defmt's timestamp function (what `defmt::timestamp!` defined, or
/// nothing) and hands its raw bytes to `use_bytes`: the timestamp of a frame
/// the logger builds itself (a drop report).
pub(crate) fn with_timestamp<R>(use_bytes: impl FnOnce(&[u8]) -> R) -> R {
    critical_section::with(|_| {
        let previous = MODE.load(Ordering::Relaxed);
        MODE.store(mode::TIMESTAMP, Ordering::Relaxed);
        // SAFETY: inside the critical section; no other reference alive.
        unsafe { raw() }.len = 0;
        defmt::export::timestamp(defmt::export::make_formatter());
        MODE.store(previous, Ordering::Relaxed);
        // SAFETY: as above; `write` no longer records (the mode is restored).
        let raw = unsafe { raw() };
        // Longer timestamps are cut: a report has room for this much.
        use_bytes(&raw.bytes[..raw.len.min(crate::report::TIMESTAMP_MAX)])
    })
}

/// Everything a log call works on.
struct LogCall {
    encoder: Encoder,
    staging: Staging<MAX_FRAME>,
    /// Interrupt state to restore when the call's critical section ends.
    restore: RestoreState,
}

/// The state of the log call in progress.
struct LogCallCell(UnsafeCell<LogCall>);

// SAFETY: the cell is only accessed through `log_call`, whose callers hold the
// logger: they are inside the logger's critical section (no other context runs)
// and `TAKEN` was set by them (no other log call in this context).
unsafe impl Sync for LogCallCell {}

static LOG_CALL: LogCallCell = LogCallCell(UnsafeCell::new(LogCall {
    encoder: Encoder::new(),
    staging: Staging::new(),
    restore: RestoreState::invalid(),
}));

/// The state of the log call in progress.
///
/// # Safety
///
/// The caller must hold the logger (be between `acquire` and `release` in the
/// context that called `acquire`) and must not keep an earlier reference
/// returned by this function alive.
unsafe fn log_call() -> &'static mut LogCall {
    // SAFETY: holding the logger means exclusive access (see `LogCallCell`),
    // and the caller keeps no other reference alive.
    unsafe { &mut *LOG_CALL.0.get() }
}

/// Whether a log call is in progress (a panic there must not log again).
pub(crate) fn is_taken() -> bool {
    TAKEN.load(Ordering::Relaxed)
}

/// Adds one to a counter. Only called inside the logger's critical section,
/// so a plain load and store (all thumbv6m has) cannot lose an update.
fn count(counter: &AtomicU32) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

#[defmt::global_logger]
struct HilLogger;

// SAFETY: `acquire` enters a critical section and refuses re-entrance, so only
// one log call at a time touches the encoder and staging buffer; `release`
// leaves the critical section with the state `acquire` saved.
unsafe impl defmt::Logger for HilLogger {
    fn acquire() {
        // SAFETY: the matching `critical_section::release` is in `release`, which
        // defmt calls exactly once per `acquire`, in the same context.
        let restore = unsafe { critical_section::acquire() };
        if TAKEN.load(Ordering::Relaxed) {
            panic!("hil_transport: defmt logger taken re-entrantly (a log call inside a log call)");
        }
        TAKEN.store(true, Ordering::Relaxed);
        // SAFETY: this context now holds the logger, and this is its only reference.
        let call = unsafe { log_call() };
        call.restore = restore;
        call.staging.clear();
        if MODE.load(Ordering::Relaxed) != mode::NORMAL {
            return;
        }
        let LogCall {
            encoder, staging, ..
        } = call;
        encoder.start_frame(|bytes| staging.push(bytes));
    }

    // The trait's `flush`, `release` and `write` are `unsafe fn`: defmt promises
    // to call them only between `acquire` and `release`, in the same context.

    /// `defmt::flush()`: drains the queue into the sink, like
    /// [`crate::flush`]. defmt wraps it in an acquire/release pair of its own,
    /// which carries no frame: that pair is neither sent nor counted.
    unsafe fn flush() {
        MODE.store(mode::FLUSH, Ordering::Relaxed);
        let _ = crate::flush();
    }

    unsafe fn release() {
        if MODE.load(Ordering::Relaxed) != mode::NORMAL {
            // SAFETY: defmt calls `release` only while this context holds the logger.
            return unsafe { release_special() };
        }
        // SAFETY: defmt calls `release` only while this context holds the logger.
        let call = unsafe { log_call() };
        let LogCall {
            encoder,
            staging,
            restore,
        } = call;
        encoder.end_frame(|bytes| staging.push(bytes));
        count(&ATTEMPTED);
        ATTEMPTED_BYTES.store(
            ATTEMPTED_BYTES
                .load(Ordering::Relaxed)
                .wrapping_add(staging.len() as u32),
            Ordering::Relaxed,
        );
        let delivery = match staging.frame() {
            Some(frame) => Selected::deliver(&mut queue::log_queue(), frame),
            // Longer than MAX_FRAME: dropped whole, never partially written.
            None => Selected::discard(),
        };
        if delivery == Delivery::Dropped {
            count(&DROPPED);
        }
        let restore = *restore;
        TAKEN.store(false, Ordering::Relaxed);
        // SAFETY: `restore` is what the matching `acquire` got from
        // `critical_section::acquire`, in this same context.
        unsafe { critical_section::release(restore) };
    }

    unsafe fn write(bytes: &[u8]) {
        if MODE.load(Ordering::Relaxed) != mode::NORMAL {
            // SAFETY: the modes that record are set inside a critical section
            // that lasts while defmt writes; no other reference alive.
            unsafe { raw() }.push(bytes);
            return;
        }
        // SAFETY: defmt calls `write` only while this context holds the logger.
        let call = unsafe { log_call() };
        let LogCall {
            encoder, staging, ..
        } = call;
        encoder.write(bytes, |encoded| staging.push(encoded));
    }
}

/// `release` of a call in capture mode, or of `defmt::flush()`'s frameless call.
///
/// # Safety
///
/// As `release`: this context holds the logger.
#[cold]
unsafe fn release_special() {
    // SAFETY: this context holds the logger (the caller's contract).
    let call = unsafe { log_call() };
    match MODE.load(Ordering::Relaxed) {
        mode::CAPTURE => {
            // SAFETY: inside the logger's critical section; no other reference alive.
            let raw = unsafe { raw() };
            // The first two raw bytes are the string index.
            if let [lo, hi, ..] = raw.bytes[..raw.len] {
                crate::report::set_index([lo, hi]);
            }
        }
        _ => {
            // A flush: no frame, nothing queued. If this was the encoder's
            // very first frame, it staged the stream's first separator: a
            // fresh encoder writes it again before the next frame.
            if call.staging.len() > 0 {
                call.encoder = Encoder::new();
            }
        }
    }
    MODE.store(mode::NORMAL, Ordering::Relaxed);
    let restore = call.restore;
    TAKEN.store(false, Ordering::Relaxed);
    // SAFETY: `restore` is what the matching `acquire` got from
    // `critical_section::acquire`, in this same context.
    unsafe { critical_section::release(restore) };
}
