//! End-to-end workload: sequence frames of mixed sizes through the selected logger, with the hil markers.
//!
//! The same frames whichever logger the build uses, so the runner's verdict
//! and frame rate compare the links: `logger-hil` through UART0 (socket or
//! pty), `logger-semihosting` through QEMU's stdout. Emits `hil:boot`,
//! `hil:start`, parameters, [`FRAMES`] sequence frames on stream 0 with
//! payload fillers cycling through [`EXTRAS`], `hil:stream` and `hil:end`,
//! then exits through semihosting.
#![no_std]
#![no_main]

use bench_logcost::{Link, BOARD};
use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames logged.
const FRAMES: u32 = 20_000;
/// Filler bytes after the check value, cycled through frame by frame.
const EXTRAS: [usize; 5] = [0, 16, 64, 128, 220];
/// Parameters emitted after `hil:start` (counted for `hil:end` without a transport counter).
const PARAMS: u32 = 2;

#[entry]
fn main() -> ! {
    let link = Link::init();
    emit::boot(BOARD, "e2e");
    emit::start("e2e", link.policy());
    emit::param("frames", FRAMES);
    emit::param("sizes", EXTRAS.len() as u32);
    link.drain();
    for n in 0..FRAMES {
        hil_protocol::seq(THREAD_STREAM, n, EXTRAS[n as usize % EXTRAS.len()]);
        // After every frame: frames leave as fast as the link takes them.
        link.drain();
    }
    emit::stream(THREAD_STREAM, FRAMES);
    // Frames before `hil:end`: boot, start, the parameters, the sequence frames, the stream count.
    let attempted = link.attempted().unwrap_or(2 + PARAMS + FRAMES + 1);
    emit::end(attempted, 0);
    link.drain();
    bench_logcost::exit(true)
}
