//! Runs one firmware on one board: start it, capture every byte, analyse as bytes arrive, stop, judge.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::analysis::{Analyzer, SeenFrame};
use crate::backend::probe::ProbeBackend;
use crate::backend::qemu::{QemuBackend, QemuSerial};
use crate::backend::{Backend, TargetEnd};
use crate::board::{Board, BoardKind};
use crate::decode::Content;
use crate::firmware::{Firmware, FirmwareError};
use crate::framer::DEFAULT_MAX_FRAME_LEN;
use crate::log_format::{colour_for, LogRenderer};
use crate::report::{self, TestReport, Verdict};
use crate::speaks::test_args::TestArgs;
use crate::speaks::{Limits, Listener, Rates, RunEnd, Speaks, Stop};

pub mod each;
mod reader;

use reader::spawn_reader;

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
        }
    }
}

/// How long a run on a real board waits for its probe and serial port by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// Take the real board's probe and serial port locks (none for emulated boards), waiting up to `opts.lock_timeout`.
pub async fn lock_board(opts: &RunOptions) -> Result<crate::lock::Held, crate::lock::LockError> {
    let board = opts.board.clone();
    let timeout = opts.lock_timeout;
    tokio::task::spawn_blocking(move || {
        crate::lock::acquire(&board, timeout, |what, holder| {
            eprintln!(
                "hil: {}: waiting for {what}, in use by {holder} (up to {:.0} s, --lock-timeout)",
                board.name,
                timeout.as_secs_f64()
            );
        })
    })
    .await
    .expect("lock task panicked")
}

/// Where a run's capture goes unless `--capture` says otherwise: never overwritten.
pub fn default_capture_path(board: &str, elf: &Path) -> PathBuf {
    crate::project::capture_path(board, elf)
}

/// Why a run could not start: bad input (exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The ELF cannot be used.
    #[error(transparent)]
    Firmware(#[from] FirmwareError),
    /// The capture file cannot be created.
    #[error("cannot create capture file {path}: {source}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Run `opts.elf` on `opts.board` to a verdict. Infrastructure faults become an `error` report.
///
/// An embedded-test suite runs test by test, each in a fresh target ([`each`]).
pub async fn run(opts: &RunOptions) -> Result<TestReport, RunError> {
    let firmware = Firmware::load(&opts.elf)?;
    // A real board is used by one run at a time, in this process and any other.
    let _locks = match lock_board(opts).await {
        Ok(held) => held,
        Err(e) => {
            return Ok(TestReport::error(
                &firmware_name(&opts.elf),
                &opts.board.name,
                &opts.elf.display().to_string(),
                &opts.capture.display().to_string(),
                e.to_string(),
            ))
        }
    };
    if let Some(table) = firmware.embedded_test() {
        return each::run_each(opts, &firmware, table).await;
    }
    let listener = Speaks::of(&firmware).listener(&firmware, opts.limits);
    run_with(opts, &firmware, listener).await
}

/// One run of `firmware` as `opts` says, judged by `listener`.
pub async fn run_with<'t>(
    opts: &RunOptions,
    firmware: &'t Firmware,
    listener: Box<dyn Listener + 't>,
) -> Result<TestReport, RunError> {
    if let Some(dir) = opts.capture.parent() {
        std::fs::create_dir_all(dir).map_err(|source| RunError::Capture {
            path: opts.capture.clone(),
            source,
        })?;
    }
    let capture = std::fs::File::create(&opts.capture).map_err(|source| RunError::Capture {
        path: opts.capture.clone(),
        source,
    })?;
    let report = match &opts.board.kind {
        BoardKind::Qemu(q) => {
            let mut args = opts.qemu_args.clone();
            if !opts.semihosting_args.is_empty() {
                // QEMU merges every -semihosting-config into one: this adds the command line.
                let cmdline: Vec<String> = opts
                    .semihosting_args
                    .iter()
                    .map(|a| format!("arg={a}"))
                    .collect();
                args.extend(["-semihosting-config".to_owned(), cmdline.join(",")]);
            }
            let backend = QemuBackend::new(q.clone(), opts.qemu_serial, args);
            run_on(backend, firmware, opts, capture, listener).await
        }
        BoardKind::Probe(p) => {
            let boot = firmware.marker_index(crate::markers::MarkerKind::Boot);
            let backend = ProbeBackend::new(&opts.board, p, boot)
                .with_command_line(&opts.semihosting_args)
                .reuse_flashed(opts.reuse_flashed);
            run_on(backend, firmware, opts, capture, listener).await
        }
    };
    Ok(report)
}

/// How long a closed or failed serial link waits for the target's end to show (QEMU's exit status).
const SETTLE: Duration = Duration::from_secs(2);
/// After the target ended: the longest wait for the rest of its bytes, and the longest pause between them.
const DRAIN_MAX: Duration = Duration::from_secs(3);
const DRAIN_IDLE: Duration = Duration::from_millis(300);

/// One run on `backend` (what [`run_with`] does once it has made the board's backend):
/// capture into `capture`, judge with `listener`. Tests run it on doubles.
pub async fn run_on<'t>(
    mut backend: impl Backend,
    firmware: &'t Firmware,
    opts: &RunOptions,
    capture: std::fs::File,
    mut listener: Box<dyn Listener + 't>,
) -> TestReport {
    let elf = opts.elf.display().to_string();
    let capture_name = opts.capture.display().to_string();
    let fallback_name = firmware_name(&opts.elf);
    let speaks = Speaks::of(firmware);
    let error = |reason: String| {
        let mut report = TestReport::error(
            &fallback_name,
            &opts.board.name,
            &elf,
            &capture_name,
            reason,
        );
        report.speaks = Some(speaks);
        report
    };

    let source = match backend.start(&opts.elf).await {
        Ok(source) => source,
        Err(e) => return error(e.to_string()),
    };
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let (tx, mut rx) = mpsc::channel::<Result<Vec<u8>, String>>(64);
    let stop_reader = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(source, tx, stop_reader.clone());

    let mut capture = std::io::BufWriter::with_capacity(1 << 16, capture);
    let mut analyzer = Analyzer::new(firmware, opts.max_frame_len);
    // Logs are rendered only when they are shown: defmt-decoder's formatter is slow.
    let renderer = opts
        .print_logs
        .then(|| {
            LogRenderer::new(
                firmware,
                opts.log_format.as_deref(),
                colour_for(&std::io::stderr()),
            )
        })
        .and_then(Result::ok);
    let mut first_byte: Option<Instant> = None;
    let mut last_byte = Instant::now();
    let mut capture_error = None;
    let mut on_chunk = |chunk: &[u8], analyzer: &mut Analyzer<'_>, listener: &mut dyn Listener| {
        let now = Instant::now();
        first_byte.get_or_insert(now);
        last_byte = now;
        if let Err(e) = capture.write_all(chunk) {
            capture_error.get_or_insert(e.to_string());
        }
        analyzer.feed(chunk, |frame| {
            print_log(renderer.as_ref(), firmware, opts, &frame);
            listener.frame(&frame, now);
        });
        listener.finished()
    };

    let stop = loop {
        let test_deadline = listener.deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(Ok(bytes)) => if on_chunk(&bytes, &mut analyzer, &mut *listener) {
                    break Stop::Finished
                },
                Some(Err(e)) => break settle(&mut backend, Stop::SourceFailed(e)).await,
                None => break settle(&mut backend, Stop::SourceClosed).await,
            },
            end = backend.ended() => break Stop::TargetEnded(end),
            _ = tokio::time::sleep_until(deadline) => break Stop::Deadline,
            _ = sleep_until_some(test_deadline) => break Stop::TestDeadline,
        }
    };
    let ended_at = Instant::now();
    // A target that ended by itself may still have bytes in flight: read them
    // until the link closes (QEMU) or goes quiet (a real board's port).
    if matches!(stop, Stop::TargetEnded(_)) {
        let until = tokio::time::Instant::now() + DRAIN_MAX;
        loop {
            let wait = (tokio::time::Instant::now() + DRAIN_IDLE).min(until);
            match tokio::time::timeout_at(wait, rx.recv()).await {
                Ok(Some(Ok(bytes))) => {
                    on_chunk(&bytes, &mut analyzer, &mut *listener);
                }
                _ => break,
            }
        }
    }
    backend.stop().await;
    stop_reader.store(true, Ordering::Relaxed);
    let _ = reader.await;
    if let Err(e) = capture.flush() {
        capture_error.get_or_insert(e.to_string());
    }

    let duration = match first_byte {
        Some(first) => last_byte.duration_since(first).as_secs_f64(),
        None => 0.0,
    };
    let mut analysis = analyzer.finish(Some(&opts.board.name));
    analysis.summary.discarded_before_boot = backend.discarded_before_boot();
    analysis.summary.semihosting_output = backend.target_output();
    let end = RunEnd {
        stop: &stop,
        analysis: &analysis,
        timeout: opts.timeout,
        board: Some(&opts.board),
        at: ended_at,
        name: &fallback_name,
        rates: Rates::new(analysis.summary.bytes, duration, opts.baud),
    };
    let mut judgement = listener.judge(&end);
    if let Some(e) = capture_error {
        judgement.verdict = Verdict::Error;
        judgement.reason = Some(format!("capture file {capture_name}: {e}"));
    }
    let mut report = error(String::new())
        .with_analysis(analysis, duration)
        .with_link(&report::RunLink::new(&opts.qemu_args, opts.baud))
        .with_judgement(judgement);
    report.target_end = Some(match stop {
        Stop::TargetEnded(end) => end,
        _ => TargetEnd::Stopped,
    });
    report
}

/// The name of a firmware in reports: the ELF's file name, without the hash cargo gives test binaries.
pub fn firmware_name(elf: &Path) -> String {
    let stem = elf
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("firmware");
    match stem.rsplit_once('-') {
        Some((name, hash))
            if !name.is_empty()
                && hash.len() == 16
                && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            name.to_owned()
        }
        _ => stem.to_owned(),
    }
}

/// Resolves at `deadline`, or never without one.
async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The serial link closed or failed: if the target ended with it (QEMU exited), that is how the run ended.
async fn settle(backend: &mut impl Backend, stop: Stop) -> Stop {
    match tokio::time::timeout(SETTLE, backend.ended()).await {
        Ok(end) => Stop::TargetEnded(end),
        Err(_) => stop,
    }
}

/// Print the firmware's own log frames (not the markers) as defmt-print would.
fn print_log(
    renderer: Option<&LogRenderer>,
    firmware: &Firmware,
    opts: &RunOptions,
    frame: &SeenFrame<'_, '_>,
) {
    let (Some(renderer), Ok(Content::Log(_))) = (renderer, frame.content) else {
        return;
    };
    // The analyzer's frame borrows its decoder; render a copy decoded from the same bytes.
    let Ok((f, _)) = firmware.table().decode(frame.decoded) else {
        return;
    };
    let text = renderer.render(f);
    match &opts.log_prefix {
        Some(prefix) => eprintln!(
            "[{prefix}] {}",
            text.replace('\n', &format!("\n[{prefix}] "))
        ),
        None => eprintln!("{text}"),
    }
}
