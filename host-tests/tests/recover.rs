//! End to end on the emulated board: frames still in the transport's queue when the core stops reach the host.

use std::time::Duration;

use hil_runner::build::Images;
use hil_runner::report::{TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use host_tests::{board, image};

fn run(example: &str, timeout: Duration) -> TestReport {
    let mut opts = RunOptions::new(board(), image(Images::Examples, example));
    opts.timeout = timeout;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::run(&opts)).expect("run starts")
}

/// Every frame the firmware logged before its end marker is received, recovered or dropped.
fn assert_every_frame_accounted_for(r: &TestReport) {
    let summary = &r.details.as_ref().expect("analysed").summary;
    let end = summary
        .end
        .expect("the end marker, recovered from the queue");
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(
        summary.frames_before_end + u64::from(end.dropped),
        u64::from(end.attempted),
        "received (over the link and recovered) + dropped == attempted"
    );
    assert_eq!((r.malformed, r.missing), (0, 0));
    let capture = std::fs::metadata(&r.capture).expect("capture kept").len();
    assert_eq!(capture, r.bytes, "the capture holds the link's bytes only");
}

#[test]
fn frames_queued_at_a_hard_fault_are_recovered_with_the_panic_message() {
    let r = run("queued_at_fault", Duration::from_secs(120));
    assert_eq!(r.verdict, Verdict::Crash, "{:?}", r.reason);
    let reason = r.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("queued_at_fault: the UART stopped draining"),
        "the panic message never crossed the UART, yet it is shown: {reason}"
    );
    // 20 sequence frames, the stream count, the end marker and the panic marker.
    assert_eq!(r.recovered, 23);
    let summary = &r.details.as_ref().unwrap().summary;
    assert!(
        r.bytes + summary.recovered_bytes > 1024,
        "the queued part wrapped around the 1 KiB queue's end"
    );
    assert_eq!(summary.sent.get(&0), Some(&90));
    assert_eq!(summary.seq_frames, 90, "70 over the UART, 20 recovered");
    assert_every_frame_accounted_for(&r);
}

#[test]
fn frames_queued_by_a_hung_core_are_recovered_when_the_runner_halts_it() {
    let r = run("queued_then_hangs", Duration::from_secs(3));
    assert_eq!(r.verdict, Verdict::Timeout, "{:?}", r.reason);
    // 10 sequence frames, the stream count and the end marker.
    assert_eq!(r.recovered, 12);
    assert!(
        r.reason
            .as_deref()
            .unwrap_or("")
            .contains("12 frames reached the host only from the target's queue"),
        "{:?}",
        r.reason
    );
    assert_every_frame_accounted_for(&r);
}

/// `example` exits with success, its last 8 sequence frames, stream count and end
/// marker only in the queue: all recovered, every frame accounted for.
fn assert_exit_with_ten_frames_queued(example: &str) {
    let r = run(example, Duration::from_secs(120));
    assert!(
        matches!(
            r.target_end,
            Some(hil_runner::backend::TargetEnd::Exited { code: 0 })
        ),
        "{:?} {:?}",
        r.target_end,
        r.reason
    );
    assert_eq!(r.recovered, 10);
    // It ended by itself with success: every frame is accounted for, the count says how.
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    assert_every_frame_accounted_for(&r);
}

#[test]
fn frames_queued_at_a_semihosting_exit_are_recovered_before_qemu_exits() {
    assert_exit_with_ten_frames_queued("queued_at_exit");
}

#[test]
fn a_semihosting_call_before_the_exit_runs_and_the_queue_is_still_read_at_the_exit() {
    // The console write meets the runner's trap first: it must return to the call
    // (the firmware goes on to log and exit) and leave the exit watched.
    assert_exit_with_ten_frames_queued("console_then_queued_exit");
}
