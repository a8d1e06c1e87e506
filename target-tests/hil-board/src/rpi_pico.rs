//! Raspberry Pi Pico (RP2040, Cortex-M0+), run through a Raspberry Pi Debug Probe.
//!
//! The serial port is UART0 on GP0 (TX) and GP1 (RX), wired to the Debug
//! Probe's UART bridge (its "U" connector). Clocks: see [`crate::rp2040`].

use rp2040_hal::{
    fugit::RateExtU32,
    gpio::{
        bank0::{Gpio0, Gpio1},
        FunctionUart, Pin, Pins, PullDown,
    },
    pac::{self, UART0},
    uart::{DataBits, Enabled, StopBits, UartConfig, UartPeripheral},
    Clock, Sio,
};

use crate::driver_cell::DriverCell;
use crate::rp2040;

pub use crate::probe::exit;
pub use crate::rp2040::CORE_CLOCK_HZ;

/// The board's name, as in `boards/rpi-pico.toml`.
pub const NAME: &str = "rpi-pico";

/// Baud rate of UART0 (8N1).
const BAUD_RATE: u32 = 115_200;

/// UART0's pins: TX on GP0, RX on GP1.
type Uart0Pins = (
    Pin<Gpio0, FunctionUart, PullDown>,
    Pin<Gpio1, FunctionUart, PullDown>,
);

/// UART0, once [`init`] has set it up.
static SERIAL: DriverCell<UartPeripheral<Enabled, UART0, Uart0Pins>> = DriverCell::empty();

/// Starts the clocks and sets up UART0 for 115200 8N1 with its FIFOs.
///
/// # Panics
///
/// When called twice (the device peripherals are taken once), or when the
/// clocks do not start.
pub fn init() {
    let mut device = pac::Peripherals::take().expect("hil_board::init is called once");
    let clocks = rp2040::start_clocks(
        device.XOSC,
        device.CLOCKS,
        device.PLL_SYS,
        device.PLL_USB,
        device.WATCHDOG,
        &mut device.RESETS,
    );
    let sio = Sio::new(device.SIO);
    let pins = Pins::new(
        device.IO_BANK0,
        device.PADS_BANK0,
        sio.gpio_bank0,
        &mut device.RESETS,
    );
    let uart_pins: Uart0Pins = (pins.gpio0.into_function(), pins.gpio1.into_function());
    let config = UartConfig::new(BAUD_RATE.Hz(), DataBits::Eight, None, StopBits::One);
    let uart = UartPeripheral::new(device.UART0, uart_pins, &mut device.RESETS)
        .enable(config, clocks.peripheral_clock.freq())
        .expect("115200 baud is reachable from the 125 MHz peripheral clock");
    SERIAL.put(uart);
}

/// Writes `bytes` to UART0, waiting while its transmit FIFO is full.
///
/// Returns once the last byte is in the FIFO (the UART sends it on its own).
/// Does nothing before [`init`].
pub fn uart_write(bytes: &[u8]) {
    SERIAL.with(|uart| uart.write_full_blocking(bytes));
}
