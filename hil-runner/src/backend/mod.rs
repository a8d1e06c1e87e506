//! Backends start firmware on a board, hand out its byte source and report how the target ended.

pub mod fault;
pub mod probe;
pub mod qemu;

use std::future::Future;
use std::path::Path;

use crate::source::ByteSource;

/// Why a backend could not run the firmware: infrastructure faults (exit status 3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// qemu-system-arm is not installed.
    #[error(
        "qemu-system-arm not found in PATH; install it with: sudo apt-get install qemu-system-arm"
    )]
    QemuMissing,
    /// QEMU could not be started or stopped before the firmware ran.
    #[error("QEMU failed: {message}")]
    Qemu {
        /// What went wrong, with QEMU's own stderr when it has any.
        message: String,
    },
    /// The serial link could not be opened.
    #[error("cannot open {what}: {message}")]
    Serial {
        /// The port or socket.
        what: String,
        /// The error.
        message: String,
    },
    /// No debug probe is attached that the board file accepts.
    #[error(
        "no debug probe found: looked for {looked_for} to reach chip {chip} of board {board}; \
         attached: {attached}. Is the board plugged in? (README: Real boards)"
    )]
    NoProbe {
        /// What was looked for: `any probe` or `probe VID:PID[-INTERFACE][:serial]` (the board's `probe.selector`).
        looked_for: String,
        /// The board.
        board: String,
        /// The board's chip.
        chip: String,
        /// The probes that are attached (`none`).
        attached: String,
    },
    /// Several debug probes match and the board file does not say which one.
    #[error(
        "{count} debug probes match board {board} ({looked_for}): {probes}; \
         set `probe.selector` (VID:PID[-INTERFACE]:serial, as listed) in {path}"
    )]
    SeveralProbes {
        /// How many matched.
        count: usize,
        /// `any probe`, or the selector that was not specific enough.
        looked_for: String,
        /// The board.
        board: String,
        /// The board file to edit.
        path: String,
        /// The matching probes, as selectors.
        probes: String,
    },
    /// The probe was found but this user may not open it.
    #[error(
        "debug probe {probe} is attached but this user may not open it: install probe-rs's udev \
         rules (README: Real boards)"
    )]
    ProbePermission {
        /// The probe.
        probe: String,
    },
    /// Opening, attaching, flashing, resetting or watching through the probe failed.
    #[error("board {board} (chip {chip}): {source}")]
    Probe {
        /// The board.
        board: String,
        /// The board's chip.
        chip: String,
        /// What failed.
        source: probe::ProbeError,
    },
}

/// How the target ended, as far as the backend can tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetEnd {
    /// The runner stopped it (after its end marker, or at the deadline).
    Stopped,
    /// It exited by itself with this status (QEMU: the semihosting exit code).
    Exited {
        /// Exit status; 0 is success.
        code: i32,
    },
    /// It was killed by a signal nobody in the runner sent, or the probe lost it.
    Killed {
        /// What is known.
        detail: String,
    },
    /// The core halted on a breakpoint (real boards: the firmware's `bkpt` after its end marker).
    Halted {
        /// Where it halted.
        pc: u32,
        /// `r0`: the firmware's exit code (0 success) when it halts through its exit path.
        r0: u32,
    },
    /// The core took a HardFault (or locked up): the registers of the faulting context.
    Fault(probe::FaultRegisters),
}

impl std::fmt::Display for TargetEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped by the runner"),
            Self::Exited { code } => write!(f, "exited with status {code}"),
            Self::Killed { detail } => f.write_str(detail),
            Self::Halted { pc, r0 } => {
                write!(f, "halted on a breakpoint at pc={pc:#010x} (r0={r0})")
            }
            Self::Fault(regs) => regs.fmt(f),
        }
    }
}

/// A way to run firmware on a board: QEMU for emulated boards, a debug probe for real ones.
pub trait Backend: Send {
    /// Start `elf`; the returned source is open before the firmware's first instruction runs.
    fn start(
        &mut self,
        elf: &Path,
    ) -> impl Future<Output = Result<Box<dyn ByteSource>, BackendError>> + Send;

    /// Resolves when the target ends by itself. Cancel-safe.
    fn ended(&mut self) -> impl Future<Output = TargetEnd> + Send;

    /// Stop the target (idempotent).
    fn stop(&mut self) -> impl Future<Output = ()> + Send;

    /// Bytes the source discarded before the firmware's boot marker (stale bytes in a real port).
    fn discarded_before_boot(&self) -> u64 {
        0
    }

    /// What the target wrote to the host's console through semihosting (real boards; QEMU
    /// prints it on its own stdout).
    fn target_output(&self) -> String {
        String::new()
    }

    /// The transport's queue as the target left it when it stopped, if the
    /// backend read it (the ELF has hil-transport's queue descriptor and the
    /// core could be read halted): [`crate::recover`].
    fn take_queue_image(
        &mut self,
    ) -> Option<Result<crate::recover::QueueImage, crate::recover::RecoverError>> {
        None
    }
}
