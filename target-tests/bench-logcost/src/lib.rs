//! Benchmark firmware for QEMU's lm3s6965evb: one defmt global logger per build, a cycle counter, results over semihosting.
//!
//! Exactly one logger feature selects the global logger under test:
//! `logger-hil` (our hil-transport, drained into UART0), `logger-rtt` (the
//! published defmt-rtt) or `logger-semihosting` (the published
//! defmt-semihosting). Everything else is the same code in every build, so the
//! figures and the section sizes differ by the logger alone.
//!
//! Time is read with hil-cycles: SysTick running free on the core clock,
//! calibrated against a loop of known instruction count, so the host can turn
//! ticks into instructions under QEMU's `-icount shift=0`. The UART and exit
//! are this crate's own: hil-board would bring its panic handler, which logs
//! through hil-transport, into the defmt-rtt and defmt-semihosting builds.
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
