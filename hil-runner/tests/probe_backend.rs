//! The probe backend's bring-up with test doubles: which probe is picked and what is said when
//! none or several fit, and that nothing slow (serial port, attach) happens before that.

mod probe_support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use hil_runner::backend::probe::ProbeError;
use hil_runner::backend::{Backend, BackendError};
use hil_runner::board::{Board, UsbId};
use probe_support::doubles::{backend, pty, Double, Log, Scripted};
use probe_support::{board_file, nucleo_with_port, NUCLEO, NUCLEO_MEMORY};

#[tokio::test(flavor = "multi_thread")]
async fn no_probe_is_reported_with_what_was_looked_for_before_the_serial_port_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    // The port does not exist: had the backend looked at it first, the error would be about it.
    let board = nucleo_with_port(dir.path(), &dir.path().join("no-such-port"));
    let access = Double::new(&[], Scripted::new(&[]));
    let err = backend(&board, access.clone(), None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BackendError::NoProbe { .. }), "{err}");
    let text = err.to_string();
    for part in [
        "no debug probe found",
        "any probe",
        "STM32F401RETx",
        "nucleo-f401re",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(access.log().is_empty(), "{:?}", access.log());

    let toml = NUCLEO.replace(
        "connect_under_reset = false",
        "selector = \"0483:374b:ABC\"",
    );
    let board = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap();
    let access = Double::new(&["0483:374b:XYZ"], Scripted::new(&[]));
    let err = backend(&board, access, None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("probe 0483:374b:ABC (probe.selector)"),
        "{err}"
    );
    assert!(
        err.to_string().contains("attached: 0483:374b:XYZ (Double)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn several_probes_and_no_selector_name_the_probes_and_the_board_file() {
    let dir = tempfile::tempdir().unwrap();
    let board = nucleo_with_port(dir.path(), &dir.path().join("no-such-port"));
    let access = Double::new(&["0483:374b:A1", "1366:1015:B2"], Scripted::new(&[]));
    let err = backend(&board, access, None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, BackendError::SeveralProbes { count: 2, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("0483:374b:A1") && text.contains("1366:1015:B2"),
        "{text}"
    );
    assert!(
        text.contains("probe.selector") && text.contains("nucleo-f401re.toml"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_this_user_may_not_open_points_at_the_udev_rules() {
    let dir = tempfile::tempdir().unwrap();
    let board = nucleo_with_port(dir.path(), &dir.path().join("no-such-port"));
    let mut probes = Double::new(&["0483:374b"], Scripted::new(&[]))
        .probes
        .clone();
    probes[0].accessible = false;
    let access = Arc::new(Double {
        probes,
        attach_delay: Mutex::new(std::time::Duration::ZERO),
        target: Mutex::new(None),
        log: Log::default(),
    });
    let err = backend(&board, access, None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BackendError::ProbePermission { .. }), "{err}");
    assert!(err.to_string().contains("udev"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_serial_port_fails_before_the_probe_attaches() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-port");
    let board = nucleo_with_port(dir.path(), &missing);
    let access = Double::new(&["0483:374b"], Scripted::new(&[]));
    let err = backend(&board, access.clone(), None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, BackendError::Serial { .. }), "{err}");
    assert!(err.to_string().contains(missing.to_str().unwrap()), "{err}");
    assert!(
        access.log().is_empty(),
        "attached although the port is missing: {:?}",
        access.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flash_failure_is_a_probe_error_and_the_core_is_never_started() {
    let dir = tempfile::tempdir().unwrap();
    let (_master, port) = pty(dir.path());
    let board = nucleo_with_port(dir.path(), &port);
    let mut chip = Scripted::new(&[]);
    chip.flash_fails = true;
    let access = Double::new(&["0483:374b"], chip);
    let err = backend(&board, access.clone(), None)
        .start(Path::new("fw.elf"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            BackendError::Probe {
                source: ProbeError::Flash { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("fw.elf") && err.to_string().contains("STM32F401RETx"),
        "{err}"
    );
    assert_eq!(
        access.log(),
        ["attach 0483:374b STM32F401RETx reset=false", "flash"]
    );
}

#[test]
fn usb_ids_parse_and_print_as_vid_pid_serial() {
    let id: UsbId = "0483:374B:066DFF".parse().unwrap();
    assert_eq!(
        (id.vendor_id, id.product_id, id.serial.as_deref()),
        (0x0483, 0x374b, Some("066DFF"))
    );
    assert_eq!(id.to_string(), "0483:374b:066DFF");
    assert!(id.matches(0x0483, 0x374b, Some("066DFF")));
    assert!(!id.matches(0x0483, 0x374b, Some("OTHER")));
    let any: UsbId = "2e8a:c".parse().unwrap();
    assert!(any.matches(0x2e8a, 0x000c, None) && any.matches(0x2e8a, 0x000c, Some("x")));
    for bad in ["0483", "0483:", "xyz:374b", "12345:1", "0483:374b:"] {
        assert!(bad.parse::<UsbId>().is_err(), "{bad:?} parsed");
    }
}
