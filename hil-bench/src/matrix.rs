//! The board matrix: `hil-runner test` against every emulated board, one board after the other and all at once, timed in the same run.
//!
//! A first `hil-runner test --board all` builds every suite for every board
//! (not timed: builds are shared between the passes); then each board on its
//! own, one after the other, once with one suite at a time (`--jobs 1`, how
//! the suites ran before boards ran in parallel) and once at the default
//! `--jobs` (cores); and then `--board all` once more, the boards in parallel.
//! Every pass runs the real binary, as a user does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context as _};
use serde::{Deserialize, Serialize};

/// The matrix and its timings.
#[derive(Debug, Clone, Serialize)]
pub struct BoardMatrix {
    /// The command of the timed parallel pass.
    pub command: String,
    /// Boards, in the runner's order.
    pub boards: Vec<String>,
    /// Each board on its own, one after the other.
    pub sequential: Vec<BoardPass>,
    /// Sum of the per-board wall times.
    pub sequential_s: f64,
    /// Sum of the per-board wall times at `--jobs 1`.
    pub one_at_a_time_s: f64,
    /// CPU time (user + system, the runner and its QEMUs) of the per-board passes together.
    pub sequential_cpu_s: f64,
    /// Wall time of `--board all`.
    pub parallel_s: f64,
    /// CPU time of `--board all`.
    pub parallel_cpu_s: f64,
    /// Exit status of `--board all`.
    pub parallel_status: i32,
    /// Suite × board verdicts of `--board all`.
    pub cells: Vec<Cell>,
}

/// One board's pass.
#[derive(Debug, Clone, Serialize)]
pub struct BoardPass {
    /// The board.
    pub board: String,
    /// Wall time of `hil-runner test --board BOARD`.
    pub seconds: f64,
    /// Wall time of `hil-runner test --board BOARD --jobs 1`: one suite at a time.
    pub one_at_a_time_s: f64,
    /// Its CPU time (user + system, the runner and its QEMUs).
    pub cpu_s: f64,
    /// Runs (suites) on it.
    pub runs: usize,
    /// Of those, passed.
    pub passed: usize,
}

/// One run of the matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    /// The suite (`name` in the JSON report).
    #[serde(rename = "name")]
    pub suite: String,
    /// The board.
    pub board: String,
    /// Its verdict.
    pub verdict: String,
}

/// The runner binary next to this one (`cargo build --release -p hil-runner` first).
fn runner() -> anyhow::Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(hil_runner::repo_root())
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "hil-runner",
            "--bin",
            "hil-runner",
        ])
        .status()
        .context("cannot run cargo to build hil-runner")?;
    ensure!(status.success(), "building hil-runner failed ({status})");
    let path = hil_runner::target_dir().join("release/hil-runner");
    ensure!(
        path.is_file(),
        "{} is missing after its build",
        path.display()
    );
    Ok(path)
}

/// One timed pass of `hil-runner test`.
struct Pass {
    seconds: f64,
    cpu_s: f64,
    status: i32,
    cells: Vec<Cell>,
}

/// CPU time (user + system) of the children this process has waited for, in seconds.
fn children_cpu_s() -> anyhow::Result<f64> {
    // SAFETY: `rusage` is plain data; all zeros is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a pointer to a live `rusage` it may write.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    ensure!(rc == 0, "getrusage: {}", std::io::Error::last_os_error());
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// Runs `hil-runner test ARGS --json FILE`: its wall and CPU time, exit status and runs.
fn pass(runner: &Path, args: &[&str], json: &Path) -> anyhow::Result<Pass> {
    let cpu_before = children_cpu_s()?;
    let start = Instant::now();
    let status = Command::new(runner)
        .arg("test")
        .args(args)
        .arg("--json")
        .arg(json)
        .status()
        .with_context(|| format!("cannot run {}", runner.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let cpu_s = children_cpu_s()? - cpu_before;
    let text = std::fs::read_to_string(json).with_context(|| {
        format!(
            "hil-runner test {} wrote no {}",
            args.join(" "),
            json.display()
        )
    })?;
    let cells: Vec<Cell> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a list of runs", json.display()))?;
    // A figure of a matrix that did not pass is no figure: the bench fails instead.
    let failed: Vec<String> = cells
        .iter()
        .filter(|c| c.verdict != "pass")
        .map(|c| format!("{} on {}: {}", c.suite, c.board, c.verdict))
        .collect();
    ensure!(
        status.success() && failed.is_empty(),
        "hil-runner test {} did not pass ({status}): {}; its report is {}",
        args.join(" "),
        if failed.is_empty() {
            "no run failed".to_owned()
        } else {
            failed.join(", ")
        },
        json.display()
    );
    Ok(Pass {
        seconds,
        cpu_s,
        status: status.code().unwrap_or(-1),
        cells,
    })
}

/// Measures the matrix on every emulated board.
pub fn measure(dir: &Path) -> anyhow::Result<BoardMatrix> {
    let runner = runner()?;
    std::fs::create_dir_all(dir)?;
    let warm = pass(&runner, &["--board", "all"], &dir.join("matrix-warm.json"))?;
    let mut boards: Vec<String> = Vec::new();
    for cell in &warm.cells {
        if !boards.contains(&cell.board) {
            boards.push(cell.board.clone());
        }
    }
    let mut sequential = Vec::new();
    for board in &boards {
        let json = dir.join(format!("matrix-{board}-jobs-1.json"));
        let one = pass(&runner, &["--board", board, "--jobs", "1"], &json)?;
        let json = dir.join(format!("matrix-{board}.json"));
        let p = pass(&runner, &["--board", board], &json)?;
        sequential.push(BoardPass {
            board: board.clone(),
            seconds: p.seconds,
            one_at_a_time_s: one.seconds,
            cpu_s: p.cpu_s,
            runs: p.cells.len(),
            passed: p.cells.iter().filter(|c| c.verdict == "pass").count(),
        });
    }
    let all = pass(&runner, &["--board", "all"], &dir.join("matrix-all.json"))?;
    Ok(BoardMatrix {
        command: "hil-runner test --board all".into(),
        boards,
        sequential_s: sequential.iter().map(|p| p.seconds).sum(),
        one_at_a_time_s: sequential.iter().map(|p| p.one_at_a_time_s).sum(),
        sequential_cpu_s: sequential.iter().map(|p| p.cpu_s).sum(),
        sequential,
        parallel_s: all.seconds,
        parallel_cpu_s: all.cpu_s,
        parallel_status: all.status,
        cells: all.cells,
    })
}

/// The matrix as a markdown table: one row per suite, one column per board, `-` where a suite does not run.
pub fn table(m: &BoardMatrix) -> String {
    let mut suites: Vec<&str> = Vec::new();
    for cell in &m.cells {
        if !suites.contains(&cell.suite.as_str()) {
            suites.push(&cell.suite);
        }
    }
    let mut out = format!("| suite | {} |\n", m.boards.join(" | "));
    out += &format!("| --- |{}\n", " --- |".repeat(m.boards.len()));
    for suite in suites {
        out += &format!("| {suite} |");
        for board in &m.boards {
            let verdict = m
                .cells
                .iter()
                .find(|c| c.suite == suite && &c.board == board)
                .map_or("-", |c| c.verdict.as_str());
            out += &format!(" {verdict} |");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    //! The matrix table.

    use super::*;

    fn cell(suite: &str, board: &str, verdict: &str) -> Cell {
        Cell {
            suite: suite.into(),
            board: board.into(),
            verdict: verdict.into(),
        }
    }

    /// A stand-in for hil-runner: writes `runs` as its JSON report and exits with `status`.
    fn fake_runner(dir: &Path, runs: &str, status: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join(format!("fake-runner-{status}"));
        let script = format!(
            "#!/bin/sh\nfor a; do last=$a; done\necho '{runs}' > \"$last\"\nexit {status}\n"
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_pass_that_does_not_pass_fails_the_bench_and_names_its_runs() {
        let dir = std::env::temp_dir().join(format!("hil-bench-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("report.json");
        let ok = r#"[{"name":"ordering","board":"a","verdict":"pass"}]"#;
        let p = pass(&fake_runner(&dir, ok, 0), &["--board", "a"], &json).unwrap();
        assert_eq!((p.status, p.cells.len()), (0, 1));
        let failing = r#"[{"name":"ordering","board":"a","verdict":"timeout"}]"#;
        let e = pass(&fake_runner(&dir, failing, 1), &["--board", "a"], &json)
            .err()
            .expect("a failed run fails the pass");
        assert!(e.to_string().contains("ordering on a: timeout"), "{e}");
        // An exit status that is not 0 fails it too, whatever the verdicts say.
        assert!(pass(&fake_runner(&dir, ok, 4), &["--board", "a"], &json).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_table_has_a_cell_per_suite_and_board_and_a_dash_where_a_suite_does_not_run() {
        let m = BoardMatrix {
            command: String::new(),
            boards: vec!["a".into(), "b".into()],
            sequential: Vec::new(),
            sequential_s: 0.0,
            one_at_a_time_s: 0.0,
            sequential_cpu_s: 0.0,
            parallel_s: 0.0,
            parallel_cpu_s: 0.0,
            parallel_status: 1,
            cells: vec![
                cell("ordering", "a", "pass"),
                cell("ordering", "b", "fail"),
                cell("irq", "a", "pass"),
            ],
        };
        assert_eq!(
            table(&m),
            "| suite | a | b |\n| --- | --- | --- |\n| ordering | pass | fail |\n| irq | pass | - |\n"
        );
    }
}
