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
//! - [`exit`]: ends the run with success or failure.
//!
//! The build script puts the board's `boards/NAME.memory.x` on the linker
//! search path as `memory.x`.
//!
//! With the default feature `panic-handler`, the crate also provides the
//! `#[panic_handler]` and the `HardFault` handler: they report the failure as
//! a `hil:panic` marker, flush the log queue into the serial port and exit
//! with failure.
//!
//! Supported boards: `lm3s6965evb` (Cortex-M3, emulated by QEMU).
#![no_std]
#![warn(missing_docs)]

// A `compile_error!` unless exactly one board feature is enabled.
include!(concat!(env!("OUT_DIR"), "/board_check.rs"));

#[cfg(all(hil_board, feature = "panic-handler"))]
mod failure;
#[cfg(hil_board)]
mod message;
#[cfg(hil_board)]
mod mmio;
#[cfg(hil_board)]
mod qemu;

#[cfg(all(hil_board, feature = "lm3s6965evb"))]
mod lm3s6965evb;
#[cfg(all(hil_board, feature = "lm3s6965evb"))]
use lm3s6965evb as board;

#[cfg(hil_board)]
pub use board::{exit, init, uart_write, CORE_CLOCK_HZ, NAME};
#[cfg(hil_board)]
pub use message::{Message, PANIC_MESSAGE_LEN};
