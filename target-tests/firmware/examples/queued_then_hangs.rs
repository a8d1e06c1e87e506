//! Queued, then hangs: frames left in the log queue by a core that stops
//! making progress must reach the host when the runner halts it.
//!
//! Boots, stops draining and logs [`QUEUED`] sequence frames, its stream
//! count and its end marker into the queue, then idles forever. At
//! `--timeout` the runner halts the core through the gdbstub, reads the queue
//! out of RAM and accounts for every frame.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames left in the queue.
const QUEUED: u32 = 10;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("queued_then_hangs");
    emit::start("queued_then_hangs", hil_transport::POLICY);
    hil_firmware::drain_all(drain);
    for n in 0..QUEUED {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    emit::stream(THREAD_STREAM, QUEUED);
    emit::end(hil_transport::attempted(), hil_transport::dropped());
    loop {
        cortex_m::asm::wfi();
    }
}
