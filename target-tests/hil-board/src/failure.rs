//! Panic and HardFault handling: flush the log queue, report a `hil:panic` marker, exit with failure.
//!
//! The queue is flushed before the marker is logged
//! ([`hil_transport::flush_for_failure`]): a full queue would drop it
//! (`drop`) or merge it into a truncated frame (`truncate`). A failure inside
//! the logger (a log call was in progress) or inside the handling of an
//! earlier failure skips the marker: logging again would re-enter the
//! logger. The queued frames are flushed either way.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};

use crate::message::Message;

/// Set by the first failure.
static FAILING: AtomicBool = AtomicBool::new(false);

/// Whether this failure may log its marker: it is the first failure, and it
/// did not happen inside a log call. Called with interrupts disabled (or from
/// HardFault), so a load and a store cannot race.
fn may_log() -> bool {
    let first = !FAILING.load(Ordering::Relaxed);
    FAILING.store(true, Ordering::Relaxed);
    first && !hil_transport::is_logging()
}

/// Sends what the log queue holds, then the `hil:panic` marker with `message`
/// (if any), waits for the link to carry it, then ends the run with failure.
fn flush_and_fail(message: Option<&str>) -> ! {
    // SAFETY: called with interrupts disabled on the way to `exit`: the
    // failed context never resumes, so a read it held may be released.
    let _ = unsafe {
        hil_transport::flush_for_failure(|| {
            if let Some(message) = message {
                hil_protocol::emit::panic(message);
            }
        })
    };
    crate::delay::exit_grace();
    crate::exit(false)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    let log = may_log();
    let mut message: Message = Message::new();
    if log {
        // A message too long for the buffer is cut; the error only says so.
        let _ = match info.location() {
            Some(location) => write!(message, "{location}: {}", info.message()),
            None => write!(message, "{}", info.message()),
        };
    }
    flush_and_fail(log.then(|| message.as_str()))
}

// cortex-m-rt requires HardFault handlers to be `unsafe fn`: HardFault cannot
// be masked, so it may run inside any critical section.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // The faulting context never resumes, so nothing it left half-done is used
    // again except the log queue, whose reads and grants are checked.
    let log = may_log();
    let mut message: Message = Message::new();
    if log {
        let _ = write!(message, "HardFault at pc={:#010x}", frame.pc());
    }
    flush_and_fail(log.then(|| message.as_str()))
}
