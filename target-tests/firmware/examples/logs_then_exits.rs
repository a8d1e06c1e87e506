//! Logs then exits: boots, logs [`FRAMES`] sequence frames as fast as the
//! UART takes them and exits with success at once (semihosting), with no
//! grace period for the link to carry the last bytes.
//!
//! Exercises the end of a run: every byte written before the exit must reach
//! the runner, and the run ends as an exit with status 0.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged before the exit.
const FRAMES: u32 = 2000;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("logs_then_exits");
    emit::start("logs_then_exits", hil_transport::POLICY);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 8);
        drain.drain_to_sink();
    }
    hil_transport::flush();
    hil_board::exit(true)
}
