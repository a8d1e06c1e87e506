//! Plain defmt firmware: its log is shown, and its verdict comes from how the target ends.
//!
//! Semihosting exit 0 (or a `bkpt` halt with `r0` = 0 on a real board) is
//! `pass`; another status is `fail`; a panic is `crash` with its message and
//! location; a HardFault or lockup is `crash` with its registers; still
//! running at `--timeout` is `timeout`.

use std::time::Instant;

use super::panic::PanicWatch;
use super::{Ending, Judgement, Listener, RunEnd};
use crate::analysis::SeenFrame;
use crate::firmware::Firmware;
use crate::report::cases::{Outcome, TestCase};
use crate::report::Verdict;

/// Reads a plain defmt firmware's run.
pub struct Plain<'t> {
    watch: PanicWatch<'t>,
    started: Option<Instant>,
}

impl<'t> Plain<'t> {
    /// A reader for a run of `firmware`.
    pub fn new(firmware: &'t Firmware) -> Self {
        Self {
            watch: PanicWatch::new(firmware),
            started: None,
        }
    }
}

impl Listener for Plain<'_> {
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant) {
        self.started.get_or_insert(at);
        self.watch.frame(frame);
    }

    fn judge(mut self: Box<Self>, end: &RunEnd<'_>) -> Judgement {
        let ending = Ending::of(end);
        let (verdict, outcome, message, location) = match (self.watch.take(), ending) {
            (Some(p), _) => (Verdict::Crash, Outcome::Crash, p.message, p.location),
            (None, Ending::Exit(0)) => (Verdict::Pass, Outcome::Pass, String::new(), None),
            (None, Ending::Exit(code)) => (
                Verdict::Fail,
                Outcome::Fail,
                format!("the firmware exited with status {code}"),
                None,
            ),
            (None, Ending::Fault(fault)) => (
                Verdict::Crash,
                Outcome::Crash,
                format!("target faulted: {fault}"),
                None,
            ),
            (None, Ending::Timeout(m)) => (Verdict::Timeout, Outcome::Timeout, m, None),
            (None, Ending::Lost(m)) => (Verdict::Error, Outcome::Error, m, None),
            (None, Ending::Unknown) => (Verdict::Pass, Outcome::Pass, String::new(), None),
        };
        let duration = self
            .started
            .map_or(0.0, |s| end.at.saturating_duration_since(s).as_secs_f64());
        let message = (!message.is_empty()).then_some(message);
        let case = TestCase::new(end.name, outcome, duration).because(message.clone(), location);
        Judgement {
            verdict,
            reason: message,
            tests: vec![case],
        }
        .with_link(end)
    }
}
