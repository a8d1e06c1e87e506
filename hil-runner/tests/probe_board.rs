//! Probe board files: parsing into the strict type, field-naming errors, memory.x, and the
//! `boards --check` checks against probe-rs's chip registry and against built firmware images.

mod probe_support;

use std::path::Path;

use hil_runner::board::memory_x::{MemoryLayout, MemoryRegion, MemoryXError};
use hil_runner::board::verify::{self, images_in};
use hil_runner::board::{self, Board, BoardError, BoardKind, SerialPortSpec};
use probe_support::{board_file, nucleo, write_elf, NUCLEO, NUCLEO_MEMORY};
use rstest::rstest;

fn probe(board: &Board) -> &board::ProbeBoard {
    match &board.kind {
        BoardKind::Probe(p) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_repository_probe_boards_load_with_their_chip_probe_and_serial_port() {
    let dir = board::boards_dir();
    let nucleo = Board::find("nucleo-f401re").unwrap();
    let p = probe(&nucleo);
    assert_eq!(
        (p.chip.as_str(), p.selector.as_ref()),
        ("STM32F401RETx", None)
    );
    assert!(
        matches!(&p.serial().unwrap().port, SerialPortSpec::Path(g) if g.starts_with("/dev/serial/by-id/"))
    );
    assert!(!p.serial().unwrap().native_usb);
    let pico_usb = Board::find("rpi-pico-usb").unwrap();
    let p = probe(&pico_usb);
    assert!(p.serial().unwrap().native_usb);
    assert_eq!(
        p.serial().unwrap().port,
        SerialPortSpec::Usb("1209:0001:hil-rpi-pico-usb".parse().unwrap())
    );
    assert_eq!(pico_usb.memory, dir.join("rpi-pico.memory.x"));
}

#[rstest]
#[case::port_and_usb(
    "port = \"/dev/ttyACM0\"\nusb = \"0483:374b\"\nbaud = 115200",
    "serial.usb"
)]
#[case::neither_port_nor_usb("baud = 115200", "serial.port")]
#[case::usb_not_hex("usb = \"zz:374b\"", "serial.usb")]
#[case::relative_port("port = \"ttyACM0\"", "serial.port")]
#[case::zero_baud("port = \"/dev/ttyACM0\"\nbaud = 0", "serial.baud")]
fn a_bad_serial_table_is_an_error_naming_file_and_field(#[case] serial: &str, #[case] field: &str) {
    let dir = tempfile::tempdir().unwrap();
    let start = NUCLEO.find("[serial]").unwrap();
    let toml = format!("{}[serial]\n{serial}\n", &NUCLEO[..start]);
    expect_field(dir.path(), &toml, field);
}

#[rstest]
#[case::unknown_chip("chip = \"STM32F401RETx\"", "chip = \"STM32F999ZZ\"", "probe.chip")]
#[case::partial_chip("chip = \"STM32F401RETx\"", "chip = \"STM32F401RET\"", "probe.chip")]
#[case::bad_selector("connect_under_reset = false", "selector = \"0483\"", "probe.selector")]
#[case::zero_speed("connect_under_reset = false", "speed = 0", "probe.speed")]
#[case::unknown_protocol("connect_under_reset = false", "protocol = \"spi\"", "probe.protocol")]
#[case::unknown_kind("kind = \"probe\"", "kind = \"jtag\"", "kind")]
#[case::qemu_table_on_a_probe_board("[probe]", "[qemu]\nmachine = \"x\"\n[probe]", "qemu")]
#[case::no_serial_table("[serial]", "", "serial")]
#[case::no_probe_table("[probe]", "", "probe")]
fn a_bad_probe_board_is_an_error_naming_file_and_field(
    #[case] from: &str,
    #[case] to: &str,
    #[case] field: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let toml = if to.is_empty() {
        without_table(NUCLEO, from)
    } else {
        NUCLEO.replace(from, to)
    };
    expect_field(dir.path(), &toml, field);
}

/// `toml` without the table `header` and its keys.
fn without_table(toml: &str, header: &str) -> String {
    let start = toml.find(header).unwrap();
    let rest = &toml[start + header.len()..];
    let end = rest
        .find("\n[")
        .map_or(toml.len(), |i| start + header.len() + i + 1);
    format!("{}{}", &toml[..start], &toml[end..])
}

fn expect_field(dir: &Path, toml: &str, field: &str) {
    let path = board_file(dir, "nucleo-f401re", toml, NUCLEO_MEMORY);
    match Board::load(&path) {
        Err(BoardError::Field {
            path: p,
            field: f,
            message,
        }) => {
            assert_eq!(
                (p.as_path(), f),
                (path.as_path(), field),
                "{message}\n{toml}"
            );
            let text = Board::load(&path).unwrap_err().to_string();
            assert!(
                text.contains("nucleo-f401re.toml") && text.contains(&format!("field `{field}`")),
                "{text}"
            );
        }
        other => panic!("expected field {field}, got {other:?}\n{toml}"),
    }
}

#[test]
fn an_unknown_key_in_the_probe_table_is_rejected_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let toml = NUCLEO.replace("[probe]", "[probe]\nspeed_khz = 4000");
    let err = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap_err();
    assert!(matches!(err, BoardError::Parse { .. }), "{err}");
    assert!(
        err.to_string().contains("nucleo-f401re.toml") && err.to_string().contains("speed_khz"),
        "{err}"
    );
}

#[test]
fn memory_x_regions_are_read_with_expressions_attributes_and_comments() {
    let text = "/* layout */\nMEMORY\n{\n  BOOT2 : ORIGIN = 0x10000000, LENGTH = 0x100\n  FLASH (rx) : org = 0x10000100, len = 2048K - 0x100 // rest\n  RAM : ORIGIN = 0x2000_0000, LENGTH = (64 + 192) * 1K\n  TAIL : ORIGIN = ORIGIN(RAM) + LENGTH(RAM), LENGTH = 1M\n}\nSECTIONS { .boot2 ORIGIN(BOOT2) : { KEEP(*(.boot2)); } > BOOT2 } INSERT BEFORE .text;\n";
    let layout = MemoryLayout::parse(text).unwrap();
    let region = |name: &str, origin: u64, length: u64| MemoryRegion {
        name: name.into(),
        origin,
        length,
    };
    assert_eq!(
        layout.regions,
        [
            region("BOOT2", 0x1000_0000, 0x100),
            region("FLASH", 0x1000_0100, 2048 * 1024 - 0x100),
            region("RAM", 0x2000_0000, 256 * 1024),
            region("TAIL", 0x2004_0000, 1024 * 1024),
        ]
    );
}

#[test]
fn memory_x_errors_say_what_and_where() {
    assert!(matches!(
        MemoryLayout::parse("SECTIONS {}"),
        Err(MemoryXError::NoMemory)
    ));
    let err = MemoryLayout::parse("MEMORY\n{\n  FLASH : ORIGIN = 0x0, LENGTH = 64K\n  RAM : START = 0x2000_0000, LENGTH = 8K\n}").unwrap_err();
    assert!(matches!(err, MemoryXError::Syntax { line: 4, .. }), "{err}");
    assert!(err.to_string().contains("ORIGIN"), "{err}");
}

#[test]
fn every_repository_board_passes_the_registry_memory_and_target_checks() {
    for path in board::list(&board::boards_dir()).unwrap() {
        let b = Board::load(&path).unwrap();
        let problems = verify::verify(&b, &[]);
        assert!(problems.is_empty(), "{}: {problems:?}", b.name);
    }
}

fn problems(
    dir: &Path,
    toml: &str,
    memory: &str,
    images: &[std::path::PathBuf],
) -> Vec<(String, String)> {
    let b = Board::load(&board_file(dir, "nucleo-f401re", toml, memory)).unwrap();
    verify::verify(&b, images)
        .into_iter()
        .map(|e| match e {
            BoardError::Field { field, message, .. } => (field.to_owned(), message),
            other => panic!("{other}"),
        })
        .collect()
}

#[test]
fn a_memory_layout_outside_the_chips_memory_map_names_memory_and_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let memory = NUCLEO_MEMORY
        .replace("LENGTH = 512K", "LENGTH = 1024K")
        .replace("0x20000000", "0x10000000");
    let found = problems(dir.path(), NUCLEO, &memory, &[]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "memory");
    assert!(
        found[0].1.contains("FLASH 0x08000000..0x08100000")
            && found[0].1.contains("flash of STM32F401RETx"),
        "{found:?}"
    );
    assert!(
        found[1].1.contains("RAM 0x10000000") && found[1].1.contains("nucleo-f401re.memory.x"),
        "{found:?}"
    );
    let no_ram = problems(
        dir.path(),
        NUCLEO,
        "MEMORY { FLASH : ORIGIN = 0x08000000, LENGTH = 512K }",
        &[],
    );
    assert_eq!(
        no_ram,
        [(
            "memory".to_owned(),
            format!(
                "{} has no RAM region",
                dir.path().join("nucleo-f401re.memory.x").display()
            )
        )]
    );
}

#[test]
fn a_target_triple_for_another_core_names_target_and_the_right_triples() {
    let dir = tempfile::tempdir().unwrap();
    let toml = NUCLEO.replace("thumbv7em-none-eabihf", "thumbv6m-none-eabi");
    let found = problems(dir.path(), &toml, NUCLEO_MEMORY, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "target");
    assert!(
        found[0]
            .1
            .contains("thumbv7em-none-eabi or thumbv7em-none-eabihf"),
        "{found:?}"
    );
}

#[test]
fn a_built_image_must_load_into_flash_and_nothing_into_ram() {
    let dir = tempfile::tempdir().unwrap();
    let code = [0u8; 64];
    // .data: runs in RAM, loaded from flash: fine.
    let good = write_elf(
        dir.path(),
        "good",
        &[
            (0x0800_0000, 0x0800_0000, &code),
            (0x2000_0000, 0x0800_0040, &code),
        ],
    );
    assert!(problems(dir.path(), NUCLEO, NUCLEO_MEMORY, &[good]).is_empty());

    let in_ram = write_elf(dir.path(), "in_ram", &[(0x2000_0000, 0x2000_0000, &code)]);
    let found = problems(dir.path(), NUCLEO, NUCLEO_MEMORY, &[in_ram]);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["memory", "probe.chip"], "{found:?}");
    assert!(
        found[0].1.contains("in_ram")
            && found[0]
                .1
                .contains("64 bytes at 0x20000000..0x20000040 (.sec0) into RAM"),
        "{found:?}"
    );

    let too_big = write_elf(dir.path(), "too_big", &[(0x0807_fff0, 0x0807_fff0, &code)]);
    let found = problems(dir.path(), NUCLEO, NUCLEO_MEMORY, &[too_big]);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["memory", "probe.chip"], "{found:?}");
    assert!(
        found[1].1.contains("outside the flash of STM32F401RETx"),
        "{found:?}"
    );
}

#[test]
fn an_emulated_board_image_is_checked_against_its_memory_layout() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Board::find(board::DEFAULT_BOARD).unwrap();
    let in_ram = write_elf(
        dir.path(),
        "in_ram",
        &[(0x2000_0000, 0x2000_0000, &[1, 2, 3, 4])],
    );
    let found = verify::verify(&repo, &[in_ram]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].to_string().contains("field `memory`")
            && found[0].to_string().contains("into RAM")
    );
}

#[test]
fn images_are_taken_only_from_the_board_they_were_built_for() {
    let dir = tempfile::tempdir().unwrap();
    let b = nucleo(dir.path());
    let release = dir.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    for (name, board) in [("ordering", "nucleo-f401re"), ("overflow", "nrf52840-dk")] {
        std::fs::write(release.join(name), "elf").unwrap();
        let dep_info = format!(
            "{0}/{name}: /x/src/{name}.rs /x/hil-board/../../boards/{board}.toml\n",
            release.display()
        );
        std::fs::write(release.join(format!("{name}.d")), dep_info).unwrap();
    }
    std::fs::write(
        release.join("libhil_board.d"),
        "lib: /x/boards/nucleo-f401re.toml",
    )
    .unwrap();
    std::fs::write(release.join("libhil_board.rlib"), "").unwrap();
    assert_eq!(images_in(&release, &b), [release.join("ordering")]);
}

#[test]
fn speed_protocol_and_allow_erase_all_are_read_from_the_probe_table() {
    let dir = tempfile::tempdir().unwrap();
    let toml = NUCLEO.replace(
        "connect_under_reset = false",
        "connect_under_reset = false\nspeed = 1800\nprotocol = \"JTAG\"\nallow_erase_all = true",
    );
    let board = Board::load(&board_file(
        dir.path(),
        "nucleo-f401re",
        &toml,
        NUCLEO_MEMORY,
    ))
    .unwrap();
    let p = probe(&board);
    assert_eq!(
        (p.speed_khz, p.protocol, p.allow_erase_all),
        (Some(1800), Some(board::WireProtocol::Jtag), true)
    );
    let plain = nucleo(dir.path());
    let p = probe(&plain);
    assert_eq!(
        (p.speed_khz, p.protocol, p.allow_erase_all),
        (None, None, false)
    );
}
