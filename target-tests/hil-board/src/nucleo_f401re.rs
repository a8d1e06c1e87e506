//! ST Nucleo-F401RE (STM32F401RE, Cortex-M4F), run through its on-board ST-LINK/V2-1.
//!
//! The serial port is USART2 (TX PA2, RX PA3, alternate function 7), which the
//! board wires to the ST-LINK's virtual COM port. Clocks: the 16 MHz HSI
//! through the PLL to 84 MHz (the chip's maximum), APB1 at 42 MHz. No external
//! oscillator is used, so the board works whatever its solder bridges say
//! about the ST-LINK's 8 MHz MCO.
//!
//! With the `irq-drain` feature the log queue leaves through USART2's TXE
//! interrupt (IRQ 38, [`crate::stm32_usart::irq_drain`], the driver the
//! emulated `netduinoplus2` runs too); the HAL's transmitter stays the
//! blocking write of `flush()` and the `block` policy.

use stm32f4xx_hal::{
    pac::{self, USART2},
    prelude::*,
    rcc::Config,
    serial::Tx,
};

use crate::driver_cell::DriverCell;

pub use crate::probe::exit;

/// The board's name, as in `boards/nucleo-f401re.toml`.
pub const NAME: &str = "nucleo-f401re";

/// Core clock: HSI (16 MHz) through the PLL.
pub const CORE_CLOCK_HZ: u32 = 84_000_000;

/// Baud rate of USART2 (8N1).
const BAUD_RATE: u32 = 115_200;

/// USART2's registers and interrupt, for the interrupt drain. The HAL's
/// [`Tx`] owns the peripheral; the drain only sets and clears TXEIE in CR1
/// (which the transmitter never writes after [`init`]) and writes DR while
/// TXE is set, inside critical sections, as the HAL's own writes are.
#[cfg(feature = "irq-drain")]
// SAFETY: USART2 of the STM32F401 is at 0x4000_4400, interrupt 38.
pub(crate) const USART: crate::stm32_usart::Usart =
    unsafe { crate::stm32_usart::Usart::at(0x4000_4400, 38) };

/// USART2's transmitter, once [`init`] has set it up.
static SERIAL_TX: DriverCell<Tx<USART2>> = DriverCell::empty();

/// Sets up the clocks and USART2 for 115200 8N1.
///
/// # Panics
///
/// When called twice (the device peripherals are taken once), or when the
/// clock tree does not reach [`CORE_CLOCK_HZ`].
pub fn init() {
    let device = pac::Peripherals::take().expect("hil_board::init is called once");
    let mut rcc = device.RCC.freeze(Config::hsi().sysclk(CORE_CLOCK_HZ.Hz()));
    assert_eq!(rcc.clocks.sysclk().raw(), CORE_CLOCK_HZ, "core clock");
    let gpioa = device.GPIOA.split(&mut rcc);
    let tx = device
        .USART2
        .tx(gpioa.pa2, BAUD_RATE.bps(), &mut rcc)
        .expect("115200 baud is reachable from APB1");
    SERIAL_TX.put(tx);
}

/// Writes `bytes` to USART2, waiting while its transmit register is full.
///
/// Returns once the last byte is in the transmit register (the USART sends
/// it on its own). Does nothing before [`init`].
pub fn uart_write(bytes: &[u8]) {
    SERIAL_TX.with(|tx| {
        // Transmitting cannot fail: the only errors are receive errors.
        let _ = tx.bwrite_all(bytes);
    });
}
