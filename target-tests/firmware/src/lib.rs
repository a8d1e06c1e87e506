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

/// Whether the queue drains from the UART's TX interrupt (feature `irq-drain`)
/// rather than from thread mode.
pub const IRQ_DRAIN: bool = cfg!(feature = "irq-drain");

/// Sets up the board and the transport and emits `hil:boot` for `test`.
///
/// Returns the handle that drains the log queue into the board's UART. With
/// the `irq-drain` feature the UART's TX interrupt drains it already; thread
/// mode then uses [`drain_all`], [`pause_drain`] and the throttle only.
pub fn boot(test: &str) -> &'static Drain {
    hil_board::init();
    #[cfg(not(feature = "irq-drain"))]
    let drain = hil_transport::init(hil_board::uart_write).into_static();
    #[cfg(feature = "irq-drain")]
    let drain = hil_board::irq_drain::start(hil_transport::init_with(hil_board::irq_drain::link()));
    emit::boot(hil_board::NAME, test);
    drain
}

/// Empties the queue into the UART: drains it from thread mode, or (with
/// `irq-drain`) lets the TX interrupt run until the queue is empty.
pub fn drain_all(drain: &Drain) {
    #[cfg(not(feature = "irq-drain"))]
    while drain.drain_to_sink() > 0 {}
    #[cfg(feature = "irq-drain")]
    {
        let _ = drain;
        hil_board::irq_drain::resume();
        while hil_transport::queued() > 0 {
            cortex_m::asm::nop();
        }
    }
}

/// Stops draining until the next [`drain_all`]: with `irq-drain`, masks the
/// UART's interrupt; otherwise thread mode simply does not drain.
pub fn pause_drain() {
    #[cfg(feature = "irq-drain")]
    hil_board::irq_drain::pause();
}

/// With `irq-drain`: UART0 (IRQ 5) drains the log queue; no other interrupt is expected.
#[cfg(feature = "irq-drain")]
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == hil_board::irq_drain::IRQ as i16 {
        hil_board::irq_drain::on_interrupt();
    } else {
        panic!("unexpected interrupt {}", irqn);
    }
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

/// MPU registers (ARMv7-M).
const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
const MPU_RASR: *mut u32 = 0xE000_EDA0 as *mut u32;

/// MPU region 0: the 32 bytes at `address` (32-byte aligned, used by nothing), no access,
/// never execute; the default memory map elsewhere. A read there is a MemManage fault
/// (escalated to HardFault), as a null-pointer guard region gives on real boards; QEMU's
/// lm3s6965evb reads 0 from unmapped addresses, so without the MPU nothing would fault.
pub fn guard_no_access(address: usize) {
    // SAFETY: the MPU registers exist on the Cortex-M3; region 0 covers only
    // memory nothing uses.
    unsafe {
        MPU_RNR.write_volatile(0);
        MPU_RBAR.write_volatile(address as u32);
        // XN, AP = no access, SIZE = 4 (2^(4+1) = 32 bytes), ENABLE.
        MPU_RASR.write_volatile(1 << 28 | 4 << 1 | 1);
        // ENABLE, PRIVDEFENA (the default memory map for privileged code).
        MPU_CTRL.write_volatile(0b101);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}
