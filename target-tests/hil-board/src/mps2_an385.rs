//! Arm MPS2 with the AN385 FPGA image (Cortex-M3); emulated by QEMU's `mps2-an385`.
//!
//! The serial port is UART0, a CMSDK APB UART at 0x4000_4000.

use crate::cmsdk_uart::CmsdkUart;
pub use crate::qemu::exit;

/// The board's name, as in `boards/mps2-an385.toml`.
pub const NAME: &str = "mps2-an385";

/// Core (and UART) clock of the FPGA image, as QEMU models it.
pub const CORE_CLOCK_HZ: u32 = 25_000_000;

/// Baud rate of UART0 (QEMU ignores it).
const BAUD_RATE: u32 = 115_200;

// SAFETY: UART0 of the AN385 image; only this module drives it.
const UART0: CmsdkUart = unsafe { CmsdkUart::at(0x4000_4000) };

/// Sets up UART0 for 115200 baud.
pub fn init() {
    UART0.init(CORE_CLOCK_HZ, BAUD_RATE);
}

/// Writes `bytes` to UART0, waiting while its transmit buffer is full.
pub fn uart_write(bytes: &[u8]) {
    UART0.write(bytes);
}
