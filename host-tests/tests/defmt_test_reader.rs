//! The defmt-test reader on recorded frame streams: per-test results, counts checked, crashes, hangs.
//!
//! The streams are built from a defmt table like the one defmt-test 0.5
//! generates (one progress string per test, `all tests passed!`, the panic
//! message a failing assertion logs), encoded as the target would send them.

use std::time::{Duration, Instant};

use hil_runner::analysis::Analyzer;
use hil_runner::backend::TargetEnd;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::cases::Outcome;
use hil_runner::report::Verdict;
use hil_runner::speaks::{Judgement, Limits, Rates, RunEnd, Speaks, Stop};
use host_tests::streams::{self, frame, str_arg, Entry};
use rstest::rstest;

/// String indices of the synthetic suite.
const ALL_PASSED: u16 = 1;
const PANICKED: u16 = 2;
const INFO: u16 = 3;
const FIRST_TEST: u16 = 10;

/// A defmt-test suite's table: tests `(name, ignored)` and `DEFMT_TEST_COUNT`.
fn suite(tests: &[(&str, bool)], count: Option<u32>) -> Firmware {
    let formats: Vec<String> = tests
        .iter()
        .map(|(name, ignored)| {
            let verb = if *ignored { "ignoring" } else { "running" };
            format!("({{=usize}}/{{=usize}}) {verb} `{name}`...")
        })
        .collect();
    let mut entries = vec![
        Entry {
            index: ALL_PASSED,
            level: "Println",
            format: "all tests passed!",
        },
        Entry {
            index: PANICKED,
            level: "Error",
            format: "panicked at '{=str}'",
        },
        Entry {
            index: INFO,
            level: "Info",
            format: "{=str}",
        },
    ];
    for (i, format) in formats.iter().enumerate() {
        entries.push(Entry {
            index: FIRST_TEST + i as u16,
            level: "Println",
            format,
        });
    }
    streams::firmware(&entries, count)
}

fn progress(test: u16, number: u32, count: u32) -> Vec<u8> {
    let mut args = number.to_le_bytes().to_vec();
    args.extend_from_slice(&count.to_le_bytes());
    frame(FIRST_TEST + test, &args)
}

fn text(index: u16, s: &str) -> Vec<u8> {
    frame(index, &str_arg(s))
}

/// Judge `stream` of `firmware` as a run that ended with `stop`.
fn judge(firmware: &Firmware, stream: &[Vec<u8>], stop: Stop) -> Judgement {
    assert_eq!(Speaks::of(firmware), Speaks::DefmtTest);
    let limits = Limits {
        test_timeout: Some(Duration::from_secs(5)),
        ..Limits::default()
    };
    let mut listener = Speaks::of(firmware).listener(firmware, limits);
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    let at = Instant::now();
    for bytes in stream {
        analyzer.feed(bytes, |f| listener.frame(&f, at));
    }
    let analysis = analyzer.finish(None);
    listener.judge(&RunEnd {
        stop: &stop,
        analysis: &analysis,
        timeout: Duration::from_secs(120),
        board: None,
        at,
        name: "suite",
        rates: Rates::default(),
    })
}

fn outcomes(j: &Judgement) -> Vec<(&str, Outcome)> {
    j.tests
        .iter()
        .map(|c| (c.name.as_str(), c.outcome))
        .collect()
}

const EXIT_0: Stop = Stop::TargetEnded(TargetEnd::Exited { code: 0 });

fn three() -> Firmware {
    suite(&[("a", false), ("b", false), ("c", true)], Some(3))
}

#[test]
fn a_passing_suite_reports_each_test_and_the_ignored_one() {
    let fw = three();
    let stream = [
        progress(0, 1, 3),
        text(INFO, "in a"),
        progress(1, 2, 3),
        progress(2, 3, 3),
        text(INFO, "ignored body ran"),
        frame(ALL_PASSED, &[]),
    ];
    let j = judge(&fw, &stream, EXIT_0);
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reason);
    assert_eq!(
        outcomes(&j),
        [
            ("a", Outcome::Pass),
            ("b", Outcome::Pass),
            ("c", Outcome::Ignored)
        ]
    );
}

#[test]
fn a_failing_assertion_fails_its_test_with_the_message_and_the_rest_are_not_run() {
    let fw = three();
    let stream = [
        progress(0, 1, 3),
        progress(1, 2, 3),
        text(PANICKED, "assertion failed: 1 + 1 == 3"),
    ];
    let fault = Stop::TargetEnded(TargetEnd::Killed {
        detail: "stand-in for a HardFault".into(),
    });
    let j = judge(&fw, &stream, fault);
    assert_eq!(j.verdict, Verdict::Fail);
    assert_eq!(
        outcomes(&j),
        [
            ("a", Outcome::Pass),
            ("b", Outcome::Fail),
            ("c", Outcome::NotRun)
        ]
    );
    let b = &j.tests[1];
    assert_eq!(
        b.message.as_deref(),
        Some("panicked at 'assertion failed: 1 + 1 == 3'")
    );
    assert!(j.reason.unwrap().starts_with("test b failed"));
}

#[test]
fn a_crash_between_tests_is_the_running_tests_crash() {
    let fw = three();
    let stream = [progress(0, 1, 3), progress(1, 2, 3)];
    let j = judge(
        &fw,
        &stream,
        Stop::TargetEnded(host_tests::streams::hard_fault_end()),
    );
    assert_eq!(j.verdict, Verdict::Crash);
    assert_eq!(
        outcomes(&j),
        [
            ("a", Outcome::Pass),
            ("b", Outcome::Crash),
            ("c", Outcome::NotRun)
        ]
    );
    assert!(j.tests[1]
        .message
        .as_deref()
        .unwrap()
        .contains("pc=0x00001234"));
    assert!(
        j.reason.as_deref().unwrap().starts_with("test b crashed: "),
        "{:?}",
        j.reason
    );
}

#[rstest]
#[case::test_timeout(Stop::TestDeadline, "--test-timeout 5.0 s")]
#[case::run_timeout(Stop::Deadline, "--timeout 120.0 s")]
fn a_hang_names_the_test_that_was_running(#[case] stop: Stop, #[case] bound: &str) {
    let fw = three();
    let j = judge(&fw, &[progress(0, 1, 3), progress(1, 2, 3)], stop);
    assert_eq!(j.verdict, Verdict::Timeout);
    assert_eq!(j.tests[1].outcome, Outcome::Timeout);
    assert!(j.tests[1].message.as_deref().unwrap().contains(bound));
    assert!(j.reason.unwrap().starts_with("test b timed out"));
}

#[test]
fn a_count_that_disagrees_with_defmt_test_count_fails() {
    let fw = suite(&[("a", false), ("b", false)], Some(4));
    let stream = [progress(0, 1, 2), progress(1, 2, 2), frame(ALL_PASSED, &[])];
    let j = judge(&fw, &stream, EXIT_0);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j
        .reason
        .as_deref()
        .unwrap()
        .contains("DEFMT_TEST_COUNT is 4"));
    assert_eq!(
        j.tests.len(),
        4,
        "tests missing from the ELF are listed as not run"
    );
}

#[test]
fn tests_announced_out_of_order_fail() {
    let fw = three();
    let stream = [progress(1, 2, 3), progress(0, 1, 3), frame(ALL_PASSED, &[])];
    let j = judge(&fw, &stream, EXIT_0);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.unwrap().contains("expected 1"));
}

#[test]
fn a_suite_that_never_starts_lists_every_test_as_not_run() {
    let fw = three();
    let j = judge(&fw, &[], Stop::Deadline);
    assert_eq!(j.verdict, Verdict::Timeout);
    assert!(j.tests.iter().all(|c| c.outcome == Outcome::NotRun));
    assert_eq!(j.tests.len(), 3);
}

#[test]
fn a_panic_before_the_first_test_is_a_crash_of_the_suite() {
    let fw = three();
    let j = judge(&fw, &[text(PANICKED, "init failed")], Stop::Deadline);
    assert_eq!(j.verdict, Verdict::Crash);
    assert!(j.reason.unwrap().contains("before the first test"));
}

#[rstest]
#[case::exit_before_all_passed(vec![progress(0, 1, 3)], 0, "exited with status 0 during this test")]
#[case::exit_1_after_all_passed(
    vec![progress(0, 1, 3), progress(1, 2, 3), progress(2, 3, 3), frame(ALL_PASSED, &[])],
    1,
    "all tests passed, then the firmware exited with status 1"
)]
fn an_exit_that_does_not_end_the_suite_well_fails(
    #[case] stream: Vec<Vec<u8>>,
    #[case] code: i32,
    #[case] why: &str,
) {
    let fw = three();
    let j = judge(&fw, &stream, Stop::TargetEnded(TargetEnd::Exited { code }));
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.as_deref().unwrap().contains(why), "{:?}", j.reason);
}

#[test]
fn a_malformed_frame_fails_a_suite_whose_tests_all_passed() {
    let fw = three();
    let mut stream = vec![progress(0, 1, 3), progress(1, 2, 3), progress(2, 3, 3)];
    stream.push(vec![0x55, 0x44, 0x00]);
    stream.push(frame(ALL_PASSED, &[]));
    let j = judge(&fw, &stream, EXIT_0);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.unwrap().contains("malformed"));
}

#[test]
fn the_running_test_has_the_test_timeout_as_its_deadline() {
    let fw = three();
    let limits = Limits {
        test_timeout: Some(Duration::from_secs(5)),
        ..Limits::default()
    };
    let mut listener = Speaks::of(&fw).listener(&fw, limits);
    let mut analyzer = Analyzer::new(&fw, DEFAULT_MAX_FRAME_LEN);
    assert_eq!(listener.deadline(), None, "no test running yet");
    let at = Instant::now() + Duration::from_secs(100);
    analyzer.feed(&progress(0, 1, 3), |f| listener.frame(&f, at));
    assert_eq!(listener.deadline(), Some(at + Duration::from_secs(5)));
    assert!(!listener.finished());
    let mut unlimited = Speaks::of(&fw).listener(&fw, Limits::default());
    analyzer.feed(&progress(1, 2, 3), |f| unlimited.frame(&f, at));
    assert_eq!(unlimited.deadline(), None, "no --test-timeout");
    // --fail-on-loss judges the end only: the running test keeps its deadline.
    let strict = Limits {
        fail_on_loss: true,
        ..limits
    };
    let mut strict = Speaks::of(&fw).listener(&fw, strict);
    analyzer.feed(&progress(0, 1, 3), |f| strict.frame(&f, at));
    assert_eq!(strict.deadline(), Some(at + Duration::from_secs(5)));
}

#[test]
fn a_lost_target_is_an_error_of_the_running_test_named_in_the_runs_reason() {
    let fw = three();
    let stream = [progress(0, 1, 3), progress(1, 2, 3)];
    let j = judge(&fw, &stream, Stop::SourceFailed("EIO".into()));
    assert_eq!(j.verdict, Verdict::Error);
    assert_eq!(j.tests[1].outcome, Outcome::Error);
    assert_eq!(
        j.reason.as_deref(),
        Some("test b could not be run: serial read failed: EIO")
    );
}

#[test]
fn a_suite_is_known_by_its_progress_lines_or_its_test_count() {
    use hil_runner::speaks::defmt_test::DefmtTestTable;
    let formats = [
        (1, "all tests passed!"),
        (10, "({=usize}/{=usize}) running `first`..."),
        (11, "({=usize}/{=usize}) ignoring `second`..."),
        (12, "{=str}"),
    ];
    let table = DefmtTestTable::from_formats(formats.into_iter(), None).expect("progress lines");
    assert_eq!(table.count(), None);
    assert_eq!(table.names(), ["first", "second"]);
    let counted = DefmtTestTable::from_formats([(12, "{=str}")].into_iter(), Some(7))
        .expect("DEFMT_TEST_COUNT alone");
    assert_eq!((counted.count(), counted.names().len()), (Some(7), 0));
    assert!(DefmtTestTable::from_formats([(12, "{=str}")].into_iter(), None).is_none());
}
