//! Ordering test: thread mode and the SysTick interrupt log numbered frames into one queue.
//!
//! Thread mode logs `hil:seq s=0 n=0..FRAMES` and drains the queue into the
//! UART every [`DRAIN_EVERY`] frames, so the queue holds data while SysTick
//! fires (every [`SYSTICK_RELOAD`] core cycles) and logs `hil:seq s=1` with its
//! own counter. The host checks that each stream arrives gapless and in order.
//!
//! SysTick logs at most one frame per thread-mode frame. Without `-icount`
//! QEMU ties SysTick to host time, so on a loaded host (or a fast core clock,
//! netduinoplus2's 168 MHz makes the period 24 µs) the handler plus the UART
//! interrupt drain could otherwise take every cycle and thread mode would
//! never finish: a livelock that depends on the host's load.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB};
use cortex_m_rt::{entry, exception};
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged from thread mode.
const FRAMES: u32 = 100_000;
/// Thread mode drains the queue after this many frames.
const DRAIN_EVERY: u32 = 8;
/// SysTick period in core cycles (~333 µs at 12 MHz).
const SYSTICK_RELOAD: u32 = 4_000;
/// Stream id of the frames logged by the SysTick handler.
const SYSTICK_STREAM: u8 = 1;

/// Frames the SysTick handler has logged (it is the only writer).
static SYSTICK_FRAMES: AtomicU32 = AtomicU32::new(0);
/// Frames thread mode has logged (it is the only writer).
static THREAD_FRAMES: AtomicU32 = AtomicU32::new(0);
/// `THREAD_FRAMES` when the SysTick handler last logged (only it uses this).
static THREAD_FRAMES_AT_LAST_TICK: AtomicU32 = AtomicU32::new(0);

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("ordering");
    let mut syst = cortex_m::Peripherals::take()
        .expect("core peripherals are taken once, here")
        .SYST;
    emit::start("ordering", hil_transport::POLICY);
    emit::param("frames", FRAMES);
    emit::param("queue", hil_transport::QUEUE_SIZE as u32);

    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();

    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
        THREAD_FRAMES.store(n + 1, Ordering::Relaxed);
        // With `irq-drain` the UART's TX interrupt drains after every frame.
        if !hil_firmware::IRQ_DRAIN && n % DRAIN_EVERY == DRAIN_EVERY - 1 {
            drain.drain_to_sink();
        }
    }

    syst.disable_interrupt();
    syst.disable_counter();
    // A SysTick that became pending just before is taken by now; drop any later one.
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    SCB::clear_pendst();
    let systick_frames = SYSTICK_FRAMES.load(Ordering::Relaxed);

    hil_firmware::finish(
        &mut syst,
        &[(THREAD_STREAM, FRAMES), (SYSTICK_STREAM, systick_frames)],
    )
}

#[exception]
fn SysTick() {
    // Log only if thread mode has moved on since the last tick that logged.
    let thread = THREAD_FRAMES.load(Ordering::Relaxed);
    if thread == THREAD_FRAMES_AT_LAST_TICK.load(Ordering::Relaxed) {
        return;
    }
    THREAD_FRAMES_AT_LAST_TICK.store(thread, Ordering::Relaxed);
    let n = SYSTICK_FRAMES.load(Ordering::Relaxed);
    hil_protocol::seq(SYSTICK_STREAM, n, 0);
    SYSTICK_FRAMES.store(n + 1, Ordering::Relaxed);
}
