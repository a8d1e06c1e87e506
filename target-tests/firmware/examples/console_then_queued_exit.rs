//! A semihosting call that is not an exit, then frames queued at the exit:
//! the runner's trap on the call must let it run and still read the queue
//! before QEMU ends.
//!
//! Boots, drains, writes a line to the semihosting console (`SYS_OPEN` of
//! `:tt`, then `SYS_WRITE`: the first call meets the runner's trap, which
//! puts the calls back, returns to the call and watches the rest with gdbstub
//! breakpoints), stops draining, logs [`QUEUED`] sequence frames, its stream
//! count and its end marker into the queue and exits with success.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames left in the queue.
const QUEUED: u32 = 8;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("console_then_queued_exit");
    emit::start("console_then_queued_exit", hil_transport::POLICY);
    hil_firmware::drain_all(drain);
    cortex_m_semihosting::hprintln!("console_then_queued_exit: a line on the semihosting console");
    for n in 0..QUEUED {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    emit::stream(THREAD_STREAM, QUEUED);
    emit::end(hil_transport::attempted(), hil_transport::dropped());
    hil_board::exit(true)
}
