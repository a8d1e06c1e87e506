//! End to end on the selected board (default: the emulated lm3s6965evb): build firmware, run it, judge it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hil_runner::analysis::Analyzer;
use hil_runner::backend::qemu::QemuSerial;
use hil_runner::build::Images;
use hil_runner::check::Violation;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::{TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use host_tests::{board, cut_seq_frame, image, ordering_firmware, suite};

fn run(elf: std::path::PathBuf, configure: impl FnOnce(&mut RunOptions)) -> TestReport {
    let mut opts = RunOptions::new(board(), elf);
    opts.timeout = Duration::from_secs(120);
    configure(&mut opts);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::run(&opts)).expect("run starts")
}

/// The ordering suite, run once for every test that looks at it.
fn ordering_run() -> &'static TestReport {
    static RUN: OnceLock<TestReport> = OnceLock::new();
    RUN.get_or_init(|| run(suite("ordering"), |_| {}))
}

#[test]
fn ordering_suite_passes_with_every_frame_accounted_for() {
    let r = ordering_run();
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{:?}: {:?}",
        r.reason,
        r.violations
    );
    assert!(r.frames >= 100_000, "only {} frames", r.frames);
    assert_eq!((r.malformed, r.missing, r.dropped_reported), (0, 0, 0));
    let summary = &r.details.as_ref().unwrap().summary;
    assert_eq!(summary.sent.get(&0), Some(&100_000), "thread-mode stream");
    let irq = summary.sent.get(&1).copied().unwrap_or(0);
    assert!(
        irq >= 100,
        "the timer interrupt logged only {irq} frames: no real interleaving"
    );
    let capture = std::fs::metadata(&r.capture).expect("capture kept").len();
    assert_eq!(capture, r.bytes, "the capture holds every byte received");
    assert!(r.bytes_per_s > 0.0 && r.frames_per_s > 0.0);
}

#[test]
fn a_capture_with_one_whole_frame_cut_out_fails_and_names_the_missing_seq() {
    let firmware = ordering_firmware();
    let capture = std::fs::read(&ordering_run().capture).unwrap();
    let (cut, offset) = cut_seq_frame(&firmware, &capture, 0, 50_000);
    let mut analyzer = Analyzer::new(&firmware, DEFAULT_MAX_FRAME_LEN);
    analyzer.feed(&cut, |_| {});
    let analysis = analyzer.finish(None);
    assert_eq!(analysis.summary.missing, 1);
    assert_eq!(
        analysis.summary.malformed, 0,
        "a whole frame cut leaves no garbage"
    );
    // Named at the next frame of stream 0: at the cut, or later when another stream's
    // frames (the interrupt's, whose timing varies run to run) follow it.
    assert!(
        analysis.violations.iter().any(|v| matches!(
            v,
            Violation::Gap { stream: 0, first_missing: 50_000, last_missing: 50_000, offset: at }
                if *at >= offset
        )),
        "no gap of seq 50000 at or after {offset}: {:?}",
        analysis.violations
    );
    assert!(
        analysis
            .violations
            .iter()
            .any(|v| matches!(v, Violation::Unaccounted { .. })),
        "the lost frame is also missing from the firmware's count: {:?}",
        analysis.violations
    );
}

#[test]
fn the_socket_chardev_carries_the_same_run_losslessly() {
    let r = run(suite("ordering"), |o| o.qemu_serial = QemuSerial::Socket);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    assert_eq!((r.malformed, r.missing), (0, 0));
}

#[test]
fn the_pty_real_boards_use_carries_the_same_run_losslessly() {
    let r = run(suite("ordering"), |o| o.qemu_serial = QemuSerial::Pty);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    assert_eq!((r.malformed, r.missing), (0, 0));
}

#[test]
fn firmware_that_never_ends_is_stopped_at_the_deadline() {
    let elf = image(Images::Examples, "never_ends");
    let started = Instant::now();
    let r = run(elf, |o| o.timeout = Duration::from_secs(3));
    assert_eq!(r.verdict, Verdict::Timeout, "{:?}", r.reason);
    assert!(r
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("no end marker within 3.0 s"));
    // Only a hang fails here (the firmware is built before the clock starts): the run
    // must end near its 3 s deadline, not run on.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.frames >= 2,
        "boot and start markers arrived before the deadline"
    );
}

#[test]
fn a_panic_is_a_crash_with_the_panic_message() {
    let r = run(image(Images::Examples, "panics"), |_| {});
    assert_eq!(r.verdict, Verdict::Crash);
    let reason = r.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("deliberate panic for the crash test"),
        "{reason}"
    );
}
