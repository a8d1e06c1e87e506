//! Test cases inside one run: what a defmt-test suite reports per test, or the run itself as one case.

use serde::Serialize;

/// How one test inside a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It ran and passed.
    Pass,
    /// It failed: an assertion, a panic, a non-zero exit, a check.
    Fail,
    /// The target faulted while it ran (a HardFault or lockup without a panic message).
    Crash,
    /// It was still running at its deadline.
    Timeout,
    /// The firmware skipped it (`#[ignore]`).
    Ignored,
    /// It never started: an earlier test took the target down.
    NotRun,
    /// The harness could not run it.
    Error,
}

impl Outcome {
    /// The outcome as libtest prints it after `test NAME ... `.
    pub fn libtest(self) -> &'static str {
        match self {
            Self::Pass => "ok",
            Self::Fail | Self::Crash | Self::Error => "FAILED",
            Self::Timeout => "TIMEOUT",
            Self::Ignored => "ignored",
            Self::NotRun => "not run",
        }
    }

    /// Whether the test ran and did not pass.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Fail | Self::Crash | Self::Timeout | Self::Error)
    }
}

/// One test of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCase {
    /// The test's name (the defmt-test function, or the suite or ELF for a run that is one test).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, when it did not pass: the panic or assertion message, the exit status, the fault.
    pub message: Option<String>,
    /// Where the failure was raised (`file:line`), when known.
    pub location: Option<String>,
    /// Seconds from its start to its end, as the frames arrived at the host
    /// (a test in a target of its own: from the target's start to its end).
    pub duration_s: f64,
    /// The raw capture of the test, when it had a target of its own (embedded-test).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
}

impl TestCase {
    /// A test that ended with `outcome`, with no message yet.
    pub fn new(name: impl Into<String>, outcome: Outcome, duration_s: f64) -> Self {
        Self {
            name: name.into(),
            outcome,
            message: None,
            location: None,
            duration_s,
            capture: None,
        }
    }

    /// The same test with a message and a location.
    pub fn because(mut self, message: Option<String>, location: Option<String>) -> Self {
        self.message = message;
        self.location = location;
        self
    }
}

/// Counts of a run's tests by outcome, as libtest's `test result:` line shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: usize,
    /// Failed, crashed, timed out or errored.
    pub failed: usize,
    /// Never started.
    pub not_run: usize,
    /// Skipped by the firmware.
    pub ignored: usize,
}

impl Tally {
    /// Count `tests`.
    pub fn of<'a>(tests: impl IntoIterator<Item = &'a TestCase>) -> Self {
        let mut t = Self::default();
        for case in tests {
            match case.outcome {
                Outcome::Pass => t.passed += 1,
                Outcome::Ignored => t.ignored += 1,
                Outcome::NotRun => t.not_run += 1,
                _ => t.failed += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed; {} failed; ", self.passed, self.failed)?;
        if self.not_run > 0 {
            write!(f, "{} not run; ", self.not_run)?;
        }
        write!(f, "{} ignored", self.ignored)
    }
}

#[cfg(test)]
mod tests {
    //! The `test result:` counts.

    use super::*;

    #[test]
    fn tally_counts_each_outcome_and_prints_not_run_only_when_there_are_some() {
        let cases = [
            TestCase::new("a", Outcome::Pass, 0.0),
            TestCase::new("b", Outcome::Fail, 0.0),
            TestCase::new("c", Outcome::Timeout, 0.0),
            TestCase::new("d", Outcome::NotRun, 0.0),
            TestCase::new("e", Outcome::Ignored, 0.0),
        ];
        let t = Tally::of(&cases);
        assert_eq!(
            (t.passed, t.failed, t.not_run, t.ignored),
            (1, 2, 1, 1),
            "{t:?}"
        );
        assert_eq!(t.to_string(), "1 passed; 2 failed; 1 not run; 1 ignored");
        let t = Tally::of(&cases[..1]);
        assert_eq!(t.to_string(), "1 passed; 0 failed; 0 ignored");
    }
}
