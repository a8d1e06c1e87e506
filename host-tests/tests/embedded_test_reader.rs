//! The embedded-test reader on hand-made frame streams: one test's verdict from how its target
//! ended, `#[should_panic]`, and the message a failure carries (a panic, an error log, an `Err`).
//!
//! embedded-test runs one test per target: the run passes on semihosting exit 0
//! and fails on an abort, unless the test is marked `#[should_panic]`.

use std::time::{Duration, Instant};

use hil_runner::analysis::Analyzer;
use hil_runner::backend::TargetEnd;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::cases::Outcome;
use hil_runner::report::Verdict;
use hil_runner::speaks::embedded_test::{EmbeddedTest, EmbeddedTestRun};
use hil_runner::speaks::{Judgement, Listener, Rates, RunEnd, Stop};
use host_tests::streams::{self, frame, hard_fault_end, str_arg, Entry};
use rstest::rstest;

/// String indices of the synthetic table.
const PANICKED: u16 = 1;
const ERROR: u16 = 2;
const INFO: u16 = 3;
const PRINTLN: u16 = 4;

fn firmware() -> Firmware {
    let entry = |index, level, format| Entry {
        index,
        level,
        format,
    };
    streams::firmware(
        &[
            entry(PANICKED, "Error", "panicked at {=str}"),
            entry(ERROR, "Error", "{=str}"),
            entry(INFO, "Info", "{=str}"),
            entry(PRINTLN, "Println", "{=str}"),
        ],
        None,
    )
}

fn log(index: u16, text: &str) -> Vec<u8> {
    frame(index, &str_arg(text))
}

/// panic-probe's log of a core panic, with its location.
fn panic_frame() -> Vec<u8> {
    log(PANICKED, "src/lib.rs:5:9:\nboom")
}

const BOOM: &str = "panicked at src/lib.rs:5:9:\nboom";

fn test(should_panic: bool) -> EmbeddedTest {
    EmbeddedTest {
        name: "tests::t".into(),
        ignored: false,
        should_panic,
        timeout: None,
        invoker: 0x101,
    }
}

/// Judge a run of one test that sent `frames` (the i-th at t0 + i + 1 s) and ended with `stop` at t0 + 10 s.
fn judge(test: EmbeddedTest, frames: &[Vec<u8>], stop: Stop) -> Judgement {
    let firmware = firmware();
    let mut listener: Box<dyn Listener> = Box::new(EmbeddedTestRun::new(&firmware, test));
    let mut analyzer = Analyzer::new(&firmware, DEFAULT_MAX_FRAME_LEN);
    let t0 = Instant::now();
    for (i, bytes) in frames.iter().enumerate() {
        let at = t0 + Duration::from_secs(1 + i as u64);
        analyzer.feed(bytes, |f| listener.frame(&f, at));
    }
    let analysis = analyzer.finish(None);
    listener.judge(&RunEnd {
        stop: &stop,
        analysis: &analysis,
        timeout: Duration::from_secs(30),
        board: None,
        at: t0 + Duration::from_secs(10),
        name: "mixed",
        rates: Rates::default(),
    })
}

fn exit(code: i32) -> Stop {
    Stop::TargetEnded(TargetEnd::Exited { code })
}

/// The verdict, the test's outcome and message, and the run's reason.
fn seen(j: &Judgement) -> (Verdict, Outcome, Option<&str>, Option<&str>) {
    assert_eq!(j.tests.len(), 1, "one test per run");
    let case = &j.tests[0];
    assert_eq!(case.name, "tests::t");
    (
        j.verdict,
        case.outcome,
        case.message.as_deref(),
        j.reason.as_deref(),
    )
}

#[rstest]
#[case::exit_0_passes(false, exit(0), Verdict::Pass, Outcome::Pass)]
#[case::a_bkpt_halt_with_0_passes(false, Stop::TargetEnded(TargetEnd::Halted { pc: 0x400, r0: 0 }), Verdict::Pass, Outcome::Pass)]
#[case::should_panic_passes_on_an_abort(true, exit(1), Verdict::Pass, Outcome::Pass)]
fn a_test_that_ends_as_it_should_passes_with_no_message(
    #[case] should_panic: bool,
    #[case] stop: Stop,
    #[case] verdict: Verdict,
    #[case] outcome: Outcome,
) {
    let j = judge(test(should_panic), &[log(INFO, "hello")], stop);
    assert_eq!(seen(&j), (verdict, outcome, None, None));
}

#[test]
fn a_should_panic_test_that_panicked_passes_without_a_location() {
    let j = judge(test(true), &[panic_frame()], exit(1));
    assert_eq!(seen(&j), (Verdict::Pass, Outcome::Pass, None, None));
    assert_eq!(j.tests[0].location, None);
}

#[test]
fn a_should_panic_test_that_exits_0_fails() {
    let j = judge(test(true), &[], exit(0));
    let why = "the test passed but is marked #[should_panic]";
    let reason = format!("test tests::t FAILED: {why}");
    assert_eq!(
        seen(&j),
        (
            Verdict::Fail,
            Outcome::Fail,
            Some(why),
            Some(reason.as_str())
        )
    );
}

#[test]
fn a_panic_fails_the_test_with_its_message_and_location_over_an_error_log() {
    let frames = [
        log(ERROR, "first an error"),
        panic_frame(),
        log(ERROR, "after"),
    ];
    let j = judge(test(false), &frames, exit(1));
    let reason = format!("test tests::t FAILED: {BOOM}");
    assert_eq!(
        seen(&j),
        (
            Verdict::Fail,
            Outcome::Fail,
            Some(BOOM),
            Some(reason.as_str())
        )
    );
    assert_eq!(j.tests[0].location.as_deref(), Some("src/lib.rs:5"));
}

#[rstest]
#[case::the_last_error_log(&[log(ERROR, "one"), log(ERROR, "two")], "two")]
#[case::an_err_the_test_returned(&[log(INFO, "Test exited with Err(Oops)")], "Test exited with Err(Oops)")]
#[case::an_err_line_after_an_error(&[log(ERROR, "one"), log(INFO, "Test exited with Err(Oops)")], "Test exited with Err(Oops)")]
#[case::no_error_of_its_own(&[log(INFO, "hello"), log(PRINTLN, "Test exited with Err(x)")], "the test aborted (status 101)")]
fn an_abort_without_a_panic_fails_with_the_last_error(
    #[case] frames: &[Vec<u8>],
    #[case] message: &str,
) {
    let j = judge(test(false), frames, exit(101));
    let (verdict, outcome, got, _) = seen(&j);
    assert_eq!(
        (verdict, outcome, got),
        (Verdict::Fail, Outcome::Fail, Some(message))
    );
    assert_eq!(j.tests[0].location, None);
}

#[rstest]
#[case::a_fault_is_a_crash(
    Stop::TargetEnded(hard_fault_end()),
    Verdict::Crash,
    Outcome::Crash,
    "HardFault"
)]
#[case::the_deadline_is_a_timeout(
    Stop::Deadline,
    Verdict::Timeout,
    Outcome::Timeout,
    "still running after 30.0 s"
)]
#[case::the_test_deadline_is_a_timeout(
    Stop::TestDeadline,
    Verdict::Timeout,
    Outcome::Timeout,
    "still running after 30.0 s"
)]
#[case::a_lost_target_is_an_error(Stop::TargetEnded(TargetEnd::Killed { detail: "QEMU was killed".into() }), Verdict::Error, Outcome::Error, "QEMU was killed")]
#[case::a_capture_without_its_end_fails(
    Stop::CaptureEnded,
    Verdict::Fail,
    Outcome::Fail,
    "the capture has no end"
)]
fn a_target_that_does_not_exit_is_judged_by_how_it_ended(
    #[case] stop: Stop,
    #[case] verdict: Verdict,
    #[case] outcome: Outcome,
    #[case] message: &str,
) {
    for should_panic in [false, true] {
        let j = judge(test(should_panic), &[panic_frame()], stop.clone());
        let (v, o, got, reason) = seen(&j);
        assert_eq!((v, o), (verdict, outcome), "should_panic {should_panic}");
        assert!(got.unwrap().contains(message), "{got:?}");
        let libtest = outcome.libtest();
        assert_eq!(
            reason,
            Some(format!("test tests::t {libtest}: {}", got.unwrap())).as_deref()
        );
    }
}

#[test]
fn the_duration_runs_from_the_first_frame_to_the_end() {
    // Frames at 1 s and 2 s, the end at 10 s.
    let j = judge(test(false), &[log(INFO, "a"), log(INFO, "b")], exit(0));
    assert_eq!(j.tests[0].duration_s, 9.0);
    assert_eq!(judge(test(false), &[], exit(0)).tests[0].duration_s, 0.0);
}

#[test]
fn a_malformed_frame_fails_a_test_that_passed() {
    let j = judge(test(false), &[vec![0x55, 0x44, 0x00]], exit(0));
    let (verdict, outcome, message, _) = seen(&j);
    assert_eq!((verdict, outcome), (Verdict::Fail, Outcome::Fail));
    assert!(message.unwrap().contains("malformed"), "{message:?}");
}
