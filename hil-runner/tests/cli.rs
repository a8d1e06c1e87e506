//! The CLI's documented exit statuses and messages, on real firmware run in QEMU.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::suites;

fn hil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .args(args)
        .env_remove("HIL_BOARD")
        .output()
        .expect("hil-runner runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// ELF of firmware image `name` for the default board (a suite of the manifest, or an example).
fn elf(images: Images, name: &str) -> PathBuf {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    match images {
        Images::Suites => suites::build_suite(&board, &suites::find(name).unwrap()).unwrap(),
        Images::Examples => build::build_one(&board, images, name).unwrap(),
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_exits_1_and_names_the_missing_seq_when_one_frame_is_cut_out() {
    let dir = tempfile::tempdir().unwrap();
    let elf = elf(Images::Suites, "ordering");
    let capture = dir.path().join("ordering.raw");
    let json = dir.path().join("r.json");
    let out = hil(&[
        "run",
        path(&elf),
        "--capture",
        path(&capture),
        "--json",
        path(&json),
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report[0]["verdict"], "pass");
    assert!(report[0]["frames"].as_u64().unwrap() >= 100_000);

    // Find seq 1234 of stream 0 with `decode --offsets`, then cut its frame and delimiter.
    let out = hil(&[
        "decode",
        "--elf",
        path(&elf),
        "--offsets",
        "--log-format",
        "{s}",
        path(&capture),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("hil:seq s=0 n=1234 g="))
        .expect("frame listed");
    let offset: usize = line.split_whitespace().next().unwrap().parse().unwrap();
    let bytes = std::fs::read(&capture).unwrap();
    let end = offset + bytes[offset..].iter().position(|&b| b == 0).unwrap();
    let mut cut = bytes[..offset].to_vec();
    cut.extend_from_slice(&bytes[end + 1..]);
    let cut_path = dir.path().join("cut.raw");
    std::fs::write(&cut_path, cut).unwrap();

    let out = hil(&["check", "--elf", path(&elf), path(&cut_path)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stream 0: seq 1234 missing"),
        "{}",
        stderr(&out)
    );
    let out = hil(&["check", "--elf", path(&elf), path(&capture)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the uncut capture passes: {}",
        stderr(&out)
    );
}

#[test]
fn a_firmware_that_never_ends_is_stopped_by_timeout_with_exit_4() {
    let elf = elf(Images::Examples, "never_ends");
    let out = hil(&["run", path(&elf), "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("TIMEOUT"));
}

#[test]
fn a_panicking_firmware_exits_1_with_the_panic_message() {
    let elf = elf(Images::Examples, "panics");
    let out = hil(&["run", path(&elf)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("CRASH"));
    assert!(stderr(&out).contains("deliberate panic for the crash test"));
}

#[test]
fn an_unknown_board_is_bad_input_with_exit_2_naming_the_known_boards() {
    let elf = elf(Images::Suites, "ordering");
    let out = hil(&["run", path(&elf), "--board", "no-such-board"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no board named \"no-such-board\""),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(DEFAULT_BOARD));
}

#[test]
fn a_file_that_is_not_an_elf_is_bad_input_with_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.elf");
    std::fs::write(&bogus, b"not an elf").unwrap();
    let out = hil(&["run", path(&bogus)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bogus.elf"), "{}", stderr(&out));
}

#[test]
fn missing_qemu_is_an_infrastructure_fault_with_exit_3_and_the_install_command() {
    let elf = elf(Images::Suites, "ordering");
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .args(["run", path(&elf)])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("apt-get install qemu-system-arm"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn boards_check_passes_on_the_repository_and_fails_naming_file_and_field() {
    let out = hil(&["boards", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(DEFAULT_BOARD));

    let dir = tempfile::tempdir().unwrap();
    let boards = hil_runner::board::boards_dir();
    let text = std::fs::read_to_string(boards.join("lm3s6965evb.toml")).unwrap();
    std::fs::write(
        dir.path().join("lm3s6965evb.toml"),
        text.replace("thumbv7m-none-eabi", "thumbv9-nope"),
    )
    .unwrap();
    std::fs::copy(
        boards.join("lm3s6965evb.memory.x"),
        dir.path().join("lm3s6965evb.memory.x"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .args(["boards", "--check"])
        .env("HIL_BOARDS_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("lm3s6965evb.toml") && err.contains("field `target`"),
        "{err}"
    );
}
