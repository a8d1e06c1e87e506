//! The overflow suite under each transport policy, on the selected board: exact loss accounting.

use std::time::Duration;

use hil_runner::report::{TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::suites::{self, Suite};
use host_tests::board;

/// Build the overflow firmware with `features` and run it.
fn run_overflow(name: &str, features: &[&str]) -> TestReport {
    let suite = Suite {
        name: name.into(),
        bin: "overflow".into(),
        features: features.iter().map(|f| f.to_string()).collect(),
        boards: Vec::new(),
    };
    let board = board();
    let elf = suites::build_suite(&board, &suite).unwrap_or_else(|e| panic!("{e}"));
    let mut opts = RunOptions::new(board, elf);
    opts.timeout = Duration::from_secs(120);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::run(&opts)).expect("run starts")
}

fn end(r: &TestReport) -> (u64, u64) {
    let end = r.details.as_ref().unwrap().summary.end.expect("end marker");
    (end.attempted.into(), end.dropped.into())
}

#[test]
fn drop_policy_reports_every_dropped_frame_exactly() {
    let r = run_overflow("test-overflow-drop", &["policy-drop"]);
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{:?} {:?}",
        r.reason,
        r.violations
    );
    assert_eq!(r.policy.as_deref(), Some("drop"));
    let (attempted, dropped) = end(&r);
    assert!(dropped > 0, "the bursts must overflow the queue");
    assert_eq!(r.dropped_reported, dropped, "every drop reported");
    assert_eq!(r.missing, r.dropped_reported, "missing == dropped_reported");
    assert_eq!(r.malformed, 0, "a partial frame never enters the queue");
    let summary = &r.details.as_ref().unwrap().summary;
    assert_eq!(summary.frames_before_end + r.dropped_reported, attempted);
    let overflow = r.overflow.as_ref().unwrap();
    assert!(overflow.events > 0);
    assert_eq!(
        overflow
            .lost_per_event
            .iter()
            .map(|&l| u64::from(l))
            .sum::<u64>(),
        r.missing,
        "the events add up to the frames missing"
    );
}

#[test]
fn truncate_policy_recovers_at_the_next_delimiter_and_counts_every_loss() {
    let r = run_overflow("test-overflow-truncate", &["policy-truncate"]);
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{:?} {:?}",
        r.reason,
        r.violations
    );
    let (attempted, truncated) = end(&r);
    assert!(
        truncated > 0 && r.malformed > 0,
        "truncation must happen and merge frames"
    );
    assert!(
        r.malformed <= truncated,
        "each merged frame follows a truncated one"
    );
    let received = r.details.as_ref().unwrap().summary.frames_before_end;
    assert_eq!(
        received + truncated + r.malformed,
        attempted,
        "every loss counted"
    );
    assert!(r.missing > 0);
}

#[test]
fn block_policy_loses_nothing() {
    let r = run_overflow("test-overflow-block", &["policy-block"]);
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{:?} {:?}",
        r.reason,
        r.violations
    );
    assert_eq!((r.missing, r.malformed, r.dropped_reported), (0, 0, 0));
    assert_eq!(r.overflow.as_ref().unwrap().events, 0);
}

#[test]
fn a_transport_that_drops_without_counting_is_caught() {
    let r = run_overflow(
        "test-overflow-uncounted",
        &["policy-drop", "test-uncounted-drops"],
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let kinds: Vec<&str> = r
        .violations
        .iter()
        .filter_map(|v| v["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"unaccounted"), "{kinds:?}");
    assert!(kinds.contains(&"drop_report_mismatch"), "{kinds:?}");
    assert!(r.reason.unwrap().contains("without a drop report"));
}

#[test]
fn a_truncating_transport_that_does_not_count_its_truncations_is_caught() {
    let r = run_overflow(
        "test-overflow-truncate-uncounted",
        &["policy-truncate", "test-uncounted-drops"],
    );
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.reason);
    let (_, truncated) = end(&r);
    assert_eq!(truncated, 0, "the firmware counted nothing");
    assert!(r.malformed > 0, "yet frames were truncated and merged");
    let kinds: Vec<&str> = r
        .violations
        .iter()
        .filter_map(|v| v["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["truncation_unaccounted"], "{:?}", r.violations);
    assert!(r.reason.unwrap().contains("frames lost without a count"));
}

#[test]
fn a_link_slower_than_the_board_floor_fails_the_throughput_suite() {
    // The emulated board with a floor no link reaches.
    let dir = tempfile::tempdir().unwrap();
    let boards = hil_runner::board::boards_dir();
    let text = std::fs::read_to_string(boards.join("lm3s6965evb.toml")).unwrap();
    let text = text.replace("min_bytes_per_s = 50000", "min_bytes_per_s = 1e12");
    std::fs::write(dir.path().join("lm3s6965evb.toml"), text).unwrap();
    std::fs::copy(
        boards.join("lm3s6965evb.memory.x"),
        dir.path().join("lm3s6965evb.memory.x"),
    )
    .unwrap();
    let board = hil_runner::board::Board::load(&dir.path().join("lm3s6965evb.toml")).unwrap();
    let suite = suites::find("throughput").unwrap();
    let elf = suites::build_suite(&board, &suite).unwrap();
    let opts = RunOptions::new(board, elf);
    let r = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(runner::run(&opts))
        .unwrap();
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.reason);
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("link too slow") && reason.contains("checks.min_bytes_per_s"),
        "{reason}"
    );
    assert_eq!(r.missing, 0, "the link itself lost nothing");
}
