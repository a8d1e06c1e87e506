//! Shared boilerplate of the HIL test firmware: booting a test and finishing it.
//!
//! A test binary calls [`boot`] first, emits `hil:start` and its parameters,
//! runs, and ends with [`finish`], which emits the per-stream counts and the
//! `hil:end` marker and exits with success.
#![no_std]
#![warn(missing_docs)]

use cortex_m::peripheral::SYST;

/// With the `timestamp` feature: a timestamp on every frame, markers and
/// drop reports included (a counter, so it costs no timer).
#[cfg(feature = "timestamp")]
mod timestamp {
    use core::sync::atomic::{AtomicU32, Ordering};

    static TICKS: AtomicU32 = AtomicU32::new(0);

    defmt::timestamp!("{=u64:us}", {
        // Only called inside the logger's critical section: load and store cannot race.
        let t = TICKS.load(Ordering::Relaxed);
        TICKS.store(t.wrapping_add(1), Ordering::Relaxed);
        u64::from(t)
    });
}
use hil_protocol::emit;
use hil_transport::Drain;

/// Sets up the board and the transport and emits `hil:boot` for `test`.
///
/// Returns the handle that drains the log queue into the board's UART.
pub fn boot(test: &str) -> Drain {
    hil_board::init();
    let drain = hil_transport::init(hil_board::uart_write);
    emit::boot(hil_board::NAME, test);
    drain
}

/// Ends a passing test: emits `hil:stream` for every `(stream, sent)` pair and
/// `hil:end` with the transport's counters, flushes the log queue, waits
/// [`hil_board::EXIT_GRACE_MS`] and exits with success.
///
/// `syst` must be free for this function to use (no SysTick interrupt wanted).
pub fn finish(syst: &mut SYST, streams: &[(u8, u32)]) -> ! {
    // Under the `truncate` policy the first frame after an overflow merges into
    // the truncated one and is lost: let that be this one, not a count below.
    emit::param("streams", streams.len() as u32);
    for &(stream, sent) in streams {
        emit::stream(stream, sent);
    }
    // Read before logging `hil:end`: it counts the frames before itself.
    let attempted = hil_transport::attempted();
    let dropped = hil_transport::dropped();
    emit::end(attempted, dropped);
    hil_transport::flush();
    hil_board::wait_ms(syst, hil_board::EXIT_GRACE_MS);
    hil_board::exit(true)
}
