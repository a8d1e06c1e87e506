//! Shared boilerplate of the HIL test firmware: booting a test and finishing it.
//!
//! A test binary calls [`boot`] first, emits `hil:start` and its parameters,
//! runs, and ends with [`finish`], which emits the per-stream counts and the
//! `hil:end` marker and exits with success.
#![no_std]
#![warn(missing_docs)]

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use hil_protocol::emit;
use hil_transport::Drain;

/// How long [`finish`] waits before exiting, in milliseconds of emulated time,
/// so a reader on the far side of the serial port gets the last bytes.
pub const EXIT_GRACE_MS: u32 = 500;

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
/// [`EXIT_GRACE_MS`] and exits with success.
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
    wait_ms(syst, EXIT_GRACE_MS);
    hil_board::exit(true)
}

/// Busy-waits `ms` milliseconds of (emulated) time, counting SysTick cycles of
/// the core clock. Leaves SysTick stopped.
pub fn wait_ms(syst: &mut SYST, ms: u32) {
    /// SysTick's counter is 24 bits wide.
    const COUNTER_MASK: u32 = 0x00FF_FFFF;

    let total = u64::from(hil_board::CORE_CLOCK_HZ) * u64::from(ms) / 1000;
    syst.disable_interrupt();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(COUNTER_MASK);
    syst.clear_current();
    syst.enable_counter();
    let mut elapsed: u64 = 0;
    let mut previous = SYST::get_current();
    while elapsed < total {
        let current = SYST::get_current();
        // The counter counts down and wraps from 0 to the reload value.
        elapsed += u64::from(previous.wrapping_sub(current) & COUNTER_MASK);
        previous = current;
    }
    syst.disable_counter();
}
