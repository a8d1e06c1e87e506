//! The probe selector with an interface (`VID:PID-INTERFACE:SERIAL`, probe-rs's syntax), a
//! probe listed once per interface seen as one probe, and the error when several probes match.

mod probe_support;

use std::path::Path;

use hil_runner::backend::probe::listing::probes_of;
use hil_runner::backend::probe::select_probe;
use hil_runner::backend::{Backend, BackendError};
use hil_runner::board::{Board, UsbId};
use probe_rs::probe::list::ProbeListItem;
use probe_rs::probe::{
    DebugProbe, DebugProbeError, DebugProbeInfo, DebugProbeSelector, ProbeFactory,
};
use probe_support::doubles::{backend, Double, Scripted};
use probe_support::{board_file, nucleo, NUCLEO, NUCLEO_MEMORY};

#[derive(Debug)]
struct Listed;

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("listed")
    }
}

impl ProbeFactory for Listed {
    fn open(&self, _: &DebugProbeSelector) -> Result<Box<dyn DebugProbe>, DebugProbeError> {
        Err(DebugProbeError::Other("listing only".into()))
    }
    fn list_probes(&self) -> Vec<ProbeListItem> {
        Vec::new()
    }
}

static LISTED: Listed = Listed;

/// A probe-rs listing entry.
fn entry(
    name: &str,
    vid: u16,
    pid: u16,
    serial: Option<&str>,
    interface: Option<u8>,
) -> DebugProbeInfo {
    DebugProbeInfo::new(
        name,
        vid,
        pid,
        serial.map(str::to_owned),
        &LISTED,
        interface,
        false,
    )
}

#[test]
fn a_selector_names_an_interface_as_probe_rs_parses_it() {
    for text in [
        "0483:374b",
        "0483:374b:066DFF",
        "0483:374b-1",
        "0483:374b-1:066DFF",
        "1366:1015-2:000683",
        "303a:1001-0:F4:12:FA:00:11:22",
    ] {
        let ours: UsbId = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        let theirs: DebugProbeSelector = text.parse().unwrap();
        assert_eq!(
            (
                ours.vendor_id,
                ours.product_id,
                ours.interface,
                ours.serial.clone()
            ),
            (
                theirs.vendor_id,
                theirs.product_id,
                theirs.interface,
                theirs.serial_number.clone()
            ),
            "{text}"
        );
        assert_eq!(ours.to_string(), theirs.to_string(), "{text}");
        assert_eq!(ours.to_string().to_lowercase(), text.to_lowercase());
    }
}

#[test]
fn a_bad_interface_is_named_in_the_error() {
    for (text, part) in [
        ("0483:374b-x", "interface \"x\""),
        ("0483:374b-256:A", "interface \"256\""),
        ("0483:374b-", "interface \"\""),
        ("0483:37z4-1", "product id \"37z4\""),
    ] {
        let err = text.parse::<UsbId>().unwrap_err();
        assert!(err.contains(part), "{text}: {err}");
        assert!(err.contains("VID:PID[-INTERFACE][:serial]"), "{err}");
    }
}

#[test]
fn a_board_file_takes_an_interface_in_the_probe_selector_but_not_in_serial_usb() {
    let dir = tempfile::tempdir().unwrap();
    let toml = NUCLEO.replace(
        "connect_under_reset = false",
        "selector = \"0483:374b-1:066DFF\"",
    );
    let board = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap();
    let hil_runner::board::BoardKind::Probe(probe) = &board.kind else {
        panic!("{board:?}")
    };
    let selector = probe.selector.as_ref().unwrap();
    assert_eq!(
        (selector.interface, selector.serial.as_deref()),
        (Some(1), Some("066DFF"))
    );

    let toml = NUCLEO.replace(
        "port = \"/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*\"",
        "usb = \"0483:374b-2\"",
    );
    let err = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("serial.usb") && err.contains("serial.port"),
        "{err}"
    );
}

#[test]
fn a_probe_listed_once_per_interface_is_one_probe_with_its_interfaces() {
    let listing = [
        (
            entry("CMSIS-DAP", 0x2e8a, 0x000c, Some("E6614C"), Some(0)),
            true,
        ),
        (
            entry("CMSIS-DAP", 0x2e8a, 0x000c, Some("E6614C"), Some(2)),
            true,
        ),
        (entry("STLink V3", 0x0483, 0x374f, Some("0028"), None), true),
        // Two probes of one kind, told apart by their serial numbers.
        (entry("J-Link", 0x1366, 0x1015, Some("A"), None), true),
        (entry("J-Link", 0x1366, 0x1015, Some("B"), None), false),
    ];
    let probes = probes_of(&listing);
    let shown: Vec<String> = probes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "2e8a:000c:E6614C (CMSIS-DAP, interfaces 0, 2)",
            "0483:374f:0028 (STLink V3)",
            "1366:1015:A (J-Link)",
            "1366:1015:B (J-Link)",
        ]
    );
    assert_eq!(probes[0].interfaces, [0, 2]);
    assert!(probes[2].accessible && !probes[3].accessible);
    // The same device listed twice on one interface is still one entry.
    let twice = [
        (entry("CMSIS-DAP", 0x2e8a, 0x000c, None, Some(1)), true),
        (entry("CMSIS-DAP", 0x2e8a, 0x000c, None, Some(1)), true),
    ];
    assert_eq!(probes_of(&twice).len(), 1);
    assert_eq!(probes_of(&twice)[0].interfaces, [1]);
}

#[test]
fn one_probe_on_two_interfaces_is_picked_without_a_selector_and_by_its_interface() {
    let dir = tempfile::tempdir().unwrap();
    let board = nucleo(dir.path());
    let listing = [
        (
            entry("CMSIS-DAP", 0x2e8a, 0x000c, Some("E6614C"), Some(0)),
            true,
        ),
        (
            entry("CMSIS-DAP", 0x2e8a, 0x000c, Some("E6614C"), Some(2)),
            true,
        ),
    ];
    let probes = probes_of(&listing);
    let any = select_probe(&probes, None, &board, "STM32F401RETx").unwrap();
    assert_eq!(
        any.id.to_string(),
        "2e8a:000c:E6614C",
        "probe-rs picks the interface"
    );

    let on_two: UsbId = "2e8a:000c-2".parse().unwrap();
    let chosen = select_probe(&probes, Some(&on_two), &board, "STM32F401RETx").unwrap();
    assert_eq!(
        chosen.id.to_string(),
        "2e8a:000c-2:E6614C",
        "opened on interface 2"
    );

    let on_five: UsbId = "2e8a:000c-5".parse().unwrap();
    let err = select_probe(&probes, Some(&on_five), &board, "STM32F401RETx").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BackendError::NoProbe { .. }), "{text}");
    assert!(
        text.contains("2e8a:000c-5") && text.contains("interfaces 0, 2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn several_matching_probes_are_listed_with_the_selectors_that_tell_them_apart() {
    let dir = tempfile::tempdir().unwrap();
    let board = nucleo(dir.path());
    let access = Double::new(
        &["1366:1015-0:A", "1366:1015-1:A", "1366:1015:B"],
        Scripted::new(&[]),
    );
    let err = backend(&board, access.clone(), None)
        .start(Path::new("x.elf"))
        .await
        .err()
        .unwrap();
    // The first two are one probe listed on two interfaces.
    assert!(
        matches!(err, BackendError::SeveralProbes { count: 2, .. }),
        "{err}"
    );
    let text = err.to_string();
    for part in [
        "2 debug probes match board nucleo-f401re (any probe)",
        "1366:1015:A (Double, interfaces 0, 1)",
        "1366:1015:B (Double)",
        "VID:PID[-INTERFACE]:serial",
        "nucleo-f401re.toml",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert!(
        access.log().is_empty(),
        "nothing attached: {:?}",
        access.log()
    );
}
