//! The defmt global logger: one critical section per log call, one queue grant per frame.
//!
//! `acquire` enters a critical section and starts a frame, `write` encodes
//! into the staging buffer, `release` ends the frame, hands it whole to the
//! overflow policy and leaves the critical section. A log call is therefore
//! atomic: an interrupt that fires during it runs right after it.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use critical_section::RestoreState;

use crate::policy::{Delivery, OverflowPolicy, Selected};
use crate::queue;
use crate::staging::Staging;
use crate::MAX_FRAME;

/// Frames the logger was asked to send (completed log calls).
pub(crate) static ATTEMPTED: AtomicU32 = AtomicU32::new(0);
/// Encoded bytes of every frame the logger was asked to send.
pub(crate) static ATTEMPTED_BYTES: AtomicU32 = AtomicU32::new(0);
/// Frames dropped whole: by the overflow policy, or longer than `MAX_FRAME`.
pub(crate) static DROPPED: AtomicU32 = AtomicU32::new(0);

/// Set while a log call is in progress (between `acquire` and `release`).
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Set while [`learn_drop_report_index`] logs its one report: the log call
/// records the frame's string index instead of sending the frame.
static CAPTURING: AtomicBool = AtomicBool::new(false);

/// Learns the string index of `hil:drop` by logging one report in capture mode.
pub(crate) fn learn_drop_report_index() {
    CAPTURING.store(true, Ordering::Relaxed);
    hil_protocol::emit::drop_report(0);
}

/// Everything a log call works on.
struct LogCall {
    encoder: defmt::Encoder,
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
    encoder: defmt::Encoder::new(),
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
        if CAPTURING.load(Ordering::Relaxed) {
            return;
        }
        let LogCall {
            encoder, staging, ..
        } = call;
        encoder.start_frame(|bytes| staging.push(bytes));
    }

    // The trait's `flush`, `release` and `write` are `unsafe fn`: defmt promises
    // to call them only between `acquire` and `release`, in the same context.

    /// Drains the queue into the sink (`defmt::flush`); the frame being
    /// logged, if any, is still in the staging buffer and follows later.
    unsafe fn flush() {
        queue::log_queue().flush_to_sink();
    }

    unsafe fn release() {
        // SAFETY: defmt calls `release` only while this context holds the logger.
        let call = unsafe { log_call() };
        let LogCall {
            encoder,
            staging,
            restore,
        } = call;
        if CAPTURING.load(Ordering::Relaxed) {
            // `write` staged the raw bytes; the first two are the string index.
            if let Some(&[lo, hi, ..]) = staging.frame() {
                crate::report::set_index([lo, hi]);
            }
            CAPTURING.store(false, Ordering::Relaxed);
            let restore = *restore;
            TAKEN.store(false, Ordering::Relaxed);
            // SAFETY: `restore` is what the matching `acquire` got from
            // `critical_section::acquire`, in this same context.
            unsafe { critical_section::release(restore) };
            return;
        }
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
        // SAFETY: defmt calls `write` only while this context holds the logger.
        let call = unsafe { log_call() };
        let LogCall {
            encoder, staging, ..
        } = call;
        if CAPTURING.load(Ordering::Relaxed) {
            staging.push(bytes);
            return;
        }
        encoder.write(bytes, |encoded| staging.push(encoded));
    }
}
