//! Cancelling runs: on SIGINT or SIGTERM every run in flight stops its target, keeps what it captured and reports what ran.
//!
//! A [`Cancel`] is handed to every run ([`super::RunOptions::cancel`]). When
//! it fires, the run's byte loop ends, the backend stops the target (QEMU is
//! killed and reaped; a real board's core is halted), the capture is flushed,
//! and the run is judged as far as it got, with verdict `error` and a reason
//! naming the signal. Runs not started yet do not start. The CLI then writes
//! its reports and exits with `128 + signal`: 130 for SIGINT, 143 for SIGTERM.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::watch;

/// The signal that interrupted the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT (Ctrl-C).
    Int,
    /// SIGTERM (`kill`, a CI job cancelled).
    Term,
}

impl Interrupt {
    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "SIGINT",
            Self::Term => "SIGTERM",
        }
    }

    /// The exit status of a process ended by this signal, as shells report it: 128 + its number.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Int => 128 + 2,
            Self::Term => 128 + 15,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [Self::Int, Self::Term]
            .into_iter()
            .find(|i| i.exit_code() == code)
    }
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the runs should stop, and why. Cloned into every run; the default never fires.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Option<watch::Receiver<Option<Interrupt>>>);

/// Fires a [`Cancel`] (and every clone of it).
#[derive(Debug)]
pub struct Canceller(watch::Sender<Option<Interrupt>>);

impl Cancel {
    /// A cancel that never fires.
    pub fn never() -> Self {
        Self(None)
    }

    /// A cancel and the handle that fires it.
    pub fn new() -> (Canceller, Self) {
        let (tx, rx) = watch::channel(None);
        (Canceller(tx), Self(Some(rx)))
    }

    /// The signal, if it has fired.
    pub fn interrupted(&self) -> Option<Interrupt> {
        self.0.as_ref().and_then(|rx| *rx.borrow())
    }

    /// Resolves when it fires (at once if it has); never for [`Cancel::never`]. Cancel-safe.
    pub async fn wait(&self) -> Interrupt {
        let Some(rx) = &self.0 else {
            return std::future::pending().await;
        };
        let mut rx = rx.clone();
        let fired = rx.wait_for(Option::is_some).await.map(|fired| *fired);
        match fired {
            Ok(Some(why)) => why,
            // The canceller is gone without firing: it never will.
            _ => std::future::pending().await,
        }
    }
}

impl Canceller {
    /// Fire with `why`; the first call wins.
    pub fn cancel(&self, why: Interrupt) {
        self.0.send_if_modified(|now| {
            let first = now.is_none();
            if first {
                *now = Some(why);
            }
            first
        });
    }
}

/// A repeat of the signal within this time is the same request, not a second one.
const ECHO: std::time::Duration = std::time::Duration::from_secs(1);

/// The signal [`on_signals`] caught first, as an exit code (0: none).
static SIGNALLED: AtomicU8 = AtomicU8::new(0);

/// The signal this process caught through [`on_signals`], if any: the CLI's exit status is then its [`Interrupt::exit_code`].
pub fn signalled() -> Option<Interrupt> {
    Interrupt::from_code(SIGNALLED.load(Ordering::Acquire))
}

/// A cancel that fires on SIGINT or SIGTERM; call inside a tokio runtime.
///
/// From then on these signals no longer end the process by themselves: the
/// runs stop their targets first. A second signal (a second or more after the
/// first) ends the process at once, with that signal's exit status, after
/// killing the QEMU processes it started, without waiting for reports.
pub fn on_signals() -> std::io::Result<Cancel> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let (canceller, cancel) = Cancel::new();
    tokio::spawn(async move {
        let mut first_at: Option<std::time::Instant> = None;
        loop {
            let why = tokio::select! {
                Some(()) = int.recv() => Interrupt::Int,
                Some(()) = term.recv() => Interrupt::Term,
                else => return,
            };
            let first = SIGNALLED
                .compare_exchange(0, why.exit_code(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            if !first {
                // timeout(1) and some CI runners signal the process and then its whole
                // group: a repeat within a second is that echo, not a person insisting.
                if first_at.is_some_and(|at| at.elapsed() < ECHO) {
                    continue;
                }
                eprintln!("hil: {why} again: exiting at once");
                crate::backend::qemu::kill_all();
                std::process::exit(i32::from(why.exit_code()));
            }
            first_at = Some(std::time::Instant::now());
            eprintln!(
                "hil: {why}: stopping the target; reports and captures keep what ran \
                 (send it again to exit at once)"
            );
            canceller.cancel(why);
        }
    });
    Ok(cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_fires_once_for_every_clone_with_the_first_signal() {
        let (canceller, cancel) = Cancel::new();
        let clone = cancel.clone();
        assert_eq!(cancel.interrupted(), None);
        canceller.cancel(Interrupt::Term);
        canceller.cancel(Interrupt::Int);
        assert_eq!(clone.wait().await, Interrupt::Term);
        assert_eq!(cancel.interrupted(), Some(Interrupt::Term));
        assert_eq!(Cancel::never().interrupted(), None);
    }

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Interrupt::Int.exit_code(), 130);
        assert_eq!(Interrupt::Term.exit_code(), 143);
        assert_eq!(Interrupt::from_code(143), Some(Interrupt::Term));
        assert_eq!(Interrupt::from_code(0), None);
    }
}
