//! An installed runner, away from this repository: built-in boards, a project's boards/, HIL_BOARDS_DIR.
//!
//! The binary is copied to a temp dir and run from other temp dirs, so neither
//! its path nor the current directory leads back to the source tree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Installed {
    _dir: tempfile::TempDir,
    exe: PathBuf,
}

fn install() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("hil-runner");
    std::fs::copy(env!("CARGO_BIN_EXE_hil-runner"), &exe).unwrap();
    Installed { _dir: dir, exe }
}

impl Installed {
    fn run(&self, cwd: &Path, args: &[&str], boards_dir: Option<&Path>) -> Output {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .current_dir(cwd)
            .env_remove("HIL_BOARD")
            .env_remove("HIL_BOARDS_DIR")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUST_LOG");
        if let Some(dir) = boards_dir {
            cmd.env("HIL_BOARDS_DIR", dir);
        }
        // A test thread forking while another copies its binary holds the copy's write
        // descriptor for a moment: exec then fails with ETXTBSY (a Linux race of the tests,
        // not of the runner). Try again, a bounded number of times.
        for _ in 0..50 {
            match cmd.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.expect("the installed runner runs"),
            }
        }
        panic!("the installed runner stayed busy (ETXTBSY)")
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The listed line of board `name`.
fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not listed in:\n{text}"))
}

const BUILT_IN: [&str; 5] = [
    "lm3s6965evb",
    "nrf52840-dk",
    "nucleo-f401re",
    "rpi-pico",
    "rpi-pico-usb",
];

/// A board file for `name`: the built-in lm3s6965evb's, renamed, with its own memory.x.
fn write_board(dir: &Path, name: &str, description: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let text = hil_runner::board::builtin::file("lm3s6965evb.toml").unwrap();
    let text = text
        .replace("name = \"lm3s6965evb\"", &format!("name = \"{name}\""))
        .replace(
            "memory = \"lm3s6965evb.memory.x\"",
            &format!("memory = \"{name}.memory.x\""),
        );
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("description") {
                format!("description = \"{description}\"")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
    let memory = hil_runner::board::builtin::file("lm3s6965evb.memory.x").unwrap();
    std::fs::write(dir.join(format!("{name}.memory.x")), memory).unwrap();
}

#[test]
fn away_from_the_repository_boards_lists_the_built_in_ones() {
    let runner = install();
    let cwd = tempfile::tempdir().unwrap();
    let out = runner.run(cwd.path(), &["boards"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for name in BUILT_IN {
        assert!(line(&text, name).contains("built-in"), "{text}");
    }
    assert!(line(&text, "lm3s6965evb").contains("qemu (lm3s6965evb)"));
    assert!(line(&text, "nucleo-f401re").contains("probe (STM32F401RETx)"));
}

#[test]
fn away_from_the_repository_boards_check_checks_what_it_can_and_says_what_it_cannot() {
    let runner = install();
    let cwd = tempfile::tempdir().unwrap();
    let out = runner.run(cwd.path(), &["boards", "--check"], None);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let qemu = err
        .lines()
        .find(|l| l.starts_with("hil: lm3s6965evb:"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        qemu.contains("lm3s6965evb.memory.x (built-in)") && qemu.contains("ok"),
        "{qemu}"
    );
    assert!(qemu.contains("firmware images not checked"), "{qemu}");
    assert!(
        err.contains("nucleo-f401re") && err.contains("probe-rs's registry"),
        "{err}"
    );

    // --build needs the repository's suites: a clear error, exit 2.
    let out = runner.run(cwd.path(), &["boards", "--check", "--build"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target-tests/firmware/suites.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_projects_boards_add_boards_and_override_built_in_ones() {
    let runner = install();
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("Cargo.toml"),
        "[package]\nname = \"fw\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let boards = project.path().join("boards");
    write_board(&boards, "my-board", "the project's own board");
    write_board(&boards, "lm3s6965evb", "the project's lm3s6965evb");
    let src = project.path().join("src");
    std::fs::create_dir_all(&src).unwrap();

    // From a subdirectory of the project.
    let out = runner.run(&src, &["boards", "--check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mine = line(&text, "my-board");
    assert!(
        mine.contains("project") && mine.contains("the project's own board"),
        "{mine}"
    );
    let lm3s = line(&text, "lm3s6965evb");
    assert!(
        lm3s.contains("project") && lm3s.contains("the project's lm3s6965evb"),
        "{lm3s}"
    );
    assert!(line(&text, "nucleo-f401re").contains("built-in"));
    assert!(
        stderr(&out).contains("overrides the built-in board"),
        "{}",
        stderr(&out)
    );

    // HIL_BOARDS_DIR comes first, over the project's and the built-in ones.
    let env_dir = tempfile::tempdir().unwrap();
    write_board(env_dir.path(), "my-board", "from HIL_BOARDS_DIR");
    write_board(env_dir.path(), "env-board", "only in HIL_BOARDS_DIR");
    let out = runner.run(&src, &["boards"], Some(env_dir.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mine = line(&text, "my-board");
    assert!(
        mine.contains("HIL_BOARDS_DIR") && mine.contains("from HIL_BOARDS_DIR"),
        "{mine}"
    );
    assert!(line(&text, "env-board").contains("HIL_BOARDS_DIR"));
    assert!(line(&text, "lm3s6965evb").contains("project"));
    assert!(line(&text, "rpi-pico").contains("built-in"));
}

#[test]
fn an_unknown_board_is_bad_input_naming_the_places_looked() {
    let runner = install();
    let cwd = tempfile::tempdir().unwrap();
    let out = runner.run(
        cwd.path(),
        &["run", "--board", "no-such-board", "firmware.elf"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for part in [
        "no board named \"no-such-board\"",
        "$HIL_BOARDS_DIR/no-such-board.toml",
        "boards/no-such-board.toml",
        "built-in",
        "lm3s6965evb",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }

    let env_dir = tempfile::tempdir().unwrap();
    let out = runner.run(
        cwd.path(),
        &["run", "--board", "no-such-board", "firmware.elf"],
        Some(env_dir.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            &env_dir
                .path()
                .join("no-such-board.toml")
                .display()
                .to_string()
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn away_from_the_repository_test_fails_naming_what_it_looked_for() {
    let runner = install();
    let cwd = tempfile::tempdir().unwrap();
    let out = runner.run(cwd.path(), &["test"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("target-tests/firmware/suites.toml"),
        "{}",
        stderr(&out)
    );
}
