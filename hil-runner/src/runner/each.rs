//! An embedded-test suite, test by test: each selected test in a fresh target, several at once on emulated boards.
//!
//! Every test gets its own run (a new QEMU, or a reset through the probe),
//! its own raw capture and its own deadline (the test's `#[timeout]`, else
//! `--test-timeout`, else `--timeout`), so a crash or a hang costs only that
//! test. The results are reported in the ELF's order, whatever order the runs
//! finish in.

use std::sync::Arc;
use std::time::Instant;

use super::{run_with, RunError, RunOptions};
use crate::board::BoardKind;
use crate::firmware::Firmware;
use crate::report::cases::{Outcome, TestCase};
use crate::report::{TestReport, Verdict};
use crate::speaks::embedded_test::{
    EmbeddedTest, EmbeddedTestRun, EmbeddedTestTable, KNOWN_VERSION,
};
use crate::speaks::test_args::Selection;
use crate::speaks::Speaks;

/// Run the tests of `table` that `opts.test_args` selects; one report for the suite.
pub async fn run_each(
    opts: &RunOptions,
    firmware: &Firmware,
    table: &EmbeddedTestTable,
) -> Result<TestReport, RunError> {
    let name = super::firmware_name(&opts.elf);
    let elf = opts.elf.display().to_string();
    let mut suite = TestReport::error(&name, &opts.board.name, &elf, "", String::new());
    suite.speaks = Some(Speaks::EmbeddedTest);
    if table.version != KNOWN_VERSION {
        suite.reason = Some(format!(
            "{elf}: EMBEDDED_TEST_VERSION is {}, this runner speaks version {KNOWN_VERSION}",
            table.version
        ));
        return Ok(suite);
    }
    let threads = match &opts.board.kind {
        // One target: one test at a time.
        BoardKind::Probe(_) => 1,
        BoardKind::Qemu(_) => opts.test_args.test_threads.unwrap_or_else(default_threads),
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(threads));
    let started = Instant::now();
    let runs = table.tests.iter().enumerate().map(|(i, test)| {
        let permits = permits.clone();
        async move {
            match opts.test_args.select(&test.name, test.ignored) {
                Selection::FilteredOut => None,
                Selection::Ignored => Some(Ok(ignored(test))),
                Selection::Run => {
                    let _permit = permits
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    // After SIGINT/SIGTERM no further target starts.
                    if let Some(why) = opts.cancel.interrupted() {
                        return Some(Ok(not_run(test, why)));
                    }
                    Some(run_one(opts, firmware, test, i).await)
                }
            }
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let filtered_out = results.iter().filter(|r| r.is_none()).count();
    let mut verdicts = Vec::new();
    for result in results.into_iter().flatten() {
        let report = result?;
        suite.frames += report.frames;
        suite.malformed += report.malformed;
        suite.dropped_reported += report.dropped_reported;
        suite.bytes += report.bytes;
        // The suite's capture is the first failing test's, else the first test's.
        let failed = report.verdict != Verdict::Pass;
        let first_failure = failed && verdicts.iter().all(|(v, _)| *v == Verdict::Pass);
        if (suite.capture.is_empty() || first_failure) && !report.capture.is_empty() {
            suite.capture.clone_from(&report.capture);
        }
        verdicts.push((report.verdict, report.reason.clone()));
        suite.tests.extend(report.tests);
    }
    suite.duration_s = started.elapsed().as_secs_f64();
    let worst = [
        Verdict::Error,
        Verdict::Timeout,
        Verdict::Crash,
        Verdict::Fail,
    ]
    .into_iter()
    .find_map(|v| verdicts.iter().find(|(verdict, _)| *verdict == v).cloned());
    (suite.verdict, suite.reason) = match worst {
        Some((verdict, reason)) => (verdict, reason),
        None => (Verdict::Pass, None),
    };
    if filtered_out > 0 {
        eprintln!("hil: {filtered_out} tests filtered out");
    }
    Ok(suite)
}

/// Cores of this machine: QEMU instances that can run at once.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ignored(test: &EmbeddedTest) -> TestReport {
    let mut report = TestReport::error(&test.name, "", "", "", String::new());
    report.verdict = Verdict::Pass;
    report.reason = None;
    report.tests = vec![TestCase::new(&test.name, Outcome::Ignored, 0.0)];
    report
}

/// A test that did not start because the runner was interrupted: an `error` run with the test not run.
fn not_run(test: &EmbeddedTest, why: super::Interrupt) -> TestReport {
    let reason = format!("interrupted by {why} before this test started");
    let mut report = TestReport::error(&test.name, "", "", "", reason.clone());
    report.tests =
        vec![TestCase::new(&test.name, Outcome::NotRun, 0.0).because(Some(reason), None)];
    report
}

/// One test in a fresh target.
async fn run_one(
    opts: &RunOptions,
    firmware: &Firmware,
    test: &EmbeddedTest,
    index: usize,
) -> Result<TestReport, RunError> {
    let mut run = opts.clone();
    run.semihosting_args = test.command_line().to_vec();
    // A real board is flashed for the first test and only reset for the others.
    run.reuse_flashed = true;
    run.log_prefix = Some(test.name.clone());
    run.timeout = test
        .timeout
        .or(opts.limits.test_timeout)
        .unwrap_or(opts.timeout);
    let stem = run
        .capture
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("run")
        .to_owned();
    let file = format!("{stem}-{index:03}-{}.raw", sanitise(&test.name));
    run.capture = run.capture.with_file_name(file);
    let listener = Box::new(EmbeddedTestRun::new(firmware, test.clone()));
    let started = Instant::now();
    let mut report = run_with(&run, firmware, listener).await?;
    // What the test cost: its own target, from start to end.
    let took = started.elapsed();
    for case in &mut report.tests {
        case.duration_s = took.as_secs_f64();
        case.capture = Some(report.capture.clone());
    }
    eprintln!(
        "hil: test {} ... {} ({:.2} s)",
        test.name,
        report.tests.first().map_or("?", |c| c.outcome.libtest()),
        took.as_secs_f64()
    );
    Ok(report)
}

/// A test name as part of a file name.
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
