//! The CLI on real-board paths that need no board: `run` with no probe attached, `boards --check`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hil_runner::backend::probe::real::ProbeRs;
use hil_runner::backend::probe::ProbeAccess;
use hil_runner::board::{self, Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};

fn hil(args: &[&str], boards_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hil-runner"));
    cmd.args(args)
        .env_remove("HIL_BOARD")
        .env_remove("RUST_LOG");
    if let Some(dir) = boards_dir {
        cmd.env("HIL_BOARDS_DIR", dir);
    }
    cmd.output().expect("hil-runner runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A run that hangs fails here; how fast it is belongs to benchmarks, not tests.
const HANG: Duration = Duration::from_secs(30);

/// `run --board nucleo-f401re` on any defmt firmware (the run stops before anything is flashed),
/// with the boards of `boards_dir`; returns the output and the JSON report.
fn run_without_the_probe(boards_dir: Option<&Path>) -> (Output, serde_json::Value) {
    let elf = build::build_one(
        &Board::find(DEFAULT_BOARD).unwrap(),
        Images::Suites,
        "ordering",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let capture = dir.path().join("capture.raw");
    let args = ["run", "--board", "nucleo-f401re", elf.to_str().unwrap()];
    let started = Instant::now();
    let out = hil(
        &[
            &args[..],
            &[
                "--json",
                json.to_str().unwrap(),
                "--capture",
                capture.to_str().unwrap(),
            ],
        ]
        .concat(),
        boards_dir,
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(took < HANG, "took {took:?}: it must not wait for a probe");
    let err = stderr(&out);
    assert!(
        !err.contains("WARN"),
        "probe-rs's listing warnings leak: {err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report[0]["verdict"], "error");
    assert_eq!(report[0]["board"], "nucleo-f401re");
    (out, report)
}

#[test]
fn run_on_a_real_board_whose_probe_is_not_attached_exits_3_at_once_saying_what_it_looked_for() {
    // A selector no probe has: the same path whatever is attached to this machine.
    let boards = broken_copy("nucleo-f401re.toml", |text| {
        text.replace(
            "# selector = \"0483:374b\"",
            "selector = \"1209:0000:hil-no-such-probe\"",
        )
    });
    let (out, _) = run_without_the_probe(Some(boards.path()));
    let err = stderr(&out);
    for part in [
        "no debug probe found",
        "probe 1209:0000:hil-no-such-probe",
        "STM32F401RETx",
        "nucleo-f401re",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

#[test]
#[ignore = "needs a machine with no debug probe attached: CI runs it (`cargo test -p hil-runner --test probe_cli -- --ignored`)"]
fn run_on_a_real_board_with_no_probe_attached_exits_3_saying_none_is_attached() {
    let attached = ProbeRs::new().list();
    assert!(
        attached.is_empty(),
        "this test needs a machine with no debug probe attached; attached: {attached:?}"
    );
    let (out, _) = run_without_the_probe(None);
    let err = stderr(&out);
    for part in [
        "no debug probe found",
        "any probe",
        "STM32F401RETx",
        "nucleo-f401re",
        "attached: none",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

#[test]
fn boards_lists_real_boards_with_their_chip() {
    let out = hil(&["boards"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("nucleo-f401re"))
        .expect("listed");
    assert!(line.contains("probe (STM32F401RETx)"), "{line}");
}

/// A copy of the repository's boards with `file` edited by `edit`.
fn broken_copy(file: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(board::boards_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let target = dir.path().join(file);
    let text = std::fs::read_to_string(&target).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit of {file} changed nothing");
    std::fs::write(&target, edited).unwrap();
    dir
}

#[test]
fn boards_check_passes_on_an_intact_copy_of_the_boards() {
    let dir = broken_copy("nucleo-f401re.toml", |t| format!("{t}\n# a comment\n"));
    let out = hil(&["boards", "--check"], Some(dir.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn boards_check_fails_on_a_broken_copy_naming_the_file_and_field() {
    type Edit = fn(&str) -> String;
    let cases: [(&str, &str, Edit); 5] = [
        ("nucleo-f401re.toml", "probe.chip", |t| {
            t.replace("STM32F401RETx", "STM32F401XYZ")
        }),
        ("nucleo-f401re.memory.x", "memory", |t| {
            t.replace("LENGTH = 96K", "LENGTH = 128K")
        }),
        ("nucleo-f401re.toml", "target", |t| {
            t.replace("thumbv7em-none-eabihf", "thumbv6m-none-eabi")
        }),
        ("rpi-pico.toml", "serial.usb", |t| {
            t.replace("baud = 115200", "port = \"/dev/ttyACM0\"\nbaud = 115200")
        }),
        ("nrf52840-dk.toml", "probe.selector", |t| {
            t.replace("# selector = \"1366:1015\"", "selector = \"1366\"")
        }),
    ];
    for (file, field, edit) in cases {
        let dir = broken_copy(file, edit);
        let out = hil(&["boards", "--check"], Some(dir.path()));
        assert_eq!(out.status.code(), Some(2), "{file}: {}", stderr(&out));
        let board_file = format!("{}.toml", file.split('.').next().unwrap());
        let err = stderr(&out);
        let line = err
            .lines()
            .find(|l| l.contains(&format!("field `{field}`")))
            .unwrap_or_else(|| panic!("no error names `{field}`: {err}"));
        assert!(line.contains(&board_file), "{line}");
    }
}
