//! Never ends: boots, starts a test and then idles forever without `hil:end`.
//!
//! Exercises the runner's `--timeout`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::emit;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("never_ends");
    emit::start("never_ends", hil_transport::POLICY);
    drain.drain_to_sink();
    loop {
        cortex_m::asm::wfi();
    }
}
