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

/// The address the MPU guards (32 bytes, no access, [`hil_firmware::guard_no_access`]): nothing is mapped there.
const GUARDED: usize = 0x3000_0000;

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
    hil_firmware::guard_no_access(GUARDED);
    let value = hil_fault_read(GUARDED);
    // Not reached: the read faults.
    hil_protocol::seq(THREAD_STREAM, value, 0);
    hil_board::exit(true)
}
