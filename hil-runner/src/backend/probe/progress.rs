//! Flash progress: probe-rs's progress events as [`FlashEvent`]s, shown as indicatif bars.
//!
//! One bar per operation (erase, program, verify; fill when probe-rs keeps
//! unwritten bytes). On a terminal the bars move; off a terminal indicatif
//! draws nothing and [`FlashBars::summary`] gives one line for the log.

use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use probe_rs::flashing::{ProgressEvent, ProgressOperation};

/// A flashing step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashOperation {
    /// Reading back flash to keep bytes the image does not cover.
    Fill,
    /// Erasing sectors.
    Erase,
    /// Writing pages.
    Program,
    /// Reading back and comparing.
    Verify,
}

impl FlashOperation {
    /// The step's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fill => "fill",
            Self::Erase => "erase",
            Self::Program => "program",
            Self::Verify => "verify",
        }
    }
}

impl From<ProgressOperation> for FlashOperation {
    fn from(op: ProgressOperation) -> Self {
        match op {
            ProgressOperation::Fill => Self::Fill,
            ProgressOperation::Erase => Self::Erase,
            ProgressOperation::Program => Self::Program,
            ProgressOperation::Verify => Self::Verify,
        }
    }
}

/// Something that happened while flashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashEvent {
    /// A step will run over `total` bytes (if known).
    Planned {
        /// The step.
        operation: FlashOperation,
        /// Its size.
        total: Option<u64>,
    },
    /// A step started.
    Started(FlashOperation),
    /// A step did `bytes` more.
    Progress {
        /// The step.
        operation: FlashOperation,
        /// Bytes done by this piece.
        bytes: u64,
    },
    /// A step finished.
    Finished(FlashOperation),
    /// A step failed.
    Failed(FlashOperation),
    /// The flash algorithm said something.
    Message(String),
}

impl FlashEvent {
    /// The event for a probe-rs progress event (none for the flash layout).
    pub fn from_probe_rs(event: &ProgressEvent) -> Option<Self> {
        Some(match event {
            ProgressEvent::FlashLayoutReady { .. } => return None,
            ProgressEvent::AddProgressBar { operation, total } => Self::Planned {
                operation: (*operation).into(),
                total: *total,
            },
            ProgressEvent::Started(op) => Self::Started((*op).into()),
            ProgressEvent::Progress {
                operation, size, ..
            } => Self::Progress {
                operation: (*operation).into(),
                bytes: *size,
            },
            ProgressEvent::Failed(op) => Self::Failed((*op).into()),
            ProgressEvent::Finished(op) => Self::Finished((*op).into()),
            ProgressEvent::DiagnosticMessage { message } => Self::Message(message.clone()),
        })
    }
}

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Announced, not started.
    Planned,
    /// Running.
    Running,
    /// Finished.
    Done,
    /// Failed.
    Failed,
}

/// One step as the bars show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step.
    pub operation: FlashOperation,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all, if known.
    pub total: Option<u64>,
    /// Where it is.
    pub state: StepState,
}

/// Progress bars for one flashing.
pub struct FlashBars {
    multi: MultiProgress,
    bars: Vec<(Step, ProgressBar)>,
    started: Instant,
    messages: Vec<String>,
}

impl FlashBars {
    /// Bars drawn on stderr (indicatif draws only when stderr is a terminal).
    pub fn stderr() -> Self {
        Self::new(ProgressDrawTarget::stderr())
    }

    /// Bars drawn on `target` (tests: [`ProgressDrawTarget::hidden`]).
    pub fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Vec::new(),
            started: Instant::now(),
            messages: Vec::new(),
        }
    }

    fn bar(&mut self, operation: FlashOperation) -> &mut (Step, ProgressBar) {
        if let Some(i) = self.bars.iter().position(|(s, _)| s.operation == operation) {
            return &mut self.bars[i];
        }
        let style = ProgressStyle::with_template(
            "{prefix:>8} [{bar:40}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = self.multi.add(ProgressBar::no_length().with_style(style));
        bar.set_prefix(operation.name());
        let step = Step {
            operation,
            done: 0,
            total: None,
            state: StepState::Planned,
        };
        self.bars.push((step, bar));
        self.bars.last_mut().expect("just pushed")
    }

    /// Show one event.
    pub fn event(&mut self, event: FlashEvent) {
        match event {
            FlashEvent::Planned { operation, total } => {
                let (step, bar) = self.bar(operation);
                step.total = total;
                if let Some(total) = total {
                    bar.set_length(total);
                }
            }
            FlashEvent::Started(operation) => {
                let (step, bar) = self.bar(operation);
                step.state = StepState::Running;
                bar.reset_elapsed();
            }
            FlashEvent::Progress { operation, bytes } => {
                let (step, bar) = self.bar(operation);
                step.done += bytes;
                bar.inc(bytes);
            }
            FlashEvent::Finished(operation) => {
                let (step, bar) = self.bar(operation);
                step.state = StepState::Done;
                bar.finish_with_message("done");
            }
            FlashEvent::Failed(operation) => {
                let (step, bar) = self.bar(operation);
                step.state = StepState::Failed;
                bar.abandon_with_message("FAILED");
                for (step, bar) in &mut self.bars {
                    if step.state == StepState::Planned {
                        bar.abandon_with_message("not run");
                    }
                }
            }
            FlashEvent::Message(message) => {
                let _ = self.multi.println(&message);
                self.messages.push(message);
            }
        }
    }

    /// The steps so far, in the order they were announced.
    pub fn steps(&self) -> Vec<Step> {
        self.bars.iter().map(|(s, _)| s.clone()).collect()
    }

    /// Messages of the flash algorithm.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// Time since the bars were made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One line: each step's bytes and state, and the time taken.
    pub fn summary(&self) -> String {
        let steps: Vec<String> = self
            .bars
            .iter()
            .map(|(s, _)| {
                let state = match s.state {
                    StepState::Planned => "not run",
                    StepState::Running => "unfinished",
                    StepState::Done => "ok",
                    StepState::Failed => "FAILED",
                };
                format!(
                    "{} {} KiB {state}",
                    s.operation.name(),
                    s.done.div_ceil(1024)
                )
            })
            .collect();
        format!(
            "{} in {:.1} s",
            steps.join(", "),
            self.elapsed().as_secs_f64()
        )
    }
}
