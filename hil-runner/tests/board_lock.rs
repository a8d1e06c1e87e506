//! A real board is used by one run at a time: its probe and serial port are locked across threads and processes.
//!
//! No debug probe is attached here: a run that gets past the locks ends at
//! once with "no debug probe found" (exit 3), which is how these tests see
//! that it got past them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hil_runner::backend::probe::real::ProbeRs;
use hil_runner::backend::probe::ProbeAccess;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::lock::{self, LockError};

mod probe_support;

fn no_probe_attached() -> bool {
    if ProbeRs::new().list().is_empty() {
        return true;
    }
    eprintln!("skipped: a debug probe is attached to this machine");
    false
}

/// `hil-runner run --board nucleo-f401re ELF` with its locks in `locks`.
fn run_on_nucleo(locks: &Path, lock_timeout: &str) -> Command {
    let elf = build::build_one(
        &Board::find(DEFAULT_BOARD).unwrap(),
        Images::Suites,
        "ordering",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hil-runner"));
    cmd.args([
        "run",
        "--board",
        "nucleo-f401re",
        "--lock-timeout",
        lock_timeout,
    ])
    .arg(&elf)
    .arg("--capture")
    .arg(locks.join("capture.raw"))
    .env("HIL_LOCK_DIR", locks)
    .env_remove("HIL_BOARD")
    .env_remove("RUST_LOG")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

#[test]
fn a_real_board_locks_its_probe_and_its_serial_port_and_an_emulated_one_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let nucleo = probe_support::nucleo(dir.path());
    let names: Vec<String> = lock::resources(&nucleo)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("probe-"), "{names:?}");
    assert!(names[1].starts_with("serial-"), "{names:?}");
    assert!(lock::resources(&Board::find(DEFAULT_BOARD).unwrap()).is_empty());
}

#[test]
fn a_second_process_waits_with_a_message_then_fails_after_the_lock_timeout() {
    if !no_probe_attached() {
        return;
    }
    let locks = tempfile::tempdir().unwrap();
    let nucleo = Board::find("nucleo-f401re").unwrap();
    let held = lock::acquire_in(locks.path(), &nucleo, Duration::from_secs(1), |_, _| {
        panic!("nothing else holds it")
    })
    .unwrap();
    assert_eq!(held.len(), 2);
    let started = Instant::now();
    let out = run_on_nucleo(locks.path(), "1").output().unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        took >= Duration::from_secs(1),
        "gave up after {took:?}: {err}"
    );
    let me = format!("hil-runner pid {}", std::process::id());
    for part in [
        "waiting for",
        &me,
        "--lock-timeout",
        "is in use by",
        "gave up after",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
    assert!(
        !err.contains("no debug probe found"),
        "it reached the probe: {err}"
    );
    drop(held);
}

#[test]
fn a_second_process_goes_on_as_soon_as_the_first_lets_go() {
    if !no_probe_attached() {
        return;
    }
    let locks = tempfile::tempdir().unwrap();
    let nucleo = Board::find("nucleo-f401re").unwrap();
    let held = lock::acquire_in(locks.path(), &nucleo, Duration::from_secs(1), |_, _| {}).unwrap();
    let mut child = run_on_nucleo(locks.path(), "60").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the second run did not wait for the board"
    );
    let released = Instant::now();
    drop(held);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("waiting for"), "{err}");
    // Past the lock: it looked for the probe (none here) at once.
    assert!(err.contains("no debug probe found"), "{err}");
    assert!(
        released.elapsed() < Duration::from_secs(5),
        "{:?}",
        released.elapsed()
    );
}

#[test]
fn two_runs_of_one_process_take_the_board_in_turn() {
    let locks = tempfile::tempdir().unwrap();
    let nucleo = Board::find("nucleo-f401re").unwrap();
    let first = lock::acquire_in(locks.path(), &nucleo, Duration::from_secs(1), |_, _| {}).unwrap();
    let err =
        lock::acquire_in(locks.path(), &nucleo, Duration::from_millis(200), |_, _| {}).unwrap_err();
    let LockError::Timeout {
        board, resource, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(board, "nucleo-f401re");
    assert!(
        resource.contains("debug probe") || resource.contains("serial port"),
        "{err}"
    );
    let waiter = {
        let dir = locks.path().to_owned();
        let nucleo = nucleo.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let held = lock::acquire_in(&dir, &nucleo, Duration::from_secs(30), |_, _| {}).unwrap();
            (started.elapsed(), held.len())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(first);
    let (waited, held) = waiter.join().unwrap();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert_eq!(held, 2);
    // Another board (another probe and port) is not held up.
    let pico = Board::find("rpi-pico").unwrap();
    let _nucleo_again =
        lock::acquire_in(locks.path(), &nucleo, Duration::from_secs(1), |_, _| {}).unwrap();
    let pico_keys = lock::resources(&pico);
    let nucleo_keys = lock::resources(&nucleo);
    if pico_keys.iter().all(|k| !nucleo_keys.contains(k)) {
        lock::acquire_in(locks.path(), &pico, Duration::from_millis(100), |_, _| {}).unwrap();
    }
}
