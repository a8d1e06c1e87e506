//! A firmware crate that is not ours, in a directory outside this repository, with the
//! installed runner as its cargo runner: `cargo run` and `cargo test` judged as a user meets them.
//!
//! The crate (`host-tests/fixtures/user-firmware`) logs through defmt-serial,
//! panics through panic-probe and tests with defmt-test 0.5. It is copied to
//! a temporary directory; the runner binary is copied to a temporary `bin/`
//! on `PATH`, as `cargo install` would put it; `.cargo/config.toml` of the
//! crate says `runner = "hil-runner run"`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The copied crate and the directory with the installed runner.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../host-tests/fixtures/user-firmware");
        let root = dir.path().join("user-firmware");
        copy_dir(&fixture, &root);
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_hil-runner"), bin.join("hil-runner")).unwrap();
        let project = Project {
            _dir: dir,
            root,
            bin,
        };
        // Build everything once, so the runs below time the runs, not the build.
        let out = cargo(&project, &["test", "--no-run"], &[]);
        assert!(
            out.0.status.success(),
            "the fixture builds: {}",
            stderr(&out.0)
        );
        let out = cargo(&project, &["build", "--bins"], &[]);
        assert!(
            out.0.status.success(),
            "the fixture builds: {}",
            stderr(&out.0)
        );
        project
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Run cargo in the project with the runner on PATH; returns the output, the JSON report and the wall time.
fn cargo(
    p: &Project,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, serde_json::Value, Duration) {
    let json = p.root.join(format!("report-{}.json", args.join("-")));
    let _ = std::fs::remove_file(&json);
    let path = format!(
        "{}:{}",
        p.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&p.root)
        .args(args)
        .arg("--locked")
        .env("PATH", path)
        // Build caches stay in this repository's target dir; the crate itself is elsewhere.
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-firmware"),
        )
        .env("HIL_BOARD", "lm3s6965evb")
        .env("HIL_JSON", &json)
        .env("HIL_TIMEOUT", "60")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .envs(env.iter().copied())
        .output()
        .expect("cargo runs");
    let elapsed = started.elapsed();
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|mut v| v[0].take())
        .unwrap_or_default();
    (output, report, elapsed)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(name, outcome)` of each test in a report.
fn tests(report: &serde_json::Value) -> Vec<(String, String)> {
    report["tests"]
        .as_array()
        .map(|tests| {
            tests
                .iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap().to_owned(),
                        t["outcome"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn cargo_test_reports_each_test_of_a_passing_suite() {
    let (out, report, _) = cargo(project(), &["test", "--test", "passing"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["speaks"], "defmt-test");
    assert_eq!(report["name"], "passing");
    assert_eq!(
        tests(&report),
        pairs(&[
            ("arithmetic_holds", "pass"),
            ("strings_compare", "pass"),
            ("slices_sum", "pass"),
            ("result_ok", "pass"),
            ("not_on_this_board", "ignored"),
        ])
    );
    let text = stdout(&out);
    assert!(text.contains("test arithmetic_holds ... ok"), "{text}");
    assert!(
        text.contains("test result: ok. 4 passed; 0 failed; 1 ignored"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("all tests passed!"),
        "the log is shown"
    );
}

#[test]
fn cargo_test_names_the_failing_assertion_with_its_message_well_before_the_timeout() {
    let (out, report, elapsed) = cargo(project(), &["test", "--test", "failing"], &[]);
    assert!(
        stderr(&out).contains("(exit status: 1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["verdict"], "fail", "{report}");
    assert_eq!(
        tests(&report),
        pairs(&[
            ("first_passes", "pass"),
            ("second_passes", "pass"),
            ("third_fails", "fail"),
            ("fourth_not_run", "not_run"),
        ])
    );
    let third = &report["tests"][2];
    assert!(
        third["message"].as_str().unwrap().contains("one plus one"),
        "{third}"
    );
    assert!(
        third["location"]
            .as_str()
            .unwrap()
            .ends_with("tests/failing.rs:32"),
        "{third}"
    );
    assert!(stdout(&out).contains("test result: FAILED. 2 passed; 1 failed; 1 not run"));
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}

#[test]
fn cargo_test_names_the_hung_test_at_its_test_timeout() {
    let (out, report, elapsed) = cargo(
        project(),
        &["test", "--test", "hang"],
        &[("HIL_TEST_TIMEOUT", "3")],
    );
    assert!(
        stderr(&out).contains("(exit status: 4)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(report["verdict"], "timeout", "{report}");
    let names = tests(&report);
    assert_eq!(names[0], ("first_passes".into(), "pass".into()));
    assert_eq!(names[1], ("second_hangs".into(), "timeout".into()));
    assert_eq!(
        names.len(),
        3,
        "the third test is listed as not run: {names:?}"
    );
    assert_eq!(names[2].1, "not_run");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}

#[test]
fn cargo_run_of_an_application_that_exits_0_passes_with_every_line_shown() {
    let (out, report, _) = cargo(project(), &["run", "--bin", "app"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["verdict"], "pass", "{report}");
    assert_eq!(report["speaks"], "defmt");
    assert_eq!(report["frames"], 7);
    assert_eq!(report["target_end"]["kind"], "exited");
    let log = stderr(&out);
    for line in 1..=7 {
        assert!(
            log.contains(&format!("line {line}")),
            "line {line} missing: {log}"
        );
    }
}

#[test]
fn a_non_zero_semihosting_exit_fails_with_the_status() {
    let (out, report, _) = cargo(project(), &["run", "--bin", "exit_code"], &[]);
    assert!(stderr(&out).contains("(exit status: 1)") || out.status.code() == Some(1));
    assert_eq!(report["verdict"], "fail", "{report}");
    assert!(
        report["reason"].as_str().unwrap().contains("status 1"),
        "{report}"
    );
}

#[test]
fn a_core_panic_is_a_crash_with_its_message_and_location_at_once() {
    let (_, report, elapsed) = cargo(project(), &["run", "--bin", "panics"], &[]);
    assert_eq!(report["verdict"], "crash", "{report}");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("boom 42"), "{reason}");
    assert_eq!(report["tests"][0]["location"], "src/bin/panics.rs:17");
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}

#[test]
fn a_hard_fault_is_a_crash_with_the_fault_registers_at_once() {
    let (_, report, elapsed) = cargo(project(), &["run", "--bin", "bad_pointer"], &[]);
    assert_eq!(report["verdict"], "crash", "{report}");
    let end = &report["target_end"];
    assert_eq!(end["kind"], "fault", "{report}");
    assert_eq!(end["cause"], "hard_fault");
    assert_eq!(
        end["pc"], 0xE010_0000u32,
        "the call to the bad function pointer: {end}"
    );
    assert!(end["cfsr"].as_u64().unwrap() & 1 != 0, "IACCVIOL: {end}");
    assert!(
        elapsed < Duration::from_secs(30),
        "took {elapsed:?} against a 60 s timeout"
    );
}
