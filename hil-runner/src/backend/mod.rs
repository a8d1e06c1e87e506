//! Backends start firmware on a board, hand out its byte source and report how the target ended.

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
    /// It was killed by a signal nobody in the runner sent.
    Killed {
        /// What is known.
        detail: String,
    },
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
}
