//! Shared by process_faults: the runner as a child process, QEMU found among its descendants in /proc.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::suites;

/// Hang guard for anything this file waits for.
pub const GUARD: Duration = Duration::from_secs(120);
/// Capture bytes on disk that prove the firmware was running and bytes were arriving
/// (the runner writes its capture through a 64 KiB buffer).
pub const RUNNING: u64 = 64 * 1024;

pub fn ordering_elf() -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    suites::build_suite(&board, &suites::find("ordering").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn example_elf(name: &str) -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    build::build_one(&board, Images::Examples, name).unwrap_or_else(|e| panic!("{e}"))
}

pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Make this process the reaper of orphaned descendants (once; idempotent).
pub fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only sets a flag of this process; no memory is passed.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl: {}", std::io::Error::last_os_error());
}

/// A runner process with its stderr in a file, and its report files.
pub struct Runner {
    pub child: Child,
    pub dir: tempfile::TempDir,
}

impl Runner {
    pub fn spawn(elf: &Path, extra: &[&str]) -> Self {
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn capture(&self) -> PathBuf {
        self.dir.path().join("c.raw")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    pub fn report(&self) -> serde_json::Value {
        let text = std::fs::read(self.dir.path().join("r.json"))
            .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", self.stderr()));
        serde_json::from_slice::<serde_json::Value>(&text).unwrap()[0].clone()
    }

    pub fn junit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("r.xml")).unwrap()
    }

    /// Wait until the capture on disk has `bytes`: the firmware runs and its bytes arrive.
    pub fn wait_for_capture(&mut self, bytes: u64) {
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

    pub fn wait(&mut self) -> ExitStatus {
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
pub struct Qemu {
    pub pid: u32,
    pub start: u64,
}

pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime); fields after the `(comm)` one, which may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

pub fn children(pid: u32) -> Vec<u32> {
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
pub fn find_qemu(runner: &mut Runner) -> Qemu {
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
pub fn assert_gone(qemu: Qemu) {
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

pub fn signal(pid: u32, signal: i32) {
    // SAFETY: sends a signal to a process this test started (or its QEMU child, seen alive).
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// The capture holds every byte the runner received, and they decode as an unbroken stream:
/// no malformed frame, no sequence frame missing (the stream may stop inside a frame, and has no end).
pub fn assert_capture_is_what_arrived(runner: &Runner, elf: &Path, report: &serde_json::Value) {
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
