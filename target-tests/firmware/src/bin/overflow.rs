//! Overflow test: bursts that overflow the log queue, from thread mode and an interrupt, then recovery.
//!
//! Before each burst the queue is empty. Thread mode then logs sequence
//! frames of mixed lengths (payloads from 4 to 224 bytes) until the burst's
//! byte budget is spent, draining not at all or throttled (one chunk every
//! few frames) while SysTick logs its own short frames into the same queue.
//! Then draining resumes and empties the queue. The budgets sit around the
//! queue's capacity: capacity−1, capacity, capacity+1, 2× and 10× its bytes.
//! What the transport does with the frames that do not fit is its overflow
//! policy; the host checks the accounting for that policy.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB};
use cortex_m_rt::{entry, exception};
use hil_protocol::{emit, THREAD_STREAM};
use hil_transport::{Drain, QUEUE_SIZE};

/// Stream id of the frames logged by the SysTick handler.
const SYSTICK_STREAM: u8 = 1;
/// SysTick period in core cycles: several interrupts per burst.
const SYSTICK_RELOAD: u32 = 3_000;
/// Longest filler after a payload's check value.
const MAX_EXTRA: usize = 220;
/// Rounds of all bursts.
const ROUNDS: u32 = 3;

/// One burst: bytes to log, and after how many frames one chunk is drained (0: never).
struct Burst {
    bytes: usize,
    drain_every: u32,
}

const BURSTS: [Burst; 6] = [
    Burst {
        bytes: QUEUE_SIZE - 1,
        drain_every: 0,
    },
    Burst {
        bytes: QUEUE_SIZE,
        drain_every: 0,
    },
    Burst {
        bytes: QUEUE_SIZE + 1,
        drain_every: 0,
    },
    Burst {
        bytes: 2 * QUEUE_SIZE,
        drain_every: 0,
    },
    Burst {
        bytes: 10 * QUEUE_SIZE,
        drain_every: 4,
    },
    Burst {
        bytes: 10 * QUEUE_SIZE,
        drain_every: 0,
    },
];

/// Frames the SysTick handler has logged (it is the only writer).
static SYSTICK_FRAMES: AtomicU32 = AtomicU32::new(0);

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("overflow");
    let mut syst = cortex_m::Peripherals::take()
        .expect("core peripherals are taken once, here")
        .SYST;
    emit::start("overflow", hil_transport::POLICY);
    emit::param("queue", QUEUE_SIZE as u32);
    emit::param("max_frame", hil_transport::MAX_FRAME as u32);
    emit::param("bursts", ROUNDS * BURSTS.len() as u32);
    hil_firmware::drain_all(drain);

    let mut n = 0;
    for _ in 0..ROUNDS {
        for burst in &BURSTS {
            emit::param("burst_bytes", burst.bytes as u32);
            hil_firmware::drain_all(drain);
            hil_firmware::pause_drain();
            syst.set_clock_source(SystClkSource::Core);
            syst.set_reload(SYSTICK_RELOAD - 1);
            syst.clear_current();
            syst.enable_interrupt();
            syst.enable_counter();
            n = log_burst(drain, burst, n);
            syst.disable_interrupt();
            syst.disable_counter();
            cortex_m::asm::dsb();
            cortex_m::asm::isb();
            SCB::clear_pendst();
            hil_firmware::drain_all(drain);
        }
    }
    let systick_frames = SYSTICK_FRAMES.load(Ordering::Relaxed);
    hil_firmware::finish(
        &mut syst,
        &[(THREAD_STREAM, n), (SYSTICK_STREAM, systick_frames)],
    )
}

/// Logs frames of mixed lengths from sequence number `n` on until `burst.bytes`
/// encoded bytes were attempted; returns the next sequence number.
fn log_burst(drain: &Drain, burst: &Burst, mut n: u32) -> u32 {
    let start = hil_transport::attempted_bytes();
    let mut frames = 0;
    while (hil_transport::attempted_bytes().wrapping_sub(start) as usize) < burst.bytes {
        // Lengths cycle through short, long and everything between.
        let extra = (n as usize * 37) % (MAX_EXTRA + 1);
        hil_protocol::seq(THREAD_STREAM, n, extra);
        n += 1;
        frames += 1;
        if burst.drain_every != 0 && frames % burst.drain_every == 0 {
            drain.drain_chunk_to_sink();
        }
    }
    n
}

#[exception]
fn SysTick() {
    let n = SYSTICK_FRAMES.load(Ordering::Relaxed);
    hil_protocol::seq(SYSTICK_STREAM, n, n as usize % 16);
    SYSTICK_FRAMES.store(n + 1, Ordering::Relaxed);
}
