//! Throughput test: sequence frames of several payload sizes as fast as the link takes them, and the cost of one log call.
//!
//! First the firmware times [`COST_CALLS`] calls of
//! `defmt::info!("seq={=u32} val={=u32}", i, x)` into the transport (the queue
//! drained between calls, outside the timed region, so it is never full) and
//! emits the mean and minimum cost as parameters:
//!
//! | parameter | meaning |
//! | --- | --- |
//! | `log_call_cycles` | mean cost of one call, net of the counter reads |
//! | `log_call_cycles_min` | cheapest call seen (to the counter's resolution) |
//! | `log_call_calls` | calls timed |
//! | `log_call_clock` | what the figures count: [`CLOCK_EMULATED`], [`CLOCK_DWT`] or [`CLOCK_SYSTICK`] |
//!
//! On the emulated board SysTick ticks at the emulated core clock, many
//! instructions per tick; a loop of known instruction count calibrates it, so
//! the figures are instructions, which equal nanoseconds of emulated time only
//! under QEMU's `-icount shift=0` (the runner reports them as
//! `log_call_instructions` then, and not at all without it). On real boards
//! the DWT cycle counter counts core cycles; ARMv6-M (RP2040) has none and
//! uses SysTick on the core clock.
//!
//! Then, for each filler size in [`EXTRAS`], it logs sequence frames until
//! [`BYTES_PER_SIZE`] encoded bytes were sent, draining the queue into the
//! UART after every frame, and emits `frames_extra_N` and `bytes_extra_N`. The
//! runner's `bytes_per_s` and `frames_per_s` are the link's throughput.
//!
//! Built with `HIL_THROUGHPUT_EXTRA=N` (one of [`EXTRAS`]) it sends that size
//! only and skips the per-call cost, so the run's figures are the link's
//! alone at that size (`hil-bench` builds one image per size);
//! `HIL_THROUGHPUT_BYTES` sets [`BYTES_PER_SIZE`].
#![no_std]
#![no_main]

use core::sync::atomic::{compiler_fence, Ordering};

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};
use hil_transport::Drain;

/// Filler bytes after the check value of the sequence frames, one segment each.
const EXTRAS: [u32; 5] = [0, 16, 64, 128, 220];
/// `frames_extra_N` / `bytes_extra_N` parameter names, in [`EXTRAS`] order.
const NAMES: [(&str, &str); 5] = [
    ("frames_extra_0", "bytes_extra_0"),
    ("frames_extra_16", "bytes_extra_16"),
    ("frames_extra_64", "bytes_extra_64"),
    ("frames_extra_128", "bytes_extra_128"),
    ("frames_extra_220", "bytes_extra_220"),
];
/// Only this filler size (one of [`EXTRAS`]), when `HIL_THROUGHPUT_EXTRA` is set at build time.
const ONLY_EXTRA: Option<u32> = match option_env!("HIL_THROUGHPUT_EXTRA") {
    Some(text) => Some(parse_u32(text)),
    None => None,
};
/// Encoded bytes each size sends (`HIL_THROUGHPUT_BYTES` at build time, default 64 KiB).
const BYTES_PER_SIZE: u32 = match option_env!("HIL_THROUGHPUT_BYTES") {
    Some(text) => parse_u32(text),
    None => 64 * 1024,
};
/// Log calls timed for the per-call cost.
const COST_CALLS: u32 = 2_000;
/// The queue is drained after this many timed calls (16 frames of ~14 bytes fit easily).
const COST_DRAIN_EVERY: u32 = 16;

/// `log_call_clock`: emulated board, SysTick calibrated to instructions (valid under `-icount shift=0`).
pub const CLOCK_EMULATED: u32 = 1;
/// `log_call_clock`: the DWT cycle counter (core cycles).
pub const CLOCK_DWT: u32 = 2;
/// `log_call_clock`: SysTick on the core clock (core cycles; ARMv6-M has no DWT cycle counter).
pub const CLOCK_SYSTICK: u32 = 3;

const _: () = assert!(
    match ONLY_EXTRA {
        Some(extra) => index_of(extra).is_some(),
        None => true,
    },
    "HIL_THROUGHPUT_EXTRA must be one of EXTRAS"
);

/// Decimal digits to a number, at compile time (panics, so the build fails, on anything else).
const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "not a number");
    let mut value: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "not a number");
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

const fn index_of(extra: u32) -> Option<usize> {
    let mut i = 0;
    while i < EXTRAS.len() {
        if EXTRAS[i] == extra {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("throughput");
    let mut core = cortex_m::Peripherals::take().expect("core peripherals are taken once, here");
    emit::start("throughput", hil_transport::POLICY);
    emit::param("queue", hil_transport::QUEUE_SIZE as u32);
    emit::param("bytes_per_size", BYTES_PER_SIZE);
    drain_all(drain);

    // A build for one size measures the link alone: its figures count no timed log calls.
    if ONLY_EXTRA.is_none() {
        #[cfg(any(feature = "emulated", not(target_has_atomic = "32")))]
        let counter = counter::Counter::start(&mut core.SYST);
        #[cfg(all(not(feature = "emulated"), target_has_atomic = "32"))]
        let counter = counter::Counter::start(&mut core.DCB, &mut core.DWT);
        let cost = log_call_cost(&counter, drain);
        emit::param("log_call_cycles", cost.mean);
        emit::param("log_call_cycles_min", cost.min);
        emit::param("log_call_calls", COST_CALLS);
        emit::param("log_call_clock", counter::CLOCK);
    }

    let mut n = 0;
    for (i, &extra) in EXTRAS.iter().enumerate() {
        if ONLY_EXTRA.is_some_and(|only| only != extra) {
            continue;
        }
        let (frames, bytes) = NAMES[i];
        emit::param("extra", extra);
        drain_all(drain);
        let start = hil_transport::attempted_bytes();
        let first = n;
        while hil_transport::attempted_bytes().wrapping_sub(start) < BYTES_PER_SIZE {
            hil_protocol::seq(THREAD_STREAM, n, extra as usize);
            n += 1;
            drain.drain_to_sink();
        }
        emit::param(frames, n - first);
        emit::param(bytes, hil_transport::attempted_bytes().wrapping_sub(start));
    }
    drain_all(drain);
    hil_firmware::finish(&mut core.SYST, &[(THREAD_STREAM, n)])
}

/// Empties the queue into the UART.
fn drain_all(drain: &Drain) {
    while drain.drain_to_sink() > 0 {}
}

/// Cost of one log call in the counter's unit (instructions or cycles).
struct Cost {
    mean: u32,
    min: u32,
}

/// Times [`COST_CALLS`] log calls, and as many empty measurements (the counter
/// reads alone), and returns the difference, converted by the counter.
fn log_call_cost(counter: &counter::Counter<'_>, drain: &Drain) -> Cost {
    let time = |log: bool| {
        let (mut sum, mut min) = (0u64, u32::MAX);
        for i in 0..COST_CALLS {
            if i % COST_DRAIN_EVERY == 0 {
                drain_all(drain);
            }
            counter::dither(i);
            let start = counter.now();
            compiler_fence(Ordering::SeqCst);
            if log {
                let x = i.wrapping_mul(0x9E37_79B9);
                defmt::info!("seq={=u32} val={=u32}", i, x);
            } else {
                core::hint::black_box(i);
            }
            compiler_fence(Ordering::SeqCst);
            let ticks = counter.ticks_since(start);
            sum += u64::from(ticks);
            min = min.min(ticks);
        }
        drain_all(drain);
        (sum, min)
    };
    let (empty_sum, empty_min) = time(false);
    let (call_sum, call_min) = time(true);
    let net_sum = call_sum.saturating_sub(empty_sum);
    let net_min = call_min.saturating_sub(empty_min);
    Cost {
        mean: counter.to_units(net_sum, u64::from(COST_CALLS)),
        min: counter.to_units(u64::from(net_min), 1),
    }
}

/// The counter the per-call cost is read from: SysTick, or DWT's cycle counter where there is one.
mod counter {
    #[cfg(any(feature = "emulated", not(target_has_atomic = "32")))]
    pub use systick::{Counter, CLOCK};

    #[cfg(all(not(feature = "emulated"), target_has_atomic = "32"))]
    pub use dwt::{Counter, CLOCK};

    /// SysTick on the core clock, free-running over its 24 bits (no interrupt).
    ///
    /// On the emulated board it is calibrated to instructions; on ARMv6-M
    /// boards (no DWT cycle counter, RP2040) it counts core cycles.
    #[cfg(any(feature = "emulated", not(target_has_atomic = "32")))]
    mod systick {
        use cortex_m::peripheral::SYST;

        /// What the figures count.
        pub const CLOCK: u32 = if cfg!(feature = "emulated") {
            super::super::CLOCK_EMULATED
        } else {
            super::super::CLOCK_SYSTICK
        };

        /// The running counter and its scale: `units = ticks * scale.0 / scale.1`.
        pub struct Counter<'a> {
            syst: &'a mut SYST,
            scale: (u64, u64),
        }

        impl<'a> Counter<'a> {
            /// Starts SysTick from its full range; on the emulated board, calibrates it.
            pub fn start(syst: &'a mut SYST) -> Self {
                hil_cycles::start(syst);
                let mut counter = Self {
                    syst,
                    scale: (1, 1),
                };
                if cfg!(feature = "emulated") {
                    // Instructions per tick, from a loop of known instruction count.
                    let ticks = u64::from(hil_cycles::calibrate()).max(1);
                    counter.scale = (u64::from(hil_cycles::CALIBRATION_INSTRUCTIONS), ticks);
                }
                counter
            }
            /// The counter's current value.
            #[inline(always)]
            pub fn now(&self) -> u32 {
                hil_cycles::now()
            }
            /// Ticks since `start` (less than 2^24 ticks ago).
            #[inline(always)]
            pub fn ticks_since(&self, start: u32) -> u32 {
                hil_cycles::ticks_since(start)
            }
            /// `ticks / count` in the counter's unit, rounded.
            pub fn to_units(&self, ticks: u64, count: u64) -> u32 {
                let (num, den) = self.scale;
                let den = den * count.max(1);
                ((ticks * num + den / 2) / den) as u32
            }
        }

        impl Drop for Counter<'_> {
            fn drop(&mut self) {
                self.syst.disable_counter();
            }
        }
    }

    /// DWT's free-running 32-bit cycle counter (ARMv7-M and later).
    #[cfg(all(not(feature = "emulated"), target_has_atomic = "32"))]
    mod dwt {
        use cortex_m::peripheral::{DCB, DWT};

        /// Figures are core cycles.
        pub const CLOCK: u32 = super::super::CLOCK_DWT;

        /// The running cycle counter.
        pub struct Counter<'a> {
            _dwt: &'a mut DWT,
        }

        impl<'a> Counter<'a> {
            /// Enables tracing and the cycle counter.
            pub fn start(dcb: &mut DCB, dwt: &'a mut DWT) -> Self {
                dcb.enable_trace();
                DWT::unlock();
                dwt.enable_cycle_counter();
                Self { _dwt: dwt }
            }
            /// The counter's current value.
            #[inline(always)]
            pub fn now(&self) -> u32 {
                DWT::cycle_count()
            }
            /// Cycles since `start`.
            #[inline(always)]
            pub fn ticks_since(&self, start: u32) -> u32 {
                DWT::cycle_count().wrapping_sub(start)
            }
            /// `ticks / count` in cycles, rounded.
            pub fn to_units(&self, ticks: u64, count: u64) -> u32 {
                let count = count.max(1);
                ((ticks + count / 2) / count) as u32
            }
        }
    }

    pub use hil_cycles::dither;
}
