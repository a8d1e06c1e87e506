//! The board matrix: `hil-runner test` against every emulated board, one board after the other and all at once, timed in the same run.
//!
//! A first `hil-runner test --board all` builds every suite for every board
//! (not timed: builds are shared between the passes); then each board on its
//! own, one after the other, and then `--board all` once more, the boards in
//! parallel (`--jobs` = cores). Every pass runs the real binary, as a user does.

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
    /// Wall time of `--board all`.
    pub parallel_s: f64,
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

/// Runs `hil-runner test ARGS --json FILE`; returns the wall time, the exit status and the runs.
fn pass(runner: &Path, args: &[&str], json: &Path) -> anyhow::Result<(f64, i32, Vec<Cell>)> {
    let start = Instant::now();
    let status = Command::new(runner)
        .arg("test")
        .args(args)
        .arg("--json")
        .arg(json)
        .status()
        .with_context(|| format!("cannot run {}", runner.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(json).with_context(|| {
        format!(
            "hil-runner test {} wrote no {}",
            args.join(" "),
            json.display()
        )
    })?;
    let cells: Vec<Cell> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a list of runs", json.display()))?;
    Ok((seconds, status.code().unwrap_or(-1), cells))
}

/// Measures the matrix on every emulated board.
pub fn measure(dir: &Path) -> anyhow::Result<BoardMatrix> {
    let runner = runner()?;
    std::fs::create_dir_all(dir)?;
    let (_, _, warm) = pass(&runner, &["--board", "all"], &dir.join("matrix-warm.json"))?;
    let mut boards: Vec<String> = Vec::new();
    for cell in &warm {
        if !boards.contains(&cell.board) {
            boards.push(cell.board.clone());
        }
    }
    let mut sequential = Vec::new();
    for board in &boards {
        let json = dir.join(format!("matrix-{board}.json"));
        let (seconds, _, cells) = pass(&runner, &["--board", board], &json)?;
        sequential.push(BoardPass {
            board: board.clone(),
            seconds,
            runs: cells.len(),
            passed: cells.iter().filter(|c| c.verdict == "pass").count(),
        });
    }
    let (parallel_s, parallel_status, cells) =
        pass(&runner, &["--board", "all"], &dir.join("matrix-all.json"))?;
    Ok(BoardMatrix {
        command: "hil-runner test --board all".into(),
        boards,
        sequential_s: sequential.iter().map(|p| p.seconds).sum(),
        sequential,
        parallel_s,
        parallel_status,
        cells,
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

    #[test]
    fn the_table_has_a_cell_per_suite_and_board_and_a_dash_where_a_suite_does_not_run() {
        let m = BoardMatrix {
            command: String::new(),
            boards: vec!["a".into(), "b".into()],
            sequential: Vec::new(),
            sequential_s: 0.0,
            parallel_s: 0.0,
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
