//! The real probe-rs implementation ([`ProbeRs`]) driven through probe-rs's `FakeProbe`: listing,
//! attach, core status and registers, flash progress and every error FakeProbe can produce.

mod probe_support;

use std::time::{Duration, Instant};

use hil_runner::backend::probe::access::{target_end, CoreRegister};
use hil_runner::backend::probe::progress::{FlashBars, FlashEvent, FlashOperation, StepState};
use hil_runner::backend::probe::real::ProbeRs;
use hil_runner::backend::probe::{CoreStatus, ProbeAccess, ProbeError, ProbeInfo};
use hil_runner::backend::TargetEnd;
use indicatif::ProgressDrawTarget;
use probe_rs::architecture::arm::dp::DpAddress;
use probe_rs::architecture::arm::FullyQualifiedApAddress;
use probe_rs::integration::{FakeProbe, Operation};
use probe_support::{write_elf, FakeLister};

fn fake(lister: FakeLister) -> ProbeRs {
    ProbeRs::with_lister(move || Box::new(lister.clone()))
}

fn only_probe(access: &ProbeRs) -> ProbeInfo {
    let probes = access.list();
    assert_eq!(probes.len(), 1, "{probes:?}");
    probes.into_iter().next().unwrap()
}

#[test]
fn listing_real_probes_does_not_hang() {
    // A deadline that only catches a hang; how fast listing is, is not a test's business.
    let started = Instant::now();
    let probes = ProbeRs::new().list();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "listing took {:?} ({probes:?})",
        started.elapsed()
    );
}

#[test]
fn listing_reports_ids_serial_and_access_of_each_probe() {
    let lister = FakeLister {
        probes: vec![
            (0x0483, 0x374b, Some("066DFF".into())),
            (0x1366, 0x1015, None),
        ],
        make: FakeProbe::with_mocked_core,
    };
    let probes = fake(lister).list();
    let ids: Vec<String> = probes.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["0483:374b:066DFF", "1366:1015"]);
    assert!(probes.iter().all(|p| p.accessible));
    assert_eq!(probes[0].identifier, "Fake ST-LINK");
}

#[test]
fn attach_to_the_boards_chip_gives_a_running_core() {
    for chip in ["STM32F401RETx", "RP2040"] {
        let access = fake(FakeLister::one());
        let mut ctl = access
            .attach(&only_probe(&access), chip, false)
            .unwrap_or_else(|e| panic!("{chip}: {e}"));
        assert_eq!(ctl.status().unwrap(), CoreStatus::Running, "{chip}");
        assert_eq!(
            ctl.has_fault_status(),
            chip != "RP2040",
            "{chip}: ARMv6-M has no CFSR"
        );
    }
}

fn nrf52_unlocked() -> FakeProbe {
    let probe = FakeProbe::with_mocked_core();
    // The nRF52 attach sequence reads CTRL-AP APPROTECTSTATUS (AP 1, 0x0c): 1 = unlocked.
    probe.expect_operation(Operation::ReadRawApRegister {
        ap: FullyQualifiedApAddress::v1_with_dp(DpAddress::Default, 1),
        address: 0x0c,
        result: 1,
    });
    probe
}

#[test]
fn attach_to_an_nrf52840_runs_its_unlock_check() {
    let lister = FakeLister {
        make: nrf52_unlocked,
        ..FakeLister::one()
    };
    let access = fake(lister);
    let mut ctl = access
        .attach(&only_probe(&access), "nRF52840_xxAA", false)
        .unwrap();
    assert_eq!(ctl.status().unwrap(), CoreStatus::Running);
}

#[test]
fn a_halted_core_without_fault_status_is_a_breakpoint_end_with_pc_and_r0() {
    let access = fake(FakeLister::one());
    let mut ctl = access
        .attach(&only_probe(&access), "STM32F401RETx", false)
        .unwrap();
    ctl.halt().unwrap();
    let status = ctl.status().unwrap();
    assert!(matches!(status, CoreStatus::Halted(_)), "{status:?}");
    // The mocked core reads every register and word as 0: no fault bits, so a plain halt.
    let end = target_end(ctl.as_mut(), &status).unwrap();
    assert_eq!(end, Some(TargetEnd::Halted { pc: 0, r0: 0 }));
    assert_eq!(ctl.read_register(CoreRegister::Xpsr).unwrap(), 0);
}

#[test]
fn an_unknown_chip_is_reported_by_name() {
    let access = fake(FakeLister::one());
    let err = access
        .attach(&only_probe(&access), "STM32F999ZZ", false)
        .err()
        .expect("unknown chip");
    assert!(
        matches!(err, ProbeError::UnknownChip { ref chip } if chip == "STM32F999ZZ"),
        "{err}"
    );
    assert!(err.to_string().contains("STM32F999ZZ"));
}

#[test]
fn a_probe_that_went_away_before_opening_is_an_open_error_naming_it() {
    let access = fake(FakeLister::one());
    let mut gone = only_probe(&access);
    gone.id.serial = Some("UNPLUGGED".into());
    let err = access.attach(&gone, "STM32F401RETx", false).err().unwrap();
    assert!(matches!(err, ProbeError::Open { .. }), "{err}");
    assert!(err.to_string().contains("0483:374b:UNPLUGGED"), "{err}");
}

/// Attach to a fake STM32F401 and flash `segments`, collecting progress.
fn flash_stm32(segments: &[(u32, u32, &[u8])]) -> (Result<(), ProbeError>, Vec<FlashEvent>) {
    let dir = tempfile::tempdir().unwrap();
    let elf = write_elf(dir.path(), "image.elf", segments);
    let access = fake(FakeLister::one());
    let mut ctl = access
        .attach(&only_probe(&access), "STM32F401RETx", false)
        .unwrap();
    let mut events = Vec::new();
    let result = ctl.flash(&elf, &mut |e| events.push(e));
    (result, events)
}

#[test]
fn flash_progress_plans_erase_program_verify_and_a_failed_erase_fails_the_flash() {
    let code = [0xAAu8; 3000];
    let (result, events) = flash_stm32(&[(0x0800_0000, 0x0800_0000, &code)]);
    let err = result.expect_err("the mocked core cannot run a flash algorithm");
    assert!(matches!(err, ProbeError::Flash { .. }), "{err}");
    assert!(err.to_string().contains("image.elf"), "{err}");

    let planned: Vec<FlashOperation> = events
        .iter()
        .filter_map(|e| match e {
            FlashEvent::Planned { operation, total } => {
                assert!(total.is_some_and(|t| t >= 3000), "{e:?}");
                Some(*operation)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        planned,
        [
            FlashOperation::Erase,
            FlashOperation::Program,
            FlashOperation::Verify
        ]
    );
    assert!(
        events.contains(&FlashEvent::Started(FlashOperation::Erase)),
        "{events:?}"
    );
    assert_eq!(
        events.last(),
        Some(&FlashEvent::Failed(FlashOperation::Erase))
    );

    let mut bars = FlashBars::new(ProgressDrawTarget::hidden());
    events.into_iter().for_each(|e| bars.event(e));
    let states: Vec<StepState> = bars.steps().iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [StepState::Failed, StepState::Planned, StepState::Planned]
    );
    assert!(
        bars.summary().contains("erase 0 KiB FAILED"),
        "{}",
        bars.summary()
    );
}

#[test]
fn an_image_outside_the_chips_flash_fails_before_anything_is_erased() {
    let (result, events) = flash_stm32(&[(0x0000_0000, 0x0000_0000, &[1, 2, 3, 4])]);
    let err = result.expect_err("address 0 is not STM32F401 flash");
    assert!(matches!(err, ProbeError::Flash { .. }), "{err}");
    assert!(
        !events.iter().any(|e| matches!(e, FlashEvent::Started(_))),
        "{events:?}"
    );
}
