//! A real board is used by one run at a time: its probe and serial port are locked across threads and processes.
//!
//! No debug probe is attached here: a run that gets past the locks ends at
//! once with "no debug probe found" (exit 3), which is how these tests see
//! that it got past them.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hil_runner::backend::probe::progress::FlashEvent;
use hil_runner::backend::probe::real::ProbeRs;
use hil_runner::backend::probe::{
    Answered, CoreRegister, CoreStatus, ProbeAccess, ProbeError, ProbeInfo, TargetControl,
};
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::lock::{self, LockError};
use hil_runner::runner::{self, ProbeAccessOverride, RunOptions};
use probe_support::doubles::{exit, pty, Double, Scripted};

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

/// A probe access that notes when its chip was attached and when the run let go of it.
struct Stamped {
    inner: std::sync::Arc<Double>,
    times: std::sync::Arc<Mutex<Times>>,
}

#[derive(Default, Debug, Clone, Copy)]
struct Times {
    attached: Option<Instant>,
    released: Option<Instant>,
}

/// The chip of a [`Stamped`] access: notes its release when the run drops it.
struct StampedChip {
    inner: Box<dyn TargetControl>,
    times: std::sync::Arc<Mutex<Times>>,
}

impl Drop for StampedChip {
    fn drop(&mut self) {
        self.times.lock().unwrap().released = Some(Instant::now());
    }
}

impl ProbeAccess for Stamped {
    fn list(&self) -> Vec<ProbeInfo> {
        self.inner.list()
    }
    fn attach(
        &self,
        probe: &ProbeInfo,
        chip: &str,
        under_reset: bool,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        self.times.lock().unwrap().attached = Some(Instant::now());
        let inner = self.inner.attach(probe, chip, under_reset)?;
        Ok(Box::new(StampedChip {
            inner,
            times: self.times.clone(),
        }))
    }
}

impl TargetControl for StampedChip {
    fn flash(
        &mut self,
        elf: &Path,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<(), ProbeError> {
        self.inner.flash(elf, progress)
    }
    fn reset_and_run(&mut self) -> Result<(), ProbeError> {
        self.inner.reset_and_run()
    }
    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        self.inner.status()
    }
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        self.inner.read_register(register)
    }
    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        self.inner.read_word(address)
    }
    fn halt(&mut self) -> Result<(), ProbeError> {
        self.inner.halt()
    }
    fn answer_semihosting(&mut self, command_line: &str) -> Result<Answered, ProbeError> {
        self.inner.answer_semihosting(command_line)
    }
    fn resume(&mut self) -> Result<(), ProbeError> {
        self.inner.resume()
    }
    fn has_fault_status(&self) -> bool {
        self.inner.has_fault_status()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_aimed_at_one_board_through_a_fake_probe_never_hold_it_at_once() {
    // Two whole runs (`runner::run`: locks, attach, flash, run to the firmware's exit),
    // started together on one board, each through its own fake probe with the board's
    // selector: the second attaches only after the first has let go of the chip.
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let selector = format!("0483:374b:LOCKTEST{}", std::process::id());
    let toml = probe_support::NUCLEO
        .replace(
            "[probe]\n",
            &format!("[probe]\nselector = \"{selector}\"\n"),
        )
        .replace(
            "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*",
            port.to_str().unwrap(),
        );
    let board = Board::load(&probe_support::board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        probe_support::NUCLEO_MEMORY,
    ))
    .unwrap();
    let elf = build::build_one(
        &Board::find(DEFAULT_BOARD).unwrap(),
        Images::Suites,
        "ordering",
    )
    .unwrap();
    let run = |n: usize| {
        // Long enough (80 status polls) that unlocked runs would overlap.
        let mut script = vec![CoreStatus::Running; 80];
        script.push(exit(0));
        let times = std::sync::Arc::new(Mutex::new(Times::default()));
        let access = Stamped {
            inner: Double::new(&[selector.as_str()], Scripted::new(&script)),
            times: times.clone(),
        };
        let mut opts = RunOptions::new(board.clone(), elf.clone());
        opts.capture = dir.path().join(format!("capture-{n}.raw"));
        opts.timeout = Duration::from_secs(60);
        opts.lock_timeout = Duration::from_secs(60);
        opts.probe_access = Some(ProbeAccessOverride(std::sync::Arc::new(access)));
        async move {
            let report = runner::run(&opts).await.unwrap();
            (report, *times.lock().unwrap())
        }
    };
    let ((a_report, a), (b_report, b)) = tokio::join!(run(1), run(2));
    let why = |r: &hil_runner::report::TestReport| r.reason.clone().unwrap_or_default();
    for report in [&a_report, &b_report] {
        assert!(
            !why(report).contains("in use"),
            "a run did not get the board: {}",
            why(report)
        );
    }
    // A run that never held the chip lost the board to the other (e.g. its serial port).
    let span = |t: Times, r: &hil_runner::report::TestReport| match (t.attached, t.released) {
        (Some(at), Some(until)) => (at, until),
        _ => panic!("a run never held the chip: {}", why(r)),
    };
    let (a, b) = (span(a, &a_report), span(b, &b_report));
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    assert!(
        second.0 >= first.1,
        "the second run attached {:?} before the first let go of the board",
        first.1 - second.0
    );
}
