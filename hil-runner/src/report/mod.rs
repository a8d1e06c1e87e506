//! Test reports: one [`TestReport`] per test, written as terminal text, JSON or JUnit XML.

pub mod json;
pub mod junit;
pub mod terminal;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::backend::TargetEnd;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check failed (ordering, loss accounting, malformed frames ...).
    Fail,
    /// The firmware panicked or faulted, or exited without its end marker.
    Crash,
    /// The end marker did not arrive before the deadline.
    Timeout,
    /// The harness could not run the test (QEMU, probe or serial fault).
    Error,
}

impl Verdict {
    /// The verdict's name as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Crash => "crash",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }
}

/// The verdict the frames alone support: a panic is `crash`, any violation `fail`.
pub fn verdict_of(analysis: &Analysis) -> (Verdict, Option<String>) {
    if let Some(message) = &analysis.summary.panic {
        (
            Verdict::Crash,
            Some(format!("firmware panicked: {message}")),
        )
    } else if let Some(first) = analysis.violations.first() {
        (Verdict::Fail, Some(first.to_string()))
    } else {
        (Verdict::Pass, None)
    }
}

/// The runner's documented exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: every test passed.
    Passed = 0,
    /// 1: a check failed or the firmware crashed.
    CheckFailed = 1,
    /// 4: a test timed out.
    Timeout = 4,
    /// 3: infrastructure fault (QEMU, probe, serial).
    Infrastructure = 3,
    /// 2: bad input or configuration (board file, ELF, arguments).
    BadInput = 2,
}

impl ExitStatus {
    /// The status of a set of verdicts: the most serious one wins
    /// (infrastructure, then timeout, then failure).
    pub fn of(verdicts: impl IntoIterator<Item = Verdict>) -> Self {
        verdicts
            .into_iter()
            .map(|v| match v {
                Verdict::Pass => Self::Passed,
                Verdict::Fail | Verdict::Crash => Self::CheckFailed,
                Verdict::Timeout => Self::Timeout,
                Verdict::Error => Self::Infrastructure,
            })
            .max()
            .unwrap_or(Self::Passed)
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Everything known about one test run.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Test name (from the start marker, else the ELF's file name).
    pub name: String,
    /// Board it ran on.
    pub board: String,
    /// The firmware ELF.
    pub elf: String,
    /// The raw capture: every byte received.
    pub capture: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line, when not `pass`.
    pub reason: Option<String>,
    /// Valid frames received.
    pub frames: u64,
    /// Frames rejected by the decoder.
    pub malformed: u64,
    /// Frames the transport reported dropped.
    pub dropped_reported: u64,
    /// Sequence frames sent but neither received nor reported dropped.
    pub missing: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Seconds from the first byte to the end marker (or the last byte).
    pub duration_s: f64,
    /// Link throughput: `bytes / duration_s`.
    pub bytes_per_s: f64,
    /// Frame rate: `frames / duration_s`.
    pub frames_per_s: f64,
    /// Overflow policy of the firmware's transport (`drop`, `truncate`, `block`).
    pub policy: Option<String>,
    /// Loss events: count, frames lost per event, the worst one.
    pub overflow: Option<crate::check::overflow::OverflowSummary>,
    /// How the target ended.
    pub target_end: Option<TargetEnd>,
    /// The first violations (at most 100).
    pub violations: Vec<serde_json::Value>,
    /// Violations in all.
    pub violations_total: u64,
    /// Everything the analysis counted.
    pub details: Option<Analysis>,
}

impl TestReport {
    /// A report of a test the harness could not run or judge.
    pub fn error(name: &str, board: &str, elf: &str, capture: &str, reason: String) -> Self {
        Self {
            name: name.into(),
            board: board.into(),
            elf: elf.into(),
            capture: capture.into(),
            verdict: Verdict::Error,
            reason: Some(reason),
            frames: 0,
            malformed: 0,
            dropped_reported: 0,
            missing: 0,
            bytes: 0,
            duration_s: 0.0,
            bytes_per_s: 0.0,
            frames_per_s: 0.0,
            policy: None,
            overflow: None,
            target_end: None,
            violations: Vec::new(),
            violations_total: 0,
            details: None,
        }
    }

    /// Fill counts, rates and violations from an analysis.
    pub fn with_analysis(mut self, analysis: Analysis, duration_s: f64) -> Self {
        let s = &analysis.summary;
        self.frames = s.frames;
        self.malformed = s.malformed;
        self.dropped_reported = s.dropped_reported;
        self.missing = s.missing;
        self.bytes = s.bytes;
        self.duration_s = duration_s;
        let rate = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        self.bytes_per_s = rate(s.bytes);
        self.frames_per_s = rate(s.frames);
        if let Some(test) = &s.test {
            self.name = test.clone();
        }
        self.policy = s.policy.clone();
        self.overflow = Some(s.overflow.clone());
        self.violations = analysis
            .violations
            .iter()
            .map(|v| {
                let mut json = serde_json::to_value(v).unwrap_or_default();
                json["message"] = v.to_string().into();
                json
            })
            .collect();
        self.violations_total = analysis.violations_total;
        self.details = Some(analysis);
        self
    }
}
