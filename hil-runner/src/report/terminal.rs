//! Terminal output: libtest's shape for the tests inside a run, and one summary line per run.

use std::fmt::Write as _;

use super::cases::Tally;
use super::{TestReport, Verdict};
use crate::speaks::Speaks;

/// Violations printed per test; the JSON report has more.
const SHOWN: usize = 5;

/// The tests of a run in libtest's shape (`test name ... ok`, `test result: ...`), for
/// runs that hold several tests (defmt-test suites); `None` for a run that is one test.
pub fn libtest(r: &TestReport) -> Option<String> {
    if !has_tests(r) {
        return None;
    }
    let mut out = String::new();
    let n = r.tests.len();
    let _ = writeln!(
        out,
        "\nrunning {n} test{} on {}",
        if n == 1 { "" } else { "s" },
        r.board
    );
    for case in &r.tests {
        let _ = writeln!(out, "test {} ... {}", case.name, case.outcome.libtest());
    }
    let failed: Vec<_> = r.tests.iter().filter(|c| c.outcome.is_failure()).collect();
    if !failed.is_empty() {
        out.push_str("\nfailures:\n");
        for case in &failed {
            let _ = writeln!(out, "\n---- {} ----", case.name);
            if let Some(message) = &case.message {
                let _ = writeln!(out, "{message}");
            }
            if let Some(location) = &case.location {
                let _ = writeln!(out, "at {location}");
            }
        }
        out.push_str("\nfailures:\n");
        for case in &failed {
            let _ = writeln!(out, "    {}", case.name);
        }
    }
    let result = if r.verdict == Verdict::Pass {
        "ok"
    } else {
        "FAILED"
    };
    let _ = writeln!(
        out,
        "\ntest result: {result}. {}; finished in {:.2}s",
        Tally::of(&r.tests),
        r.duration_s
    );
    if let (Some(reason), true) = (&r.reason, failed.is_empty() && r.verdict != Verdict::Pass) {
        let _ = writeln!(out, "{reason}");
    }
    Some(out)
}

/// The stack trace of a run that ended in a fault (the crash block shows it).
fn stack_trace(r: &TestReport) -> Option<&crate::backend::fault::unwind::StackTrace> {
    match &r.target_end {
        Some(crate::backend::TargetEnd::Fault(regs)) if r.verdict != Verdict::Pass => {
            regs.stack_trace.as_ref()
        }
        _ => None,
    }
}

/// ` (N corrupted)` when frames failed their check value.
fn corrupted(r: &TestReport) -> String {
    match r.corrupted {
        0 => String::new(),
        n => format!(" ({n} corrupted)"),
    }
}

/// Whether a run holds several tests of its own (a defmt-test or embedded-test suite).
fn has_tests(r: &TestReport) -> bool {
    matches!(r.speaks, Some(Speaks::DefmtTest | Speaks::EmbeddedTest))
}

/// The summary a person reads at a glance.
pub fn render(reports: &[TestReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "{:<7} {:<22} {:<14} {:>9} frames {:>10} bytes {:>8.2}s {:>9.0} B/s {:>8.0} frames/s  malformed {}{} dropped {} missing {}",
            r.verdict.as_str().to_uppercase(),
            r.name,
            r.board,
            r.frames,
            r.bytes,
            r.duration_s,
            r.bytes_per_s,
            r.frames_per_s,
            r.malformed,
            corrupted(r),
            r.dropped_reported,
            r.missing,
        );
        if let Some(reason) = r.reason.as_ref().filter(|_| r.verdict != Verdict::Pass) {
            let _ = writeln!(out, "        {reason}");
        }
        if let Some(trace) = stack_trace(r) {
            let _ = writeln!(out, "        stack trace of the faulting context:");
            for line in trace.to_string().lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        if r.recovered > 0 {
            let _ = writeln!(
                out,
                "        recovered {} frames from the target's queue after it stopped",
                r.recovered
            );
        }
        // Loss a passing run keeps its verdict with (`--fail-on-loss` fails it).
        if let Some(lost) = r.details.as_ref().and_then(crate::speaks::loss_line) {
            if r.verdict == Verdict::Pass || r.reason.as_deref().is_none_or(|m| !m.contains(&lost))
            {
                let _ = writeln!(out, "        {lost}");
            }
        }
        for v in r.violations.iter().take(SHOWN) {
            let message = v["message"].as_str().unwrap_or_default();
            let _ = writeln!(out, "        - {message}");
        }
        if r.violations_total > SHOWN as u64 {
            let _ = writeln!(
                out,
                "        ... {} more (see the JSON report)",
                r.violations_total - SHOWN as u64
            );
        }
        let _ = writeln!(out, "        capture: {}", r.capture);
    }
    let passed = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Pass)
        .count();
    let tests: Vec<_> = reports
        .iter()
        .filter(|r| has_tests(r))
        .flat_map(|r| &r.tests)
        .collect();
    let _ = write!(
        out,
        "hil: {passed} passed, {} failed",
        reports.len() - passed
    );
    if !tests.is_empty() {
        let _ = write!(out, " ({})", Tally::of(tests.iter().copied()));
    }
    out.push('\n');
    out
}

/// The suite × board matrix of several boards' runs: one cell per run, its verdict.
pub fn matrix(reports: &[TestReport]) -> String {
    let mut boards: Vec<&str> = Vec::new();
    let mut suites: Vec<&str> = Vec::new();
    for r in reports {
        if !boards.contains(&r.board.as_str()) {
            boards.push(&r.board);
        }
        if !suites.contains(&r.name.as_str()) {
            suites.push(&r.name);
        }
    }
    let first = suites.iter().map(|s| s.len()).max().unwrap_or(0).max(5);
    let widths: Vec<usize> = boards.iter().map(|b| b.len().max(7)).collect();
    let mut out = String::new();
    let _ = write!(out, "{:<first$}", "suite");
    for (b, w) in boards.iter().zip(&widths) {
        let _ = write!(out, "  {b:<w$}");
    }
    out.push('\n');
    for suite in &suites {
        let _ = write!(out, "{suite:<first$}");
        for (board, w) in boards.iter().zip(&widths) {
            let cells: Vec<&str> = reports
                .iter()
                .filter(|r| r.name == *suite && r.board == *board)
                .map(|r| r.verdict.as_str())
                .collect();
            let cell = if cells.is_empty() {
                "-".to_owned()
            } else {
                cells.join(",")
            };
            let _ = write!(out, "  {cell:<w$}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_has_a_row_per_suite_and_a_column_per_board() {
        let mut pass = TestReport::error("ordering", "microbit", "e", "c", String::new());
        pass.verdict = Verdict::Pass;
        let reports = [
            pass,
            TestReport::error("ordering", "mps2-an505", "e", "c", String::new()),
            TestReport::error("throughput", "microbit", "e", "c", String::new()),
        ];
        let text = matrix(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("microbit") && lines[0].contains("mps2-an505"));
        let cells = |line: &str| {
            line.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(cells(lines[1]), "pass error", "{text}");
        assert_eq!(cells(lines[2]), "error -", "{text}");
    }

    #[test]
    fn the_summary_line_names_corrupted_frames_only_when_there_are_some() {
        let mut r = TestReport::error("ordering", "lm3s6965evb", "e", "c", String::new());
        r.malformed = 3;
        assert!(!render(&[r.clone()]).contains("corrupted"));
        r.corrupted = 2;
        assert!(render(&[r]).contains("malformed 3 (2 corrupted) dropped 0"));
    }
}
