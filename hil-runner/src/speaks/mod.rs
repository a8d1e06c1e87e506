//! What the firmware speaks, and the one place that turns a run into a verdict.
//!
//! A run's decoded frames and the way its target ended mean different things
//! for different firmware. Each dialect is one [`Listener`]: it sees every
//! frame as it arrives, may say the run is over ([`Listener::finished`]) or
//! give the running test a deadline ([`Listener::deadline`]), and at the end
//! turns the frames, the counts and the target's end into a [`Judgement`]:
//! the verdict and the tests inside the run. The runner only runs and records.
//!
//! - [`plain`]: any defmt firmware; the verdict comes from how the target ends.
//! - [`defmt_test`]: defmt-test suites, reported per test.
//! - [`hil`]: this harness's own suites (hil-protocol markers): ordering and
//!   loss accounting.

pub mod defmt_test;
pub mod embedded_test;
pub mod hil;
pub mod panic;
pub mod plain;
pub mod test_args;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::analysis::{Analysis, SeenFrame};
use crate::backend::TargetEnd;
use crate::board::Board;
use crate::check::Violation;
use crate::firmware::Firmware;
use crate::markers::MarkerKind;
use crate::report::cases::TestCase;
use crate::report::Verdict;

/// What a firmware speaks, read from its ELF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Speaks {
    /// Plain defmt logs: judged by how the target ends.
    #[serde(rename = "defmt")]
    Defmt,
    /// A defmt-test suite (the ELF has `DEFMT_TEST_COUNT` and its progress strings).
    #[serde(rename = "defmt-test")]
    DefmtTest,
    /// An embedded-test suite (the ELF lists its tests in `.embedded_test.tests`): one target per test.
    #[serde(rename = "embedded-test")]
    EmbeddedTest,
    /// This harness's hil-protocol markers (the ELF logs the boot, start or end marker).
    #[serde(rename = "hil-protocol")]
    Hil,
}

impl Speaks {
    /// What `firmware` speaks: embedded-test or defmt-test if it is such a suite,
    /// hil-protocol if it logs a boot, start or end marker, else plain defmt.
    pub fn of(firmware: &Firmware) -> Self {
        if firmware.embedded_test().is_some() {
            Self::EmbeddedTest
        } else if firmware.defmt_test().is_some() {
            Self::DefmtTest
        } else if [MarkerKind::Boot, MarkerKind::Start, MarkerKind::End]
            .into_iter()
            .any(|m| firmware.marker_index(m).is_some())
        {
            Self::Hil
        } else {
            Self::Defmt
        }
    }

    /// The listener that judges a run of `firmware`.
    pub fn listener<'t>(self, firmware: &'t Firmware, limits: Limits) -> Box<dyn Listener + 't> {
        let inner: Box<dyn Listener + 't> = match self {
            // An embedded-test suite runs test by test (`runner::run_each`); a run of the
            // whole ELF without a test to run is plain firmware.
            Self::Defmt | Self::EmbeddedTest => Box::new(plain::Plain::new(firmware)),
            Self::DefmtTest => Box::new(defmt_test::DefmtTest::new(firmware, limits)),
            Self::Hil => Box::new(hil::Hil::default()),
        };
        if limits.fail_on_loss {
            Box::new(FailOnLoss { inner })
        } else {
            inner
        }
    }

    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Defmt => "defmt",
            Self::DefmtTest => "defmt-test",
            Self::EmbeddedTest => "embedded-test",
            Self::Hil => "hil-protocol",
        }
    }
}

/// Time limits of a run, and how strict it is about lost frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// How long each test inside the run may take (`--test-timeout`).
    pub test_timeout: Option<Duration>,
    /// Any reported or detected loss fails a passing run (`--fail-on-loss`).
    pub fail_on_loss: bool,
}

/// What a run lost, in one line, if it lost anything: frames the firmware
/// reported dropped, sequence frames missing, malformed frames.
pub fn loss_line(analysis: &Analysis) -> Option<String> {
    let s = &analysis.summary;
    let mut parts = Vec::new();
    if s.dropped_reported > 0 {
        let events = s.overflow.events;
        let first = s
            .overflow
            .worst
            .map(|w| format!(", largest {} at byte {}", w.reported.max(w.lost), w.offset))
            .unwrap_or_default();
        parts.push(format!(
            "{} frames dropped by the firmware ({events} loss event{}{first})",
            s.dropped_reported,
            if events == 1 { "" } else { "s" }
        ));
    }
    // `missing` counts sequence frames not received, reported or not.
    let unreported = s.missing.saturating_sub(s.dropped_reported);
    if unreported > 0 {
        parts.push(format!("{unreported} frames missing without a drop report"));
    }
    if s.malformed > 0 {
        parts.push(format!("{} malformed frames", s.malformed));
    }
    (!parts.is_empty()).then(|| format!("frames lost: {}", parts.join(", ")))
}

/// `--fail-on-loss`: a passing run that lost frames fails.
struct FailOnLoss<'t> {
    inner: Box<dyn Listener + 't>,
}

impl Listener for FailOnLoss<'_> {
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant) {
        self.inner.frame(frame, at);
    }

    fn finished(&self) -> bool {
        self.inner.finished()
    }

    fn deadline(&self) -> Option<Instant> {
        self.inner.deadline()
    }

    fn judge(self: Box<Self>, end: &RunEnd<'_>) -> Judgement {
        let mut judgement = self.inner.judge(end);
        if judgement.verdict == Verdict::Pass {
            if let Some(lost) = loss_line(end.analysis) {
                let reason = format!("{lost} (--fail-on-loss)");
                judgement.verdict = Verdict::Fail;
                judgement.reason = Some(reason.clone());
                if let [case] = &mut judgement.tests[..] {
                    case.outcome = crate::report::cases::Outcome::Fail;
                    case.message = Some(reason);
                }
            }
        }
        judgement
    }
}

/// How the byte loop of a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The frames said the run is over (hil-protocol's end or panic marker).
    Finished,
    /// The target ended by itself.
    TargetEnded(TargetEnd),
    /// The serial link closed while the target still ran.
    SourceClosed,
    /// Reading the serial link failed.
    SourceFailed(String),
    /// The run's deadline (`--timeout`) passed.
    Deadline,
    /// The running test's deadline (`--test-timeout`) passed.
    TestDeadline,
    /// An offline capture ended (`hil-runner check`): how the target ended is not known.
    CaptureEnded,
}

/// Everything known at the end of a run, for a listener to judge.
pub struct RunEnd<'a> {
    /// How the byte loop ended.
    pub stop: &'a Stop,
    /// The counts and the checks of the frames.
    pub analysis: &'a Analysis,
    /// The run's deadline, for messages.
    pub timeout: Duration,
    /// The board, when the run was live.
    pub board: Option<&'a Board>,
    /// When the run ended.
    pub at: Instant,
    /// The firmware's name (the ELF's file stem), for a run that is one test.
    pub name: &'a str,
    /// How fast the bytes came.
    pub rates: Rates,
}

/// How fast a run's bytes came.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// Bytes per second from the first byte to the last (0 for a run under 10 ms).
    pub bytes_per_s: f64,
    /// `bytes_per_s / (baud / 10)` when the link's baud rate is known.
    pub line_utilisation: Option<f64>,
}

impl Rates {
    /// The rates of `bytes` received in `duration_s` over a link of `baud` (if known).
    pub fn new(bytes: u64, duration_s: f64, baud: Option<u32>) -> Self {
        let bytes_per_s = crate::report::rate(bytes, duration_s);
        Self {
            bytes_per_s,
            line_utilisation: baud
                .filter(|&baud| baud > 0 && bytes_per_s > 0.0)
                .map(|baud| bytes_per_s / (f64::from(baud) / 10.0)),
        }
    }
}

/// A run's verdict, why, and the tests inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The verdict of the run.
    pub verdict: Verdict,
    /// Why, in one line, when not `pass`.
    pub reason: Option<String>,
    /// The tests of the run, in order (one for firmware that is one test).
    pub tests: Vec<TestCase>,
}

/// One dialect's view of a run.
pub trait Listener {
    /// A frame arrived at `at`.
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant);

    /// Whether the frames alone end the run (the target is then stopped).
    fn finished(&self) -> bool {
        false
    }

    /// When the test now running must be over, if it has a deadline.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The verdict and the tests of the run.
    fn judge(self: Box<Self>, end: &RunEnd<'_>) -> Judgement;
}

/// How the target ended, for firmware that has no end marker of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited with a status: semihosting exit, or a `bkpt` halt with the status in `r0`.
    Exit(i32),
    /// It faulted or locked up.
    Fault(String),
    /// It was still running at a deadline.
    Timeout(String),
    /// The harness lost it (QEMU killed, probe or serial failure).
    Lost(String),
    /// An offline capture: how it ended is not recorded.
    Unknown,
}

impl Ending {
    /// How the target ended, from how the byte loop ended.
    pub fn of(end: &RunEnd<'_>) -> Self {
        let bytes = end.analysis.summary.bytes;
        match end.stop {
            Stop::TargetEnded(TargetEnd::Exited { code }) => Self::Exit(*code),
            Stop::TargetEnded(TargetEnd::Halted { r0, .. }) => {
                Self::Exit(i32::try_from(*r0).unwrap_or(i32::MAX))
            }
            Stop::TargetEnded(fault @ TargetEnd::Fault(_)) => Self::Fault(fault.to_string()),
            Stop::TargetEnded(TargetEnd::Killed { detail }) => Self::Lost(detail.clone()),
            Stop::TargetEnded(TargetEnd::Stopped) | Stop::SourceClosed | Stop::Finished => {
                Self::Lost("the serial link closed while the target was running".into())
            }
            Stop::SourceFailed(e) => Self::Lost(format!("serial read failed: {e}")),
            Stop::Deadline => Self::Timeout(format!(
                "still running after --timeout {:.1} s ({bytes} bytes received)",
                end.timeout.as_secs_f64()
            )),
            Stop::TestDeadline => Self::Timeout("still running at --test-timeout".into()),
            Stop::CaptureEnded => Self::Unknown,
        }
    }
}

/// Violations of the byte stream itself (malformed, oversize, unfinished frames):
/// they fail any firmware's run, whatever it speaks.
pub fn link_violations(analysis: &Analysis) -> impl Iterator<Item = &Violation> {
    analysis.violations.iter().filter(|v| {
        matches!(
            v,
            Violation::Malformed { .. }
                | Violation::Oversize { .. }
                | Violation::UnfinishedFrame { .. }
        )
    })
}

impl Judgement {
    /// A passing judgement fails when the byte stream itself lost frames (malformed, oversize, unfinished).
    pub fn with_link(mut self, end: &RunEnd<'_>) -> Self {
        if self.verdict == Verdict::Pass {
            if let Some(v) = link_violations(end.analysis).next() {
                self.verdict = Verdict::Fail;
                self.reason = Some(v.to_string());
                if let [case] = &mut self.tests[..] {
                    case.outcome = crate::report::cases::Outcome::Fail;
                    case.message = self.reason.clone();
                }
            }
        }
        self
    }
}
