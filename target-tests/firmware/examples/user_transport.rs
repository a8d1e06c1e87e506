//! A user's firmware on hil-transport, as a user writes it: no hil-protocol
//! markers, a `defmt::timestamp!`, `defmt::flush()` calls and bursts that
//! overflow the queue (policy `drop`, the default).
//!
//! Four bursts of [`BURST`] frames, each logged faster than anything drains
//! (most of each burst is dropped and reported), then `defmt::flush()`. The
//! last line says how many log calls the firmware made and what the
//! transport counted; the run exits with success when `attempted` equals the
//! log calls (so `defmt::flush()` counts nothing). The host's report must
//! then show `dropped_reported` equal to the transport's `dropped`.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::entry;
use hil_board as _;

/// Bursts logged.
const BURSTS: u32 = 4;
/// Frames per burst: more than the queue holds.
const BURST: u32 = 300;

/// A monotonic tick for the timestamp (a user would read a timer).
static TICKS: AtomicU32 = AtomicU32::new(0);

defmt::timestamp!("{=u64:us}", {
    let t = TICKS.load(Ordering::Relaxed);
    TICKS.store(t.wrapping_add(1), Ordering::Relaxed);
    u64::from(t) * 125
});

#[entry]
fn main() -> ! {
    hil_board::init();
    let drain = hil_transport::init(hil_board::uart_write);
    let mut syst = cortex_m::Peripherals::take()
        .expect("core peripherals are taken once, here")
        .SYST;
    let mut calls = 0u32;
    defmt::info!(
        "user firmware: {=u32} bursts of {=u32} frames",
        BURSTS,
        BURST
    );
    calls += 1;
    for burst in 0..BURSTS {
        for n in 0..BURST {
            defmt::info!("burst {=u32} frame {=u32}", burst, n);
            calls += 1;
        }
        defmt::flush();
        drain.drain_to_sink();
        defmt::warn!("burst {=u32} sent", burst);
        calls += 1;
        defmt::flush();
    }
    let (attempted, dropped) = (hil_transport::attempted(), hil_transport::dropped());
    let ok = attempted == calls;
    defmt::info!(
        "done: log calls {=u32} attempted {=u32} dropped {=u32}",
        calls,
        attempted,
        dropped
    );
    defmt::flush();
    hil_board::wait_ms(&mut syst, hil_board::EXIT_GRACE_MS);
    hil_board::exit(ok)
}
