//! Panics: boots, starts a test, logs a few sequence frames and panics.
//!
//! Exercises the crash path: the board's panic handler logs `hil:panic` with
//! the message, flushes the queue and exits with failure.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the panic.
const FRAMES: u32 = 5;

#[entry]
fn main() -> ! {
    let _drain = hil_firmware::boot("panics");
    emit::start("panics", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    panic!("deliberate panic for the crash test");
}
