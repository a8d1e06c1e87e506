//! Exits with failure: boots, logs a few sequence frames and exits with status 1
//! (semihosting) at once, without the board's grace period.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the exit.
const FRAMES: u32 = 5;

#[entry]
fn main() -> ! {
    let _drain = hil_firmware::boot("exits_with_failure");
    emit::start("exits_with_failure", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    hil_transport::flush();
    hil_board::exit(false)
}
