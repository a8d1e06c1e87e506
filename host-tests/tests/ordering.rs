//! The ordering check names every gap, duplicate and reorder with its seq numbers and byte offset.

use hil_runner::check::ordering::OrderingCheck;
use hil_runner::check::Violation;
use rstest::rstest;

/// Feed (stream, seq) pairs at offsets 10, 20, 30 ... and collect the violations.
fn violations(frames: &[(u8, u32)]) -> Vec<Violation> {
    let mut check = OrderingCheck::new();
    frames
        .iter()
        .enumerate()
        .filter_map(|(i, &(s, n))| check.frame(s, n, 10 * (i as u64 + 1)))
        .collect()
}

#[rstest]
#[case::in_order(&[(0, 0), (0, 1), (0, 2)], &[])]
#[case::streams_interleave_freely(&[(0, 0), (1, 0), (1, 1), (0, 1), (1, 2)], &[])]
#[case::gap(&[(0, 0), (0, 1), (0, 4)], &[Violation::Gap { stream: 0, first_missing: 2, last_missing: 3, offset: 30 }])]
#[case::gap_at_the_start(&[(1, 2)], &[Violation::Gap { stream: 1, first_missing: 0, last_missing: 1, offset: 10 }])]
#[case::duplicate(&[(0, 0), (0, 1), (0, 1)], &[Violation::Duplicate { stream: 0, n: 1, offset: 30 }])]
#[case::swap(
    &[(0, 0), (0, 2), (0, 1), (0, 3)],
    &[
        Violation::Gap { stream: 0, first_missing: 1, last_missing: 1, offset: 20 },
        Violation::Reorder { stream: 0, n: 1, after: 2, offset: 30 },
    ]
)]
#[case::gap_on_one_stream_only(
    &[(0, 0), (1, 0), (1, 2), (0, 1)],
    &[Violation::Gap { stream: 1, first_missing: 1, last_missing: 1, offset: 30 }]
)]
fn ordering_violations_name_stream_seq_and_offset(
    #[case] frames: &[(u8, u32)],
    #[case] expected: &[Violation],
) {
    assert_eq!(violations(frames), expected);
}

#[test]
fn frames_missing_at_the_end_are_caught_by_the_firmware_count() {
    let mut check = OrderingCheck::new();
    for n in 0..5 {
        assert_eq!(check.frame(0, n, u64::from(n)), None);
    }
    assert_eq!(
        check.expect_sent(0, 8, 99),
        Some(Violation::Gap {
            stream: 0,
            first_missing: 5,
            last_missing: 7,
            offset: 99
        })
    );
    assert_eq!(check.expect_sent(0, 8, 100), None, "reported once");
}

#[test]
fn received_counts_distinct_frames_per_stream() {
    let mut check = OrderingCheck::new();
    for (s, n) in [(0, 0), (0, 1), (0, 1), (2, 0)] {
        check.frame(s, n, 0);
    }
    assert_eq!(check.received().collect::<Vec<_>>(), vec![(0, 2), (2, 1)]);
}

#[test]
fn violation_messages_name_the_seq_and_the_byte_offset() {
    let gap = Violation::Gap {
        stream: 0,
        first_missing: 41,
        last_missing: 41,
        offset: 1234,
    };
    assert_eq!(
        gap.to_string(),
        "stream 0: seq 41 missing (next frame at byte 1234)"
    );
}
