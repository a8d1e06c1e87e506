//! Queued at the exit: frames left in the log queue by firmware that exits
//! through semihosting without flushing must reach the host anyway.
//!
//! Boots, stops draining, logs [`QUEUED`] sequence frames, its stream count
//! and its end marker into the queue and exits with success. QEMU ends with
//! the `SYS_EXIT` call; the runner's gdbstub breakpoint on the `bkpt 0xab`
//! stops the core just before it, and the queue is read out of RAM.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames left in the queue.
const QUEUED: u32 = 8;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("queued_at_exit");
    emit::start("queued_at_exit", hil_transport::POLICY);
    hil_firmware::drain_all(drain);
    for n in 0..QUEUED {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    emit::stream(THREAD_STREAM, QUEUED);
    emit::end(hil_transport::attempted(), hil_transport::dropped());
    hil_board::exit(true)
}
