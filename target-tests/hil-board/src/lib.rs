//! Board support for the HIL test firmware: serial TX, core clock, exit, panic handling.
//!
//! One cargo feature per board selects the board (exactly one; the firmware
//! crate enables it). The selected board's module provides the same items
//! for every board, re-exported here:
//!
//! - [`NAME`]: the board's name, as in `boards/NAME.toml`;
//! - [`CORE_CLOCK_HZ`]: the core clock the board runs at;
//! - [`init`]: sets up the serial port;
//! - [`uart_write`]: blocking write to the serial port (the transport's sink);
//! - [`exit`]: ends the run with success or failure: on emulated boards QEMU
//!   exits with status 0 or 1 (semihosting); on real boards the same
//!   semihosting exit halts the core for the debug probe, which reports
//!   status 0 or 1 as QEMU does.
//!
//! The build script puts the board's memory layout (the file that the
//! `memory` field of `boards/NAME.toml` names) on the linker search path as
//! `memory.x`.
//!
//! With the default feature `panic-handler`, the crate also provides the
//! `#[panic_handler]` and the `HardFault` handler: they report the failure as
//! a `hil:panic` marker, flush the log queue into the serial port and exit
//! with failure.
//!
//! Supported boards (feature = `boards/NAME.toml`):
//!
//! - `lm3s6965evb`: TI LM3S6965 (Cortex-M3), emulated by QEMU; UART0;
//! - `microbit`: nRF51822 (Cortex-M0), emulated by QEMU; UART0;
//! - `mps2-an385`, `mps2-an386`, `mps2-an500`: Arm MPS2 (Cortex-M3, M4, M7),
//!   emulated by QEMU; CMSDK UART0;
//! - `mps2-an505`: Arm MPS2 AN505 (Cortex-M33), `mps3-an547`: Arm MPS3 AN547
//!   (Cortex-M55), emulated by QEMU, secure state; CMSDK UART0;
//! - `netduinoplus2`: STM32F405 (Cortex-M4F, FPU on), emulated by QEMU; USART1;
//! - `nucleo-f401re`: STM32F401RE (Cortex-M4F) at 84 MHz; USART2 to the ST-LINK;
//! - `nrf52840-dk`: nRF52840 (Cortex-M4F) at 64 MHz; UARTE0 to the J-Link;
//! - `rpi-pico`: RP2040 (Cortex-M0+) at 125 MHz; UART0 to a Debug Probe;
//! - `rpi-pico-usb`: RP2040 at 125 MHz; its own USB port, a CDC-ACM serial port.
//!
//! With the `irq-drain` feature (lm3s6965evb, netduinoplus2, nucleo-f401re),
//! `irq_drain` drains the log queue from the serial port's TX interrupt.
//!
//! With the feature `rtt` (real boards), the serial link is RTT up-channel 0
//! instead of the UART (module `rtt`: a control block laid out as defmt-rtt's,
//! read by the host through the debug probe), and [`NAME`] is the board file
//! `boards/NAME-rtt.toml`'s name: `nrf52840-dk` with `rtt` is `nrf52840-dk-rtt`.
//!
//! Serial links run at 115200 8N1. Each real board keeps its serial driver in
//! a static; a write that finds the driver busy (a panic in the middle of a
//! write, whose handler flushes the queue) drops its bytes instead of
//! panicking again.
#![no_std]
#![warn(missing_docs)]

// A `compile_error!` unless exactly one board feature is enabled.
include!(concat!(env!("OUT_DIR"), "/board_check.rs"));

#[cfg(hil_board)]
mod delay;
#[cfg(all(hil_board, feature = "panic-handler"))]
mod failure;
#[cfg(hil_board)]
mod message;

// Shared by the emulated boards.
#[cfg(all(
    hil_board,
    any(
        feature = "mps2-an385",
        feature = "mps2-an386",
        feature = "mps2-an500",
        feature = "mps2-an505",
        feature = "mps3-an547"
    )
))]
mod cmsdk_uart;
#[cfg(all(
    hil_board,
    any(
        feature = "emulated",
        all(feature = "nucleo-f401re", feature = "irq-drain")
    )
))]
mod mmio;
#[cfg(all(hil_board, feature = "emulated"))]
mod qemu;

// Shared by the real boards.
#[cfg(all(hil_board, not(feature = "emulated")))]
mod driver_cell;
#[cfg(all(hil_board, not(feature = "emulated")))]
mod probe;
#[cfg(all(hil_board, feature = "rtt"))]
mod rtt;
#[cfg(all(feature = "rtt", feature = "emulated"))]
compile_error!("hil-board: the `rtt` feature is for real boards (QEMU has no RTT reader)");
#[cfg(all(hil_board, any(feature = "rpi-pico", feature = "rpi-pico-usb")))]
mod rp2040;
// The STM32F4 USART: the emulated netduinoplus2's serial port, and the
// nucleo-f401re's interrupt drain.
#[cfg(all(
    hil_board,
    any(
        feature = "netduinoplus2",
        all(feature = "nucleo-f401re", feature = "irq-drain")
    )
))]
mod stm32_usart;

#[cfg(all(hil_board, feature = "lm3s6965evb"))]
mod lm3s6965evb;
#[cfg(all(hil_board, feature = "lm3s6965evb"))]
use lm3s6965evb as board;

#[cfg(all(hil_board, feature = "microbit"))]
mod microbit;
#[cfg(all(hil_board, feature = "microbit"))]
use microbit as board;

#[cfg(all(hil_board, feature = "mps2-an385"))]
mod mps2_an385;
#[cfg(all(hil_board, feature = "mps2-an385"))]
use mps2_an385 as board;

#[cfg(all(hil_board, feature = "mps2-an386"))]
mod mps2_an386;
#[cfg(all(hil_board, feature = "mps2-an386"))]
use mps2_an386 as board;

#[cfg(all(hil_board, feature = "mps2-an500"))]
mod mps2_an500;
#[cfg(all(hil_board, feature = "mps2-an500"))]
use mps2_an500 as board;

#[cfg(all(hil_board, feature = "mps2-an505"))]
mod mps2_an505;
#[cfg(all(hil_board, feature = "mps2-an505"))]
use mps2_an505 as board;

#[cfg(all(hil_board, feature = "mps3-an547"))]
mod mps3_an547;
#[cfg(all(hil_board, feature = "mps3-an547"))]
use mps3_an547 as board;

#[cfg(all(hil_board, feature = "netduinoplus2"))]
mod netduinoplus2;
#[cfg(all(hil_board, feature = "netduinoplus2"))]
use netduinoplus2 as board;

#[cfg(all(hil_board, feature = "nucleo-f401re"))]
mod nucleo_f401re;
#[cfg(all(hil_board, feature = "nucleo-f401re"))]
use nucleo_f401re as board;

#[cfg(all(hil_board, feature = "nrf52840-dk"))]
// With `rtt` its UART is set up but the log goes to RTT.
#[cfg_attr(feature = "rtt", allow(dead_code))]
mod nrf52840_dk;
#[cfg(all(hil_board, feature = "nrf52840-dk"))]
use nrf52840_dk as board;

#[cfg(all(hil_board, feature = "rpi-pico"))]
mod rpi_pico;
#[cfg(all(hil_board, feature = "rpi-pico"))]
use rpi_pico as board;

#[cfg(all(hil_board, feature = "rpi-pico-usb"))]
mod rpi_pico_usb;
#[cfg(all(hil_board, feature = "rpi-pico-usb"))]
use rpi_pico_usb as board;

#[cfg(hil_board)]
pub use board::{exit, init, CORE_CLOCK_HZ};
#[cfg(all(hil_board, not(feature = "rtt")))]
pub use board::{uart_write, NAME};
/// The board's name, as in `boards/NAME.toml`: the board's RTT variant's.
#[cfg(all(hil_board, feature = "rtt"))]
pub const NAME: &str = env!("HIL_BOARD_NAME");
#[cfg(hil_board)]
pub use delay::{wait_ms, EXIT_GRACE_MS};
/// The serial link: RTT up-channel 0.
#[cfg(all(hil_board, feature = "rtt"))]
pub use rtt::write as uart_write;
// The interrupt drain of the serial port (feature `irq-drain`): lm3s6965evb's
// UART0 TX interrupt, the STM32F4 USART's TXE interrupt.
#[cfg(all(hil_board, feature = "lm3s6965evb", feature = "irq-drain"))]
pub use lm3s6965evb::irq_drain;
#[cfg(all(
    hil_board,
    any(feature = "netduinoplus2", feature = "nucleo-f401re"),
    feature = "irq-drain"
))]
pub use stm32_usart::irq_drain;
#[cfg(all(
    feature = "irq-drain",
    not(any(
        feature = "lm3s6965evb",
        feature = "netduinoplus2",
        feature = "nucleo-f401re"
    ))
))]
compile_error!(
    "hil-board: the `irq-drain` feature is for lm3s6965evb (UART0), netduinoplus2 (USART1) and nucleo-f401re (USART2)"
);
#[cfg(hil_board)]
pub use message::{Message, PANIC_MESSAGE_LEN};
