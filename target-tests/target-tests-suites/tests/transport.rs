//! The logger, queue and staging buffer of hil-transport on the target: whole
//! frames, in order, drained in bounded chunks, counted; frames longer than
//! `MAX_FRAME` dropped whole.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, Ordering};

use hil_board as _;
use hil_transport::MAX_FRAME;

/// Payload bytes for frames of a chosen length (no zero bytes: rzcobs
/// grows them by a known small amount).
static PAD: [u8; MAX_FRAME] = [0x55; MAX_FRAME];

fn numbered(n: u32, pad: usize) {
    defmt::info!("numbered {=u32} {=[u8]}", n, &PAD[..pad]);
}

fn padded(pad: usize) {
    defmt::info!("{=[u8]}", &PAD[..pad]);
}

static INSIDE: AtomicBool = AtomicBool::new(false);

/// Records whether the logger is taken while defmt formats it.
struct Probe;

impl defmt::Format for Probe {
    fn format(&self, f: defmt::Formatter) {
        INSIDE.store(hil_transport::is_logging(), Ordering::Relaxed);
        defmt::write!(f, "probe");
    }
}

#[defmt_test::tests]
mod tests {
    use hil_target_tests::{self as suite, drain_all, frames_of, Capture, Suite, Wire};
    use hil_transport::{DRAIN_CHUNK, QUEUE_SIZE};

    use super::*;

    #[init]
    fn init() -> Suite {
        suite::init()
    }

    #[before_each]
    fn before_each() {
        suite::before_each();
    }

    #[teardown]
    fn teardown(suite: &mut Suite) {
        suite::teardown(suite);
    }

    #[test]
    fn a_log_call_enters_the_queue_as_one_whole_frame(s: &mut Suite) {
        let (attempted, bytes) = (hil_transport::attempted(), hil_transport::attempted_bytes());
        let frame: Capture<64> = frames_of(&s.drain, Wire::Send, || numbered(7, 3));
        assert_eq!(hil_transport::attempted() - attempted, 1);
        assert_eq!(frame.len() as u32, hil_transport::attempted_bytes() - bytes);
        assert_eq!(frame.frames().count(), 1);
        assert_eq!(frame.bytes().last(), Some(&0), "ends with its delimiter");
    }

    #[test]
    fn frames_leave_the_queue_in_order_and_unchanged(s: &mut Suite) {
        // Each frame on its own first (a log call's bytes are deterministic) ...
        let mut expected: Capture<QUEUE_SIZE> = Capture::new();
        let mut count = 0;
        while count < 40 {
            let one: Capture<MAX_FRAME> = frames_of(&s.drain, Wire::Send, || {
                numbered(count, count as usize % 24)
            });
            if expected.len() + one.len() > QUEUE_SIZE / 2 {
                break;
            }
            expected.push(one.bytes());
            count += 1;
        }
        assert!(count >= 4, "only {} frames fit", count);
        // ... then all of them queued at once.
        for n in 0..count {
            numbered(n, n as usize % 24);
        }
        let all: Capture<QUEUE_SIZE> = drain_all(&s.drain, Wire::Send);
        assert_eq!(all.bytes(), expected.bytes());
        assert_eq!(all.frames().count(), count as usize);
    }

    #[test]
    fn a_drain_step_moves_at_most_one_chunk(s: &mut Suite) {
        padded(3 * DRAIN_CHUNK);
        let sent = suite::sent_bytes();
        assert_eq!(s.drain.drain_chunk_to_sink(), DRAIN_CHUNK);
        assert_eq!(suite::sent_bytes() - sent, DRAIN_CHUNK as u32);
        let rest = s.drain.drain_to_sink();
        assert!(rest > 2 * DRAIN_CHUNK, "{} bytes left", rest);
        assert_eq!(s.drain.drain_to_sink(), 0, "the queue is empty");
    }

    #[test]
    fn flush_sends_everything_queued(s: &mut Suite) {
        let bytes = hil_transport::attempted_bytes();
        for n in 0..5 {
            numbered(n, 10);
        }
        let queued = hil_transport::attempted_bytes() - bytes;
        let sent = suite::sent_bytes();
        assert_eq!(hil_transport::flush().moved as u32, queued);
        assert_eq!(suite::sent_bytes() - sent, queued);
        assert_eq!(s.drain.drain_to_sink(), 0);
    }

    #[test]
    fn the_largest_frame_that_fits_the_staging_buffer_is_queued_whole(s: &mut Suite) {
        // Longest payload whose frame is at most MAX_FRAME bytes: found from the top.
        let mut pad = MAX_FRAME;
        loop {
            let dropped = hil_transport::dropped();
            let frames: Capture<QUEUE_SIZE> = frames_of(&s.drain, Wire::Send, || padded(pad));
            if hil_transport::dropped() == dropped {
                // Under `drop`, the report of the frames dropped above comes first.
                let frame = frames.frames().last().unwrap();
                assert!(frame.len() <= MAX_FRAME, "{} bytes queued", frame.len());
                assert!(frame.len() + 4 > MAX_FRAME, "{} bytes", frame.len());
                assert!(pad < MAX_FRAME, "payload {}", pad);
                break;
            }
            assert_eq!(hil_transport::dropped() - dropped, 1);
            // Nothing of the frame too long entered the queue.
            assert!(
                frames.frames().all(|frame| frame.len() < 16),
                "a partial frame"
            );
            pad -= 1;
        }
    }

    #[test]
    fn a_frame_longer_than_max_frame_is_dropped_whole_and_counted(s: &mut Suite) {
        let (attempted, dropped) = (hil_transport::attempted(), hil_transport::dropped());
        padded(MAX_FRAME);
        assert_eq!(hil_transport::attempted() - attempted, 1);
        assert_eq!(hil_transport::dropped() - dropped, 1);
        // Nothing of it is queued (under `drop`, the drain queues its report).
        let mut moved = 0;
        s.drain.drain_into(|chunk| moved += chunk.len());
        assert_eq!(moved, 0);
        hil_transport::flush();
    }

    #[test]
    fn is_logging_is_true_only_inside_a_log_call() {
        assert!(!hil_transport::is_logging());
        defmt::info!("{}", Probe);
        assert!(INSIDE.load(Ordering::Relaxed));
        assert!(!hil_transport::is_logging());
    }
}
