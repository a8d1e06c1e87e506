//! BBC micro:bit (nRF51822, Cortex-M0); emulated by QEMU's `microbit`.
//!
//! The serial port is the nRF51's UART0 at 0x4000_2000. The target is
//! thumbv6m-none-eabi: no compare-and-swap atomics, so bbqueue coordinates
//! through critical-section (cortex-m's single-core implementation).

pub use crate::qemu::exit;

/// The board's name, as in `boards/microbit.toml`.
pub const NAME: &str = "microbit";

/// Core clock: the nRF51's 16 MHz.
pub const CORE_CLOCK_HZ: u32 = 16_000_000;

mod uart0 {
    //! UART0 (the nRF51's UART, not the later UARTE).

    use crate::mmio::Register;

    // SAFETY: TASKS_STARTTX of UART0, base 0x4000_2000.
    pub const TASKS_STARTTX: Register = unsafe { Register::at(0x4000_2008) };
    // SAFETY: EVENTS_TXDRDY of UART0, base 0x4000_2000.
    pub const EVENTS_TXDRDY: Register = unsafe { Register::at(0x4000_211C) };
    // SAFETY: ENABLE of UART0, base 0x4000_2000.
    pub const ENABLE: Register = unsafe { Register::at(0x4000_2500) };
    // SAFETY: PSELTXD of UART0, base 0x4000_2000.
    pub const PSELTXD: Register = unsafe { Register::at(0x4000_250C) };
    // SAFETY: TXD of UART0, base 0x4000_2000.
    pub const TXD: Register = unsafe { Register::at(0x4000_251C) };
    // SAFETY: BAUDRATE of UART0, base 0x4000_2000.
    pub const BAUDRATE: Register = unsafe { Register::at(0x4000_2524) };
    /// ENABLE: the UART on.
    pub const ENABLE_UART: u32 = 4;
    /// BAUDRATE: 115200 baud.
    pub const BAUD_115200: u32 = 0x01D7_E000;
    /// The micro:bit's USB-serial TX pin (P0.24).
    pub const TX_PIN: u32 = 24;
}

/// Sets up UART0 for 115200 8N1 and starts its transmitter.
pub fn init() {
    uart0::PSELTXD.write(uart0::TX_PIN);
    uart0::BAUDRATE.write(uart0::BAUD_115200);
    uart0::ENABLE.write(uart0::ENABLE_UART);
    uart0::TASKS_STARTTX.write(1);
}

/// Writes `bytes` to UART0, one at a time, each after the last one's TXDRDY.
pub fn uart_write(bytes: &[u8]) {
    for &byte in bytes {
        uart0::EVENTS_TXDRDY.write(0);
        uart0::TXD.write(u32::from(byte));
        while uart0::EVENTS_TXDRDY.read() == 0 {}
    }
}
