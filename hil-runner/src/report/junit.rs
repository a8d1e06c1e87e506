//! JUnit XML report, for CI systems that show test results.

use std::fmt::Write as _;
use std::path::Path;

use super::{TestReport, Verdict};

/// Write `reports` as one JUnit `<testsuite>` to `path`.
pub fn write(path: &Path, reports: &[TestReport]) -> std::io::Result<()> {
    std::fs::write(path, render(reports))
}

/// The JUnit XML text of `reports`.
pub fn render(reports: &[TestReport]) -> String {
    let count = |f: fn(Verdict) -> bool| reports.iter().filter(|r| f(r.verdict)).count();
    let failures = count(|v| matches!(v, Verdict::Fail | Verdict::Timeout));
    let errors = count(|v| matches!(v, Verdict::Crash | Verdict::Error));
    let time: f64 = reports.iter().map(|r| r.duration_s).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuite name=\"hil\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">",
        reports.len()
    );
    for r in reports {
        let _ = write!(
            xml,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            escape(&r.board),
            escape(&r.name),
            r.duration_s
        );
        let reason = escape(r.reason.as_deref().unwrap_or(""));
        match r.verdict {
            Verdict::Pass => {}
            Verdict::Fail | Verdict::Timeout => {
                let _ = write!(
                    xml,
                    "<failure type=\"{}\" message=\"{reason}\"/>",
                    r.verdict.as_str()
                );
            }
            Verdict::Crash | Verdict::Error => {
                let _ = write!(
                    xml,
                    "<error type=\"{}\" message=\"{reason}\"/>",
                    r.verdict.as_str()
                );
            }
        }
        let _ = writeln!(
            xml,
            "<system-out>frames={} bytes={} malformed={} dropped_reported={} missing={} capture={}</system-out></testcase>",
            r.frames,
            r.bytes,
            r.malformed,
            r.dropped_reported,
            r.missing,
            escape(&r.capture)
        );
    }
    xml.push_str("</testsuite>\n");
    xml
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
