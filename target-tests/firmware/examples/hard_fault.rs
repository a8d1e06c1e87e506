//! Hard fault: boots, starts a test, logs a few sequence frames, flushes them
//! and then reads an address the MPU forbids (a MemManage fault, escalated to
//! HardFault: CFSR DACCVIOL and MMARVALID, MMFAR the address, HFSR FORCED).
//!
//! QEMU's lm3s6965evb reads 0 from unmapped addresses (the machine ignores
//! bus errors), so a bad pointer faults only where the MPU guards it, as a
//! null-pointer guard region does on real boards.
//!
//! Exercises the runner's fault watch: the run must end as a fault with the
//! registers of [`hil_fault_read`], not with the board's HardFault handler.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the fault.
const FRAMES: u32 = 5;

/// The address the MPU guards (32 bytes, no access): nothing is mapped there.
const GUARDED: usize = 0x3000_0000;

/// MPU registers (ARMv7-M).
const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
const MPU_RASR: *mut u32 = 0xE000_EDA0 as *mut u32;

/// MPU region 0: [`GUARDED`], 32 bytes, no access, never execute; the default map elsewhere.
fn guard() {
    // SAFETY: the MPU registers exist on the Cortex-M3; region 0 covers only
    // memory nothing uses.
    unsafe {
        MPU_RNR.write_volatile(0);
        MPU_RBAR.write_volatile(GUARDED as u32);
        // XN, AP = no access, SIZE = 4 (2^(4+1) = 32 bytes), ENABLE.
        MPU_RASR.write_volatile(1 << 28 | 4 << 1 | 1);
        // ENABLE, PRIVDEFENA (the default memory map for privileged code).
        MPU_CTRL.write_volatile(0b101);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

/// Reads `address`; the fault's pc is inside this function (the runner's test looks it up by name).
#[no_mangle]
#[inline(never)]
pub extern "C" fn hil_fault_read(address: usize) -> u32 {
    // SAFETY: none: the read is meant to fault.
    unsafe { core::ptr::read_volatile(address as *const u32) }
}

#[entry]
fn main() -> ! {
    let _drain = hil_firmware::boot("hard_fault");
    emit::start("hard_fault", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    hil_transport::flush();
    guard();
    let value = hil_fault_read(GUARDED);
    // Not reached: the read faults.
    hil_protocol::seq(THREAD_STREAM, value, 0);
    hil_board::exit(true)
}
