//! Terminal summary: one line per test, the first violations under it, and a total line.

use std::fmt::Write as _;

use super::{TestReport, Verdict};

/// Violations printed per test; the JSON report has more.
const SHOWN: usize = 5;

/// The summary a person reads at a glance.
pub fn render(reports: &[TestReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "{:<7} {:<22} {:<14} {:>9} frames {:>10} bytes {:>8.2}s {:>9.0} B/s {:>8.0} frames/s  malformed {} dropped {} missing {}",
            r.verdict.as_str().to_uppercase(),
            r.name,
            r.board,
            r.frames,
            r.bytes,
            r.duration_s,
            r.bytes_per_s,
            r.frames_per_s,
            r.malformed,
            r.dropped_reported,
            r.missing,
        );
        if let Some(reason) = r.reason.as_ref().filter(|_| r.verdict != Verdict::Pass) {
            let _ = writeln!(out, "        {reason}");
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
    let _ = writeln!(
        out,
        "hil: {passed} passed, {} failed",
        reports.len() - passed
    );
    out
}
