//! Nordic nRF52840 DK (nRF52840, Cortex-M4F), run through its on-board SEGGER J-Link OB.
//!
//! The serial port is UARTE0 on TX P0.06 and RX P0.08, no flow control, which
//! the board wires to the J-Link's first virtual COM port. The core always
//! runs at 64 MHz; [`init`] starts the 32 MHz crystal oscillator so that the
//! UART's baud rate is crystal-accurate, not the internal RC oscillator's.
//!
//! **APPROTECT stays open.** On nRF52840 silicon of build code F and later,
//! access port protection re-engages at every reset unless both UICR.APPROTECT
//! holds HwDisabled (0x5A) and the firmware writes SwDisable (0x5A) to
//! APPROTECT.DISABLE (0x4000_0558) after each reset. The UICR word is
//! [`HIL_UICR_APPROTECT`], placed at 0x1000_1208 by `boards/nrf52840-dk.memory.x`
//! and flashed by probe-rs with the image; [`init`] writes the register first.
//! Older silicon has no such register (it is written only from build code F on)
//! and reads the UICR word as "not enabled".

use nrf52840_hal::{
    gpio::{p0, Level},
    pac::{self, UARTE0},
    uarte::{Baudrate, Parity, Pins, Uarte},
    Clocks,
};

use crate::driver_cell::DriverCell;

pub use crate::probe::exit;

/// The board's name, as in `boards/nrf52840-dk.toml`.
pub const NAME: &str = "nrf52840-dk";

/// Core clock: the nRF52840's fixed 64 MHz.
pub const CORE_CLOCK_HZ: u32 = 64_000_000;

/// Bytes per UARTE transfer: EasyDMA reads from RAM only, so [`uart_write`]
/// copies each piece into a RAM buffer of this size first.
const TX_CHUNK: usize = 64;

/// UICR.APPROTECT = HwDisabled: the debug port stays open after a reset (with [`open_debug_port`]).
#[used]
#[no_mangle]
#[link_section = ".uicr_approtect"]
pub static HIL_UICR_APPROTECT: u32 = 0x5A;

/// APPROTECT.DISABLE: writing SwDisable (0x5A) keeps the access port open until the next reset.
const APPROTECT_DISABLE: *mut u32 = 0x4000_0558 as *mut u32;
/// FICR.INFO.VARIANT: the build code in ASCII (`AAF0` is 0x4141_4630).
const FICR_INFO_VARIANT: *const u32 = 0x1000_0104 as *const u32;

/// Keeps the access port open on build code F and later (the third letter of INFO.VARIANT),
/// as Nordic's startup code does; older silicon has no APPROTECT.DISABLE register.
fn open_debug_port() {
    // SAFETY: FICR.INFO.VARIANT is a read-only factory register, always readable.
    let variant = unsafe { FICR_INFO_VARIANT.read_volatile() };
    if (variant >> 8) & 0xFF >= u32::from(b'F') {
        // SAFETY: APPROTECT.DISABLE is a write-only register of the APPROTECT peripheral
        // on this silicon; 0x5A is its SwDisable value, and writing it has no other effect.
        unsafe { APPROTECT_DISABLE.write_volatile(0x5A) };
    }
}

/// UARTE0, once [`init`] has set it up.
static SERIAL: DriverCell<Uarte<UARTE0>> = DriverCell::empty();

/// Keeps the debug port open, starts the crystal oscillator and sets up UARTE0 for 115200 8N1.
///
/// # Panics
///
/// When called twice (the device peripherals are taken once).
pub fn init() {
    open_debug_port();
    let device = pac::Peripherals::take().expect("hil_board::init is called once");
    // Stays running after the handle is dropped: nothing stops it again.
    let _clocks = Clocks::new(device.CLOCK).enable_ext_hfosc();
    let port0 = p0::Parts::new(device.P0);
    let pins = Pins {
        txd: port0.p0_06.into_push_pull_output(Level::High).degrade(),
        rxd: port0.p0_08.into_floating_input().degrade(),
        cts: None,
        rts: None,
    };
    let uarte = Uarte::new(device.UARTE0, pins, Parity::EXCLUDED, Baudrate::BAUD115200);
    SERIAL.put(uarte);
}

/// Writes `bytes` to UARTE0, [`TX_CHUNK`] bytes per EasyDMA transfer, and
/// waits for each transfer to end.
///
/// Works for bytes anywhere (flash too): each piece goes through a RAM
/// buffer. Does nothing before [`init`].
pub fn uart_write(bytes: &[u8]) {
    SERIAL.with(|uarte| {
        let mut ram_buffer = [0u8; TX_CHUNK];
        for piece in bytes.chunks(TX_CHUNK) {
            let staged = &mut ram_buffer[..piece.len()];
            staged.copy_from_slice(piece);
            // Cannot fail: the piece is non-empty, short, and in RAM.
            let _ = uarte.write(staged);
        }
    });
}
