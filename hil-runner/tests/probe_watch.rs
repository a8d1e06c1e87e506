//! The probe backend after the bring-up, with test doubles: how the watched core ends a run
//! (breakpoint, HardFault, lockup), stop, the boot gate on the serial port, probe-rs panics.

mod probe_support;

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use hil_runner::backend::probe::real::ProbeRs;
use hil_runner::backend::probe::{CoreRegister, CoreStatus, FaultCause, HaltCause, ProbeError};
use hil_runner::backend::{Backend, BackendError, TargetEnd};
use hil_runner::board::Board;
use hil_runner::source::ReadOutcome;
use probe_support::doubles::{backend, ended_within, pty, Double, Scripted};
use probe_support::{board_file, nucleo_with_port, FakeLister, NUCLEO, NUCLEO_MEMORY};

#[tokio::test(flavor = "multi_thread")]
async fn a_breakpoint_halt_ends_the_run_with_pc_and_r0_after_attach_flash_reset() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut chip = Scripted::new(&[
        CoreStatus::Running,
        CoreStatus::Running,
        CoreStatus::Halted(HaltCause::Breakpoint),
    ]);
    chip.registers.insert(CoreRegister::Pc, 0x0800_0456);
    chip.registers.insert(CoreRegister::R0, 0);
    let access = Double::new(&["0483:374b"], chip);
    let mut b = backend(&board, access.clone(), None);
    b.start(Path::new("fw.elf")).await.unwrap();
    let end = ended_within(&mut b, 5)
        .await
        .expect("the halt ends the run");
    assert_eq!(
        end,
        TargetEnd::Halted {
            pc: 0x0800_0456,
            r0: 0
        }
    );
    b.stop().await;
    // Already halted: stop does not halt it again.
    assert_eq!(
        access.log(),
        [
            "attach 0483:374b STM32F401RETx reset=false",
            "flash",
            "reset_and_run"
        ]
    );
}

fn faulted_chip(fault_status: bool) -> Scripted {
    let mut chip = Scripted::new(&[
        CoreStatus::Running,
        CoreStatus::Halted(HaltCause::Exception),
    ]);
    chip.fault_status = fault_status;
    let regs = [
        (CoreRegister::Pc, 0x0800_0100),
        (CoreRegister::Lr, 0xFFFF_FFF9),
        (CoreRegister::Xpsr, 0x0100_0003),
        (CoreRegister::Msp, 0x2000_0F00),
    ];
    chip.registers.extend(regs);
    // The exception frame on MSP: r0 r1 r2 r3 r12 lr pc xpsr.
    chip.memory.extend([
        (0x2000_0F14, 0x0800_0201),
        (0x2000_0F18, 0x0800_0A0C),
        (0x2000_0F1C, 0x6100_0000),
    ]);
    chip.memory.extend([
        (0xE000_ED28, 0x0000_8200),
        (0xE000_ED2C, 0x4000_0000),
        (0xE000_ED38, 0x4002_0000),
    ]);
    chip
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hardfault_ends_the_run_with_the_faulting_registers_and_fault_status() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut b = backend(
        &board,
        Double::new(&["0483:374b"], faulted_chip(true)),
        None,
    );
    b.start(Path::new("fw.elf")).await.unwrap();
    let Some(TargetEnd::Fault(regs)) = ended_within(&mut b, 5).await else {
        panic!("no fault")
    };
    b.stop().await;
    assert_eq!(regs.cause, FaultCause::HardFault);
    assert_eq!(
        (regs.pc, regs.lr, regs.xpsr, regs.stacked),
        (0x0800_0A0C, 0x0800_0201, 0x6100_0000, true)
    );
    assert_eq!(
        (regs.cfsr, regs.hfsr, regs.bfar),
        (Some(0x8200), Some(0x4000_0000), Some(0x4002_0000))
    );
    // The JSON report's `target_end`.
    let json = serde_json::to_value(TargetEnd::Fault(regs.clone())).unwrap();
    assert_eq!(json["kind"], "fault");
    assert_eq!(json["cause"], "hard_fault");
    assert_eq!(
        (json["pc"].as_u64(), json["cfsr"].as_u64()),
        (Some(0x0800_0A0C), Some(0x8200))
    );
    let text = TargetEnd::Fault(regs).to_string();
    for part in [
        "HardFault at pc=0x08000a0c",
        "lr=0x08000201",
        "xpsr=0x61000000",
        "PRECISERR BFARVALID",
        "[FORCED]",
        "bfar=0x40020000",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hardfault_on_armv6m_reports_registers_without_fault_status() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut b = backend(
        &board,
        Double::new(&["0483:374b"], faulted_chip(false)),
        None,
    );
    b.start(Path::new("fw.elf")).await.unwrap();
    let Some(TargetEnd::Fault(regs)) = ended_within(&mut b, 5).await else {
        panic!("no fault")
    };
    b.stop().await;
    assert_eq!((regs.pc, regs.cfsr, regs.hfsr), (0x0800_0A0C, None, None));
    assert!(TargetEnd::Fault(regs).to_string().contains("ARMv6-M"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_breakpoint_with_fault_bits_set_is_a_fault_and_a_lockup_too() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut chip = faulted_chip(true);
    chip.statuses = [CoreStatus::Halted(HaltCause::Breakpoint)].into();
    let mut b = backend(&board, Double::new(&["0483:374b"], chip), None);
    b.start(Path::new("fw.elf")).await.unwrap();
    assert!(
        matches!(ended_within(&mut b, 5).await, Some(TargetEnd::Fault(r)) if r.cause == FaultCause::HardFault)
    );
    b.stop().await;

    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut b = backend(
        &board,
        Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::LockedUp])),
        None,
    );
    b.start(Path::new("fw.elf")).await.unwrap();
    assert!(
        matches!(ended_within(&mut b, 5).await, Some(TargetEnd::Fault(r)) if r.cause == FaultCause::Lockup)
    );
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_halts_a_core_that_is_still_running() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let access = Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::Running]));
    let mut b = backend(&board, access.clone(), None);
    b.start(Path::new("fw.elf")).await.unwrap();
    assert_eq!(
        ended_within(&mut b, 1).await,
        None,
        "a running core does not end the run"
    );
    b.stop().await;
    assert_eq!(access.log().last().map(String::as_str), Some("halt"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_while_watching_the_core_ends_the_run_as_an_error_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut chip = Scripted::new(&[]);
    chip.status_panics = true;
    let mut b = backend(&board, Double::new(&["0483:374b"], chip), None);
    b.start(Path::new("fw.elf")).await.unwrap();
    let end = ended_within(&mut b, 5).await;
    assert!(
        matches!(&end, Some(TargetEnd::Killed { detail }) if detail.contains("panicked")),
        "{end:?}"
    );
    b.stop().await;
}

fn boot_frame(index: u16) -> Vec<u8> {
    let mut raw = index.to_le_bytes().to_vec();
    for s in ["nucleo-f401re", "ordering"] {
        raw.extend_from_slice(&(s.len() as u32).to_le_bytes());
        raw.extend_from_slice(s.as_bytes());
    }
    let mut frame = Vec::new();
    hil_runner::rzcobs::encode_frame(&raw, &mut frame);
    frame
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_bytes_before_the_boot_marker_are_discarded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let access = Double::new(&["0483:374b"], Scripted::new(&[CoreStatus::Running]));
    let mut b = backend(&board, access, Some(7));
    let mut source = b.start(Path::new("fw.elf")).await.unwrap();
    let stale = b"old firmware\0\x03\x05gar";
    let mut sent = stale.to_vec();
    sent.extend(boot_frame(7));
    sent.extend(b"after\0");
    master.write_all(&sent).unwrap();
    let got = tokio::task::spawn_blocking(move || {
        let (mut got, mut buf) = (Vec::new(), [0u8; 256]);
        while got.len() < sent.len() - stale.len() {
            if let ReadOutcome::Data(n) = source.read_some(&mut buf).unwrap() {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    })
    .await
    .unwrap();
    let mut expected = boot_frame(7);
    expected.extend(b"after\0");
    assert_eq!(got, expected);
    assert_eq!(b.discarded_before_boot(), stale.len() as u64);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_under_reset_reaches_probe_rs_and_its_panic_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let toml = NUCLEO
        .replace("connect_under_reset = false", "connect_under_reset = true")
        .replace(
            "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*",
            port.to_str().unwrap(),
        );
    let board = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap();
    // probe-rs's FakeProbe cannot assert reset: it panics when asked to.
    let access = Arc::new(ProbeRs::with_lister(|| Box::new(FakeLister::one())));
    let err = backend(&board, access, None)
        .start(Path::new("fw.elf"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            BackendError::Probe {
                source: ProbeError::Panicked { .. },
                ..
            }
        ),
        "{err}"
    );
}
