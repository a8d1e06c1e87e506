//! The QEMU backend on real firmware: faults end the run at once with registers, exits lose no byte.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hil_runner::backend::fault::FaultCause;
use hil_runner::backend::qemu::{QemuBackend, QemuSerial};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, BoardKind, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::source::{ByteSource, ReadOutcome};
use object::{Object, ObjectSymbol};

/// The runner's default `--timeout`: what "at once" is measured against.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// A generous bound for a run that must end by itself within about a second.
const PROMPT: Duration = Duration::from_secs(10);

fn elf(name: &str) -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    build::build_one(&board, Images::Examples, name).unwrap_or_else(|e| panic!("{e}"))
}

fn backend(serial: QemuSerial) -> QemuBackend {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    let BoardKind::Qemu(qemu) = board.kind else {
        panic!("{DEFAULT_BOARD} is not a QEMU board")
    };
    QemuBackend::new(qemu, serial, Vec::new())
}

/// Everything the source gives until it reports `Closed` (or fails, or 30 s pass).
async fn read_to_close(mut source: Box<dyn ByteSource>) -> (Vec<u8>, io::Result<()>) {
    tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match source.read_some(&mut buf) {
                Ok(ReadOutcome::Data(n)) => bytes.extend_from_slice(&buf[..n]),
                Ok(ReadOutcome::Idle) => {}
                Ok(ReadOutcome::Closed) => return (bytes, Ok(())),
                Err(e) => return (bytes, Err(e)),
            }
        }
        (
            bytes,
            Err(io::Error::other("source not closed within 30 s")),
        )
    })
    .await
    .unwrap()
}

/// Address range of `symbol` in `elf`.
fn symbol_range(elf: &Path, symbol: &str) -> std::ops::Range<u32> {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .unwrap_or_else(|| panic!("{symbol} not in {}", elf.display()));
    let start = (sym.address() & !1) as u32;
    start..start + sym.size() as u32
}

fn frames(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == 0).count()
}

/// Run `name` to its end: the bytes read, the source's end, the target's end, the wall time, the UART log.
async fn run(
    serial: QemuSerial,
    name: &str,
) -> (
    Vec<u8>,
    io::Result<()>,
    TargetEnd,
    Duration,
    Option<Vec<u8>>,
) {
    let elf = elf(name);
    let mut qemu = backend(serial);
    let started = Instant::now();
    let source = qemu.start(&elf).await.expect("QEMU starts");
    let reading = tokio::spawn(read_to_close(source));
    let end = tokio::time::timeout(RUN_TIMEOUT, qemu.ended())
        .await
        .unwrap_or_else(|_| panic!("{name} did not end within {RUN_TIMEOUT:?}"));
    let took = started.elapsed();
    let (bytes, closed) = reading.await.unwrap();
    let log = qemu.uart_log().map(|p| std::fs::read(p).unwrap());
    qemu.stop().await;
    (bytes, closed, end, took, log)
}

async fn hard_fault_ends_as_a_fault(serial: QemuSerial) {
    let elf = elf("hard_fault");
    let (bytes, closed, end, took, log) = run(serial, "hard_fault").await;
    closed.expect("the source closes without an error");
    let TargetEnd::Fault(regs) = end else {
        panic!("expected a fault, got {end:?}")
    };
    assert_eq!(regs.cause, FaultCause::HardFault);
    assert!(regs.stacked, "registers from the exception frame: {regs}");
    let function = symbol_range(&elf, "hil_fault_read");
    assert!(
        function.contains(&regs.pc),
        "pc {:#x} outside hil_fault_read {function:x?}: {regs}",
        regs.pc
    );
    let cfsr = regs.cfsr.expect("Cortex-M3 has CFSR");
    // DACCVIOL and MMARVALID: a data access the MPU refused, at a known address.
    assert_eq!(cfsr & 0x82, 0x82, "{regs}");
    assert_eq!(regs.mmfar, Some(0x3000_0000), "{regs}");
    assert_ne!(regs.hfsr.unwrap() & (1 << 30), 0, "HFSR.FORCED: {regs}");
    assert!(took < PROMPT, "fault reported after {took:?}");
    // Boot, start and five sequence frames; the board's HardFault handler never ran.
    assert!(frames(&bytes) >= 7, "{} frames", frames(&bytes));
    if let Some(log) = log {
        assert_eq!(bytes, log, "every byte of the UART, nothing more");
    }
}

#[tokio::test]
async fn a_hard_fault_ends_the_run_at_once_with_the_faulting_registers_on_the_pty() {
    hard_fault_ends_as_a_fault(QemuSerial::Pty).await;
}

#[tokio::test]
async fn a_hard_fault_ends_the_run_at_once_with_the_faulting_registers_on_the_socket() {
    hard_fault_ends_as_a_fault(QemuSerial::Socket).await;
}

#[tokio::test]
async fn a_hard_fault_ends_the_run_at_once_with_the_faulting_registers_on_the_pipe() {
    hard_fault_ends_as_a_fault(QemuSerial::Pipe).await;
}

#[tokio::test]
async fn a_lockup_ends_as_a_lockup_fault_with_the_registers_qemu_printed() {
    let elf = elf("lockup");
    let (bytes, closed, end, took, _) = run(QemuSerial::Pty, "lockup").await;
    closed.expect("the source closes without an error");
    let TargetEnd::Fault(regs) = end else {
        panic!("expected a lockup, got {end:?}")
    };
    assert_eq!(regs.cause, FaultCause::Lockup);
    let function = symbol_range(&elf, "hil_lockup");
    assert!(function.contains(&regs.pc), "pc {:#x}: {regs}", regs.pc);
    assert!(took < PROMPT, "lockup reported after {took:?}");
    assert!(frames(&bytes) >= 7);
}

#[tokio::test]
async fn a_semihosting_exit_right_after_many_frames_delivers_every_byte_every_time() {
    for attempt in 0..20 {
        let (bytes, closed, end, _, log) = run(QemuSerial::Pty, "logs_then_exits").await;
        if let Err(e) = closed {
            panic!("run {attempt}: the source failed at exit: {e}");
        }
        assert_eq!(end, TargetEnd::Exited { code: 0 }, "run {attempt}");
        let log = log.expect("pty runs keep a UART log");
        assert_eq!(
            bytes.len(),
            log.len(),
            "run {attempt}: bytes read vs UART log"
        );
        assert_eq!(bytes, log, "run {attempt}");
        // Boot, start and 2000 sequence frames at least.
        assert!(
            frames(&bytes) >= 2002,
            "run {attempt}: {} frames",
            frames(&bytes)
        );
    }
}

#[tokio::test]
async fn a_semihosting_exit_on_the_socket_delivers_every_byte() {
    let (bytes, closed, end, _, _) = run(QemuSerial::Socket, "logs_then_exits").await;
    closed.expect("the source closes without an error");
    assert_eq!(end, TargetEnd::Exited { code: 0 });
    assert!(frames(&bytes) >= 2002, "{} frames", frames(&bytes));
}

#[tokio::test]
async fn exit_status_1_is_exited_with_code_1() {
    let (bytes, closed, end, _, log) = run(QemuSerial::Pty, "exits_with_failure").await;
    closed.expect("the source closes without an error");
    assert_eq!(end, TargetEnd::Exited { code: 1 });
    assert_eq!(Some(bytes), log);
}

#[tokio::test]
async fn stop_ends_qemu_and_leaves_no_process_or_file() {
    let elf = elf("never_ends");
    let mut qemu = backend(QemuSerial::Pty);
    let source = qemu.start(&elf).await.unwrap();
    let pid = qemu.pid().expect("QEMU has a pid");
    let log = qemu.uart_log().unwrap().to_owned();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let reading = tokio::spawn(read_to_close(source));
    tokio::time::sleep(Duration::from_millis(200)).await;
    qemu.stop().await;
    let (_, closed) = reading.await.unwrap();
    closed.expect("the source closes without an error after stop");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU (pid {pid}) is still there"
    );
    assert!(!log.exists(), "{} left behind", log.display());
    // Stopped by the runner: the target did not end by itself.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), qemu.ended())
            .await
            .is_err()
    );
    qemu.stop().await;
}

#[tokio::test]
async fn startup_to_a_running_cpu_is_measured() {
    let elf = elf("never_ends");
    for serial in [QemuSerial::Pipe, QemuSerial::Pty, QemuSerial::Socket] {
        let mut qemu = backend(serial);
        let _source = qemu.start(&elf).await.unwrap();
        let startup = qemu.startup_time().unwrap();
        eprintln!("{serial:?}: spawn to CPU running {startup:?}");
        assert!(startup < PROMPT);
        qemu.stop().await;
    }
}

#[test]
fn the_default_emulated_link_is_the_pipe() {
    assert_eq!(QemuSerial::default(), QemuSerial::Pipe);
}

#[tokio::test]
async fn a_semihosting_exit_on_the_pipe_delivers_every_byte_every_time() {
    for attempt in 0..10 {
        let (bytes, closed, end, _, _) = run(QemuSerial::Pipe, "logs_then_exits").await;
        closed.unwrap_or_else(|e| panic!("run {attempt}: the pipe failed at exit: {e}"));
        assert_eq!(end, TargetEnd::Exited { code: 0 }, "run {attempt}");
        assert!(
            frames(&bytes) >= 2002,
            "run {attempt}: {} frames",
            frames(&bytes)
        );
        // Every frame whole: the stream ends on a delimiter.
        assert_eq!(bytes.last(), Some(&0), "run {attempt}");
    }
}

#[tokio::test]
async fn the_pipe_runs_the_cpu_without_the_pty_reader_wait() {
    let elf = elf("never_ends");
    let mut qemu = backend(QemuSerial::Pipe);
    let _source = qemu.start(&elf).await.unwrap();
    let startup = qemu.startup_time().unwrap();
    qemu.stop().await;
    // The pty path waits 1.1 s for QEMU's reader poll before the CPU runs; the pipe has no such wait.
    assert!(startup < Duration::from_millis(1100), "{startup:?}");
}

#[tokio::test]
async fn stop_on_the_pipe_ends_qemu_and_leaves_no_fifo() {
    let elf = elf("never_ends");
    let mut qemu = backend(QemuSerial::Pipe);
    let source = qemu.start(&elf).await.unwrap();
    let described = source.describe();
    let reading = tokio::spawn(read_to_close(source));
    tokio::time::sleep(Duration::from_millis(200)).await;
    qemu.stop().await;
    let (_, closed) = reading.await.unwrap();
    closed.expect("the pipe closes without an error after stop");
    let out = described.strip_prefix("pipe ").expect("a pipe source");
    assert!(!Path::new(out).exists(), "{out} left behind");
    assert!(!Path::new(&out.replace(".out", ".in")).exists());
}

#[tokio::test]
async fn a_fault_with_the_stack_pointer_outside_memory_still_ends_the_run_as_a_hard_fault() {
    // The exception frame is stacked where nothing is mapped: the gdbstub refuses to read
    // it. The run used to wait for QEMU forever; it ends at once with the core registers.
    let (bytes, closed, end, took, _) = run(QemuSerial::Pipe, "bad_stack").await;
    closed.expect("the source closes without an error");
    let TargetEnd::Fault(regs) = end else {
        panic!("expected a fault, got {end:?}")
    };
    assert_eq!(regs.cause, FaultCause::HardFault);
    assert!(!regs.stacked, "the frame past RAM cannot be read: {regs}");
    assert!(
        regs.to_string().contains("stack pointer is outside memory"),
        "{regs}"
    );
    assert!(took < PROMPT, "fault reported after {took:?}");
    assert!(frames(&bytes) >= 5, "{} frames", frames(&bytes));
}
