//! Shared by the tests that run a user's firmware crate: copy a fixture crate out of the
//! repository, put the runner on `PATH` as `cargo install` would, run cargo in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The copied crate and the directory with the installed runner.
pub struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
}

/// The fixture crate `host-tests/fixtures/NAME`, copied out of the repository and built once
/// (its tests; its binaries too with `bins`).
pub fn project(cell: &'static OnceLock<Project>, fixture: &str, bins: bool) -> &'static Project {
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../host-tests/fixtures")
            .join(fixture);
        let root = dir.path().join(fixture);
        copy_dir(&source, &root);
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_hil-runner"), bin.join("hil-runner")).unwrap();
        let project = Project {
            _dir: dir,
            root,
            bin,
        };
        // Build once, so the runs below time the runs, not the build.
        let out = cargo(&project, &["test", "--no-run"], &[]);
        assert!(
            out.0.status.success(),
            "the fixture builds: {}",
            stderr(&out.0)
        );
        if bins {
            let out = cargo(&project, &["build", "--bins"], &[]);
            assert!(
                out.0.status.success(),
                "the fixture builds: {}",
                stderr(&out.0)
            );
        }
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
pub fn cargo(
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
        .arg(args[0])
        .arg("--locked")
        .args(&args[1..])
        .env("PATH", path)
        // Build caches stay in this repository's target dir; the crate itself is elsewhere.
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(p.root.file_name().unwrap()),
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

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(name, outcome)` of each test in a report.
pub fn tests(report: &serde_json::Value) -> Vec<(String, String)> {
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

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
