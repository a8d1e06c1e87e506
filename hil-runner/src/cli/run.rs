//! `hil-runner run ELF`: run one firmware on a board (also the firmware workspace's cargo runner).

use std::path::PathBuf;
use std::time::Duration;

use hil_runner::backend::qemu::QemuSerial;
use hil_runner::board::BoardKind;
use hil_runner::firmware::Firmware;
use hil_runner::report::{ExitStatus, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::speaks::test_args::{list, TestArgs};

use super::ReportArgs;

/// Run one firmware ELF on a board and judge it.
#[derive(clap::Args)]
pub struct Cmd {
    /// The firmware ELF.
    elf: PathBuf,
    /// Board name (boards/NAME.toml) or path to a board file.
    #[arg(long, env = "HIL_BOARD")]
    board: Option<String>,
    /// Seconds the whole run may take before the target is stopped (verdict `timeout`, exit 4).
    #[arg(long, default_value_t = 120.0, value_name = "S", env = "HIL_TIMEOUT")]
    timeout: f64,
    /// Seconds each test of a defmt-test suite may take (the test that overruns is `timeout`).
    #[arg(long, value_name = "S", env = "HIL_TEST_TIMEOUT")]
    test_timeout: Option<f64>,
    /// Fail a run that lost frames: any drop report, missing or malformed frame
    /// (by default a run keeps the verdict its firmware earns, the loss shown).
    #[arg(long, env = "HIL_FAIL_ON_LOSS")]
    fail_on_loss: bool,
    /// Raw capture file (default: target/hil/captures/BOARD/ELF-TIME-PID.raw).
    #[arg(long, value_name = "FILE")]
    capture: Option<PathBuf>,
    #[command(flatten)]
    reports: ReportArgs,
    #[command(flatten)]
    qemu: QemuArgs,
    /// Real boards: seconds to wait for a probe or serial port another run holds (then exit 3).
    #[arg(
        long,
        default_value_t = 600.0,
        value_name = "S",
        env = "HIL_LOCK_TIMEOUT"
    )]
    lock_timeout: f64,
    /// Do not print the firmware's own log frames.
    #[arg(long)]
    quiet: bool,
    /// How log lines are printed: `default`, `oneline` or a custom defmt-print format (`{t} {L} {s}`).
    #[arg(long, value_name = "FMT", env = "HIL_LOG_FORMAT")]
    log_format: Option<String>,
    /// Tests: inject faults into the byte stream (`flip@1200:0x04,drop@5000+3,
    /// noise@8000+16,stall@9000:2s,close@20000`); the bytes before the
    /// faults go to CAPTURE.clean.
    #[arg(long, hide = true, value_name = "PLAN")]
    inject: Option<hil_runner::inject::FaultPlan>,
    /// Arguments for the firmware's test harness, as `cargo test -- ARGS` passes them.
    /// defmt-test cannot select tests: every test runs.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    test_args: Vec<String>,
}

/// Options of emulated boards.
#[derive(clap::Args, Debug, Clone)]
pub struct QemuArgs {
    /// How QEMU's UART reaches the runner.
    #[arg(long, value_enum, default_value_t = QemuSerial::Pipe, env = "HIL_QEMU_SERIAL")]
    pub qemu_serial: QemuSerial,
    /// Extra argument for qemu-system-arm (repeat for several).
    #[arg(long = "qemu-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub qemu_args: Vec<String>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        let seconds = |name: &str, s: f64| {
            anyhow::ensure!(
                s > 0.0 && s.is_finite(),
                "{name} must be a positive number of seconds, not {s}"
            );
            Ok(Duration::from_secs_f64(s))
        };
        let timeout = seconds("--timeout", self.timeout)?;
        let test_timeout = self
            .test_timeout
            .map(|s| seconds("--test-timeout", s))
            .transpose()?;
        let test_args = TestArgs::parse(&self.test_args).map_err(anyhow::Error::msg)?;
        let board = super::board(self.board.as_deref())?;
        let firmware = Firmware::load(&self.elf)?;
        if test_args.list {
            let names: Vec<&str> = match (firmware.embedded_test(), firmware.defmt_test()) {
                (Some(t), _) => t.tests.iter().map(|t| t.name.as_str()).collect(),
                (None, Some(t)) => t.names().iter().map(String::as_str).collect(),
                (None, None) => Vec::new(),
            };
            print!("{}", list(names));
            return Ok(ExitStatus::Passed);
        }
        // An ELF for another core or memory map would run silently until --timeout on an
        // emulated board (a real board's flash loader refuses it: exit 3).
        if matches!(board.kind, BoardKind::Qemu(_)) {
            hil_runner::board::verify::firmware_fits(&board, &self.elf)?;
        }
        // A log sent where the board does not read it would be lost whole, without a word.
        hil_runner::board::verify::logger_fits(&board, &self.elf)?;
        if test_args.filters_any() && firmware.embedded_test().is_none() {
            eprintln!("hil: this firmware cannot select tests: every test runs");
        }
        if let Some(format) = &self.log_format {
            // A bad format is bad input before anything runs.
            hil_runner::log_format::LogRenderer::new(&firmware, Some(format), false)?;
        }
        drop(firmware);
        let mut opts = RunOptions::new(board, self.elf);
        opts.timeout = timeout;
        opts.limits.test_timeout = test_timeout;
        opts.test_args = test_args;
        opts.limits.fail_on_loss = self.fail_on_loss;
        opts.qemu_serial = self.qemu.qemu_serial;
        opts.qemu_args = self.qemu.qemu_args;
        opts.lock_timeout = Duration::from_secs_f64(self.lock_timeout);
        opts.print_logs = !self.quiet;
        opts.log_format = self.log_format;
        opts.inject = self.inject;
        if let Some(capture) = self.capture {
            opts.capture = capture;
        }
        let (rt, cancel) = super::runtime_with_signals()?;
        opts.cancel = cancel;
        let report = rt.block_on(runner::run(&opts))?;
        let status = self.reports.emit(std::slice::from_ref(&report))?;
        // QEMU would not start because of the board file: bad input, naming the field.
        if report.verdict == Verdict::Error && report.target_end.is_none() {
            let reason = report.reason.as_deref().unwrap_or_default();
            if let Some(e) = hil_runner::board::verify::qemu_rejected(&opts.board, reason) {
                return Err(e.into());
            }
        }
        Ok(status)
    }
}
