//! A firmware crate that is not ours, in a directory outside this repository, with the
//! installed runner as its cargo runner: `cargo run` and `cargo test` judged as a user meets them.
//!
//! The crate (`host-tests/fixtures/user-firmware`) logs through defmt-serial,
//! panics through panic-probe and tests with defmt-test 0.5. It is copied to
//! a temporary directory; the runner binary is copied to a temporary `bin/`
//! on `PATH`, as `cargo install` would put it; `.cargo/config.toml` of the
//! crate says `runner = "hil-runner run"`.

mod user_support;

use std::sync::OnceLock;
use std::time::Duration;

use user_support::{cargo, pairs, stderr, stdout, tests, Project};

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    user_support::project(&PROJECT, "user-firmware", true)
}

#[test]
fn cargo_test_reports_each_test_of_a_passing_suite() {
    let (out, report, _) = cargo(project(), &["test", "--test", "passing"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["speaks"], "defmt-test");
    assert_eq!(report["name"], "passing");
    assert_eq!(
        tests(&report),
        pairs(&[
            ("arithmetic_holds", "pass"),
            ("strings_compare", "pass"),
            ("slices_sum", "pass"),
            ("result_ok", "pass"),
            ("not_on_this_board", "ignored"),
        ])
    );
    let text = stdout(&out);
    assert!(text.contains("test arithmetic_holds ... ok"), "{text}");
    assert!(
        text.contains("test result: ok. 4 passed; 0 failed; 1 ignored"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("all tests passed!"),
        "the log is shown"
    );
}

/// The passing suite with the logger of `feature` in place of defmt-serial: nothing
/// crosses the UART, and every test is reported as over it.
fn passing_suite_with(feature: &str) {
    let args = [
        "test",
        "--test",
        "passing",
        "--no-default-features",
        "--features",
        feature,
    ];
    let (out, report, _) = cargo(project(), &args, &[]);
    assert!(out.status.success(), "{feature}: {}", stderr(&out));
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["speaks"], "defmt-test");
    assert_eq!(tests(&report).len(), 5, "{report}");
    assert_eq!(
        (&report["malformed"], &report["missing"]),
        (&0.into(), &0.into())
    );
    assert!(
        stdout(&out).contains("test result: ok. 4 passed; 0 failed; 1 ignored"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("all tests passed!"),
        "the log is shown"
    );
}

#[test]
fn cargo_test_of_a_suite_logging_through_defmt_semihosting_reads_qemus_console() {
    passing_suite_with("semihosting-logger");
}

#[test]
fn cargo_test_of_a_suite_logging_through_defmt_rtt_reads_its_channel_through_the_gdbstub() {
    // knurling's app-template setup, made for `probe-rs run`, unchanged on the emulated board.
    passing_suite_with("rtt-logger");
}

#[test]
fn cargo_test_names_the_failing_assertion_with_its_message_well_before_the_timeout() {
    let (out, report, elapsed) = cargo(project(), &["test", "--test", "failing"], &[]);
    assert!(
        stderr(&out).contains("(exit status: 1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["verdict"], "fail", "{report}");
    assert_eq!(
        tests(&report),
        pairs(&[
            ("first_passes", "pass"),
            ("second_passes", "pass"),
            ("third_fails", "fail"),
            ("fourth_not_run", "not_run"),
        ])
    );
    let third = &report["tests"][2];
    assert!(
        third["message"].as_str().unwrap().contains("one plus one"),
        "{third}"
    );
    assert!(
        third["location"]
            .as_str()
            .unwrap()
            .ends_with("tests/failing.rs:32"),
        "{third}"
    );
    assert!(stdout(&out).contains("test result: FAILED. 2 passed; 1 failed; 1 not run"));
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}

#[test]
fn cargo_test_names_the_hung_test_at_its_test_timeout() {
    let (out, report, elapsed) = cargo(
        project(),
        &["test", "--test", "hang"],
        &[("HIL_TEST_TIMEOUT", "3")],
    );
    assert!(
        stderr(&out).contains("(exit status: 4)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["verdict"], "timeout", "{report}");
    let names = tests(&report);
    assert_eq!(names[0], ("first_passes".into(), "pass".into()));
    assert_eq!(names[1], ("second_hangs".into(), "timeout".into()));
    assert_eq!(
        names.len(),
        3,
        "the third test is listed as not run: {names:?}"
    );
    assert_eq!(names[2].1, "not_run");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[test]
fn cargo_run_of_an_application_that_exits_0_passes_with_every_line_shown() {
    let (out, report, _) = cargo(project(), &["run", "--bin", "app"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["speaks"], "defmt");
    assert_eq!(report["frames"], 7);
    assert_eq!(report["target_end"]["kind"], "exited");
    let log = stderr(&out);
    for line in 1..=7 {
        assert!(
            log.contains(&format!("line {line}")),
            "line {line} missing: {log}"
        );
    }
}

#[test]
fn a_non_zero_semihosting_exit_fails_with_the_status() {
    let (out, report, _) = cargo(project(), &["run", "--bin", "exit_code"], &[]);
    assert!(stderr(&out).contains("(exit status: 1)") || out.status.code() == Some(1));
    assert_eq!(report["verdict"], "fail", "{report}");
    assert!(
        report["reason"].as_str().unwrap().contains("status 1"),
        "{report}"
    );
}

#[test]
fn a_core_panic_is_a_crash_with_its_message_and_location_at_once() {
    let (_, report, elapsed) = cargo(project(), &["run", "--bin", "panics"], &[]);
    assert_eq!(report["verdict"], "crash", "{report}");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("boom 42"), "{reason}");
    assert_eq!(report["tests"][0]["location"], "src/bin/panics.rs:17");
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}

#[test]
fn a_hard_fault_is_a_crash_with_the_fault_registers_and_stack_trace_at_once() {
    let (out, report, elapsed) = cargo(project(), &["run", "--bin", "bad_pointer"], &[]);
    assert_eq!(report["verdict"], "crash", "{report}");
    let end = &report["target_end"];
    assert_eq!(end["kind"], "fault", "{report}");
    assert_eq!(end["cause"], "hard_fault");
    assert_eq!(
        end["pc"], 0xE010_0000u32,
        "the call to the bad function pointer: {end}"
    );
    assert!(end["cfsr"].as_u64().unwrap() & 1 != 0, "IACCVIOL: {end}");
    // The stack trace of the faulting context, from the user's ELF: the exception, the bad
    // pc, then the user's `main` (cortex-m-rt's `#[entry]`) with its file and line.
    let frames = end["stack_trace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no stack trace: {end}"));
    let function = |f: &serde_json::Value| f["function"].as_str().unwrap_or_default().to_owned();
    let fault = frames
        .iter()
        .position(|f| function(f).starts_with("HardFault <Cause:"))
        .unwrap_or_else(|| panic!("no exception frame: {end}"));
    assert_eq!(frames[fault + 1]["pc"], 0xE010_0000u32, "{end}");
    let main = frames[fault + 2..]
        .iter()
        .find(|f| function(f).contains("main"))
        .unwrap_or_else(|| panic!("no main: {end}"));
    assert!(
        main["file"]
            .as_str()
            .is_some_and(|p| p.ends_with("src/bin/bad_pointer.rs")),
        "{main}"
    );
    assert!(main["line"].as_u64().is_some(), "{main}");
    let text = stdout(&out) + &stderr(&out);
    assert!(
        text.contains("stack trace of the faulting context"),
        "{text}"
    );
    assert!(text.contains("src/bin/bad_pointer.rs:"), "{text}");
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}
