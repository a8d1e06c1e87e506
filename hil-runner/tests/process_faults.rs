//! Process and host faults, through the installed binary on real firmware in real QEMU: QEMU killed
//! or stopped, the runner interrupted, an unwritable capture; no QEMU outlives the runner.
//!
//! QEMU's pid is found among the runner's descendants in /proc, polled with a
//! deadline (a hang guard, never an assert on time). The test process is a
//! child subreaper, so a QEMU the runner left behind would be re-parented to
//! it and still be in /proc: "gone" means the runner reaped it.

mod probe_support;
mod process_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hil_runner::backend::probe::CoreStatus;
use hil_runner::firmware::Firmware;
use hil_runner::report::Verdict;
use hil_runner::runner::cancel::{Cancel, Interrupt};
use hil_runner::runner::{self, RunOptions};
use hil_runner::speaks::{Limits, Speaks};
use probe_support::doubles::{backend, pty, Double, Scripted};
use probe_support::nucleo_with_port;
use process_support::{
    assert_capture_is_what_arrived, assert_gone, example_elf, find_qemu, ordering_elf, path,
    signal, Runner, GUARD, RUNNING,
};
#[test]
fn qemu_killed_mid_run_is_an_error_exit_3_naming_its_death_and_the_signal_with_the_capture_kept() {
    let elf = ordering_elf();
    let mut runner = Runner::spawn(&elf, &["--timeout", "100"]);
    let qemu = find_qemu(&mut runner);
    runner.wait_for_capture(RUNNING);
    signal(qemu.pid, libc::SIGKILL);
    let status = runner.wait();
    let err = runner.stderr();
    assert_eq!(status.code(), Some(3), "{err}");
    let report = runner.report();
    assert_eq!(report["verdict"], "error", "{err}");
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("QEMU (pid {}) died", qemu.pid))
            && reason.contains("killed by signal 9 (SIGKILL)"),
        "{reason}"
    );
    assert!(err.contains("SIGKILL"), "{err}");
    assert_capture_is_what_arrived(&runner, &elf, &report);
    assert_gone(qemu);
}

#[test]
fn qemu_stopped_by_sigstop_is_a_timeout_exit_4_and_is_reaped() {
    let elf = ordering_elf();
    let mut runner = Runner::spawn(&elf, &["--timeout", "8"]);
    let qemu = find_qemu(&mut runner);
    runner.wait_for_capture(RUNNING);
    signal(qemu.pid, libc::SIGSTOP);
    let status = runner.wait();
    let err = runner.stderr();
    assert_eq!(status.code(), Some(4), "{err}");
    let report = runner.report();
    assert_eq!(report["verdict"], "timeout", "{err}");
    assert!(report["reason"]
        .as_str()
        .unwrap()
        .contains("no end marker within 8.0 s"));
    assert_eq!(report["target_end"]["kind"], "stopped");
    assert_gone(qemu);
}

fn interrupted(sig: i32, name: &str, code: i32) {
    let elf = ordering_elf();
    let mut runner = Runner::spawn(&elf, &["--timeout", "100"]);
    let qemu = find_qemu(&mut runner);
    runner.wait_for_capture(RUNNING);
    signal(runner.pid(), sig);
    let status = runner.wait();
    let err = runner.stderr();
    assert_eq!(status.code(), Some(code), "{err}");
    let report = runner.report();
    assert_eq!(report["verdict"], "error", "{err}");
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("interrupted by {name}")),
        "{reason}"
    );
    assert_eq!(report["target_end"]["kind"], "stopped");
    assert!(report["frames"].as_u64().unwrap() > 1000, "{report}");
    let junit = runner.junit();
    assert!(junit.contains(&format!("interrupted by {name}")), "{junit}");
    assert_capture_is_what_arrived(&runner, &elf, &report);
    assert_gone(qemu);
}

#[test]
fn sigint_stops_qemu_writes_reports_and_capture_and_exits_130() {
    interrupted(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_stops_qemu_writes_reports_and_capture_and_exits_143() {
    interrupted(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn an_unwritable_capture_directory_is_exit_2_naming_it_before_qemu_starts() {
    let elf = example_elf("never_ends");
    let dir = tempfile::tempdir().unwrap();
    // QEMU through a wrapper that records each start (then is the real QEMU).
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v qemu-system-arm"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let started = dir.path().join("qemu-started");
    let wrapper = bin.join("qemu-system-arm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho started >> '{}'\nexec '{}' \"$@\"\n",
            started.display(),
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path_var = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = |capture: &Path| {
        Command::new(env!("CARGO_BIN_EXE_hil-runner"))
            .args([
                "run",
                path(&elf),
                "--timeout",
                "1",
                "--capture",
                path(capture),
            ])
            .env("PATH", &path_var)
            .env_remove("HIL_BOARD")
            .output()
            .unwrap()
    };
    // The capture's directory is a file: it cannot be made (root may write anywhere else).
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let capture = blocker.join("captures/c.raw");
    let out = run(&capture);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(path(&capture)), "{err}");
    assert!(
        !started.exists(),
        "QEMU started before the capture was checked: {err}"
    );
    // The wrapper is what the runner starts: with a writable capture it runs (and times out).
    let out = run(&dir.path().join("ok/c.raw"));
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.exists());
}

/// A real board's core is halted when the run is interrupted, and what the port gave is kept.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_probe_run_halts_the_core_and_keeps_what_arrived() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let (mut master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let access = Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::Running]));
    let backend = backend(&board, access.clone(), None);
    let elf = example_elf("never_ends");
    let firmware = Firmware::load(&elf).unwrap();
    let mut opts = RunOptions::new(board, elf.clone());
    opts.capture = dir.path().join("probe.raw");
    let (canceller, cancel) = Cancel::new();
    opts.cancel = cancel;
    let listener = Speaks::of(&firmware).listener(&firmware, Limits::default());
    let sent = b"\x01\x02\x03\x00bytes before the interrupt\x00".to_vec();
    let interrupt = async {
        let deadline = Instant::now() + GUARD;
        while !access.log().iter().any(|l| l == "reset_and_run") {
            assert!(Instant::now() < deadline, "hang guard: {:?}", access.log());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        master.write_all(&sent).unwrap();
        canceller.cancel(Interrupt::Int);
    };
    let (report, ()) = tokio::join!(
        runner::run_on_backend(backend, &firmware, &opts, listener),
        interrupt
    );
    let report = report.unwrap();
    assert_eq!(report.verdict, Verdict::Error);
    assert!(
        report
            .reason
            .as_deref()
            .unwrap()
            .contains("interrupted by SIGINT"),
        "{:?}",
        report.reason
    );
    assert_eq!(
        access.log().last().map(String::as_str),
        Some("halt"),
        "{:?}",
        access.log()
    );
    assert_eq!(std::fs::read(&opts.capture).unwrap(), sent);
}

/// An ARMv7-M image on the Cortex-M0 micro:bit faults with its exception frame outside the
/// micro:bit's RAM, where QEMU's gdbstub refuses to read: the run ends at once as a crash
/// with the core registers and a hint at the stack, not at a hang or the deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_whose_frame_is_outside_ram_ends_at_once_as_a_crash_naming_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let board = hil_runner::board::Board::find("microbit").unwrap();
    let mut opts = RunOptions::new(board, ordering_elf());
    opts.capture = dir.path().join("c.raw");
    opts.timeout = Duration::from_secs(100);
    let report = tokio::time::timeout(GUARD, runner::run(&opts))
        .await
        .expect("hang guard: the run ends")
        .unwrap();
    assert_eq!(report.verdict, Verdict::Crash, "{:?}", report.reason);
    let reason = report.reason.unwrap();
    assert!(
        reason.contains("HardFault") && reason.contains("stack pointer is outside memory"),
        "{reason}"
    );
}
