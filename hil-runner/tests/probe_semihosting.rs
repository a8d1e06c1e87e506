//! The probe backend as `probe-rs run` drives a core, with doubles that behave like cores:
//! semihosting (exit, console output, the command line, other requests), every way the core
//! stops (lockup, reset, the fault handlers), the state the board is left in, and an
//! embedded-test suite flashed once and reset for each test.

mod probe_support;

use std::path::Path;
use std::sync::Arc;

use hil_runner::backend::probe::{
    CoreRegister, CoreStatus, FaultCause, HaltCause, Semihosting, Sessions,
};
use hil_runner::backend::{Backend, TargetEnd};
use probe_support::doubles::{backend, ended_within, exit, pty, semihosting, Double, Scripted};
use probe_support::nucleo_with_port;

/// Run `chip` on a nucleo fixture with `command_line`; how it ended and what the doubles did.
async fn run(chip: Scripted, command_line: &[&str]) -> (Option<TargetEnd>, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let access = Double::new(&["0483:374b"], chip);
    let args: Vec<String> = command_line.iter().map(|s| (*s).to_owned()).collect();
    let mut b = backend(&board, access.clone(), None).with_command_line(&args);
    b.start(Path::new("fw.elf")).await.unwrap();
    let end = ended_within(&mut b, 5).await;
    b.stop().await;
    (end, access.log(), b.target_output())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_semihosting_exit_is_the_targets_exit_status_not_a_halt_with_r0() {
    // The core halts at `bkpt 0xAB` with r0 = 0x18 (SYS_EXIT): that is not exit code 24.
    let (end, _, _) = run(Scripted::new(&[CoreStatus::Running, exit(0)]), &[]).await;
    assert_eq!(end, Some(TargetEnd::Exited { code: 0 }));
    let (end, _, _) = run(Scripted::new(&[CoreStatus::Running, exit(1)]), &[]).await;
    assert_eq!(end, Some(TargetEnd::Exited { code: 1 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn console_output_and_other_requests_are_answered_and_the_core_runs_on() {
    let mut chip = Scripted::new(&[
        CoreStatus::Running,
        // hprintln!: open ":tt", write; SYS_WRITE0; an operation nobody supports.
        semihosting(Semihosting::Other { operation: 0x01 }),
        semihosting(Semihosting::Other { operation: 0x05 }),
        CoreStatus::Running,
        semihosting(Semihosting::Other { operation: 0x04 }),
        semihosting(Semihosting::Other { operation: 0x99 }),
        CoreStatus::Running,
        exit(0),
    ]);
    chip.console = ["hello from hprintln\n".into(), "and SYS_WRITE0\n".into()].into();
    let (end, log, output) = run(chip, &[]).await;
    assert_eq!(end, Some(TargetEnd::Exited { code: 0 }), "{log:?}");
    assert_eq!(output, "hello from hprintln\nand SYS_WRITE0\n");
    let answered: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|e| e.starts_with("semihosting") || *e == "resume")
        .collect();
    assert_eq!(
        answered,
        [
            "semihosting 0x1",
            "resume",
            "semihosting 0x5",
            "resume",
            "semihosting 0x4",
            "resume",
            "semihosting 0x99",
            "resume"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_request_is_answered_with_the_runs_arguments() {
    let chip = Scripted::new(&[
        CoreStatus::Running,
        semihosting(Semihosting::CommandLine),
        CoreStatus::Running,
        exit(0),
    ]);
    let (end, log, _) = run(chip, &["run_addr", "134218001"]).await;
    assert_eq!(end, Some(TargetEnd::Exited { code: 0 }));
    let at = log
        .iter()
        .position(|e| e == "cmdline \"run_addr 134218001\"")
        .unwrap_or_else(|| panic!("{log:?}"));
    assert_eq!(log[at + 1], "resume");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lockup_is_halted_before_its_registers_are_read_and_is_a_fault() {
    let mut chip = Scripted::new(&[CoreStatus::Running, CoreStatus::LockedUp]);
    chip.registers.extend([
        (CoreRegister::Pc, 0xEFFF_FFFE),
        (CoreRegister::Lr, 0xFFFF_FFF9),
        (CoreRegister::Xpsr, 0x0100_0003),
        (CoreRegister::Msp, 0x2000_0F00),
    ]);
    chip.memory
        .extend([(0x2000_0F18, 0x0800_0A0C), (0x2000_0F14, 0x0800_0201)]);
    let (end, log, _) = run(chip, &[]).await;
    let Some(TargetEnd::Fault(regs)) = end else {
        panic!("{end:?} {log:?}")
    };
    assert_eq!(regs.cause, FaultCause::Lockup);
    assert_eq!(
        (regs.pc, regs.lr, regs.stacked),
        (0x0800_0A0C, 0x0800_0201, true)
    );
    assert!(log.contains(&"halt".to_owned()), "{log:?}");
}

/// A chip halted by a vector catch, about to enter exception `ipsr` at `pc`.
fn caught(ipsr: u32, pc: u32, lr: u32) -> Scripted {
    let mut chip = Scripted::new(&[
        CoreStatus::Running,
        CoreStatus::Halted(HaltCause::Exception),
    ]);
    chip.registers.extend([
        (CoreRegister::Pc, pc),
        (CoreRegister::Lr, lr),
        (CoreRegister::Xpsr, 0x0100_0000 | ipsr),
        (CoreRegister::Msp, 0x2000_0F00),
    ]);
    chip.memory
        .extend([(0x2000_0F18, 0x0800_0A0C), (0x2000_0F14, 0x0800_0201)]);
    chip
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caught_reset_is_a_fault_named_reset_with_the_reset_registers() {
    // At the reset vector: thread mode, LR = 0xFFFF_FFFF (no exception frame).
    let (end, _, _) = run(caught(0, 0x0800_0194, 0xFFFF_FFFF), &[]).await;
    let Some(TargetEnd::Fault(regs)) = end else {
        panic!("{end:?}")
    };
    assert_eq!(regs.cause, FaultCause::Reset);
    assert_eq!((regs.pc, regs.stacked), (0x0800_0194, false));
    let text = TargetEnd::Fault(regs).to_string();
    assert!(text.contains("core reset"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_other_fault_handlers_are_named_with_the_faulting_context() {
    for (ipsr, cause) in [
        (3, FaultCause::HardFault),
        (4, FaultCause::MemManage),
        (5, FaultCause::BusFault),
        (6, FaultCause::UsageFault),
    ] {
        let (end, _, _) = run(caught(ipsr, 0x0800_0300, 0xFFFF_FFF9), &[]).await;
        let Some(TargetEnd::Fault(regs)) = end else {
            panic!("{end:?}")
        };
        assert_eq!(regs.cause, cause);
        assert_eq!((regs.pc, regs.stacked), (0x0800_0A0C, true), "{cause:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_run_the_core_is_halted_and_its_session_kept_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let sessions = Arc::new(Sessions::default());
    // Still running at the deadline: stop halts it, and the session is not closed.
    let access = Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::Running]));
    let mut b = backend(&board, access.clone(), None).with_sessions(sessions.clone());
    b.start(Path::new("fw.elf")).await.unwrap();
    assert_eq!(ended_within(&mut b, 1).await, None);
    b.stop().await;
    assert_eq!(access.log().last().map(String::as_str), Some("halt"));
    assert_eq!(sessions.len(), 1, "the session is parked, not closed");

    // The next run takes it (the double can be attached only once) and flashes again.
    let mut b = backend(&board, access.clone(), None).with_sessions(sessions.clone());
    b.start(Path::new("fw.elf")).await.unwrap();
    b.stop().await;
    let log = access.log();
    assert_eq!(log.iter().filter(|e| e.starts_with("attach")).count(), 1);
    assert_eq!(log.iter().filter(|e| *e == "flash").count(), 2, "{log:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_test_suite_is_flashed_once_then_reset_and_told_each_test() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let elf = dir.path().join("suite.elf");
    std::fs::write(&elf, b"an embedded-test suite").unwrap();
    let sessions = Arc::new(Sessions::default());
    let test_run = |end: CoreStatus| {
        vec![
            CoreStatus::Running,
            semihosting(Semihosting::CommandLine),
            CoreStatus::Running,
            end,
        ]
    };
    let mut chip = Scripted::new(&test_run(exit(0)));
    chip.later_runs = [
        test_run(exit(1)),
        test_run(CoreStatus::Halted(HaltCause::Exception)),
        vec![CoreStatus::Running],
    ]
    .into();
    chip.registers.insert(CoreRegister::Xpsr, 3);
    let access = Double::new(&["0483:374b"], chip);
    let mut ends = Vec::new();
    for addr in ["1001", "1002", "1003", "1004"] {
        let args = ["run_addr".to_owned(), addr.to_owned()];
        let mut b = backend(&board, access.clone(), None)
            .with_sessions(sessions.clone())
            .with_command_line(&args)
            .reuse_flashed(true);
        b.start(&elf).await.unwrap();
        ends.push(ended_within(&mut b, 1).await);
        b.stop().await;
    }
    assert_eq!(ends[0], Some(TargetEnd::Exited { code: 0 }));
    assert_eq!(ends[1], Some(TargetEnd::Exited { code: 1 }));
    assert!(
        matches!(&ends[2], Some(TargetEnd::Fault(r)) if r.cause == FaultCause::HardFault),
        "{:?}",
        ends[2]
    );
    assert_eq!(ends[3], None, "a hanging test runs until its deadline");
    let log = access.log();
    let steps: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|e| *e != "resume")
        .collect();
    assert_eq!(
        steps,
        [
            "attach 0483:374b STM32F401RETx reset=false",
            "flash",
            "reset_and_run",
            "cmdline \"run_addr 1001\"",
            "reset_and_run",
            "cmdline \"run_addr 1002\"",
            "reset_and_run",
            "cmdline \"run_addr 1003\"",
            "reset_and_run",
            "halt",
        ]
    );

    // Another image is flashed, even with reuse asked for.
    let other = dir.path().join("other.elf");
    std::fs::write(&other, b"another image").unwrap();
    let mut b = backend(&board, access.clone(), None)
        .with_sessions(sessions.clone())
        .reuse_flashed(true);
    b.start(&other).await.unwrap();
    b.stop().await;
    assert_eq!(access.log().iter().filter(|e| *e == "flash").count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wedged_probe_is_an_error_at_the_bring_up_deadline_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let access = Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::Running]));
    *access.attach_delay.lock().unwrap() = std::time::Duration::from_secs(3);
    let started = std::time::Instant::now();
    let err = backend(&board, access, None)
        .with_bring_up_deadline(std::time::Duration::from_millis(300))
        .start(Path::new("fw.elf"))
        .await
        .err()
        .expect("the deadline passes");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        matches!(
            err,
            hil_runner::backend::BackendError::Probe {
                source: hil_runner::backend::probe::ProbeError::Deadline { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_locked_chip_and_a_busy_probe_say_what_to_do() {
    use hil_runner::backend::probe::ProbeError;
    let locked = ProbeError::Locked {
        chip: "nRF52840_xxAA".into(),
        message: "erase_all".into(),
    };
    assert!(
        locked.to_string().contains("probe.allow_erase_all = true"),
        "{locked}"
    );
    let busy = ProbeError::Busy {
        probe: "1366:1015".into(),
        message: "Resource busy".into(),
    };
    assert!(
        busy.to_string().contains("is busy: another program"),
        "{busy}"
    );
}
