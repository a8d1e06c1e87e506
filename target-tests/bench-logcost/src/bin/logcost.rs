//! Cost of one `defmt::info!("seq={=u32} val={=u32}", i, x)` through the selected logger, in SysTick ticks.
//!
//! Run under QEMU with `-icount shift=0`; prints one line on stdout
//! (semihosting) with the calibration (ticks of a loop of known instruction
//! count) and, over [`CALLS`] calls, the sum and minimum of the ticks read
//! around each call, and the same for an empty measurement (the reads alone).
//! The host subtracts the empty measurement and converts ticks to instructions.
//! The transport's queue is drained every [`DRAIN_EVERY`] calls, outside the
//! timed region, so no timed call finds it full.
#![no_std]
#![no_main]

use core::sync::atomic::{compiler_fence, Ordering};

use bench_logcost::Link;
use cortex_m_rt::entry;
use hil_cycles::{calibrate, dither, CALIBRATION_INSTRUCTIONS};

/// Log calls timed.
const CALLS: u32 = 4_000;
/// The queue is drained after this many calls (16 frames of ~14 bytes fit easily).
const DRAIN_EVERY: u32 = 16;

/// Sum and minimum of per-call tick counts.
struct Stats {
    sum: u64,
    min: u32,
}

/// Times `call(i)` [`CALLS`] times, reading the counter right before and after each call.
#[inline(always)]
fn time(link: &Link, mut call: impl FnMut(u32)) -> Stats {
    let mut stats = Stats {
        sum: 0,
        min: u32::MAX,
    };
    for i in 0..CALLS {
        if i % DRAIN_EVERY == 0 {
            link.drain();
        }
        dither(i);
        let start = hil_cycles::now();
        compiler_fence(Ordering::SeqCst);
        call(i);
        compiler_fence(Ordering::SeqCst);
        let ticks = hil_cycles::ticks_since(start);
        stats.sum += u64::from(ticks);
        stats.min = stats.min.min(ticks);
    }
    link.drain();
    stats
}

#[entry]
fn main() -> ! {
    let link = Link::init();
    let peripherals = cortex_m::Peripherals::take().expect("core peripherals are taken once, here");
    let mut syst = peripherals.SYST;
    hil_cycles::start(&mut syst);
    let calibration_ticks = calibrate();
    let empty = time(&link, |i| {
        core::hint::black_box(i);
    });
    let logged = time(&link, |i| {
        let x = i.wrapping_mul(0x9E37_79B9);
        defmt::info!("seq={=u32} val={=u32}", i, x);
    });
    bench_logcost::result!(
        "calls={} cal_instructions={} cal_ticks={} call_sum={} call_min={} empty_sum={} empty_min={}",
        CALLS,
        CALIBRATION_INSTRUCTIONS,
        calibration_ticks,
        logged.sum,
        logged.min,
        empty.sum,
        empty.min
    );
    bench_logcost::exit(true)
}
