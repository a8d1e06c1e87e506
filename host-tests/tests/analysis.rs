//! Every check of the analysis, on hand-made frame streams: each `Violation` fires on a stream where it,
//! and only it, is wrong; a clean stream raises none; the counts of the summary are exact.
//!
//! The streams are built with [`host_tests::streams`] (a synthetic table with
//! hil-protocol's markers; no firmware build), so these run in milliseconds
//! and are the test set of the mutation run (`host-tests/mutants.sh`).

use std::collections::BTreeMap;

use hil_protocol::fmt;
use hil_runner::analysis::{Analysis, EndMarker};
use hil_runner::check::overflow::LossEvent;
use hil_runner::check::Violation;
use hil_runner::firmware::Firmware;
use host_tests::streams::{analyse, analyse_in, hil_firmware, hil_firmware_without, Stream};
use rstest::rstest;

const BOARD: &str = "lm3s6965evb";

/// Boot and start markers of test `t` under `policy`.
fn begin<'f>(fw: &'f Firmware, policy: &str) -> Stream<'f> {
    Stream::new(fw).boot(BOARD, "t").start("t", policy)
}

fn at(s: &Stream<'_>) -> u64 {
    s.bytes.len() as u64
}

/// The end marker's offset and the analysis of the whole stream, ended with `end(attempted, dropped)`.
fn finish(s: Stream<'_>, attempted: u32, dropped: u32) -> (u64, Vec<u8>) {
    let offset = at(&s);
    (offset, s.end(attempted, dropped).bytes)
}

fn violations(a: &Analysis) -> &[Violation] {
    &a.violations
}

/// A run with nothing wrong: 3 frames on stream 0, none on stream 1.
fn clean(fw: &Firmware, policy: &str) -> (u64, Vec<u8>) {
    let s = begin(fw, policy)
        .param("frames", 3)
        .seq(0, 0, 0)
        .log("between")
        .seq(0, 1, 1)
        .seq(0, 2, 2)
        .stream(0, 3)
        .stream(1, 0);
    // boot, start, param, 3 seq, log, 2 stream.
    finish(s, 9, 0)
}

#[rstest]
#[case::block("block")]
#[case::drop("drop")]
#[case::truncate("truncate")]
fn a_clean_run_raises_nothing_and_counts_exactly(#[case] policy: &str) {
    let fw = hil_firmware();
    let (end, bytes) = clean(&fw, policy);
    let a = analyse(&fw, &bytes, Some(BOARD));
    assert_eq!(violations(&a), [], "{policy}");
    assert_eq!(a.violations_total, 0);
    let s = &a.summary;
    assert_eq!(s.bytes, bytes.len() as u64);
    assert_eq!(s.discarded_before_boot, 0);
    assert_eq!(s.frames, 10);
    assert_eq!(s.frames_before_end, 9);
    assert_eq!(
        (s.malformed, s.seq_frames, s.dropped_reported, s.missing),
        (0, 3, 0, 0)
    );
    assert_eq!(s.board.as_deref(), Some(BOARD));
    assert_eq!(s.test.as_deref(), Some("t"));
    assert_eq!(s.policy.as_deref(), Some(policy));
    assert_eq!(s.params, BTreeMap::from([("frames".to_string(), 3)]));
    assert_eq!(s.sent, BTreeMap::from([(0, 3), (1, 0)]));
    assert_eq!(
        s.end,
        Some(EndMarker {
            attempted: 9,
            dropped: 0,
            offset: end
        })
    );
    assert_eq!(s.panic, None);
    assert_eq!(s.overflow.events, 0);
    assert!(s.overflow.lost_per_event.is_empty());
    assert_eq!(s.overflow.worst, None);
}

#[test]
fn the_analysis_is_the_same_whatever_the_pieces_it_is_fed_in() {
    let fw = hil_firmware();
    let (_, bytes) = clean(&fw, "drop");
    let whole = analyse(&fw, &bytes, None);
    for chunk in [1, 2, 3, 7, 64] {
        let a = analyse_in(&fw, &bytes, chunk, None);
        assert_eq!(a.violations, whole.violations, "chunk {chunk}");
        assert_eq!(a.summary.frames, whole.summary.frames, "chunk {chunk}");
        assert_eq!(a.summary.end, whole.summary.end, "chunk {chunk}");
        assert_eq!(a.summary.bytes, bytes.len() as u64);
    }
}

#[test]
fn many_frames_on_two_streams_are_counted_exactly() {
    // Sequence numbers past 64 and 128 (the ordering check's bitset words).
    let fw = hil_firmware();
    let mut s = begin(&fw, "block");
    let mut g = 0;
    for n in 0..300 {
        s = s.seq(0, n, g);
        g += 1;
        if n % 3 == 0 {
            s = s.seq(1, n / 3, g);
            g += 1;
        }
    }
    let s = s.stream(0, 300).stream(1, 100);
    let (_, bytes) = finish(s, 2 + 400 + 2, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(violations(&a), []);
    assert_eq!((a.summary.seq_frames, a.summary.missing), (400, 0));
}

#[test]
fn a_gap_is_a_violation_where_no_loss_is_allowed() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0);
    let offset = at(&s);
    let s = s.seq(0, 3, 3).stream(0, 4);
    let (end, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Gap {
            stream: 0,
            first_missing: 1,
            last_missing: 2,
            offset
        }]
    );
    assert_eq!(a.summary.missing, 2);
    // The loss tracker sees the event whatever the policy.
    assert_eq!(a.summary.overflow.events, 1);
    assert_eq!(a.summary.overflow.lost_per_event, [2]);
    let worst = a.summary.overflow.worst.unwrap();
    assert_eq!(
        worst,
        LossEvent {
            offset,
            first_g: 1,
            lost: 2,
            reported: 0,
            malformed: 0
        }
    );
    assert!(end > offset);
}

#[test]
fn a_sequence_number_far_ahead_is_one_gap() {
    let fw = hil_firmware();
    let far = 0x0400_0000;
    let s = begin(&fw, "block").seq(0, 0, 0);
    let offset = at(&s);
    let s = s.seq(0, far, 1).stream(0, far + 1);
    let (_, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Gap {
            stream: 0,
            first_missing: 1,
            last_missing: far - 1,
            offset
        }]
    );
    assert_eq!(a.summary.missing, u64::from(far) - 1);
}

#[test]
fn frames_never_received_at_the_end_of_a_stream_are_a_gap() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0).seq(0, 1, 1);
    let offset = at(&s);
    let s = s.stream(0, 5);
    let (_, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Gap {
            stream: 0,
            first_missing: 2,
            last_missing: 4,
            offset
        }]
    );
    assert_eq!(a.summary.missing, 3);
    assert_eq!(a.summary.overflow.lost_per_event, [3]);
}

#[test]
fn a_run_without_a_start_marker_allows_no_loss() {
    let fw = hil_firmware();
    let s = Stream::new(&fw).boot(BOARD, "t").seq(0, 0, 0);
    let offset = at(&s);
    let s = s.seq(0, 2, 2).stream(0, 3);
    let (_, bytes) = finish(s, 4, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Gap {
            stream: 0,
            first_missing: 1,
            last_missing: 1,
            offset
        }]
    );
    assert_eq!(a.summary.test.as_deref(), Some("t"), "from the boot marker");
    assert_eq!(a.summary.policy, None);
}

#[test]
fn a_sequence_frame_received_twice_is_a_duplicate() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0).seq(0, 1, 1);
    let offset = at(&s);
    let s = s.seq(0, 1, 1).seq(0, 2, 2).stream(0, 3);
    let (_, bytes) = finish(s, 7, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Duplicate {
            stream: 0,
            n: 1,
            offset
        }]
    );
    assert_eq!(a.summary.missing, 0);
}

#[test]
fn a_sequence_frame_after_a_later_one_is_a_reorder() {
    // Under `drop` the gap before the late frame is the overflow check's business.
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).seq(0, 2, 1);
    let offset = at(&s);
    let s = s.seq(0, 1, 2).stream(0, 3);
    let (_, bytes) = finish(s, 6, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Reorder {
            stream: 0,
            n: 1,
            after: 2,
            offset
        }]
    );
    assert_eq!(a.summary.missing, 0);
}

#[test]
fn frames_that_do_not_decode_are_malformed() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0);
    let first_offset = at(&s);
    // Not rzcobs; then a valid frame of a string index the table does not have.
    let unknown = host_tests::streams::frame(999, &[1, 2, 3]);
    let s = s
        .raw(&[0x55, 0x44, 0x00])
        .raw(&unknown)
        .seq(0, 1, 1)
        .stream(0, 2);
    let (_, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Malformed {
            count: 2,
            first_offset,
            first_reason: "not valid rzcobs".into()
        }]
    );
    assert_eq!(a.summary.malformed, 2);
    // Malformed frames are a loss event of their own (nothing lost by `g`).
    assert_eq!(a.summary.overflow.events, 1);
    assert_eq!(a.summary.overflow.worst.unwrap().malformed, 2);
}

#[test]
fn a_run_longer_than_the_maximum_frame_length_is_oversize() {
    let fw = hil_firmware();
    let s = begin(&fw, "block")
        .seq(0, 0, 0)
        .raw(&[0x01; 5000])
        .raw(&[0])
        .seq(0, 1, 1)
        .stream(0, 2);
    let (_, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Oversize {
            count: 1,
            bytes: 5000
        }]
    );
}

#[test]
fn bytes_after_the_last_delimiter_are_an_unfinished_frame() {
    let fw = hil_firmware();
    let (_, bytes) = clean(&fw, "block");
    let offset = bytes.len() as u64;
    let mut bytes = bytes;
    bytes.extend_from_slice(&[0x01, 0x02]);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::UnfinishedFrame { offset, len: 2 }]
    );
}

#[test]
fn frames_lost_without_a_drop_report_are_unaccounted() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0).stream(0, 1);
    let (offset, bytes) = finish(s, 5, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Unaccounted {
            attempted: 5,
            received: 4,
            dropped_reported: 0,
            offset
        }]
    );
}

#[test]
fn more_frames_received_than_attempted_are_unaccounted_too() {
    let fw = hil_firmware();
    let s = begin(&fw, "block").seq(0, 0, 0).stream(0, 1);
    let (offset, bytes) = finish(s, 3, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::Unaccounted {
            attempted: 3,
            received: 4,
            dropped_reported: 0,
            offset
        }]
    );
}

#[rstest]
#[case::block("block", 1, 0)]
#[case::drop("drop", 2, 1)]
fn a_drop_counter_that_disagrees_with_the_drop_reports_is_a_drop_count(
    #[case] policy: &str,
    #[case] firmware_dropped: u32,
    #[case] reported: u32,
) {
    let fw = hil_firmware();
    let mut s = begin(&fw, policy).seq(0, 0, 0);
    // boot, start, seq 0, seq 2, stream.
    let mut attempted = 5;
    if reported > 0 {
        // Under `drop`: seq 1 dropped and reported (the event and the totals agree).
        s = s.drop_report(reported);
        attempted += reported;
    } else {
        s = s.seq(0, 1, 1);
        attempted += 1;
    }
    let s = s.seq(0, 2, 2).stream(0, 3);
    let (offset, bytes) = finish(s, attempted, firmware_dropped);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::DropCount {
            firmware: firmware_dropped.into(),
            reported: reported.into(),
            offset
        }]
    );
}

#[test]
fn firmware_built_for_another_board_is_a_wrong_board() {
    let fw = hil_firmware();
    let (_, bytes) = clean(&fw, "block");
    let a = analyse(&fw, &bytes, Some("nucleo-f401re"));
    assert_eq!(
        violations(&a),
        [Violation::WrongBoard {
            expected: "nucleo-f401re".into(),
            found: BOARD.into()
        }]
    );
}

#[test]
fn a_loss_event_reported_short_or_over_is_a_drop_report_mismatch() {
    // Event 1: two frames lost, one reported; event 2: none lost, one reported.
    // In total two missing and two reported: only the per-event rule sees it.
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).drop_report(1);
    let first = at(&s);
    let s = s.seq(0, 3, 3).drop_report(1);
    let second = at(&s);
    let s = s.seq(0, 4, 4).stream(0, 5);
    let (_, bytes) = finish(s, 6 + 2, 2);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [
            Violation::DropReportMismatch {
                offset: first,
                first_g: 1,
                lost: 2,
                reported: 1
            },
            Violation::DropReportMismatch {
                offset: second,
                first_g: 4,
                lost: 0,
                reported: 1
            },
        ]
    );
    assert_eq!((a.summary.missing, a.summary.dropped_reported), (2, 2));
    assert_eq!(a.summary.overflow.lost_per_event, [2, 0]);
}

#[test]
fn over_reporting_one_event_fails() {
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).drop_report(2);
    let offset = at(&s);
    let s = s.seq(0, 2, 2).stream(0, 3);
    let (_, bytes) = finish(s, 5 + 2, 2);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [
            Violation::DropReportMismatch {
                offset,
                first_g: 1,
                lost: 1,
                reported: 2
            },
            Violation::MissingNotReported {
                missing: 1,
                reported: 2
            },
        ]
    );
}

#[test]
fn frames_lost_before_the_end_marker_are_an_event_at_the_end_marker() {
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).drop_report(1).stream(0, 2);
    let (offset, bytes) = finish(s, 4 + 1, 1);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(violations(&a), []);
    assert_eq!(
        a.summary.overflow.worst,
        Some(LossEvent {
            offset,
            first_g: 1,
            lost: 1,
            reported: 1,
            malformed: 0
        })
    );
}

#[test]
fn a_drop_report_no_sequence_frame_is_missing_for_is_missing_not_reported() {
    // The end marker counts the drop (a frame that was not a sequence frame), the
    // report comes after it: no loss event, but the totals disagree.
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).stream(0, 1);
    let (_, bytes) = finish(s, 4 + 1, 1);
    let bytes = Stream::new(&fw).raw(&bytes).drop_report(1).bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::MissingNotReported {
            missing: 0,
            reported: 1
        }]
    );
}

/// Under `truncate`: seq 1 and 2 truncated and merged into `malformed` frames.
fn truncated(fw: &Firmware, malformed: usize, attempted: u32, truncated: u32) -> Vec<u8> {
    let mut s = begin(fw, "truncate").seq(0, 0, 0);
    for _ in 0..malformed {
        s = s.raw(&[0x55, 0x44, 0x00]);
    }
    let s = s.seq(0, 3, 3).stream(0, 4);
    finish(s, attempted, truncated).1
}

#[test]
fn truncated_and_merged_frames_that_add_up_pass() {
    // received 5 + truncated 2 + malformed 1 == attempted 8 (malformed ≤ truncated);
    // malformed frames are expected under `truncate` and so are the gaps.
    let fw = hil_firmware();
    let a = analyse(&fw, &truncated(&fw, 1, 8, 2), None);
    assert_eq!(violations(&a), []);
    assert_eq!((a.summary.malformed, a.summary.missing), (1, 2));
}

#[rstest]
#[case::one_frame_uncounted(2, 10, 2)]
#[case::one_frame_too_many(2, 8, 2)]
#[case::more_malformed_than_truncated(2, 8, 1)]
fn truncation_losses_that_do_not_add_up_are_truncation_unaccounted(
    #[case] malformed: usize,
    #[case] attempted: u32,
    #[case] dropped: u32,
) {
    let fw = hil_firmware();
    let a = analyse(&fw, &truncated(&fw, malformed, attempted, dropped), None);
    assert_eq!(
        violations(&a),
        [Violation::TruncationUnaccounted {
            attempted: attempted.into(),
            received: 5,
            truncated: dropped.into(),
            malformed: malformed as u64
        }]
    );
}

#[test]
fn a_sequence_frame_beyond_the_streams_count_is_seq_not_sent() {
    let fw = hil_firmware();
    let s = begin(&fw, "block")
        .seq(0, 0, 0)
        .seq(0, 1, 1)
        .seq(0, 2, 2)
        .stream(0, 2);
    let (_, bytes) = finish(s, 6, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::SeqNotSent {
            stream: 0,
            n: 2,
            sent: 2
        }]
    );
    assert_eq!(a.summary.missing, 0);
}

#[test]
fn a_run_without_its_end_marker_is_no_end() {
    let fw = hil_firmware();
    let bytes = begin(&fw, "block").seq(0, 0, 0).stream(0, 1).bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::NoEnd {
            bytes: bytes.len() as u64
        }]
    );
}

#[test]
fn firmware_without_boot_start_or_end_markers_is_not_expected_to_send_an_end() {
    // A user's firmware on hil-transport: sequence-like frames and drop reports, no test markers.
    let fw = hil_firmware_without(&[fmt::END, fmt::BOOT, fmt::START]);
    let bytes = Stream::new(&fw).seq(0, 0, 0).stream(0, 1).bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(violations(&a), []);
}

#[test]
fn firmware_with_a_start_marker_but_no_end_marker_is_still_expected_to_end() {
    // hil-protocol firmware that never ends (a hang) is judged by the missing end marker.
    let fw = hil_firmware_without(&[fmt::END]);
    let bytes = begin(&fw, "block").seq(0, 0, 0).stream(0, 1).bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(
        violations(&a),
        [Violation::NoEnd {
            bytes: bytes.len() as u64
        }]
    );
}

#[test]
fn frames_after_the_end_marker_are_not_counted_as_received_and_a_second_end_is_ignored() {
    let fw = hil_firmware();
    let (end, bytes) = clean(&fw, "block");
    let bytes = Stream::new(&fw)
        .raw(&bytes)
        .log("late")
        .seq(0, 3, 3)
        .end(99, 7)
        .bytes;
    let a = analyse(&fw, &bytes, None);
    let s = &a.summary;
    assert_eq!(s.frames_before_end, 9);
    assert_eq!(s.frames, 13);
    assert_eq!(
        s.end,
        Some(EndMarker {
            attempted: 9,
            dropped: 0,
            offset: end
        })
    );
    // Seq 3 arrived, but the firmware said it sent 3 frames on stream 0.
    assert_eq!(
        violations(&a),
        [Violation::SeqNotSent {
            stream: 0,
            n: 3,
            sent: 3
        }]
    );
}

#[test]
fn a_panic_marker_and_the_start_marker_are_recorded() {
    let fw = hil_firmware();
    let bytes = Stream::new(&fw)
        .boot(BOARD, "boot-name")
        .start("start-name", "drop")
        .panic("src/main.rs:3:5: boom")
        .bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(a.summary.test.as_deref(), Some("start-name"));
    assert_eq!(a.summary.panic.as_deref(), Some("src/main.rs:3:5: boom"));
    assert_eq!(a.summary.frames, 3);
    assert_eq!(a.summary.frames_before_end, 3);
}

#[test]
fn violations_beyond_the_first_hundred_are_counted_only() {
    let fw = hil_firmware();
    let mut s = begin(&fw, "block").seq(0, 0, 0);
    for _ in 0..150 {
        s = s.seq(0, 0, 0);
    }
    // The stream says 0 sent: one more violation (seq 0 not sent) past the cap.
    let s = s.stream(0, 0);
    let (_, bytes) = finish(s, 2 + 151 + 1, 0);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(a.violations.len(), 100);
    assert_eq!(a.violations_total, 151);
}

#[test]
fn the_worst_loss_event_is_the_first_of_the_largest() {
    // Events losing 1, 2 and 2 frames, each reported.
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0).drop_report(1).seq(0, 2, 2);
    let s = s.drop_report(2);
    let worst = at(&s);
    let s = s.seq(0, 5, 5).drop_report(2).seq(0, 8, 8).stream(0, 9);
    let (_, bytes) = finish(s, 7 + 5, 5);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(violations(&a), []);
    let o = &a.summary.overflow;
    assert_eq!(o.events, 3);
    assert_eq!(o.lost_per_event, [1, 2, 2]);
    let w = o.worst.unwrap();
    assert_eq!((w.first_g, w.lost, w.reported), (3, 2, 2));
    assert_eq!(w.offset, worst);
    assert_eq!(a.summary.missing, 5);
}

#[test]
fn loss_events_beyond_the_first_thousand_are_counted_only() {
    let fw = hil_firmware();
    let mut s = begin(&fw, "drop");
    for k in 0..1001 {
        s = s.drop_report(1).seq(0, k, 2 * k + 1);
    }
    let a = analyse(&fw, &s.bytes, None);
    let o = &a.summary.overflow;
    assert_eq!(o.events, 1001);
    assert_eq!(o.lost_per_event.len(), 1000);
}

#[test]
fn every_violation_says_what_is_wrong_and_where() {
    let cases: Vec<(Violation, &str)> = vec![
        (
            Violation::Gap {
                stream: 1,
                first_missing: 4,
                last_missing: 4,
                offset: 10,
            },
            "stream 1: seq 4 missing (next frame at byte 10)",
        ),
        (
            Violation::Gap {
                stream: 1,
                first_missing: 4,
                last_missing: 6,
                offset: 10,
            },
            "stream 1: seq 4..=6 missing (3 frames; next frame at byte 10)",
        ),
        (
            Violation::Duplicate {
                stream: 2,
                n: 5,
                offset: 11,
            },
            "stream 2: seq 5 received twice (again at byte 11)",
        ),
        (
            Violation::Reorder {
                stream: 0,
                n: 3,
                after: 7,
                offset: 12,
            },
            "stream 0: seq 3 arrived after seq 7 (at byte 12)",
        ),
        (
            Violation::Malformed {
                count: 2,
                first_offset: 13,
                first_reason: "why".into(),
            },
            "2 malformed frames; the first at byte 13: why",
        ),
        (
            Violation::Oversize {
                count: 1,
                bytes: 5000,
            },
            "1 runs over the maximum frame length skipped (5000 bytes)",
        ),
        (
            Violation::Unaccounted {
                attempted: 10,
                received: 6,
                dropped_reported: 1,
                offset: 14,
            },
            "3 frames lost without a drop report: firmware attempted 10, received 6, drops reported 1 (end marker at byte 14)",
        ),
        (
            Violation::DropCount {
                firmware: 3,
                reported: 2,
                offset: 15,
            },
            "firmware counted 3 dropped frames but its drop reports add up to 2 (end marker at byte 15)",
        ),
        (
            Violation::WrongBoard {
                expected: "a".into(),
                found: "b".into(),
            },
            "firmware was built for board b, run on a",
        ),
        (
            Violation::DropReportMismatch {
                offset: 16,
                first_g: 8,
                lost: 2,
                reported: 1,
            },
            "2 frames lost from g=8 but drop reports count 1 (stream recovered at byte 16)",
        ),
        (
            Violation::MissingNotReported {
                missing: 4,
                reported: 3,
            },
            "4 sequence frames missing but drop reports count 3",
        ),
        (
            Violation::TruncationUnaccounted {
                attempted: 10,
                received: 5,
                truncated: 2,
                malformed: 1,
            },
            "truncate: firmware attempted 10, received 5, truncated 2, malformed 1: 2 frames lost without a count",
        ),
        (
            Violation::TruncationUnaccounted {
                attempted: 7,
                received: 5,
                truncated: 2,
                malformed: 1,
            },
            "truncate: firmware attempted 7, received 5, truncated 2, malformed 1: 1 frames lost without a count",
        ),
        (
            Violation::SeqNotSent {
                stream: 1,
                n: 9,
                sent: 9,
            },
            "stream 1: seq 9 received but the firmware sent only 9",
        ),
        (
            Violation::NoEnd { bytes: 17 },
            "the end marker never arrived (17 bytes received)",
        ),
        (
            Violation::UnfinishedFrame { offset: 18, len: 3 },
            "unfinished frame of 3 bytes at byte 18 (no delimiter)",
        ),
    ];
    for (v, text) in cases {
        assert_eq!(v.to_string(), text);
    }
}

/// Frames read out of the stopped target's queue ([`hil_runner::recover`]) join the accounting
/// as received, are counted as recovered, and their bytes are not counted as the link's.
#[test]
fn recovered_frames_are_counted_and_accounted_as_received() {
    use hil_runner::recover::{recover, QueueImage, RecoverError};
    let fw = hil_firmware();
    let s = begin(&fw, "drop").seq(0, 0, 0);
    let cut = at(&s) + 3;
    // boot, start, 2 seq, stream: 5 attempted; the second seq frame is cut by the stop.
    let (_, bytes) = finish(s.seq(0, 1, 1).stream(0, 2), 5, 0);
    let (sent, queued) = bytes.split_at(cut as usize);
    let mut analyzer = hil_runner::analysis::Analyzer::new(&fw, 4096);
    analyzer.feed(sent, |_| {});
    let image = QueueImage {
        storage: queued.to_vec(),
        write: queued.len() as u32,
        read: 0,
        last: queued.len() as u32,
        read_in_progress: false,
        committed: 0,
        released: 0,
    };
    let mut seen = 0;
    recover(&mut analyzer, Some(Ok(image)), |_| seen += 1);
    let a = analyzer.finish(Some(BOARD));
    assert_eq!(
        violations(&a),
        [],
        "the cut frame is completed by the queue's bytes"
    );
    let s = &a.summary;
    // The second seq frame (completed), the stream count and the end marker.
    assert_eq!((s.recovered, seen), (3, 3));
    assert_eq!((s.frames, s.frames_before_end, s.seq_frames), (6, 5, 2));
    assert_eq!((s.bytes, s.recovered_bytes), (cut, queued.len() as u64));
    assert_eq!(s.recovery_error, None);

    // No image: nothing changes; a bad one: noted, nothing fed.
    let mut analyzer = hil_runner::analysis::Analyzer::new(&fw, 4096);
    analyzer.feed(sent, |_| {});
    recover(&mut analyzer, None, |_| {});
    assert_eq!(analyzer.summary().recovery_error, None);
    let failed = Err(RecoverError::Read("probe gone".into()));
    recover(&mut analyzer, Some(failed), |_| {});
    let s = analyzer.finish(None).summary;
    assert_eq!((s.recovered, s.recovered_bytes, s.frames), (0, 0, 3));
    assert!(s.recovery_error.unwrap().contains("probe gone"));
}

#[test]
fn reports_give_the_recovered_count() {
    let fw = hil_firmware();
    let (_, bytes) = finish(begin(&fw, "block").stream(0, 0), 3, 0);
    let mut analyzer = hil_runner::analysis::Analyzer::new(&fw, 4096);
    analyzer.feed_recovered(&bytes, |_| {});
    let report = hil_runner::report::TestReport::error("t", BOARD, "elf", "cap", String::new())
        .with_analysis(analyzer.finish(None), 1.0);
    assert_eq!(report.recovered, 4);
    assert_eq!(serde_json::to_value(&report).unwrap()["recovered"], 4);
    let text = hil_runner::report::terminal::render(std::slice::from_ref(&report));
    assert!(
        text.contains("recovered 4 frames from the target's queue"),
        "{text}"
    );
    let none = hil_runner::report::TestReport::error("t", BOARD, "elf", "cap", String::new());
    assert!(!hil_runner::report::terminal::render(&[none]).contains("recovered"));
}

/// A reader that gives its bytes a few at a time, is interrupted between
/// pieces, and ends with `end` (end of file or an error).
struct Trickle<'a> {
    bytes: &'a [u8],
    interrupted: bool,
    end: Option<std::io::ErrorKind>,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupted = !self.interrupted;
        if self.interrupted {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if self.bytes.is_empty() {
            return match self.end {
                Some(kind) => Err(kind.into()),
                None => Ok(0),
            };
        }
        let n = self.bytes.len().min(buf.len()).min(7);
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

#[test]
fn a_reader_is_fed_whole_through_interruptions_and_its_error_is_returned() {
    let fw = hil_firmware();
    let (_, bytes) = clean(&fw, "block");
    let whole = analyse(&fw, &bytes, Some(BOARD)).summary;

    let mut analyzer = hil_runner::analysis::Analyzer::new(&fw, 4096);
    let mut frames = 0u64;
    let trickle = Trickle {
        bytes: &bytes,
        interrupted: false,
        end: None,
    };
    analyzer
        .feed_reader(trickle, |_| frames += 1)
        .expect("end of file ends the feed");
    assert_eq!(analyzer.summary().bytes, bytes.len() as u64);
    assert_eq!(analyzer.summary().frames, whole.frames);
    assert_eq!(frames, whole.frames);
    let a = analyzer.finish(Some(BOARD));
    assert_eq!(violations(&a), []);
    assert_eq!(
        serde_json::to_value(&a.summary).unwrap(),
        serde_json::to_value(&whole).unwrap(),
        "the same counts as one feed of every byte"
    );

    // An error that is not an interruption ends the feed with it, after the bytes before it.
    let mut analyzer = hil_runner::analysis::Analyzer::new(&fw, 4096);
    let failing = Trickle {
        bytes: &bytes[..20],
        interrupted: false,
        end: Some(std::io::ErrorKind::BrokenPipe),
    };
    let e = analyzer.feed_reader(failing, |_| {}).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    assert_eq!(analyzer.summary().bytes, 20);
}

#[test]
fn without_sequence_frames_each_drop_report_is_a_loss_event_of_its_own() {
    // A user's firmware on hil-transport: its own log frames and the transport's drop reports.
    let fw = hil_firmware_without(&[fmt::BOOT, fmt::START, fmt::END]);
    let s = Stream::new(&fw).log("a").drop_report(3);
    let first = at(&s);
    let s = s.log("b").drop_report(2);
    let second = at(&s);
    let bytes = s.log("c").bytes;
    let a = analyse(&fw, &bytes, None);
    assert_eq!(violations(&a), []);
    let o = &a.summary.overflow;
    assert_eq!(a.summary.dropped_reported, 5);
    assert_eq!((o.events, &o.lost_per_event[..]), (2, &[3, 2][..]));
    let worst = o.worst.expect("the larger loss");
    assert_eq!((worst.lost, worst.reported, worst.first_g), (3, 3, 0));
    assert!(
        worst.offset <= first && worst.offset < second,
        "{} {first}",
        worst.offset
    );
}
