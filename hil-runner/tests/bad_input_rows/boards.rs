//! The board-file rows: one per field of a board file, on the emulated board's file and the probe fixture.

use std::path::Path;

use super::{board_row, probe_board, qemu_board, s, Bad, Row};

/// `text` with `from` replaced by `to` (which must be there).
fn edit(from: &'static str, to: &'static str) -> impl Fn(&str) -> String {
    move |t: &str| {
        assert!(t.contains(from), "{from:?} not in the board file");
        t.replace(from, to)
    }
}

/// The row of a board-file input, `None` for the others.
pub fn row(bad: Bad, dir: &Path) -> Option<Row> {
    Some(match bad {
        Bad::BoardFileMissing => {
            let path = dir.join("gone.toml");
            board_row(path, "cannot read board file").with_expect_fixed()
        }
        Bad::BoardNotToml => {
            let path = dir.join("garbled.toml");
            std::fs::write(&path, "name = [unclosed\n").unwrap();
            Row {
                expect: vec![s(&path), "line 1".into()],
                ..board_row(path.clone(), "name")
            }
        }
        Bad::BoardUnknownField => board_row(
            qemu_board(dir, "b", |t| format!("colour = \"red\"\n{t}")),
            "unknown field `colour`",
        ),
        Bad::BoardFieldMissing => board_row(
            qemu_board(dir, "b", edit("target = \"thumbv7m-none-eabi\"\n", "")),
            "missing field `target`",
        ),
        Bad::BoardFieldWrongType => board_row(
            qemu_board(dir, "b", edit("feature = \"lm3s6965evb\"", "feature = 3")),
            "invalid type",
        ),
        Bad::BoardName => board_row(
            qemu_board(dir, "b", edit("name = \"b\"", "name = \"c\"")),
            "name",
        ),
        Bad::BoardKind => board_row(
            qemu_board(dir, "b", edit("kind = \"qemu\"", "kind = \"fpga\"")),
            "kind",
        ),
        Bad::BoardTarget => board_row(
            qemu_board(
                dir,
                "b",
                edit(
                    "target = \"thumbv7m-none-eabi\"",
                    "target = \"thumbv9-none\"",
                ),
            ),
            "target",
        ),
        Bad::BoardFeature => board_row(
            qemu_board(
                dir,
                "b",
                edit("feature = \"lm3s6965evb\"", "feature = \"\""),
            ),
            "feature",
        ),
        Bad::BoardCoreUnknown => board_row(
            qemu_board(
                dir,
                "b",
                edit("core = \"cortex-m3\"", "core = \"cortex-m99\""),
            ),
            "core",
        ),
        Bad::BoardCoreForAnotherTarget => board_row(
            qemu_board(
                dir,
                "b",
                edit("core = \"cortex-m3\"", "core = \"cortex-m0\""),
            ),
            "core",
        ),
        Bad::BoardMemoryMissing => board_row(
            qemu_board(
                dir,
                "b",
                edit("memory = \"b.memory.x\"", "memory = \"gone.x\""),
            ),
            "memory",
        ),
        Bad::BoardQemuTableMissing => board_row(
            qemu_board(dir, "b", edit("[qemu]\nmachine = \"lm3s6965evb\"\n", "")),
            "qemu",
        ),
        Bad::BoardQemuMachineEmpty => board_row(
            qemu_board(
                dir,
                "b",
                edit("machine = \"lm3s6965evb\"", "machine = \"\""),
            ),
            "qemu.machine",
        ),
        Bad::BoardQemuMachineUnknown => board_row(
            qemu_board(
                dir,
                "b",
                edit("machine = \"lm3s6965evb\"", "machine = \"no-such-machine\""),
            ),
            "qemu.machine",
        ),
        Bad::BoardQemuCpuUnknown => board_row(
            qemu_board(
                dir,
                "b",
                edit(
                    "machine = \"lm3s6965evb\"",
                    "machine = \"lm3s6965evb\"\ncpu = \"cortex-m99\"",
                ),
            ),
            "qemu.cpu",
        ),
        Bad::BoardQemuArgUnknown => board_row(
            qemu_board(
                dir,
                "b",
                edit(
                    "machine = \"lm3s6965evb\"",
                    "machine = \"lm3s6965evb\"\nargs = [\"-frobnicate\"]",
                ),
            ),
            "qemu.args",
        ),
        Bad::BoardProbeTableOnQemu => board_row(
            qemu_board(dir, "b", |t| {
                format!("{t}\n[probe]\nchip = \"STM32F401RETx\"\n")
            }),
            "probe",
        ),
        Bad::BoardSerialTableOnQemu => board_row(
            qemu_board(dir, "b", |t| {
                format!("{t}\n[serial]\nport = \"/dev/ttyACM0\"\n")
            }),
            "serial",
        ),
        Bad::BoardChecksBytesPerS => board_row(
            qemu_board(
                dir,
                "b",
                edit("min_bytes_per_s = 50000", "min_bytes_per_s = -1.0"),
            ),
            "checks.min_bytes_per_s",
        ),
        Bad::BoardChecksUtilisationWithoutBaud => board_row(
            qemu_board(
                dir,
                "b",
                edit("min_bytes_per_s = 50000", "min_line_utilisation = 0.5"),
            ),
            "checks.min_line_utilisation",
        ),
        Bad::BoardProbeTableMissing => board_row(
            probe_board(dir, |t| {
                t.replace(
                    "[probe]\nchip = \"STM32F401RETx\"\nconnect_under_reset = false\n",
                    "",
                )
            }),
            "probe",
        ),
        Bad::BoardSerialTableMissing => board_row(
            probe_board(dir, |t| t[..t.find("[serial]").unwrap()].to_owned()),
            "serial",
        ),
        Bad::BoardQemuTableOnProbe => board_row(
            probe_board(dir, |t| format!("{t}\n[qemu]\nmachine = \"lm3s6965evb\"\n")),
            "qemu",
        ),
        Bad::BoardProbeChip => board_row(
            probe_board(dir, edit("STM32F401RETx", "NoSuchChip123")),
            "probe.chip",
        ),
        Bad::BoardProbeSelector => board_row(
            probe_board(
                dir,
                edit(
                    "connect_under_reset = false",
                    "connect_under_reset = false\nselector = \"nope\"",
                ),
            ),
            "probe.selector",
        ),
        Bad::BoardProbeSpeed => board_row(
            probe_board(
                dir,
                edit(
                    "connect_under_reset = false",
                    "connect_under_reset = false\nspeed = 0",
                ),
            ),
            "probe.speed",
        ),
        Bad::BoardProbeProtocol => board_row(
            probe_board(
                dir,
                edit(
                    "connect_under_reset = false",
                    "connect_under_reset = false\nprotocol = \"spi\"",
                ),
            ),
            "probe.protocol",
        ),
        Bad::BoardSerialPortRelative => board_row(
            probe_board(
                dir,
                edit(
                    "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*",
                    "ttyACM0",
                ),
            ),
            "serial.port",
        ),
        Bad::BoardSerialUsb => board_row(
            probe_board(
                dir,
                edit(
                    "port = \"/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*\"",
                    "usb = \"zz:374b\"",
                ),
            ),
            "serial.usb",
        ),
        Bad::BoardSerialBaud => board_row(
            probe_board(dir, edit("baud = 115200", "baud = 0")),
            "serial.baud",
        ),
        Bad::BoardChecksUtilisationOverOne => board_row(
            probe_board(dir, |t| {
                format!("{t}\n[checks]\nmin_line_utilisation = 1.5\n")
            }),
            "checks.min_line_utilisation",
        ),
        _ => return None,
    })
}
