//! Runs one firmware on one board: start it, capture every byte, analyse as bytes arrive, stop, judge.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::analysis::{Analysis, Analyzer, SeenFrame};
use crate::backend::probe::ProbeBackend;
use crate::backend::qemu::{QemuBackend, QemuSerial};
use crate::backend::{Backend, TargetEnd};
use crate::board::{Board, BoardKind};
use crate::decode::Content;
use crate::firmware::{Firmware, FirmwareError};
use crate::framer::DEFAULT_MAX_FRAME_LEN;
use crate::report::{self, TestReport, Verdict};
use crate::source::{ByteSource, ReadOutcome};

/// Bytes the reader gathers before handing them on.
const BATCH_BYTES: usize = 16 * 1024;
/// Longest a gathered byte waits before it is handed on.
const BATCH_TIME: Duration = Duration::from_millis(5);

/// After the target exits by itself, how long to keep reading bytes still in flight.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(300);

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
}

impl RunOptions {
    /// Defaults for `elf` on `board`: 120 s, a timestamped capture under `target/hil/captures`.
    pub fn new(board: Board, elf: PathBuf) -> Self {
        let capture = default_capture_path(&board.name, &elf);
        // A real UART has a line rate; USB CDC and QEMU's UART models have none.
        let baud = match &board.kind {
            BoardKind::Probe(p) if !p.serial.native_usb => Some(p.serial.baud),
            _ => None,
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
        }
    }
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
pub async fn run(opts: &RunOptions) -> Result<TestReport, RunError> {
    let firmware = Firmware::load(&opts.elf)?;
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
            let backend = QemuBackend::new(q.clone(), opts.qemu_serial, opts.qemu_args.clone());
            run_on(backend, &firmware, opts, capture).await
        }
        BoardKind::Probe(p) => {
            let boot = firmware.marker_index(crate::markers::MarkerKind::Boot);
            let backend = ProbeBackend::new(&opts.board, p, boot);
            run_on(backend, &firmware, opts, capture).await
        }
    };
    Ok(report)
}

/// How the byte loop ended.
enum Stop {
    EndMarker,
    TargetEnded(TargetEnd),
    SourceClosed,
    SourceFailed(String),
    Deadline,
}

async fn run_on(
    mut backend: impl Backend,
    firmware: &Firmware,
    opts: &RunOptions,
    capture: std::fs::File,
) -> TestReport {
    let elf = opts.elf.display().to_string();
    let capture_name = opts.capture.display().to_string();
    let fallback_name = opts
        .elf
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("firmware")
        .to_owned();
    let error = |reason: String| {
        TestReport::error(
            &fallback_name,
            &opts.board.name,
            &elf,
            &capture_name,
            reason,
        )
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
    let mut first_byte: Option<Instant> = None;
    let mut last_byte = Instant::now();
    let mut capture_error = None;
    let mut on_chunk = |chunk: &[u8], analyzer: &mut Analyzer<'_>| {
        first_byte.get_or_insert_with(Instant::now);
        last_byte = Instant::now();
        if let Err(e) = capture.write_all(chunk) {
            capture_error.get_or_insert(e.to_string());
        }
        // The end marker ends a test; so does a panic marker (the panic handler
        // sends it last, after everything else in the queue).
        analyzer.feed(chunk, |frame| print_log(opts.print_logs, frame))
            || analyzer.summary().panic.is_some()
    };

    let stop = loop {
        tokio::select! {
            chunk = rx.recv() => match chunk {
                Some(Ok(bytes)) => if on_chunk(&bytes, &mut analyzer) { break Stop::EndMarker },
                Some(Err(e)) => break Stop::SourceFailed(e),
                None => break Stop::SourceClosed,
            },
            end = backend.ended() => break Stop::TargetEnded(end),
            _ = tokio::time::sleep_until(deadline) => break Stop::Deadline,
        }
    };
    // A target that ended by itself may still have bytes in flight: read them.
    if matches!(stop, Stop::TargetEnded(_)) {
        let until = tokio::time::Instant::now() + DRAIN_AFTER_EXIT;
        while let Ok(Some(Ok(bytes))) = tokio::time::timeout_at(until, rx.recv()).await {
            if on_chunk(&bytes, &mut analyzer) {
                break;
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
    let (verdict, reason, target_end) = judge(&stop, &analysis, opts.timeout);
    let (verdict, reason) = match capture_error {
        Some(e) => (
            Verdict::Error,
            Some(format!("capture file {capture_name}: {e}")),
        ),
        None => (verdict, reason),
    };
    let mut report = error(String::new())
        .with_analysis(analysis, duration)
        .with_link(&report::RunLink::new(&opts.qemu_args, opts.baud));
    report.verdict = verdict;
    report.reason = reason;
    report.target_end = target_end;
    apply_throughput_floor(&mut report, &opts.board);
    report
}

/// A throughput run that passed but moved fewer bytes than the board's `[checks]` floor fails.
fn apply_throughput_floor(report: &mut TestReport, board: &Board) {
    let is_throughput = report
        .details
        .as_ref()
        .and_then(|a| a.summary.test.as_deref())
        == Some(crate::board::checks::THROUGHPUT_TEST);
    if report.verdict != Verdict::Pass || !is_throughput {
        return;
    }
    if let Some(reason) = board
        .checks
        .too_slow(report.bytes_per_s, report.line_utilisation)
    {
        report.verdict = Verdict::Fail;
        report.reason = Some(format!("{reason} in {}", board.path.display()));
    }
}

/// The verdict of a run, why, and how the target ended.
fn judge(
    stop: &Stop,
    analysis: &Analysis,
    timeout: Duration,
) -> (Verdict, Option<String>, Option<TargetEnd>) {
    let s = &analysis.summary;
    let ended = match stop {
        Stop::TargetEnded(end) => Some(end.clone()),
        _ => Some(TargetEnd::Stopped),
    };
    let (verdict, reason) = match stop {
        Stop::TargetEnded(end @ TargetEnd::Fault(_)) if s.panic.is_none() => {
            (Verdict::Crash, Some(format!("target faulted: {end}")))
        }
        _ if s.panic.is_some() || s.end.is_some() => report::verdict_of(analysis),
        Stop::EndMarker => report::verdict_of(analysis),
        Stop::Deadline => (
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
    };
    (verdict, reason, ended)
}

/// Print the firmware's own log frames (not the markers) like defmt-print would.
fn print_log(enabled: bool, frame: SeenFrame<'_, '_>) {
    if let (true, Ok(Content::Log(f))) = (enabled, frame.content) {
        eprintln!("{}", f.display(false));
    }
}

/// Move bytes from the blocking source to async code until told to stop or the source closes.
fn spawn_reader(
    mut source: Box<dyn ByteSource>,
    tx: mpsc::Sender<Result<Vec<u8>, String>>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        // QEMU writes a byte per system call, so a read often returns only a
        // few bytes: gather them into batches rather than sending each read.
        let mut buf = vec![0u8; 1 << 16];
        let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
        let mut batch_started = Instant::now();
        let send = |batch: &mut Vec<u8>| tx.blocking_send(Ok(std::mem::take(batch))).is_ok();
        while !stop.load(Ordering::Relaxed) {
            match source.read_some(&mut buf) {
                Ok(ReadOutcome::Data(n)) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.extend_from_slice(&buf[..n]);
                    let full = batch.len() >= BATCH_BYTES || batch_started.elapsed() >= BATCH_TIME;
                    if full && !send(&mut batch) {
                        return;
                    }
                }
                Ok(ReadOutcome::Idle) => {
                    if !batch.is_empty() && !send(&mut batch) {
                        return;
                    }
                }
                Ok(ReadOutcome::Closed) => {
                    if !batch.is_empty() {
                        send(&mut batch);
                    }
                    return;
                }
                Err(e) => {
                    if !batch.is_empty() && !send(&mut batch) {
                        return;
                    }
                    let _ = tx.blocking_send(Err(format!("{}: {e}", source.describe())));
                    return;
                }
            }
        }
        if !batch.is_empty() {
            send(&mut batch);
        }
    })
}
