//! A fault with the stack pointer outside memory: boots, logs a few sequence
//! frames, flushes them, moves the main stack pointer past the end of RAM (what
//! a stack overflow or a memory.x for another board gives) and reads an address
//! the MPU forbids.
//!
//! The core stacks its exception frame where nothing is mapped, so the fault's
//! frame cannot be read back: the run must still end at once as a HardFault,
//! with the core registers and a hint at the stack, never hang.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the fault.
const FRAMES: u32 = 3;

/// The address the MPU guards ([`hil_firmware::guard_no_access`]): nothing is mapped there.
const GUARDED: usize = 0x3000_0000;

/// Past the end of the emulated board's 64 KiB of RAM at 0x2000_0000: nothing is mapped there.
const PAST_RAM: u32 = 0x2100_0000;

#[entry]
fn main() -> ! {
    let _drain = hil_firmware::boot("bad_stack");
    emit::start("bad_stack", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    hil_transport::flush();
    hil_firmware::guard_no_access(GUARDED);
    // SAFETY: none: moving MSP past RAM and reading the guarded address is the fault
    // this image is for; nothing after it runs.
    unsafe {
        core::arch::asm!(
            "msr msp, {sp}",
            "ldr {value}, [{address}]",
            sp = in(reg) PAST_RAM,
            address = in(reg) GUARDED,
            value = out(reg) _,
        );
    }
    hil_board::exit(true)
}
