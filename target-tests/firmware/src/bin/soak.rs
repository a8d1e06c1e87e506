//! Soak test: [`FRAMES`] sequence frames through the transport and the link in one run, none lost.
//!
//! Thread mode logs `hil:seq s=0 n=0..FRAMES` and drains the queue into the
//! UART every [`DRAIN_EVERY`] frames (with `irq-drain` the TX interrupt
//! drains); built with `policy-block`, a full queue drains synchronously, so
//! the host must see every frame: `missing`, `dropped_reported` and
//! `malformed` all 0. `HIL_SOAK_FRAMES` at build time sets [`FRAMES`]
//! (`hil-bench soak` builds it with 10 million).
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames to send (`HIL_SOAK_FRAMES` at build time, default 10 million).
const FRAMES: u32 = match option_env!("HIL_SOAK_FRAMES") {
    Some(text) => parse_u32(text),
    None => 10_000_000,
};
/// Thread mode drains the queue after this many frames.
const DRAIN_EVERY: u32 = 8;

/// Decimal digits to a number, at compile time (panics, so the build fails, on anything else).
const fn parse_u32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "HIL_SOAK_FRAMES is not a number");
    let (mut value, mut i) = (0u32, 0);
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "HIL_SOAK_FRAMES is not a number");
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("soak");
    let mut syst = cortex_m::Peripherals::take()
        .expect("core peripherals are taken once, here")
        .SYST;
    emit::start("soak", hil_transport::POLICY);
    emit::param("frames", FRAMES);
    emit::param("queue", hil_transport::QUEUE_SIZE as u32);
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, 0);
        if !hil_firmware::IRQ_DRAIN && n % DRAIN_EVERY == DRAIN_EVERY - 1 {
            drain.drain_to_sink();
        }
    }
    hil_firmware::drain_all(drain);
    hil_firmware::finish(&mut syst, &[(THREAD_STREAM, FRAMES)])
}
