//! Netduino Plus 2 (STM32F405RG, Cortex-M4F); emulated by QEMU's `netduinoplus2`.
//!
//! The serial port is USART1 at 0x4001_1000 (IRQ 37; with the `irq-drain`
//! feature drained from its TXE interrupt, [`crate::stm32_usart::irq_drain`]). The target is
//! thumbv7em-none-eabihf: cortex-m-rt turns the FPU on before `main`, and
//! [`init`] computes the baud rate divisor in single-precision floating
//! point, so every image for this board runs FPU instructions.

pub use crate::qemu::exit;
use crate::stm32_usart::{Usart, CR1_UE_TE};

/// The board's name, as in `boards/netduinoplus2.toml`.
pub const NAME: &str = "netduinoplus2";

/// Core clock: what QEMU's STM32F405 model clocks SysTick at.
pub const CORE_CLOCK_HZ: u32 = 168_000_000;

/// APB2 clock (USART1's): the core clock / 2.
const APB2_HZ: u32 = CORE_CLOCK_HZ / 2;

/// Baud rate of USART1 (QEMU ignores it).
const BAUD_RATE: u32 = 115_200;

// SAFETY: USART1 of the STM32F405 is at 0x4001_1000, interrupt 37.
pub(crate) const USART: Usart = unsafe { Usart::at(0x4001_1000, 37) };

mod rcc {
    //! Reset and clock control: clock gating.

    use crate::mmio::Register;

    // SAFETY: RCC_APB2ENR of the STM32F405 (RCC base 0x4002_3800).
    pub const APB2ENR: Register = unsafe { Register::at(0x4002_3844) };
    /// APB2ENR: USART1 clock.
    pub const APB2ENR_USART1: u32 = 1 << 4;
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
    USART.brr().write(brr(APB2_HZ, BAUD_RATE));
    USART.cr1().write(CR1_UE_TE);
}

/// Writes `bytes` to USART1, waiting while its data register is full.
pub fn uart_write(bytes: &[u8]) {
    for &byte in bytes {
        while !USART.try_write(byte) {}
    }
}
