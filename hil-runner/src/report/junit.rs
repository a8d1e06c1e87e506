//! JUnit XML report, for CI systems that show test results: one `<testsuite>` per board, one `<testcase>` per test of each run.

use std::fmt::Write as _;
use std::path::Path;

use super::cases::{Outcome, TestCase};
use super::TestReport;

/// Write `reports` as JUnit XML to `path`.
pub fn write(path: &Path, reports: &[TestReport]) -> std::io::Result<()> {
    std::fs::write(path, render(reports))
}

/// The JUnit XML text of `reports`: a `<testsuites>` with one `<testsuite>` per board (its runs in order).
pub fn render(reports: &[TestReport]) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all: Vec<&TestCase> = reports.iter().flat_map(|r| &r.tests).collect();
    let (failures, errors, skipped) = counts(all.iter().copied());
    let time: f64 = reports.iter().map(|r| r.duration_s).sum();
    let _ = writeln!(
        xml,
        "<testsuites name=\"hil\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
        all.len()
    );
    let mut boards: Vec<&str> = Vec::new();
    for r in reports {
        if !boards.contains(&r.board.as_str()) {
            boards.push(&r.board);
        }
    }
    for board in boards {
        let runs: Vec<&TestReport> = reports.iter().filter(|r| r.board == board).collect();
        suite(&mut xml, board, &runs);
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn counts<'a>(cases: impl Iterator<Item = &'a TestCase>) -> (usize, usize, usize) {
    let (mut failures, mut errors, mut skipped) = (0, 0, 0);
    for case in cases {
        match case.outcome {
            Outcome::Fail | Outcome::Timeout => failures += 1,
            Outcome::Crash | Outcome::Error => errors += 1,
            Outcome::Ignored | Outcome::NotRun => skipped += 1,
            Outcome::Pass => {}
        }
    }
    (failures, errors, skipped)
}

fn suite(xml: &mut String, board: &str, runs: &[&TestReport]) {
    let (failures, errors, skipped) = counts(runs.iter().flat_map(|r| &r.tests));
    let tests: usize = runs.iter().map(|r| r.tests.len()).sum();
    let time: f64 = runs.iter().map(|r| r.duration_s).sum();
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" hostname=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.3}\">",
        escape(board),
        escape(board),
    );
    xml.push_str("    <properties>");
    for r in runs {
        let _ = write!(
            xml,
            "<property name=\"{}.verdict\" value=\"{}\"/><property name=\"{}.elf\" value=\"{}\"/><property name=\"{}.capture\" value=\"{}\"/>",
            escape(&r.name),
            r.verdict.as_str(),
            escape(&r.name),
            escape(&r.elf),
            escape(&r.name),
            escape(&r.capture)
        );
    }
    xml.push_str("</properties>\n");
    for r in runs {
        cases(xml, r);
    }
    xml.push_str("  </testsuite>\n");
}

fn cases(xml: &mut String, r: &TestReport) {
    for case in &r.tests {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\">",
            escape(&r.board),
            escape(&r.name),
            escape(&case.name),
            case.duration_s
        );
        let mut message = case.message.clone().unwrap_or_default();
        if let Some(location) = &case.location {
            message = format!("{message} (at {location})");
        }
        let message = escape(&message);
        let kind = format!("{:?}", case.outcome).to_lowercase();
        let _ = match case.outcome {
            Outcome::Pass => Ok(()),
            Outcome::Fail | Outcome::Timeout => {
                write!(xml, "<failure type=\"{kind}\" message=\"{message}\"/>")
            }
            Outcome::Crash | Outcome::Error => {
                write!(xml, "<error type=\"{kind}\" message=\"{message}\"/>")
            }
            Outcome::Ignored => write!(xml, "<skipped message=\"ignored\"/>"),
            Outcome::NotRun => write!(
                xml,
                "<skipped message=\"not run: an earlier test took the target down\"/>"
            ),
        };
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
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, board: &str) -> TestReport {
        TestReport::error(name, board, "elf", "capture", "no QEMU".into())
    }

    #[test]
    fn each_board_is_one_testsuite_holding_its_runs() {
        let reports = [
            run("ordering", "microbit"),
            run("ordering", "mps2-an385"),
            run("throughput", "microbit"),
        ];
        let xml = render(&reports);
        assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
        let microbit = xml
            .split("<testsuite ")
            .find(|s| s.starts_with("name=\"microbit\""))
            .expect("a testsuite for microbit");
        assert!(microbit.contains("ordering.verdict"), "{microbit}");
        assert!(microbit.contains("throughput.verdict"), "{microbit}");
        let cases = reports[0].tests.len() + reports[2].tests.len();
        assert_eq!(microbit.matches("<testcase ").count(), cases, "{microbit}");
        assert!(
            microbit.contains(&format!("tests=\"{cases}\"")),
            "{microbit}"
        );
    }
}
