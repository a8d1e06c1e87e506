//! What the RP2040 boards share: the second-stage bootloader and the clock setup.
//!
//! The boot ROM copies the 256-byte [`BOOT2_FIRMWARE`] from the start of
//! flash (section `.boot2`, placed by `boards/rpi-pico.memory.x`) into RAM and
//! runs it: it sets the QSPI flash up for execute-in-place and jumps to the
//! vector table right after it. [`start_clocks`] then runs the chip from the
//! Pico's 12 MHz crystal: system clock 125 MHz (PLL_SYS), USB clock 48 MHz
//! (PLL_USB), peripheral clock = system clock.

use rp2040_hal::{
    clocks::{init_clocks_and_plls, ClocksManager},
    pac::{CLOCKS, PLL_SYS, PLL_USB, RESETS, WATCHDOG, XOSC},
    watchdog::Watchdog,
    Clock,
};

/// Second-stage bootloader for the Pico's W25Q16JV flash (the W25Q080 one fits
/// the whole W25Q family), kept by name through `EXTERN(BOOT2_FIRMWARE)` in
/// the memory layout.
// `no_mangle`: the linker script names the symbol; nothing else defines it.
#[link_section = ".boot2"]
#[no_mangle]
#[used]
pub static BOOT2_FIRMWARE: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// Frequency of the Pico's crystal oscillator.
const XOSC_HZ: u32 = 12_000_000;

/// Core clock: PLL_SYS from the crystal.
pub const CORE_CLOCK_HZ: u32 = 125_000_000;

/// Starts the crystal, both PLLs and the clock tree (system, USB, peripheral).
///
/// # Panics
///
/// When the crystal or a PLL does not start, or the system clock is not
/// [`CORE_CLOCK_HZ`].
pub fn start_clocks(
    xosc: XOSC,
    clocks: CLOCKS,
    pll_sys: PLL_SYS,
    pll_usb: PLL_USB,
    watchdog: WATCHDOG,
    resets: &mut RESETS,
) -> ClocksManager {
    // The watchdog block also makes the 1 µs tick of the TIMER peripheral.
    let mut watchdog = Watchdog::new(watchdog);
    let clocks = init_clocks_and_plls(
        XOSC_HZ,
        xosc,
        clocks,
        pll_sys,
        pll_usb,
        resets,
        &mut watchdog,
    )
    .unwrap_or_else(|_| panic!("RP2040 clocks did not start"));
    assert_eq!(
        clocks.system_clock.freq().to_Hz(),
        CORE_CLOCK_HZ,
        "core clock"
    );
    clocks
}
