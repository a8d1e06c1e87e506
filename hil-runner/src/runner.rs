//! Runs one firmware on one board: start it, capture every byte, analyse as bytes arrive, stop, judge.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::analysis::Analyzer;
use crate::backend::probe::ProbeBackend;
use crate::backend::qemu::QemuBackend;
use crate::backend::{Backend, TargetEnd};
use crate::board::BoardKind;
use crate::firmware::{Firmware, FirmwareError};
use crate::log_format::{colour_for, LogRenderer};
use crate::report::{self, TestReport, Verdict};
use crate::speaks::{Listener, Rates, RunEnd, Speaks, Stop};

pub mod cancel;
pub mod each;
mod logs;
mod options;
mod reader;

use cancel::Interrupt;
use logs::print_log;
pub use options::{ProbeAccessOverride, RunOptions, DEFAULT_LOCK_TIMEOUT};
use reader::spawn_reader;

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
    let locked = tokio::select! {
        locked = lock_board(opts) => locked.map_err(|e| e.to_string()),
        why = opts.cancel.wait() => Err(format!("interrupted by {why} while waiting for the board")),
    };
    let _locks = match locked {
        Ok(held) => held,
        Err(e) => {
            return Ok(TestReport::error(
                &firmware_name(&opts.elf),
                &opts.board.name,
                &opts.elf.display().to_string(),
                &opts.capture.display().to_string(),
                e,
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
    match &opts.board.kind {
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
            run_on_backend(backend, firmware, opts, listener).await
        }
        BoardKind::Probe(p) => {
            let boot = firmware.marker_index(crate::markers::MarkerKind::Boot);
            let backend = match &opts.probe_access {
                Some(access) => ProbeBackend::with_access(&opts.board, p, boot, access.0.clone()),
                None => ProbeBackend::new(&opts.board, p, boot),
            };
            let backend = backend
                .with_command_line(&opts.semihosting_args)
                .reuse_flashed(opts.reuse_flashed);
            run_on_backend(backend, firmware, opts, listener).await
        }
    }
}

/// One run on `backend` (any [`Backend`]: tests hand in doubles), judged by `listener`.
///
/// The capture file is created first: a capture that cannot be written is
/// bad input before the target starts. A run cancelled before it starts
/// starts nothing.
pub async fn run_on_backend<'t>(
    backend: impl Backend,
    firmware: &'t Firmware,
    opts: &RunOptions,
    listener: Box<dyn Listener + 't>,
) -> Result<TestReport, RunError> {
    if let Some(why) = opts.cancel.interrupted() {
        // Nothing ran: no target, no capture.
        let mut report = TestReport::error(
            &firmware_name(&opts.elf),
            &opts.board.name,
            &opts.elf.display().to_string(),
            "",
            format!("interrupted by {why} before the target started"),
        );
        report.speaks = Some(Speaks::of(firmware));
        return Ok(report);
    }
    let capture = create_capture(&opts.capture)?;
    Ok(run_on(backend, firmware, opts, capture, listener).await)
}

/// Create the capture file and its directory.
fn create_capture(path: &Path) -> Result<std::fs::File, RunError> {
    let err = |source| RunError::Capture {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::File::create(path).map_err(err)
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
    let source = crate::inject::wrap(source, opts.inject.as_ref(), &opts.capture);
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

    let mut interrupted: Option<Interrupt> = None;
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
            why = opts.cancel.wait() => {
                interrupted = Some(why);
                break Stop::TargetEnded(TargetEnd::Killed { detail: interrupt_reason(why, &opts.board.name) });
            }
        }
    };
    let ended_at = Instant::now();
    // Interrupted: stop the target first, then read what it wrote until then.
    if interrupted.is_some() {
        backend.stop().await;
    }
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
    // The frames still queued on the stopped target (not after its end marker: nothing is owed then).
    let image = backend
        .take_queue_image()
        .filter(|_| !matches!(stop, Stop::Finished));
    crate::recover::recover(&mut analyzer, image, |frame| {
        print_log(renderer.as_ref(), firmware, opts, &frame);
        listener.frame(&frame, ended_at);
    });
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
    crate::recover::judge(&mut judgement, &stop, analysis.summary.recovered);
    if let Some(e) = capture_error {
        judgement.verdict = Verdict::Error;
        judgement.reason = Some(format!("capture file {capture_name}: {e}"));
    }
    let mut report = error(String::new())
        .with_analysis(analysis, duration)
        .with_link(&report::RunLink::new(&opts.qemu_args, opts.baud))
        .with_judgement(judgement);
    report.target_end = Some(match stop {
        _ if interrupted.is_some() => TargetEnd::Stopped,
        Stop::TargetEnded(end) => end,
        _ => TargetEnd::Stopped,
    });
    report
}

/// Why an interrupted run is `error`: the signal, and that the runner stopped the target.
fn interrupt_reason(why: Interrupt, board: &str) -> String {
    format!("interrupted by {why}: the runner stopped the target on {board}; the report and capture hold what ran until then")
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
