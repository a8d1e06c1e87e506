//! Timing on target: SysTick as a free-running counter on the core clock, and loops of known instruction count.
//!
//! Under QEMU with `-icount shift=0` one instruction takes one nanosecond of
//! emulated time while SysTick ticks at the emulated core clock (several
//! instructions per tick): [`calibrate`] measures how many ticks
//! [`CALIBRATION_INSTRUCTIONS`] take, so ticks can be turned into
//! instructions, and [`dither`] shifts where a timed call starts relative to
//! the ticks, so per-call readings quantised to ticks average out. SysTick's
//! wrap interrupt is never used: only the counter is read.
#![no_std]
#![warn(missing_docs)]

use cortex_m::peripheral::{syst::SystClkSource, SYST};

/// SysTick's counter is 24 bits wide.
pub const COUNTER_MASK: u32 = 0x00FF_FFFF;

/// Iterations of the calibration loop.
pub const CALIBRATION_LOOPS: u32 = 1_000_000;

/// Instructions the calibration loop runs: `subs` and `bne` per iteration.
pub const CALIBRATION_INSTRUCTIONS: u32 = 2 * CALIBRATION_LOOPS;

/// Starts SysTick counting down over its full 24 bits on the core clock, with no interrupt.
pub fn start(syst: &mut SYST) {
    syst.disable_interrupt();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(COUNTER_MASK);
    syst.clear_current();
    syst.enable_counter();
}

/// The counter's current value.
#[inline(always)]
pub fn now() -> u32 {
    SYST::get_current()
}

/// Ticks from reading `start` to reading `end` (less than 2^24 ticks apart); the counter counts down.
#[inline(always)]
pub fn ticks(start: u32, end: u32) -> u32 {
    start.wrapping_sub(end) & COUNTER_MASK
}

/// Ticks since reading `start`.
#[inline(always)]
pub fn ticks_since(start: u32) -> u32 {
    ticks(start, now())
}

/// Busy-waits `cycles` core cycles on a started counter (any length: it follows the wraps).
pub fn wait_cycles(cycles: u64) {
    let mut elapsed: u64 = 0;
    let mut previous = now();
    while elapsed < cycles {
        let current = now();
        elapsed += u64::from(ticks(previous, current));
        previous = current;
    }
}

/// A countdown loop of `n` iterations (`n` ≥ 1), two instructions each.
#[inline(always)]
pub fn countdown(n: u32) {
    let mut n = n.max(1);
    // SAFETY: a register-only countdown loop: no memory, no stack, no flags used after it.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, #1",
            "bne 2b",
            n = inout(reg) n,
            options(nomem, nostack),
        );
    }
    let _ = n;
}

/// Ticks of a started counter that [`CALIBRATION_INSTRUCTIONS`] instructions take.
pub fn calibrate() -> u32 {
    let start = now();
    countdown(CALIBRATION_LOOPS);
    ticks_since(start)
}

/// Runs `2 * (1 + i % 40)` instructions (up to 80, one tick under QEMU), so the
/// next timed call starts at a different place relative to the ticks.
#[inline(always)]
pub fn dither(i: u32) {
    countdown(1 + i % 40);
}
