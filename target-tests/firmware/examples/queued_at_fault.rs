//! Queued at a fault: frames still in the log queue when the core stops must reach the host anyway.
//!
//! Boots, sends [`SENT`] sequence frames through the UART, then stops
//! draining (as if the UART could no longer take bytes) and logs
//! [`QUEUED`] more, its stream count, its end marker and a `hil:panic`
//! message into the queue, which by then has wrapped around its end. Then it
//! faults (`udf`): nothing of the second part ever left over the UART. The
//! runner reads the queue out of RAM at the HardFault breakpoint and must
//! account for every frame: received + recovered + dropped == attempted, and
//! show the panic message.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use hil_protocol::{emit, THREAD_STREAM};

/// Sequence frames sent over the UART before the drain stops (enough to move
/// the queue's indices close to its end, so the queued part wraps).
const SENT: u32 = 70;
/// Sequence frames logged after the drain stopped.
const QUEUED: u32 = 20;

#[entry]
fn main() -> ! {
    let drain = hil_firmware::boot("queued_at_fault");
    emit::start("queued_at_fault", hil_transport::POLICY);
    for n in 0..SENT {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    hil_firmware::drain_all(drain);
    // The drain stops here: everything below stays in the queue.
    for n in SENT..SENT + QUEUED {
        hil_protocol::seq(THREAD_STREAM, n, 0);
    }
    emit::stream(THREAD_STREAM, SENT + QUEUED);
    emit::end(hil_transport::attempted(), hil_transport::dropped());
    emit::panic("queued_at_fault: the UART stopped draining");
    cortex_m::asm::udf()
}
