//! The overflow policy this image was built for, through the global logger:
//! `drop` (default), `truncate` (`--features policy-truncate`) or `block`
//! (`--features policy-block`). `init` checks that the transport really uses it.
#![no_std]
#![no_main]

use hil_board as _;
#[allow(unused_imports)] // Each policy's tests use a part.
use hil_target_tests::{drain_all, frames_of, Capture, Suite, Wire};
#[allow(unused_imports)]
use hil_transport::QUEUE_SIZE;

/// Logs one fill frame: the same bytes every time.
#[allow(dead_code)]
fn fill() {
    defmt::info!("fill {=[u8]}", &[0x33u8; 40][..]);
}

/// One fill frame as it is encoded.
#[allow(dead_code)]
fn fill_frame(s: &Suite) -> Capture<64> {
    frames_of(&s.drain, Wire::Send, fill)
}

/// Fill frames enough to overflow the queue with room to spare.
#[allow(dead_code)]
fn overflowing_count(frame: &Capture<64>) -> u32 {
    (QUEUE_SIZE / frame.len() + 4) as u32
}

/// Reference encodings of the drop reports `hil:drop n=1..=MAX_REPORT`.
#[allow(dead_code)]
struct Reports([Capture<16>; MAX_REPORT]);

#[allow(dead_code)]
const MAX_REPORT: usize = 24;

#[allow(dead_code)]
impl Reports {
    /// Logs each report once, kept off the wire (a reference `hil:drop`
    /// would be counted by the host as frames really dropped).
    fn new(s: &Suite) -> Self {
        Reports(core::array::from_fn(|i| {
            frames_of(&s.drain, Wire::Keep, || {
                hil_protocol::emit::drop_report(i as u32 + 1)
            })
        }))
    }

    /// The count of the drop report `frame`, or `None` if it is not one.
    fn value(&self, frame: &[u8]) -> Option<u32> {
        (1..)
            .zip(&self.0)
            .find(|(_, r)| r.bytes() == frame)
            .map(|(n, _)| n)
    }

    /// Fill frames and the sum of reported drops in `captured`, which holds
    /// nothing else.
    fn count<const N: usize>(&self, captured: &Capture<N>, fill: &Capture<64>) -> (u32, u32) {
        let (mut whole, mut reported) = (0, 0);
        for frame in captured.frames() {
            if frame == fill.bytes() {
                whole += 1;
            } else {
                reported += self
                    .value(frame)
                    .expect("a fill frame or a drop report, whole");
            }
        }
        (whole, reported)
    }
}

#[defmt_test::tests]
mod tests {
    use hil_target_tests as suite;

    use super::*;

    #[init]
    fn init() -> Suite {
        let s = suite::init();
        defmt::println!("overflow suite: policy {=str}", hil_transport::POLICY);
        s
    }

    #[before_each]
    fn before_each() {
        suite::before_each();
    }

    #[teardown]
    fn teardown(suite: &mut Suite) {
        suite::teardown(suite);
    }

    #[cfg(not(any(feature = "policy-truncate", feature = "policy-block")))]
    #[test]
    fn drop_a_full_queue_holds_whole_frames_and_reports_every_drop(s: &mut Suite) {
        let reports = Reports::new(s);
        let frame = fill_frame(s);
        let (count, dropped) = (overflowing_count(&frame), hil_transport::dropped());
        for _ in 0..count {
            fill();
        }
        let dropped = hil_transport::dropped() - dropped;
        assert!(dropped > 0, "the queue overflowed");
        // Draining makes room: the report of the last drops follows at once.
        let queued: Capture<QUEUE_SIZE> = drain_all(&s.drain, Wire::Send);
        let (whole, reported) = reports.count(&queued, &frame);
        assert_eq!(reported, dropped, "every drop reported");
        assert_eq!(whole + reported, count, "every frame queued or reported");
        let last = queued.frames().last().unwrap();
        assert!(
            reports.value(last).is_some(),
            "the drain released the last report"
        );
    }

    #[cfg(not(any(feature = "policy-truncate", feature = "policy-block")))]
    #[test]
    fn drop_a_flush_sends_the_report_of_every_drop_before_the_next_frame(s: &mut Suite) {
        let reports = Reports::new(s);
        let frame = fill_frame(s);
        let dropped = hil_transport::dropped();
        let count = overflowing_count(&frame);
        for _ in 0..count {
            fill();
        }
        let dropped = hil_transport::dropped() - dropped;
        assert!(dropped > 0, "the queue overflowed");
        // `flush` sends the queue and then the report of what did not fit ...
        let flushed = suite::tap(|| {
            let _ = hil_transport::flush();
        });
        let (whole, reported) = reports.count(&flushed, &frame);
        assert_eq!(reported, dropped, "every drop reported by the flush");
        assert_eq!(whole + dropped, count);
        assert!(
            reports.value(flushed.frames().last().unwrap()).is_some(),
            "the report last"
        );
        // ... so the next frame goes out alone.
        fill();
        let sent: Capture<128> = drain_all(&s.drain, Wire::Send);
        let mut frames = sent.frames();
        assert_eq!(frames.next(), Some(frame.bytes()), "the frame, whole");
        assert_eq!(frames.next(), None);
    }

    #[cfg(not(any(feature = "policy-truncate", feature = "policy-block")))]
    #[test]
    fn drop_no_report_without_a_drop(s: &mut Suite) {
        let frame = fill_frame(s);
        let again = fill_frame(s);
        assert_eq!(frame.bytes(), again.bytes());
    }

    #[cfg(feature = "policy-truncate")]
    #[test]
    fn truncate_a_full_queue_ends_in_a_partial_frame(s: &mut Suite) {
        let frame = fill_frame(s);
        let (count, dropped) = (overflowing_count(&frame), hil_transport::dropped());
        for _ in 0..count {
            fill();
        }
        let dropped = hil_transport::dropped() - dropped;
        // Kept off the wire: the partial frame would swallow defmt-test's next line.
        let queued: Capture<QUEUE_SIZE> = drain_all(&s.drain, Wire::Keep);
        let whole = queued.frames().filter(|f| f.last() == Some(&0)).count();
        let tail = queued.frames().last().unwrap();
        assert_eq!(
            whole as u32 + dropped,
            count,
            "every frame queued or counted"
        );
        assert!(queued.frames().take(whole).all(|f| f == frame.bytes()));
        if tail.last() != Some(&0) {
            assert!(
                frame.bytes().starts_with(tail),
                "the partial frame is a prefix"
            );
        }
        assert!(queued.len() <= QUEUE_SIZE);
        for f in queued.frames().take(whole) {
            suite::send(f);
        }
    }

    #[cfg(feature = "policy-truncate")]
    #[test]
    fn truncate_sends_no_drop_report(s: &mut Suite) {
        let frame = fill_frame(s);
        for _ in 0..overflowing_count(&frame) {
            fill();
        }
        let _: Capture<QUEUE_SIZE> = drain_all(&s.drain, Wire::Keep);
        let next: Capture<64> = frames_of(&s.drain, Wire::Send, fill);
        assert_eq!(next.bytes(), frame.bytes(), "no report in front");
    }

    #[cfg(feature = "policy-block")]
    #[test]
    fn block_a_full_queue_drains_synchronously_and_loses_nothing(s: &mut Suite) {
        let frame = fill_frame(s);
        let count = 3 * overflowing_count(&frame);
        let (dropped, bytes, sent) = (
            hil_transport::dropped(),
            hil_transport::attempted_bytes(),
            suite::sent_bytes(),
        );
        // Everything the sink got: the logger's own drains, then the last drain.
        let out = suite::tap(|| {
            for _ in 0..count {
                fill();
            }
            let _: Capture<QUEUE_SIZE> = drain_all(&s.drain, Wire::Send);
        });
        assert_eq!(hil_transport::dropped(), dropped, "nothing dropped");
        let logged = hil_transport::attempted_bytes() - bytes;
        assert_eq!(logged, count * frame.len() as u32);
        assert_eq!(suite::sent_bytes() - sent, logged, "every byte sent");
        assert_eq!(out.frames().count() as u32, count);
        assert!(
            out.frames().all(|f| f == frame.bytes()),
            "whole frames, unchanged"
        );
    }

    #[cfg(feature = "policy-block")]
    #[test]
    fn block_frames_stay_in_order_across_synchronous_drains() {
        fn numbered(n: u32) {
            defmt::info!("block {=u32} {=[u8]}", n, &[0x44u8; 24][..]);
        }
        let count = 100;
        let expected = suite::tap(|| {
            for n in 0..count {
                numbered(n);
                hil_transport::flush();
            }
        });
        assert!(expected.len() > 2 * QUEUE_SIZE);
        let sent = suite::tap(|| {
            for n in 0..count {
                numbered(n);
            }
            hil_transport::flush();
        });
        assert_eq!(sent.bytes(), expected.bytes());
    }
}
