//! This harness's own suites (hil-protocol markers): the end marker ends the run, the checks decide.
//!
//! Ordering, loss accounting and well-formed frames are checked as the frames
//! arrive ([`crate::analysis`]); here they become the verdict, together with
//! how the target ended and the board's throughput floor.

use std::time::Instant;

use super::{Judgement, Listener, Rates, RunEnd, Stop};
use crate::analysis::{Analysis, SeenFrame};
use crate::backend::TargetEnd;
use crate::board::Board;
use crate::decode::Content;
use crate::markers::Marker;
use crate::report::cases::{Outcome, TestCase};
use crate::report::Verdict;

/// Reads a run of firmware that speaks hil-protocol.
#[derive(Debug, Default)]
pub struct Hil {
    /// The end or panic marker arrived.
    over: bool,
    started: Option<Instant>,
}

impl Listener for Hil {
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant) {
        self.started.get_or_insert(at);
        // The end marker ends a test; so does a panic marker (the panic handler
        // sends it last, after everything else in the queue).
        if let Ok(Content::Marker(Marker::End { .. } | Marker::Panic { .. })) = frame.content {
            self.over = true;
        }
    }

    fn finished(&self) -> bool {
        self.over
    }

    fn judge(self: Box<Self>, end: &RunEnd<'_>) -> Judgement {
        let (mut verdict, mut reason) = judge(end.stop, end.analysis, end.timeout);
        if let Some(board) = end.board {
            if let Some(slower) = throughput_floor(verdict, end.analysis, &end.rates, board) {
                (verdict, reason) = (Verdict::Fail, Some(slower));
            }
        }
        let name = end.analysis.summary.test.as_deref().unwrap_or(end.name);
        let outcome = match verdict {
            Verdict::Pass => Outcome::Pass,
            Verdict::Fail => Outcome::Fail,
            Verdict::Crash => Outcome::Crash,
            Verdict::Timeout => Outcome::Timeout,
            Verdict::Error => Outcome::Error,
        };
        let duration = self
            .started
            .map_or(0.0, |s| end.at.saturating_duration_since(s).as_secs_f64());
        let case = TestCase::new(name, outcome, duration).because(reason.clone(), None);
        Judgement {
            verdict,
            reason,
            tests: vec![case],
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

/// The verdict of a hil-protocol run and why.
fn judge(
    stop: &Stop,
    analysis: &Analysis,
    timeout: std::time::Duration,
) -> (Verdict, Option<String>) {
    let s = &analysis.summary;
    match stop {
        Stop::TargetEnded(end @ TargetEnd::Fault(_)) if s.panic.is_none() => {
            (Verdict::Crash, Some(format!("target faulted: {end}")))
        }
        _ if s.panic.is_some() || s.end.is_some() => verdict_of(analysis),
        Stop::Finished | Stop::CaptureEnded => verdict_of(analysis),
        Stop::Deadline | Stop::TestDeadline => (
            Verdict::Timeout,
            Some(format!(
                "no end marker within {:.1} s ({} bytes, {} frames received)",
                timeout.as_secs_f64(),
                s.bytes,
                s.frames
            )),
        ),
        Stop::SourceFailed(e) => (Verdict::Error, Some(format!("serial read failed: {e}"))),
        Stop::TargetEnded(TargetEnd::Exited { code }) => (
            Verdict::Crash,
            Some(format!(
                "target exited with status {code} before its end marker"
            )),
        ),
        Stop::TargetEnded(TargetEnd::Killed { detail }) => (Verdict::Error, Some(detail.clone())),
        Stop::TargetEnded(end @ (TargetEnd::Halted { .. } | TargetEnd::Fault(_))) => (
            Verdict::Crash,
            Some(format!("target {end} before its end marker")),
        ),
        Stop::TargetEnded(TargetEnd::Stopped) | Stop::SourceClosed => (
            Verdict::Crash,
            Some("serial link closed before the end marker".into()),
        ),
    }
}

/// A throughput run that passed but moved fewer bytes than the board's `[checks]` floor fails.
fn throughput_floor(
    verdict: Verdict,
    analysis: &Analysis,
    rates: &Rates,
    board: &Board,
) -> Option<String> {
    let is_throughput =
        analysis.summary.test.as_deref() == Some(crate::board::checks::THROUGHPUT_TEST);
    if verdict != Verdict::Pass || !is_throughput {
        return None;
    }
    board
        .checks
        .too_slow(rates.bytes_per_s, rates.line_utilisation)
        .map(|reason| format!("{reason} in {}", board.path.display()))
}
