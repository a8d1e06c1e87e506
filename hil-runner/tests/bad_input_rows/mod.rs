//! The rows of bad_input's table: the inputs, the command line each is given to, what its message names.
#![allow(dead_code)]

mod boards;

use std::path::{Path, PathBuf};

use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::suites;

use crate::probe_support;

/// A gigabyte of zeros.
const GIB: u64 = 1 << 30;

/// The default board's file, as the repository has it.
pub const QEMU_BOARD: &str = include_str!("../../../boards/lm3s6965evb.toml");
/// Its memory layout.
pub const QEMU_MEMORY: &str = include_str!("../../../boards/lm3s6965evb.memory.x");

pub fn ordering_elf() -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    suites::build_suite(&board, &suites::find("ordering").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Firmware that is not ours, for `probe-rs run`: `target-tests/bench-logcost` with the
/// published defmt-rtt as its logger, built for the default board's target.
pub fn defmt_rtt_elf() -> PathBuf {
    let built = hil_runner::build::build_package(
        "bench-logcost",
        "thumbv7m-none-eabi",
        &["logger-rtt".into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    built.into_iter().find(|i| i.name == "logcost").unwrap().elf
}

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A board file `NAME.toml` (with its memory.x) in `dir`, the default board's text changed by `edit`.
pub fn qemu_board(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = QEMU_BOARD
        .replace("name = \"lm3s6965evb\"", &format!("name = \"{name}\""))
        .replace(
            "memory = \"lm3s6965evb.memory.x\"",
            &format!("memory = \"{name}.memory.x\""),
        );
    probe_support::board_file(dir, name, &edit(&text), QEMU_MEMORY)
}

/// The probe board fixture changed by `edit`.
pub fn probe_board(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = edit(probe_support::NUCLEO);
    probe_support::board_file(dir, "nucleo-f401re", &text, probe_support::NUCLEO_MEMORY)
}

/// A copy of the repository's layout with a suites manifest of `text` (for `hil-runner test`).
pub fn fake_repository(dir: &Path, text: &str) -> (PathBuf, PathBuf) {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("boards")).unwrap();
    std::fs::create_dir_all(root.join("target-tests/firmware")).unwrap();
    let manifest = root.join("target-tests/firmware/suites.toml");
    std::fs::write(&manifest, text).unwrap();
    (root, manifest)
}

/// Bad inputs: one per row.
#[derive(Debug, Clone, Copy)]
pub enum Bad {
    ElfMissing,
    NotAnElf,
    TruncatedElf,
    ElfWithoutDefmt,
    ElfForAnotherCore,
    ElfForAnotherBoard,
    ElfLoggingOverRtt,
    UnknownBoard,
    BoardFileMissing,
    BoardNotToml,
    BoardUnknownField,
    BoardFieldMissing,
    BoardFieldWrongType,
    BoardName,
    BoardKind,
    BoardTarget,
    BoardFeature,
    BoardCoreUnknown,
    BoardCoreForAnotherTarget,
    BoardMemoryMissing,
    BoardQemuTableMissing,
    BoardQemuMachineEmpty,
    BoardQemuMachineUnknown,
    BoardQemuCpuUnknown,
    BoardQemuArgUnknown,
    BoardProbeTableOnQemu,
    BoardSerialTableOnQemu,
    BoardChecksBytesPerS,
    BoardChecksUtilisationWithoutBaud,
    BoardProbeTableMissing,
    BoardSerialTableMissing,
    BoardQemuTableOnProbe,
    BoardProbeChip,
    BoardProbeSelector,
    BoardProbeSpeed,
    BoardProbeProtocol,
    BoardSerialPortRelative,
    BoardSerialUsb,
    BoardSerialBaud,
    BoardChecksUtilisationOverOne,
    TimeoutNotPositive,
    ManifestBroken,
    SuiteUnknown,
    CaptureMissing,
    CaptureEmpty,
    CaptureRandom,
    DecodeRandom,
    CaptureGigabyteOfZeros,
    DecodeGigabyteOfZeros,
}

/// What one row runs: arguments, working directory, and the fragments its stderr must hold.
pub struct Row {
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub expect: Vec<String>,
}

pub fn run_elf(elf: &Path, more: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_owned(), s(elf), "--timeout".into(), "30".into()];
    args.extend(more.iter().map(|m| m.to_string()));
    args
}

/// `run` of the ordering ELF on the board file at `board`; stderr names the file and `field`.
pub fn board_row(board: PathBuf, field: &str) -> Row {
    let field = if field.starts_with("unknown field")
        || field.starts_with("missing field")
        || field.starts_with("invalid type")
    {
        field.to_owned()
    } else {
        format!("field `{field}`")
    };
    Row {
        args: run_elf(&ordering_elf(), &["--board", &s(&board)]),
        cwd: None,
        expect: vec![s(&board), field],
    }
}

pub fn row(bad: Bad, dir: &Path) -> Row {
    let elf_row = |elf: PathBuf, more: &[&str], expect: &[&str]| Row {
        args: run_elf(&elf, more),
        cwd: None,
        expect: expect
            .iter()
            .map(|e| e.to_string())
            .chain([s(&elf)])
            .collect(),
    };
    let capture = |name: &str, bytes: Option<&[u8]>| {
        let path = dir.join(name);
        if let Some(bytes) = bytes {
            std::fs::write(&path, bytes).unwrap();
        }
        path
    };
    // `check` or `decode` of a capture, with the ordering ELF.
    let offline = |command: &str, path: &Path, expect: &[&str]| Row {
        args: vec![command.into(), "--elf".into(), s(&ordering_elf()), s(path)],
        cwd: None,
        expect: expect
            .iter()
            .map(|e| e.to_string())
            .chain([s(path)])
            .collect(),
    };
    let check = |path: &Path, expect: &[&str]| offline("check", path, expect);
    let decode = |path: &Path, expect: &[&str]| offline("decode", path, expect);
    if let Some(row) = boards::row(bad, dir) {
        return row;
    }
    match bad {
        Bad::ElfMissing => elf_row(dir.join("missing.elf"), &[], &["cannot read ELF"]),
        Bad::NotAnElf => {
            let path = dir.join("notes.elf");
            std::fs::write(&path, b"these are notes, not firmware\n").unwrap();
            elf_row(path, &[], &["defmt table"])
        }
        Bad::TruncatedElf => {
            let path = dir.join("truncated.elf");
            let bytes = std::fs::read(ordering_elf()).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
            elf_row(path, &[], &[])
        }
        Bad::ElfWithoutDefmt => {
            let path = probe_support::write_elf(dir, "nodefmt.elf", &[(0, 0, &[0u8; 64])]);
            elf_row(path, &[], &["no .defmt section"])
        }
        Bad::ElfForAnotherCore => elf_row(
            ordering_elf(),
            &["--board", "microbit"],
            &["microbit.toml", "ARMv7-M", "another core"],
        ),
        Bad::ElfForAnotherBoard => elf_row(
            ordering_elf(),
            &["--board", "netduinoplus2"],
            &["netduinoplus2.toml", "field `memory`", "another board"],
        ),
        Bad::ElfLoggingOverRtt => elf_row(
            defmt_rtt_elf(),
            &["--board", "nucleo-f401re"],
            &[
                "nucleo-f401re.toml",
                "field `log`",
                "defmt-rtt",
                "log = \"rtt\"",
            ],
        ),
        Bad::UnknownBoard => Row {
            args: run_elf(&ordering_elf(), &["--board", "no-such-board"]),
            cwd: None,
            expect: vec![
                "no board named \"no-such-board\"".into(),
                "known: lm3s6965evb".into(),
            ],
        },
        Bad::TimeoutNotPositive => Row {
            args: vec![
                "run".into(),
                s(&ordering_elf()),
                "--timeout".into(),
                "0".into(),
            ],
            cwd: None,
            expect: vec!["--timeout must be a positive number of seconds".into()],
        },
        Bad::ManifestBroken => {
            let (root, manifest) = fake_repository(dir, "[[suite]]\nname = \"ordering\"\n");
            Row {
                args: vec!["test".into()],
                cwd: Some(root),
                expect: vec![s(&manifest), "missing field `bin`".into()],
            }
        }
        Bad::SuiteUnknown => {
            let text = std::fs::read_to_string(suites::manifest_path()).unwrap();
            let (root, manifest) = fake_repository(dir, &text);
            Row {
                args: vec![
                    "test".into(),
                    "--only".into(),
                    "ordering".into(),
                    "--only".into(),
                    "no-such-suite".into(),
                ],
                cwd: Some(root),
                expect: vec![
                    s(&manifest),
                    "--only no-such-suite".into(),
                    "known: ordering".into(),
                ],
            }
        }
        Bad::CaptureMissing => check(&capture("gone.raw", None), &["cannot open capture"]),
        Bad::CaptureEmpty => check(&capture("empty.raw", Some(b"")), &["is empty"]),
        Bad::CaptureRandom => check(
            &capture("random.raw", Some(&random(1 << 20))),
            &["holds no defmt frame", "malformed", "at byte"],
        ),
        Bad::DecodeRandom => decode(
            &capture("random.raw", Some(&random(1 << 20))),
            &["0 frames", "malformed"],
        ),
        Bad::CaptureGigabyteOfZeros => {
            check(&zeros(dir), &["holds no defmt frame", "1073741824 bytes"])
        }
        Bad::DecodeGigabyteOfZeros => {
            decode(&zeros(dir), &["1073741824 bytes, 0 frames, 0 malformed"])
        }
        _ => unreachable!("{bad:?}: a board-file row, made in boards.rs"),
    }
}

impl Row {
    /// A row whose fragments are only the file: for errors about the file itself.
    fn with_expect_fixed(mut self) -> Self {
        self.expect.truncate(1);
        self.expect.push("cannot read board file".into());
        self
    }
}

/// Deterministic noise (xorshift), `len` bytes.
pub fn random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A sparse file of 1 GiB of zeros.
pub fn zeros(dir: &Path) -> PathBuf {
    let path = dir.join("zeros.raw");
    std::fs::File::create(&path).unwrap().set_len(GIB).unwrap();
    path
}
