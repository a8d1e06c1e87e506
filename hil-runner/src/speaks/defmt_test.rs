//! defmt-test suites, reported per test: their progress frames, the panic that fails a test, how the target ends.
//!
//! defmt-test 0.5 logs `({=usize}/{=usize}) running `NAME`...` (or
//! `ignoring`) through `defmt::println!` before each test, `all tests
//! passed!` after the last, then exits through semihosting with status 0. A
//! failing test panics (`defmt::panic!`, an assertion); what follows is the
//! firmware's panic handler (panic-probe: a HardFault). Its ELF holds the
//! number of tests in the `DEFMT_TEST_COUNT` static.

use std::collections::HashMap;
use std::time::Instant;

use super::panic::PanicWatch;
use super::{Ending, Judgement, Limits, Listener, RunEnd};
use crate::analysis::SeenFrame;
use crate::decode::Content;
use crate::firmware::Firmware;
use crate::report::cases::{Outcome, TestCase};
use crate::report::Verdict;

/// The last frame of a suite whose tests all passed.
pub const ALL_PASSED: &str = "all tests passed!";

/// What a progress frame announces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    name: String,
    ignored: bool,
}

/// The defmt-test strings of one ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefmtTestTable {
    progress: HashMap<u16, Progress>,
    all_passed: Option<u16>,
    /// Test names in the order of their strings in the table.
    names: Vec<String>,
    /// `DEFMT_TEST_COUNT`, if the ELF has it.
    count: Option<u32>,
}

impl DefmtTestTable {
    /// The defmt-test table of an ELF with these log format strings (by string index) and
    /// `DEFMT_TEST_COUNT`; `None` if it is not a defmt-test suite.
    pub fn from_formats<'a>(
        formats: impl Iterator<Item = (u16, &'a str)>,
        count: Option<u32>,
    ) -> Option<Self> {
        let mut table = Self {
            progress: HashMap::new(),
            all_passed: None,
            names: Vec::new(),
            count,
        };
        for (index, format) in formats {
            if format == ALL_PASSED {
                table.all_passed = Some(index);
            } else if let Some(progress) = progress_format(format) {
                table.names.push(progress.name.clone());
                table.progress.insert(index, progress);
            }
        }
        (count.is_some() || !table.progress.is_empty()).then_some(table)
    }

    /// `DEFMT_TEST_COUNT`, if the ELF has it.
    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// The names of the suite's tests.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// `({=usize}/{=usize}) running `NAME`...` → the test's name.
fn progress_format(format: &str) -> Option<Progress> {
    let rest = format.strip_prefix("({=usize}/{=usize}) ")?;
    let (ignored, rest) = match rest.strip_prefix("running `") {
        Some(rest) => (false, rest),
        None => (true, rest.strip_prefix("ignoring `")?),
    };
    let name = rest.strip_suffix("`...")?;
    Some(Progress {
        name: name.to_owned(),
        ignored,
    })
}

/// `(3/4) running `x`...` → (3, 4).
fn progress_numbers(message: &str) -> Option<(u64, u64)> {
    let inner = message.strip_prefix('(')?.split(')').next()?;
    let (i, n) = inner.split_once('/')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The test now running (defmt-test 0.5 runs the body of an ignored test too, and drops its outcome).
struct Running {
    name: String,
    started: Instant,
    ignored: bool,
}

/// Reads a defmt-test suite's run.
pub struct DefmtTest<'t> {
    table: &'t DefmtTestTable,
    limits: Limits,
    watch: PanicWatch<'t>,
    cases: Vec<TestCase>,
    running: Option<Running>,
    /// Which test the first panic happened in (`None`: outside any test).
    panicked_in: Option<Option<String>>,
    all_passed: bool,
    /// Announcements that contradict the ELF or each other.
    problems: Vec<String>,
    next_number: u64,
}

impl<'t> DefmtTest<'t> {
    /// A reader for a run of `firmware`, which must be a defmt-test suite.
    ///
    /// # Panics
    ///
    /// If `firmware` is not a defmt-test suite ([`Firmware::defmt_test`] is `None`).
    pub fn new(firmware: &'t Firmware, limits: Limits) -> Self {
        Self {
            table: firmware
                .defmt_test()
                .expect("a defmt-test reader needs a defmt-test ELF"),
            limits,
            watch: PanicWatch::new(firmware),
            cases: Vec::new(),
            running: None,
            panicked_in: None,
            all_passed: false,
            problems: Vec::new(),
            next_number: 1,
        }
    }

    /// The running test ended well: it passed.
    fn close_running(&mut self, at: Instant) {
        if let Some(r) = self.running.take() {
            let duration = at.saturating_duration_since(r.started).as_secs_f64();
            let outcome = if r.ignored {
                Outcome::Ignored
            } else {
                Outcome::Pass
            };
            self.cases.push(TestCase::new(r.name, outcome, duration));
        }
    }

    fn progress(&mut self, progress: &Progress, message: &str, at: Instant) {
        self.close_running(at);
        match progress_numbers(message) {
            Some((i, n)) => {
                if i != self.next_number {
                    self.problems.push(format!(
                        "test {} announced as number {i}, expected {}",
                        progress.name, self.next_number
                    ));
                }
                if let Some(count) = self.table.count.filter(|&c| u64::from(c) != n) {
                    self.problems.push(format!(
                        "the suite announces {n} tests but the ELF's DEFMT_TEST_COUNT is {count}"
                    ));
                }
                self.next_number = i + 1;
            }
            None => self
                .problems
                .push(format!("cannot read the test numbers of {message:?}")),
        }
        self.running = Some(Running {
            name: progress.name.clone(),
            started: at,
            ignored: progress.ignored,
        });
    }

    /// The test that was running when the run ended, judged by how it ended.
    fn running_case(&self, r: &Running, ending: &Ending, end: &RunEnd<'_>) -> TestCase {
        let duration = end.at.saturating_duration_since(r.started).as_secs_f64();
        let case = |outcome| TestCase::new(&r.name, outcome, duration);
        if let Some(p) = self.watch.panic() {
            return case(Outcome::Fail).because(Some(p.message.clone()), p.location.clone());
        }
        let (outcome, message) = match ending {
            Ending::Fault(fault) => (Outcome::Crash, fault.clone()),
            Ending::Timeout(_) => {
                let bound = match (end.stop, self.limits.test_timeout) {
                    (super::Stop::TestDeadline, Some(t)) => {
                        format!("--test-timeout {:.1} s", t.as_secs_f64())
                    }
                    _ => format!("--timeout {:.1} s", end.timeout.as_secs_f64()),
                };
                (Outcome::Timeout, format!("still running after {bound}"))
            }
            Ending::Exit(code) => (
                Outcome::Fail,
                format!("the firmware exited with status {code} during this test"),
            ),
            Ending::Lost(detail) => (Outcome::Error, detail.clone()),
            Ending::Unknown => (Outcome::Fail, "the capture ends during this test".into()),
        };
        case(outcome).because(Some(message), None)
    }
}

impl Listener for DefmtTest<'_> {
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant) {
        if let Ok(Content::Log(f)) = frame.content {
            let index = u16::try_from(f.index()).ok();
            if let Some(progress) = index.and_then(|i| self.table.progress.get(&i)) {
                let message = f.display_message().to_string();
                self.progress(progress, &message, at);
                return;
            }
            if index.is_some() && index == self.table.all_passed {
                self.close_running(at);
                self.all_passed = true;
                return;
            }
        }
        if self.watch.frame(frame).is_some() {
            self.panicked_in = Some(self.running.as_ref().map(|r| r.name.clone()));
        }
    }

    fn deadline(&self) -> Option<Instant> {
        // An ignored test's body runs too: it has the same deadline.
        Some(self.running.as_ref()?.started + self.limits.test_timeout?)
    }

    fn judge(self: Box<Self>, end: &RunEnd<'_>) -> Judgement {
        let ending = Ending::of(end);
        let mut cases = self.cases.clone();
        if let Some(r) = &self.running {
            cases.push(self.running_case(r, &ending, end));
        }
        for name in &self.table.names {
            if !cases.iter().any(|c| &c.name == name) {
                cases.push(TestCase::new(name, Outcome::NotRun, 0.0));
            }
        }
        // Tests after one that never returns are optimised out of the ELF with
        // their names; DEFMT_TEST_COUNT still counts them.
        let count = self.table.count.map_or(0, |c| c as usize);
        for number in cases.len() + 1..=count {
            let name = format!("#{number} (name not in the ELF)");
            cases.push(TestCase::new(name, Outcome::NotRun, 0.0));
        }
        let worst = [
            (Outcome::Timeout, Verdict::Timeout),
            (Outcome::Error, Verdict::Error),
            (Outcome::Crash, Verdict::Crash),
            (Outcome::Fail, Verdict::Fail),
        ]
        .into_iter()
        .find_map(|(outcome, verdict)| {
            let case = cases.iter().find(|c| c.outcome == outcome)?;
            let what = match outcome {
                Outcome::Timeout => "timed out",
                Outcome::Error => "could not be run",
                Outcome::Crash => "crashed",
                _ => "failed",
            };
            let message = case.message.as_deref().unwrap_or("");
            let at = case
                .location
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            Some((verdict, format!("test {} {what}{at}: {message}", case.name)))
        });
        let (verdict, reason) = match worst {
            Some((verdict, reason)) => (verdict, Some(reason)),
            None => suite_verdict(&self, &ending),
        };
        Judgement {
            verdict,
            reason,
            tests: cases,
        }
        .with_link(end)
    }
}

/// The verdict of a suite none of whose tests failed: did it get through, and end well?
fn suite_verdict(suite: &DefmtTest<'_>, ending: &Ending) -> (Verdict, Option<String>) {
    let outside = suite
        .panicked_in
        .as_ref()
        .filter(|test| test.is_none())
        .and(suite.watch.panic());
    if let Some(p) = outside {
        let when = if suite.all_passed {
            "after all tests passed (#[teardown])"
        } else {
            "before the first test (#[init])"
        };
        return (
            Verdict::Crash,
            Some(format!("the suite panicked {when}: {}", p.message)),
        );
    }
    if let Some(problem) = suite.problems.first() {
        return (Verdict::Fail, Some(problem.clone()));
    }
    match (ending, suite.all_passed) {
        (Ending::Exit(0) | Ending::Unknown, true) => (Verdict::Pass, None),
        (Ending::Exit(code), true) => (
            Verdict::Fail,
            Some(format!(
                "all tests passed, then the firmware exited with status {code}"
            )),
        ),
        (Ending::Exit(code), false) => (
            Verdict::Fail,
            Some(format!(
                "the firmware exited with status {code} before `{ALL_PASSED}`"
            )),
        ),
        (Ending::Unknown, false) => (
            Verdict::Fail,
            Some(format!("the capture ends before `{ALL_PASSED}`")),
        ),
        (Ending::Fault(fault), _) => (Verdict::Crash, Some(format!("target faulted: {fault}"))),
        (Ending::Timeout(m), _) => (Verdict::Timeout, Some(m.clone())),
        (Ending::Lost(m), _) => (Verdict::Error, Some(m.clone())),
    }
}
