//! A user's firmware on hil-transport without hil-protocol markers
//! (`target-tests/firmware/examples/user_transport.rs`): a defmt timestamp,
//! `defmt::flush()` calls, bursts that overflow the queue under `drop`.
//!
//! It passes (exit 0: the transport's `attempted` equals its log calls), no
//! frame is malformed, the drop reports add up to the transport's own
//! `dropped`, each report is a loss event, the summary says what was lost,
//! and `--fail-on-loss` turns the same run into a failure.

use std::sync::OnceLock;
use std::time::Duration;

use hil_runner::build::Images;
use hil_runner::report::{terminal, TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::speaks::Speaks;
use host_tests::{board, image};

fn run(fail_on_loss: bool) -> TestReport {
    let mut opts = RunOptions::new(board(), image(Images::Examples, "user_transport"));
    opts.timeout = Duration::from_secs(120);
    opts.limits.fail_on_loss = fail_on_loss;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::run(&opts)).expect("run starts")
}

fn default_run() -> &'static TestReport {
    static RUN: OnceLock<TestReport> = OnceLock::new();
    RUN.get_or_init(|| run(false))
}

/// The firmware's own last line: `done: log calls C attempted A dropped D`.
fn firmware_counts(r: &TestReport) -> (u32, u32, u32) {
    let capture = std::fs::read(&r.capture).unwrap();
    let firmware = hil_runner::firmware::Firmware::load(r.elf.as_ref()).unwrap();
    let mut analyzer = hil_runner::analysis::Analyzer::new(&firmware, 4096);
    let mut last = String::new();
    analyzer.feed(&capture, |f| {
        if let Ok(hil_runner::decode::Content::Log(log)) = f.content {
            last = log.display(false).to_string();
        }
    });
    let words: Vec<&str> = last.split_whitespace().collect();
    let after = |word: &str| -> u32 {
        let i = words.iter().position(|w| *w == word).expect(word);
        words[i + 1].parse().unwrap()
    };
    assert!(last.contains("done:"), "{last}");
    (after("calls"), after("attempted"), after("dropped"))
}

#[test]
fn a_user_firmware_with_timestamp_flushes_and_overflows_passes_with_every_drop_reported() {
    let r = default_run();
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    assert_eq!(r.speaks, Some(Speaks::Defmt));
    let (calls, attempted, dropped) = firmware_counts(r);
    assert_eq!(
        calls,
        4 * 300 + 4 + 1,
        "the firmware's log calls before its last line"
    );
    assert_eq!(attempted, calls, "defmt::flush() counts no frame");
    assert!(dropped > 500, "the bursts overflowed: {dropped}");
    assert_eq!(r.malformed, 0);
    assert_eq!(
        r.dropped_reported,
        u64::from(dropped),
        "every drop reported"
    );
    // Every frame the firmware logged arrived or was reported dropped (+1: its last line).
    assert_eq!(r.frames - reports(r), u64::from(attempted - dropped) + 1);
    let overflow = r.overflow.as_ref().expect("loss events");
    assert!(overflow.events >= 4, "{overflow:?}");
    let text = terminal::render(std::slice::from_ref(r));
    assert!(
        text.contains(&format!(
            "frames lost: {dropped} frames dropped by the firmware"
        )),
        "{text}"
    );
}

/// Drop report frames among the frames received.
fn reports(r: &TestReport) -> u64 {
    r.overflow.as_ref().map_or(0, |o| o.events)
}

#[test]
fn fail_on_loss_fails_the_same_run() {
    let r = run(true);
    assert_eq!(r.verdict, Verdict::Fail);
    let reason = r.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("frames dropped by the firmware"),
        "{reason}"
    );
    assert!(reason.contains("--fail-on-loss"), "{reason}");
}
