//! What to run and how: [`RunOptions`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::cancel::Cancel;
use super::default_capture_path;
use crate::backend::probe::ProbeAccess;
use crate::backend::qemu::QemuSerial;
use crate::board::{Board, BoardKind};
use crate::framer::DEFAULT_MAX_FRAME_LEN;
use crate::speaks::test_args::TestArgs;
use crate::speaks::Limits;

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The board.
    pub board: Board,
    /// The firmware ELF.
    pub elf: PathBuf,
    /// Deadline for the end marker, from the start of the firmware.
    pub timeout: Duration,
    /// Where the raw capture goes.
    pub capture: PathBuf,
    /// How QEMU's UART reaches the runner (emulated boards).
    pub qemu_serial: QemuSerial,
    /// Extra QEMU arguments (emulated boards).
    pub qemu_args: Vec<String>,
    /// Frames longer than this are skipped and counted.
    pub max_frame_len: usize,
    /// Print the firmware's own log frames (not markers) as they arrive.
    pub print_logs: bool,
    /// Baud rate of the serial link, when known (real boards), for the report's line utilisation.
    pub baud: Option<u32>,
    /// Time limits of the tests inside the run (`--test-timeout`).
    pub limits: Limits,
    /// Which tests to run, from libtest's arguments (embedded-test suites).
    pub test_args: TestArgs,
    /// The command line the target gets through semihosting (`SYS_GET_CMDLINE`).
    pub semihosting_args: Vec<String>,
    /// Real boards: do not flash an image this process already flashed on the board
    /// (an embedded-test suite is flashed once, then reset for each test).
    pub reuse_flashed: bool,
    /// Printed before each log line (the test's name, when tests run side by side).
    pub log_prefix: Option<String>,
    /// How log lines are printed: defmt-print's `--log-format` (default: `default` with locations).
    pub log_format: Option<String>,
    /// Real boards: how long to wait for a probe or serial port another run holds ([`crate::lock`]).
    pub lock_timeout: Duration,
    /// Stops the run early (SIGINT, SIGTERM): the target is stopped and the run judged as far as it got.
    pub cancel: Cancel,
    /// Tests: faults injected into the byte stream ([`crate::inject`]); the
    /// bytes before the faults go to [`crate::inject::clean_capture_path`] of the capture.
    pub inject: Option<crate::inject::FaultPlan>,
    /// Real boards: reach the probes through this instead of probe-rs on this machine's USB
    /// (a library user's own probe access; tests: probe-rs's FakeProbe or the doubles).
    pub probe_access: Option<ProbeAccessOverride>,
}

/// A [`ProbeAccess`] a run uses instead of probe-rs on this machine ([`RunOptions::probe_access`]).
#[derive(Clone)]
pub struct ProbeAccessOverride(pub Arc<dyn ProbeAccess>);

impl std::fmt::Debug for ProbeAccessOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeAccessOverride(..)")
    }
}

impl RunOptions {
    /// Defaults for `elf` on `board`: 120 s, a timestamped capture under `target/hil/captures`.
    pub fn new(board: Board, elf: PathBuf) -> Self {
        let capture = default_capture_path(&board.name, &elf);
        // A real UART has a line rate; USB CDC and QEMU's UART models have none.
        let baud = match &board.kind {
            BoardKind::Probe(p) => p.serial().filter(|s| !s.native_usb).map(|s| s.baud),
            BoardKind::Qemu(_) => None,
        };
        Self {
            board,
            elf,
            timeout: Duration::from_secs(120),
            capture,
            qemu_serial: QemuSerial::default(),
            qemu_args: Vec::new(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            print_logs: false,
            baud,
            limits: Limits::default(),
            test_args: TestArgs::default(),
            semihosting_args: Vec::new(),
            reuse_flashed: false,
            log_prefix: None,
            log_format: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            cancel: Cancel::never(),
            inject: None,
            probe_access: None,
        }
    }
}

/// How long a run on a real board waits for its probe and serial port by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);
