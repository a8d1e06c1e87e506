//! An embedded-test suite of a crate that is not ours, run through the installed runner as its cargo runner.
//!
//! `host-tests/fixtures/user-embedded-test`: embedded-test 0.7 over
//! defmt-serial; each test runs in its own QEMU, started with the test's
//! `run_addr` command line.

mod user_support;

use std::sync::OnceLock;

use user_support::{cargo, pairs, stderr, stdout, tests, Project};

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    user_support::project(&PROJECT, "user-embedded-test", false)
}

#[test]
fn every_test_runs_in_its_own_target_and_is_reported_by_name() {
    let (out, report, _) = cargo(project(), &["test", "--test", "mixed"], &[]);
    assert!(
        stderr(&out).contains("(exit status: 4)"),
        "the hang makes it a timeout: {}",
        stderr(&out)
    );
    assert_eq!(report["speaks"], "embedded-test", "{report}");
    assert_eq!(
        tests(&report),
        pairs(&[
            ("tests::after_the_hang", "pass"),
            ("tests::fails", "fail"),
            ("tests::hangs", "timeout"),
            ("tests::ignored", "ignored"),
            ("tests::passes", "pass"),
            ("tests::returns_err", "fail"),
            ("tests::should_panic_but_passes", "fail"),
            ("tests::should_panic_panics", "pass"),
        ])
    );
    let case = |name: &str| {
        report["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(case("tests::fails")["location"], "tests/mixed.rs:34");
    assert!(case("tests::returns_err")["message"]
        .as_str()
        .unwrap()
        .contains("the answer was 41"));
    assert!(case("tests::should_panic_but_passes")["message"]
        .as_str()
        .unwrap()
        .contains("should_panic"));
    let hang = case("tests::hangs");
    assert!(
        hang["message"].as_str().unwrap().contains("3.0 s"),
        "its own #[timeout(3)]: {hang}"
    );
    assert!(stdout(&out).contains("test tests::should_panic_panics ... ok"));
}

#[test]
fn a_filter_with_exact_runs_one_test() {
    let (out, report, _) = cargo(
        project(),
        &["test", "--test", "mixed", "--", "tests::passes", "--exact"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tests(&report), pairs(&[("tests::passes", "pass")]));
}

#[test]
fn include_ignored_runs_the_ignored_test_and_skip_leaves_tests_out() {
    let args = [
        "test",
        "--test",
        "mixed",
        "--",
        "--include-ignored",
        "--skip",
        "hang",
        "--skip",
        "fail",
        "--skip",
        "err",
        "--skip",
        "should_panic_but",
    ];
    let (_, report, _) = cargo(project(), &args, &[]);
    let names = tests(&report);
    assert!(
        names.contains(&("tests::ignored".into(), "fail".into())),
        "the ignored test panics when run: {names:?}"
    );
    assert!(!names.iter().any(|(n, _)| n.contains("hang")), "{names:?}");
}

#[test]
fn list_prints_the_tests_without_running_them() {
    let (out, _, _) = cargo(project(), &["test", "--test", "mixed", "--", "--list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("tests::passes: test"), "{text}");
    assert!(text.contains("8 tests, 0 benchmarks"), "{text}");
}

#[test]
fn tests_run_side_by_side_and_are_reported_in_the_elfs_order() {
    let (out, report, _) = cargo(
        project(),
        &["test", "--test", "slow", "--", "--test-threads", "4"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = tests(&report).into_iter().map(|(n, _)| n).collect();
    let expected: Vec<String> = (0..8).map(|i| format!("tests::slow_{i}")).collect();
    assert_eq!(names, expected);
    assert_eq!(report["frames"], 24, "three lines from each test: {report}");
}
