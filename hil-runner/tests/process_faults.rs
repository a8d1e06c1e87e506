//! Process and host faults, through the installed binary on real firmware in real QEMU: QEMU killed
//! or stopped, the runner interrupted, an unwritable capture; no QEMU outlives the runner.
//!
//! QEMU's pid is found among the runner's descendants in /proc, polled with a
//! deadline (a hang guard, never an assert on time). The test process is a
//! child subreaper, so a QEMU the runner left behind would be re-parented to
//! it and still be in /proc: "gone" means the runner reaped it.

mod probe_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hil_runner::backend::probe::CoreStatus;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::firmware::Firmware;
use hil_runner::report::Verdict;
use hil_runner::runner::cancel::{Cancel, Interrupt};
use hil_runner::runner::{self, RunOptions};
use hil_runner::speaks::{Limits, Speaks};
use hil_runner::suites;
use probe_support::doubles::{backend, pty, Double, Scripted};
use probe_support::nucleo_with_port;

/// Hang guard for anything this file waits for.
const GUARD: Duration = Duration::from_secs(120);
/// Capture bytes on disk that prove the firmware was running and bytes were arriving
/// (the runner writes its capture through a 64 KiB buffer).
const RUNNING: u64 = 64 * 1024;

fn ordering_elf() -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    suites::build_suite(&board, &suites::find("ordering").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn example_elf(name: &str) -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    build::build_one(&board, Images::Examples, name).unwrap_or_else(|e| panic!("{e}"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Make this process the reaper of orphaned descendants (once; idempotent).
fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only sets a flag of this process; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl: {}", std::io::Error::last_os_error());
}

/// A runner process with its stderr in a file, and its report files.
struct Runner {
    child: Child,
    dir: tempfile::TempDir,
}

impl Runner {
    fn spawn(elf: &Path, extra: &[&str]) -> Self {
        become_subreaper();
        let dir = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut args = vec![
            "run".to_owned(),
            path(elf).to_owned(),
            "--quiet".into(),
            "--capture".into(),
            path(&dir.path().join("c.raw")).into(),
            "--json".into(),
            path(&dir.path().join("r.json")).into(),
            "--junit".into(),
            path(&dir.path().join("r.xml")).into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_hil-runner"))
            .args(&args)
            .env_remove("HIL_BOARD")
            .env_remove("HIL_TIMEOUT")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("hil-runner starts");
        Self { child, dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn capture(&self) -> PathBuf {
        self.dir.path().join("c.raw")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn report(&self) -> serde_json::Value {
        let text = std::fs::read(self.dir.path().join("r.json"))
            .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", self.stderr()));
        serde_json::from_slice::<serde_json::Value>(&text).unwrap()[0].clone()
    }

    fn junit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("r.xml")).unwrap()
    }

    /// Wait until the capture on disk has `bytes`: the firmware runs and its bytes arrive.
    fn wait_for_capture(&mut self, bytes: u64) {
        let deadline = Instant::now() + GUARD;
        loop {
            let len = std::fs::metadata(self.capture()).map_or(0, |m| m.len());
            if len >= bytes {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("runner ended ({status}) early: {}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "hang guard: capture at {len} bytes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "hang guard: the runner did not end; stderr: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A QEMU process: its pid and its start time (to tell it from a later process with the same pid).
#[derive(Debug, Clone, Copy)]
struct Qemu {
    pid: u32,
    start: u64,
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime); fields after the `(comm)` one, which may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The qemu-system-arm among the descendants of `root`, polled until it appears.
fn find_qemu(runner: &mut Runner) -> Qemu {
    let deadline = Instant::now() + GUARD;
    loop {
        let mut todo = children(runner.pid());
        while let Some(pid) = todo.pop() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "qemu-system-arm" {
                if let Some(start) = start_time(pid) {
                    return Qemu { pid, start };
                }
            }
            todo.extend(children(pid));
        }
        if let Ok(Some(status)) = runner.child.try_wait() {
            panic!(
                "runner ended ({status}) before QEMU was seen: {}",
                runner.stderr()
            );
        }
        assert!(Instant::now() < deadline, "hang guard: no QEMU child");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// QEMU no longer exists: not running, not a zombie (it would be ours, the subreaper's).
fn assert_gone(qemu: Qemu) {
    if start_time(qemu.pid) == Some(qemu.start) {
        let state = std::fs::read_to_string(format!("/proc/{}/stat", qemu.pid)).unwrap_or_default();
        // Clean up before failing.
        // SAFETY: kill and waitpid on a pid with the start time of the QEMU this test saw.
        unsafe {
            libc::kill(qemu.pid as i32, libc::SIGKILL);
            libc::waitpid(qemu.pid as i32, std::ptr::null_mut(), 0);
        }
        panic!("QEMU {} outlived the runner: {state}", qemu.pid);
    }
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: sends a signal to a process this test started (or its QEMU child, seen alive).
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The capture holds every byte the runner received, and they decode as an unbroken stream:
/// no malformed frame, no sequence frame missing (the stream may stop inside a frame, and has no end).
fn assert_capture_is_what_arrived(runner: &Runner, elf: &Path, report: &serde_json::Value) {
    let len = std::fs::metadata(runner.capture()).unwrap().len();
    assert_eq!(
        report["bytes"].as_u64(),
        Some(len),
        "every byte received is in the capture"
    );
    assert!(len >= RUNNING, "{len} bytes");
    let json = runner.dir.path().join("check.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .args([
            "check",
            "--elf",
            path(elf),
            path(&runner.capture()),
            "--json",
            path(&json),
        ])
        .output()
        .unwrap();
    let check: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let check = &check[0];
    assert_eq!(
        check["malformed"],
        0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(check["missing"], 0);
    // What a stream cut short shows: no end marker, perhaps a frame cut in two.
    for v in check["violations"].as_array().unwrap() {
        assert!(
            v["kind"] == "no_end" || v["kind"] == "unfinished_frame",
            "{v}"
        );
    }
    assert_eq!(check["bytes"].as_u64(), Some(len));
}

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
