//! The watcher thread: polls the core, answers its semihosting requests, reports how it ended.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{access, trace};
use super::{CoreStatus, HaltCause, ProbeError, Semihosting, TargetControl, POLL_INTERVAL};
use crate::backend::TargetEnd;
use crate::recover::{ImageSlot, QueueLayout};

/// What the watcher answers the target with, where console output goes, and
/// where the transport's queue is read to when the core stops.
pub(super) struct Console {
    pub(super) command_line: String,
    pub(super) output: Arc<Mutex<String>>,
    /// The firmware: its debug info gives a fault's stack trace.
    pub(super) elf: PathBuf,
    pub(super) queue: Option<QueueLayout>,
    pub(super) image: ImageSlot,
}

impl Console {
    /// Read the transport's queue of the halted core (nothing without a descriptor).
    fn read_queue(&self, ctl: &mut dyn TargetControl) {
        if let Some(layout) = &self.queue {
            let image = access::read_queue(ctl, layout);
            *self.image.lock().unwrap_or_else(|e| e.into_inner()) = Some(image);
        }
    }
}

/// Poll the core until it halts, faults, exits or the backend is told to stop (then halt it);
/// answer semihosting requests on the way. Returns the session, its core halted.
pub(super) fn watch(
    mut ctl: Box<dyn TargetControl>,
    stop: Arc<AtomicBool>,
    ended: oneshot::Sender<TargetEnd>,
    console: Console,
) -> Box<dyn TargetControl> {
    let end = loop {
        if stop.load(Ordering::Relaxed) {
            match ctl.halt() {
                Ok(()) => console.read_queue(ctl.as_mut()),
                Err(e) => tracing::warn!("cannot halt the core at the end of the test: {e}"),
            }
            return ctl;
        }
        let status = ctl.status();
        if let Ok(CoreStatus::Halted(HaltCause::Semihosting(request))) = &status {
            if !matches!(request, Semihosting::Exit { .. }) {
                match answer(ctl.as_mut(), request, &console) {
                    Ok(()) => continue,
                    Err(e) => {
                        break TargetEnd::Killed {
                            detail: format!(
                                "cannot answer the target's semihosting request {request:?}: {e}"
                            ),
                        }
                    }
                }
            }
        }
        match status.and_then(|s| access::target_end(ctl.as_mut(), &s)) {
            Ok(None) => ctl.idle(POLL_INTERVAL),
            Ok(Some(end)) => break trace::with_stack_trace(ctl.as_mut(), end, &console.elf),
            Err(e) => {
                break TargetEnd::Killed {
                    detail: format!("lost the target through the debug probe: {e}"),
                }
            }
        }
    };
    tracing::debug!(%end, "target ended");
    // Halted at its exit, breakpoint or fault: what it still had queued is read now.
    if !matches!(end, TargetEnd::Killed { .. }) {
        console.read_queue(ctl.as_mut());
    }
    let _ = ended.send(end);
    // Keep the session (and the halted core) until the runner stops the backend.
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL_INTERVAL);
    }
    // A core that ended without halting (a lost target) is halted if it can be.
    if !matches!(ctl.status(), Ok(CoreStatus::Halted(_))) {
        if let Err(e) = ctl.halt() {
            tracing::warn!("cannot halt the core at the end of the test: {e}");
        }
    }
    ctl
}

/// Answer a semihosting request (not an exit) and let the core run on.
fn answer(
    ctl: &mut dyn TargetControl,
    request: &Semihosting,
    console: &Console,
) -> Result<(), ProbeError> {
    if *request == Semihosting::CommandLine {
        tracing::debug!(
            command_line = console.command_line,
            "answering SYS_GET_CMDLINE"
        );
    }
    let answered = ctl.answer_semihosting(&console.command_line)?;
    if let Some(text) = answered.output {
        eprint!("{text}");
        if let Ok(mut all) = console.output.lock() {
            all.push_str(&text);
        }
    }
    ctl.resume()
}
