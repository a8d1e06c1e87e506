//! TI Stellaris LM3S6965 evaluation board (Cortex-M3); emulated by QEMU's `lm3s6965evb`.
//!
//! The serial port is UART0 (a PL011 at 0x4000_C000) on pins PA0/PA1.

pub use crate::qemu::exit;

#[cfg(feature = "irq-drain")]
pub mod irq_drain;

/// The board's name, as in `boards/lm3s6965evb.toml`.
pub const NAME: &str = "lm3s6965evb";

/// Core clock: the 12 MHz main oscillator, no PLL (also what QEMU models).
pub const CORE_CLOCK_HZ: u32 = 12_000_000;

/// Baud rate of UART0 (QEMU ignores it).
const BAUD_RATE: u32 = 115_200;

mod sysctl {
    //! System control: clock gating.

    use crate::mmio::Register;

    // SAFETY: RCGC1 (run-mode clock gating 1) of the LM3S6965 system control block.
    pub const RCGC1: Register = unsafe { Register::at(0x400F_E104) };
    // SAFETY: RCGC2 (run-mode clock gating 2) of the LM3S6965 system control block.
    pub const RCGC2: Register = unsafe { Register::at(0x400F_E108) };
    /// RCGC1: UART0 clock.
    pub const RCGC1_UART0: u32 = 1 << 0;
    /// RCGC2: GPIO port A clock.
    pub const RCGC2_GPIOA: u32 = 1 << 0;
}

mod gpioa {
    //! GPIO port A: PA0 (U0Rx) and PA1 (U0Tx).

    use crate::mmio::Register;

    // SAFETY: GPIOAFSEL (alternate function select) of GPIO port A, base 0x4000_4000.
    pub const AFSEL: Register = unsafe { Register::at(0x4000_4420) };
    // SAFETY: GPIODEN (digital enable) of GPIO port A, base 0x4000_4000.
    pub const DEN: Register = unsafe { Register::at(0x4000_451C) };
    /// PA0 and PA1.
    pub const UART0_PINS: u32 = 0b11;
}

mod uart0 {
    //! UART0, a PL011.

    use crate::mmio::Register;

    // SAFETY: UARTDR (data) of UART0, base 0x4000_C000.
    pub const DR: Register = unsafe { Register::at(0x4000_C000) };
    // SAFETY: UARTFR (flags) of UART0, base 0x4000_C000.
    pub const FR: Register = unsafe { Register::at(0x4000_C018) };
    // SAFETY: UARTIBRD (integer baud divisor) of UART0, base 0x4000_C000.
    pub const IBRD: Register = unsafe { Register::at(0x4000_C024) };
    // SAFETY: UARTFBRD (fractional baud divisor) of UART0, base 0x4000_C000.
    pub const FBRD: Register = unsafe { Register::at(0x4000_C028) };
    // SAFETY: UARTLCRH (line control) of UART0, base 0x4000_C000.
    pub const LCRH: Register = unsafe { Register::at(0x4000_C02C) };
    // SAFETY: UARTCTL (control) of UART0, base 0x4000_C000.
    pub const CTL: Register = unsafe { Register::at(0x4000_C030) };
    /// FR: transmit FIFO full.
    pub const FR_TXFF: u32 = 1 << 5;
    /// LCRH: 8 data bits, FIFOs enabled (no parity, one stop bit).
    pub const LCRH_8N1_FIFO: u32 = (0b11 << 5) | (1 << 4);
    /// CTL: UART, transmitter and receiver enabled.
    pub const CTL_ENABLE: u32 = (1 << 0) | (1 << 8) | (1 << 9);
}

/// Sets up UART0 for 115200 8N1 with FIFOs (clocks, pins, baud rate, enable).
pub fn init() {
    sysctl::RCGC1.set_bits(sysctl::RCGC1_UART0);
    sysctl::RCGC2.set_bits(sysctl::RCGC2_GPIOA);
    // The clocks need a few cycles before the peripherals respond.
    cortex_m::asm::delay(16);
    gpioa::AFSEL.set_bits(gpioa::UART0_PINS);
    gpioa::DEN.set_bits(gpioa::UART0_PINS);

    // Divisor = clock / (16 * baud), in 1/64ths, rounded.
    let divisor_64ths = (8 * CORE_CLOCK_HZ / BAUD_RATE).div_ceil(2);
    uart0::CTL.write(0);
    uart0::IBRD.write(divisor_64ths / 64);
    uart0::FBRD.write(divisor_64ths % 64);
    uart0::LCRH.write(uart0::LCRH_8N1_FIFO);
    uart0::CTL.write(uart0::CTL_ENABLE);
}

/// Writes `bytes` to UART0, waiting while its transmit FIFO is full.
pub fn uart_write(bytes: &[u8]) {
    for &byte in bytes {
        while uart0::FR.read() & uart0::FR_TXFF != 0 {}
        uart0::DR.write(u32::from(byte));
    }
}
