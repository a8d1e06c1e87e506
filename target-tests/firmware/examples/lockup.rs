//! Lockup: boots, logs a few sequence frames, then faults with FAULTMASK set.
//!
//! At execution priority -1 a fault cannot escalate to HardFault: the core
//! locks up without entering any handler. Exercises the runner's lockup path.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the lockup.
const FRAMES: u32 = 5;

/// Sets FAULTMASK and executes a permanently undefined instruction.
#[no_mangle]
#[inline(never)]
pub extern "C" fn hil_lockup() -> ! {
    // SAFETY: none: the instruction is meant to lock the core up.
    unsafe { core::arch::asm!("cpsid f", "udf #0", options(noreturn)) }
}

#[entry]
fn main() -> ! {
    let _drain = hil_firmware::boot("lockup");
    emit::start("lockup", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    hil_transport::flush();
    hil_lockup()
}
