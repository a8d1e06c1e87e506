//! Benchmark firmware for QEMU's lm3s6965evb: one defmt global logger per build, a cycle counter, results over semihosting.
//!
//! Exactly one logger feature selects the global logger under test:
//! `logger-hil` (our hil-transport, drained into UART0), `logger-rtt` (the
//! published defmt-rtt) or `logger-semihosting` (the published
//! defmt-semihosting). Everything else is the same code in every build, so the
//! figures and the section sizes differ by the logger alone.
//!
//! Time is read from SysTick running free on the core clock. Under QEMU with
//! `-icount shift=0` one instruction takes one nanosecond of emulated time,
//! and SysTick ticks at the emulated core clock (several instructions per
//! tick); [`calibrate`] measures how many SysTick ticks a loop of known
//! instruction count takes, so the host can turn ticks into instructions.
//! Results go to QEMU's stdout as one text line (semihosting), never through
//! the logger under test.
#![no_std]
#![warn(missing_docs)]

#[cfg(not(any(
    feature = "logger-hil",
    feature = "logger-rtt",
    feature = "logger-semihosting"
)))]
compile_error!(
    "bench-logcost: enable one logger feature: logger-hil, logger-rtt or logger-semihosting"
);

#[cfg(any(
    all(feature = "logger-hil", feature = "logger-rtt"),
    all(feature = "logger-hil", feature = "logger-semihosting"),
    all(feature = "logger-rtt", feature = "logger-semihosting"),
))]
compile_error!("bench-logcost: enable exactly one logger feature (each is a defmt global logger)");

#[cfg(feature = "logger-rtt")]
use defmt_rtt as _;
#[cfg(feature = "logger-semihosting")]
use defmt_semihosting as _;

use core::panic::PanicInfo;

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_semihosting::debug;

/// The logger this build uses, as the result lines name it.
pub const LOGGER: &str = if cfg!(feature = "logger-hil") {
    "hil"
} else if cfg!(feature = "logger-rtt") {
    "rtt"
} else {
    "semihosting"
};

/// Name of the board in the `hil:boot` marker (the runner checks it).
pub const BOARD: &str = "lm3s6965evb";

/// SysTick's counter is 24 bits wide.
const COUNTER_MASK: u32 = 0x00FF_FFFF;

/// The serial link of the build: for `logger-hil` the transport's queue,
/// drained into UART0; for the other loggers nothing (they send as they log).
pub struct Link {
    #[cfg(feature = "logger-hil")]
    drain: hil_transport::Drain,
}

impl Link {
    /// Sets up the link (UART0 and the transport for `logger-hil`).
    pub fn init() -> Self {
        #[cfg(feature = "logger-hil")]
        {
            uart0::init();
            Self {
                drain: hil_transport::init(uart0::write),
            }
        }
        #[cfg(not(feature = "logger-hil"))]
        Self {}
    }

    /// Moves everything queued out to the serial port (no-op for loggers without a queue).
    pub fn drain(&self) {
        #[cfg(feature = "logger-hil")]
        while self.drain.drain_to_sink() > 0 {}
    }

    /// Frames the logger was asked to send, when it counts them (`logger-hil`).
    pub fn attempted(&self) -> Option<u32> {
        #[cfg(feature = "logger-hil")]
        return Some(hil_transport::attempted());
        #[cfg(not(feature = "logger-hil"))]
        None
    }

    /// The overflow policy in the `hil:start` marker: the transport's, or
    /// `block` for loggers that never drop (semihosting waits for the host).
    pub fn policy(&self) -> &'static str {
        #[cfg(feature = "logger-hil")]
        return hil_transport::POLICY;
        #[cfg(not(feature = "logger-hil"))]
        "block"
    }
}

#[cfg(feature = "logger-hil")]
mod uart0 {
    //! UART0 of the LM3S6965 (a PL011 at 0x4000_C000), the transport's sink.

    use core::ptr;

    const RCGC1: *mut u32 = 0x400F_E104 as *mut u32;
    const RCGC2: *mut u32 = 0x400F_E108 as *mut u32;
    const GPIOA_AFSEL: *mut u32 = 0x4000_4420 as *mut u32;
    const GPIOA_DEN: *mut u32 = 0x4000_451C as *mut u32;
    const DR: *mut u32 = 0x4000_C000 as *mut u32;
    const FR: *const u32 = 0x4000_C018 as *const u32;
    const IBRD: *mut u32 = 0x4000_C024 as *mut u32;
    const FBRD: *mut u32 = 0x4000_C028 as *mut u32;
    const LCRH: *mut u32 = 0x4000_C02C as *mut u32;
    const CTL: *mut u32 = 0x4000_C030 as *mut u32;
    /// FR: transmit FIFO full.
    const FR_TXFF: u32 = 1 << 5;

    /// Clocks, pins and 115200 8N1 with FIFOs at 12 MHz (QEMU ignores the rate).
    pub fn init() {
        // SAFETY: the LM3S6965's system control, GPIO port A and UART0
        // registers, written once at start-up before anything else uses them.
        unsafe {
            ptr::write_volatile(RCGC1, ptr::read_volatile(RCGC1) | 1);
            ptr::write_volatile(RCGC2, ptr::read_volatile(RCGC2) | 1);
            cortex_m::asm::delay(16);
            ptr::write_volatile(GPIOA_AFSEL, ptr::read_volatile(GPIOA_AFSEL) | 0b11);
            ptr::write_volatile(GPIOA_DEN, ptr::read_volatile(GPIOA_DEN) | 0b11);
            ptr::write_volatile(CTL, 0);
            ptr::write_volatile(IBRD, 6);
            ptr::write_volatile(FBRD, 33);
            ptr::write_volatile(LCRH, (0b11 << 5) | (1 << 4));
            ptr::write_volatile(CTL, (1 << 0) | (1 << 8) | (1 << 9));
        }
    }

    /// Blocking write: waits while the transmit FIFO is full.
    pub fn write(bytes: &[u8]) {
        for &byte in bytes {
            // SAFETY: UART0's flag and data registers; the transport calls its
            // sink from one context at a time (inside its critical section).
            unsafe {
                while ptr::read_volatile(FR) & FR_TXFF != 0 {}
                ptr::write_volatile(DR, u32::from(byte));
            }
        }
    }
}

/// SysTick as a free-running down-counter on the core clock (no interrupt).
pub struct Counter {
    /// Owned, so nothing else reconfigures SysTick while it counts.
    _syst: SYST,
}

impl Counter {
    /// Starts SysTick from its full 24-bit range.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(COUNTER_MASK);
        syst.clear_current();
        syst.enable_counter();
        Self { _syst: syst }
    }

    /// The counter's current value.
    #[inline(always)]
    pub fn now(&self) -> u32 {
        SYST::get_current()
    }

    /// Ticks from `start` to `end` (two readings less than 2^24 ticks apart).
    #[inline(always)]
    pub fn ticks(start: u32, end: u32) -> u32 {
        start.wrapping_sub(end) & COUNTER_MASK
    }
}

/// Iterations of the calibration loop (two instructions each).
pub const CALIBRATION_LOOPS: u32 = 1_000_000;

/// Instructions the calibration loop runs: `subs` and `bne` per iteration.
pub const CALIBRATION_INSTRUCTIONS: u32 = 2 * CALIBRATION_LOOPS;

/// SysTick ticks of [`CALIBRATION_INSTRUCTIONS`] instructions.
pub fn calibrate(counter: &Counter) -> u32 {
    let start = counter.now();
    let mut n = CALIBRATION_LOOPS;
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
    let end = counter.now();
    let _ = n;
    Counter::ticks(start, end)
}

/// Runs `2 * (1 + i % 40)` instructions: shifts where the next timed call
/// starts relative to SysTick's ticks (up to 80 instructions, one tick under
/// QEMU), so per-call readings quantised to ticks average out to the exact cost.
#[inline(always)]
pub fn dither(i: u32) {
    let mut n = 1 + i % 40;
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

/// Prints one result line on QEMU's stdout (semihosting), framed by newlines
/// so the host finds it among the binary output of defmt-semihosting.
#[macro_export]
macro_rules! result {
    ($($arg:tt)*) => {
        cortex_m_semihosting::hprintln!(
            "\nhil-bench logger={} {}",
            $crate::LOGGER,
            format_args!($($arg)*)
        )
    };
}

/// Ends the run: QEMU exits with status 0 (success) or 1.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    cortex_m_semihosting::hprintln!("\nhil-bench panic: {}", info);
    exit(false)
}
