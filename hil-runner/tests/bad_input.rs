//! Every kind of bad input, as one table: the installed binary's exit status and a message naming
//! the file, board, field or offset (README: "Bad input"). Nothing here may panic or hang.
//!
//! Each row runs `hil-runner` once and waits for it with `wait4`, which also
//! gives the row's peak RSS and time; the gigabyte-of-zeros rows assert the
//! memory bound and print both figures (time only as a hang guard).

mod probe_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::suites;
use rstest::rstest;

/// Hang guard of one row.
const GUARD: Duration = Duration::from_secs(600);
/// Peak RSS any `check`/`decode` of a capture may reach, whatever the capture's size.
const MAX_RSS_KIB: i64 = 256 * 1024;
/// A gigabyte of zeros.
const GIB: u64 = 1 << 30;

/// The default board's file, as the repository has it.
const QEMU_BOARD: &str = include_str!("../../boards/lm3s6965evb.toml");
/// Its memory layout.
const QEMU_MEMORY: &str = include_str!("../../boards/lm3s6965evb.memory.x");

fn ordering_elf() -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    suites::build_suite(&board, &suites::find("ordering").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A board file `NAME.toml` (with its memory.x) in `dir`, the default board's text changed by `edit`.
fn qemu_board(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = QEMU_BOARD
        .replace("name = \"lm3s6965evb\"", &format!("name = \"{name}\""))
        .replace(
            "memory = \"lm3s6965evb.memory.x\"",
            &format!("memory = \"{name}.memory.x\""),
        );
    probe_support::board_file(dir, name, &edit(&text), QEMU_MEMORY)
}

/// The probe board fixture changed by `edit`.
fn probe_board(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = edit(probe_support::NUCLEO);
    probe_support::board_file(dir, "nucleo-f401re", &text, probe_support::NUCLEO_MEMORY)
}

/// A copy of the repository's layout with a suites manifest of `text` (for `hil-runner test`).
fn fake_repository(dir: &Path, text: &str) -> (PathBuf, PathBuf) {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("boards")).unwrap();
    std::fs::create_dir_all(root.join("target-tests/firmware")).unwrap();
    let manifest = root.join("target-tests/firmware/suites.toml");
    std::fs::write(&manifest, text).unwrap();
    (root, manifest)
}

/// Bad inputs: one per row.
#[derive(Debug, Clone, Copy)]
enum Bad {
    ElfMissing,
    NotAnElf,
    TruncatedElf,
    ElfWithoutDefmt,
    ElfForAnotherCore,
    ElfForAnotherBoard,
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
struct Row {
    args: Vec<String>,
    cwd: Option<PathBuf>,
    expect: Vec<String>,
}

fn run_elf(elf: &Path, more: &[&str]) -> Vec<String> {
    let mut args = vec!["run".to_owned(), s(elf), "--timeout".into(), "30".into()];
    args.extend(more.iter().map(|m| m.to_string()));
    args
}

/// `run` of the ordering ELF on the board file at `board`; stderr names the file and `field`.
fn board_row(board: PathBuf, field: &str) -> Row {
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

fn row(bad: Bad, dir: &Path) -> Row {
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
    let check = |path: &Path, expect: &[&str]| Row {
        args: vec!["check".into(), "--elf".into(), s(&ordering_elf()), s(path)],
        cwd: None,
        expect: expect
            .iter()
            .map(|e| e.to_string())
            .chain([s(path)])
            .collect(),
    };
    let decode = |path: &Path, expect: &[&str]| Row {
        args: vec!["decode".into(), "--elf".into(), s(&ordering_elf()), s(path)],
        cwd: None,
        expect: expect
            .iter()
            .map(|e| e.to_string())
            .chain([s(path)])
            .collect(),
    };
    let edit = |from: &'static str, to: &'static str| {
        move |t: &str| {
            assert!(t.contains(from), "{from:?} not in the board file");
            t.replace(from, to)
        }
    };
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
        Bad::UnknownBoard => Row {
            args: run_elf(&ordering_elf(), &["--board", "no-such-board"]),
            cwd: None,
            expect: vec![
                "no board named \"no-such-board\"".into(),
                "known: lm3s6965evb".into(),
            ],
        },
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
fn random(len: usize) -> Vec<u8> {
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
fn zeros(dir: &Path) -> PathBuf {
    let path = dir.join("zeros.raw");
    std::fs::File::create(&path).unwrap().set_len(GIB).unwrap();
    path
}

/// The exit status, stderr, peak RSS (KiB) and wall time of the binary run with `row`.
// The child is reaped with wait4 (for its own rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run(row: &Row, dir: &Path) -> (Option<i32>, String, i64, Duration) {
    let stderr_path = dir.join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hil-runner"));
    cmd.args(&row.args)
        .env_remove("HIL_BOARD")
        .env_remove("HIL_BOARDS_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    if let Some(cwd) = &row.cwd {
        cmd.current_dir(cwd);
    }
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; `status` and `usage` outlive the call.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(rc >= 0, "wait4: {}", std::io::Error::last_os_error());
        if rc == pid {
            break;
        }
        if started.elapsed() > GUARD {
            // SAFETY: kills our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("hang guard: {:?} did not end", row.args);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    (code, stderr, usage.ru_maxrss, took)
}

#[rstest]
#[case::elf_missing(Bad::ElfMissing, 2)]
#[case::not_an_elf(Bad::NotAnElf, 2)]
#[case::truncated_elf(Bad::TruncatedElf, 2)]
#[case::elf_without_a_defmt_table(Bad::ElfWithoutDefmt, 2)]
#[case::elf_for_another_core(Bad::ElfForAnotherCore, 2)]
#[case::elf_for_another_board(Bad::ElfForAnotherBoard, 2)]
#[case::unknown_board(Bad::UnknownBoard, 2)]
#[case::board_file_missing(Bad::BoardFileMissing, 2)]
#[case::board_file_not_toml(Bad::BoardNotToml, 2)]
#[case::board_unknown_field(Bad::BoardUnknownField, 2)]
#[case::board_field_missing(Bad::BoardFieldMissing, 2)]
#[case::board_field_of_the_wrong_type(Bad::BoardFieldWrongType, 2)]
#[case::board_name(Bad::BoardName, 2)]
#[case::board_kind(Bad::BoardKind, 2)]
#[case::board_target(Bad::BoardTarget, 2)]
#[case::board_feature(Bad::BoardFeature, 2)]
#[case::board_core_unknown(Bad::BoardCoreUnknown, 2)]
#[case::board_core_for_another_target(Bad::BoardCoreForAnotherTarget, 2)]
#[case::board_memory_missing(Bad::BoardMemoryMissing, 2)]
#[case::board_qemu_table_missing(Bad::BoardQemuTableMissing, 2)]
#[case::board_qemu_machine_empty(Bad::BoardQemuMachineEmpty, 2)]
#[case::board_qemu_machine_unknown_to_qemu(Bad::BoardQemuMachineUnknown, 2)]
#[case::board_qemu_cpu_unknown_to_qemu(Bad::BoardQemuCpuUnknown, 2)]
#[case::board_qemu_args_unknown_to_qemu(Bad::BoardQemuArgUnknown, 2)]
#[case::board_probe_table_on_a_qemu_board(Bad::BoardProbeTableOnQemu, 2)]
#[case::board_serial_table_on_a_qemu_board(Bad::BoardSerialTableOnQemu, 2)]
#[case::board_checks_min_bytes_per_s(Bad::BoardChecksBytesPerS, 2)]
#[case::board_checks_min_line_utilisation_without_a_baud_rate(
    Bad::BoardChecksUtilisationWithoutBaud,
    2
)]
#[case::board_probe_table_missing(Bad::BoardProbeTableMissing, 2)]
#[case::board_serial_table_missing(Bad::BoardSerialTableMissing, 2)]
#[case::board_qemu_table_on_a_probe_board(Bad::BoardQemuTableOnProbe, 2)]
#[case::board_probe_chip(Bad::BoardProbeChip, 2)]
#[case::board_probe_selector(Bad::BoardProbeSelector, 2)]
#[case::board_probe_speed(Bad::BoardProbeSpeed, 2)]
#[case::board_probe_protocol(Bad::BoardProbeProtocol, 2)]
#[case::board_serial_port_relative(Bad::BoardSerialPortRelative, 2)]
#[case::board_serial_usb(Bad::BoardSerialUsb, 2)]
#[case::board_serial_baud(Bad::BoardSerialBaud, 2)]
#[case::board_checks_min_line_utilisation_over_one(Bad::BoardChecksUtilisationOverOne, 2)]
#[case::timeout_not_positive(Bad::TimeoutNotPositive, 2)]
#[case::suites_manifest_broken(Bad::ManifestBroken, 2)]
#[case::suite_unknown(Bad::SuiteUnknown, 2)]
#[case::check_capture_missing(Bad::CaptureMissing, 2)]
#[case::check_capture_empty(Bad::CaptureEmpty, 2)]
#[case::check_capture_of_random_bytes(Bad::CaptureRandom, 2)]
#[case::decode_capture_of_random_bytes(Bad::DecodeRandom, 0)]
#[case::check_capture_of_a_gigabyte_of_zeros(Bad::CaptureGigabyteOfZeros, 2)]
#[case::decode_capture_of_a_gigabyte_of_zeros(Bad::DecodeGigabyteOfZeros, 0)]
fn bad_input_has_its_exit_status_and_a_message_naming_what_is_wrong(
    #[case] bad: Bad,
    #[case] status: i32,
) {
    let dir = tempfile::tempdir().unwrap();
    let row = row(bad, dir.path());
    let (code, stderr, rss_kib, took) = run(&row, dir.path());
    eprintln!("{bad:?}: exit {code:?}: {}", stderr.trim());
    assert_eq!(code, Some(status), "{bad:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{bad:?} panicked: {stderr}");
    for fragment in &row.expect {
        assert!(
            stderr.contains(fragment.as_str()),
            "{bad:?}: {fragment:?} not in: {stderr}"
        );
    }
    if row.args[0] == "check" || row.args[0] == "decode" {
        eprintln!(
            "{bad:?}: peak RSS {:.1} MiB, {:.2} s",
            rss_kib as f64 / 1024.0,
            took.as_secs_f64()
        );
        assert!(rss_kib < MAX_RSS_KIB, "{bad:?}: peak RSS {rss_kib} KiB");
    }
}
