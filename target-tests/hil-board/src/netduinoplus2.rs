//! Netduino Plus 2 (STM32F405RG, Cortex-M4F); emulated by QEMU's `netduinoplus2`.
//!
//! The serial port is USART1 at 0x4001_1000. The target is
//! thumbv7em-none-eabihf: cortex-m-rt turns the FPU on before `main`, and
//! [`init`] computes the baud rate divisor in single-precision floating
//! point, so every image for this board runs FPU instructions.

pub use crate::qemu::exit;

/// The board's name, as in `boards/netduinoplus2.toml`.
pub const NAME: &str = "netduinoplus2";

/// Core clock: what QEMU's STM32F405 model clocks SysTick at.
pub const CORE_CLOCK_HZ: u32 = 168_000_000;

/// APB2 clock (USART1's): the core clock / 2.
const APB2_HZ: u32 = CORE_CLOCK_HZ / 2;

/// Baud rate of USART1 (QEMU ignores it).
const BAUD_RATE: u32 = 115_200;

mod rcc {
    //! Reset and clock control: clock gating.

    use crate::mmio::Register;

    // SAFETY: RCC_APB2ENR of the STM32F405 (RCC base 0x4002_3800).
    pub const APB2ENR: Register = unsafe { Register::at(0x4002_3844) };
    /// APB2ENR: USART1 clock.
    pub const APB2ENR_USART1: u32 = 1 << 4;
}

mod usart1 {
    //! USART1.

    use crate::mmio::Register;

    // SAFETY: USART_SR of USART1, base 0x4001_1000.
    pub const SR: Register = unsafe { Register::at(0x4001_1000) };
    // SAFETY: USART_DR of USART1, base 0x4001_1000.
    pub const DR: Register = unsafe { Register::at(0x4001_1004) };
    // SAFETY: USART_BRR of USART1, base 0x4001_1000.
    pub const BRR: Register = unsafe { Register::at(0x4001_1008) };
    // SAFETY: USART_CR1 of USART1, base 0x4001_1000.
    pub const CR1: Register = unsafe { Register::at(0x4001_100C) };
    /// SR: transmit data register empty.
    pub const SR_TXE: u32 = 1 << 7;
    /// CR1: USART enabled, transmitter enabled.
    pub const CR1_UE_TE: u32 = (1 << 13) | (1 << 3);
}

/// USART_BRR for `baud` at `clock_hz` (oversampling by 16), in floating point.
fn brr(clock_hz: u32, baud: u32) -> u32 {
    // black_box: computed at run time, with the FPU, not folded by the compiler.
    let divisor = core::hint::black_box(clock_hz) as f32 / (16.0 * baud as f32);
    let mantissa = divisor as u32;
    let fraction = ((divisor - mantissa as f32) * 16.0 + 0.5) as u32;
    (mantissa << 4) + fraction.min(15)
}

/// Sets up USART1 for 115200 8N1.
pub fn init() {
    rcc::APB2ENR.set_bits(rcc::APB2ENR_USART1);
    cortex_m::asm::delay(16);
    usart1::BRR.write(brr(APB2_HZ, BAUD_RATE));
    usart1::CR1.write(usart1::CR1_UE_TE);
}

/// Writes `bytes` to USART1, waiting while its data register is full.
pub fn uart_write(bytes: &[u8]) {
    for &byte in bytes {
        while usart1::SR.read() & usart1::SR_TXE == 0 {}
        usart1::DR.write(u32::from(byte));
    }
}
