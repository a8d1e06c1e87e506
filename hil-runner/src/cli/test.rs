//! `hil-runner test`: build the target test suites for each board and run every one, boards in parallel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hil_runner::board::{self, Board, BoardKind};
use hil_runner::report::{self, ExitStatus, TestReport};
use hil_runner::runner::cancel::Cancel;
use hil_runner::runner::{self, RunOptions};
use hil_runner::suites::{self, Suite};

use super::run::QemuArgs;
use super::ReportArgs;

/// Build the target test suites (target-tests/firmware/suites.toml) and run them on one or more boards.
///
/// With several boards (`--board a,b`, or `--board all`: every emulated
/// board) the runs go side by side, one QEMU (or probe) per run, at most
/// `--jobs` at once. Builds go one at a time, boards of the same target
/// triple after one another so they share the compiled dependencies; a
/// suite runs as soon as its image is built. A real board is used by one
/// run at a time, even across `hil-runner` processes.
#[derive(clap::Args)]
pub struct Cmd {
    /// Boards to run on (repeat, or a comma list; `all`: every emulated board); default `$HIL_BOARD`, else the emulated board.
    #[arg(long = "board", env = "HIL_BOARD", value_delimiter = ',')]
    boards: Vec<String>,
    /// Run only the suites with these names (repeat for several).
    #[arg(long = "only", value_name = "SUITE")]
    only: Vec<String>,
    /// Seconds each suite may take before it is stopped (verdict `timeout`).
    #[arg(long, default_value_t = 300.0, value_name = "S")]
    timeout: f64,
    /// Runs at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Real boards: seconds to wait for a probe or serial port another run holds (then exit 3).
    #[arg(
        long,
        default_value_t = 600.0,
        value_name = "S",
        env = "HIL_LOCK_TIMEOUT"
    )]
    lock_timeout: f64,
    #[command(flatten)]
    reports: ReportArgs,
    #[command(flatten)]
    qemu: QemuArgs,
}

/// The boards `names` asks for: `all` is every emulated board.
pub fn resolve_boards(names: &[String]) -> anyhow::Result<Vec<Board>> {
    if names.is_empty() {
        return Ok(vec![super::board(None)?]);
    }
    let mut boards: Vec<Board> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let more = if name == "all" {
            board::Sources::from_env()
                .all()
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|b| matches!(b.kind, BoardKind::Qemu(_)))
                .collect()
        } else {
            vec![super::board(Some(name))?]
        };
        for b in more {
            if !boards.iter().any(|known| known.name == b.name) {
                boards.push(b);
            }
        }
    }
    anyhow::ensure!(!boards.is_empty(), "--board names no board");
    Ok(boards)
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        // This repository's own suites: they need its source tree.
        hil_runner::project::repository()?;
        let boards = resolve_boards(&self.boards)?;
        let manifest = suites::manifest_path();
        let all = suites::load(&manifest)?;
        if let Some(unknown) = self
            .only
            .iter()
            .find(|n| !all.iter().any(|s| &s.name == *n))
        {
            let known: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
            anyhow::bail!(
                "--only {unknown}: no suite of that name in {} (known: {})",
                manifest.display(),
                known.join(", ")
            );
        }
        let suites: Vec<Suite> = all
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.contains(&s.name))
            .collect();
        anyhow::ensure!(
            !suites.is_empty(),
            "no suite to run in {} (--only {:?})",
            manifest.display(),
            self.only
        );
        let jobs = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let started = Instant::now();
        let (rt, cancel) = super::runtime_with_signals()?;
        let reports = rt.block_on(self.run_all(&boards, &suites, jobs, &cancel));
        // A build still going after an interrupt is not waited for.
        rt.shutdown_background();
        let reports = reports?;
        let status = self.reports.emit(&reports)?;
        if boards.len() > 1 {
            eprint!("{}", report::terminal::matrix(&reports));
        }
        eprintln!(
            "hil: {} runs on {} board(s) in {:.1} s (--jobs {jobs})",
            reports.len(),
            boards.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(status)
    }

    async fn run_all(
        &self,
        boards: &[Board],
        suites: &[Suite],
        jobs: usize,
        cancel: &Cancel,
    ) -> anyhow::Result<Vec<TestReport>> {
        // Build order: by target triple, so each triple's dependencies are compiled once and reused.
        let mut order: Vec<(usize, usize)> = (0..boards.len())
            .flat_map(|b| (0..suites.len()).map(move |s| (b, s)))
            .filter(|&(b, s)| suites[s].runs_on(&boards[b].name))
            .collect();
        order.sort_by_key(|&(b, s)| (boards[b].target.clone(), b, s));
        let (built_tx, mut built_rx) = tokio::sync::mpsc::unbounded_channel();
        {
            let boards = boards.to_vec();
            let suites = suites.to_vec();
            let order = order.clone();
            tokio::task::spawn_blocking(move || {
                for (b, s) in order {
                    let (board, suite) = (&boards[b], &suites[s]);
                    eprintln!("hil: building {} for {}", suite.name, board.name);
                    let elf = suites::build_suite(board, suite);
                    if built_tx.send((b, s, elf)).is_err() {
                        return;
                    }
                }
            });
        }
        let slots = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut running = tokio::task::JoinSet::new();
        let mut first_error = None;
        loop {
            // After SIGINT/SIGTERM no further run starts; the runs in flight stop their targets.
            let built = tokio::select! {
                built = built_rx.recv() => built,
                _ = cancel.wait() => None,
            };
            let Some((b, s, elf)) = built else { break };
            let (board, suite) = (boards[b].clone(), suites[s].clone());
            let elf = match elf {
                Ok(elf) => elf,
                Err(e) => {
                    // A build failure is bad input (exit 2): stop building, let the runs end.
                    first_error.get_or_insert_with(|| {
                        anyhow::Error::new(e)
                            .context(format!("suite {} on {}", suite.name, board.name))
                    });
                    break;
                }
            };
            let mut opts = RunOptions::new(board.clone(), elf);
            opts.timeout = Duration::from_secs_f64(self.timeout);
            opts.qemu_serial = self.qemu.qemu_serial;
            opts.qemu_args = self.qemu.qemu_args.clone();
            opts.lock_timeout = Duration::from_secs_f64(self.lock_timeout);
            opts.cancel = cancel.clone();
            let permit = slots.clone().acquire_owned().await?;
            // A run's future is not `Send` (its listener): each drives it on a thread of its own.
            let handle = tokio::runtime::Handle::current();
            running.spawn_blocking(move || {
                let _permit = permit;
                eprintln!("hil: running {} on {}", suite.name, board.name);
                let report = handle.block_on(runner::run(&opts)).map(|mut report| {
                    report.name = suite.name.clone();
                    eprintln!(
                        "hil: {} on {}: {} ({} frames)",
                        suite.name,
                        board.name,
                        report.verdict.as_str(),
                        report.frames
                    );
                    report
                });
                (b, s, report)
            });
        }
        let mut done: Vec<(usize, usize, TestReport)> = Vec::new();
        while let Some(joined) = running.join_next().await {
            let (b, s, report) = joined?;
            match report {
                Ok(report) => done.push((b, s, report)),
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        anyhow::Error::new(e)
                            .context(format!("suite {} on {}", suites[s].name, boards[b].name))
                    });
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        // Reports in the order asked for: board by board, suite by suite.
        done.sort_by_key(|&(b, s, _)| (b, s));
        Ok(done.into_iter().map(|(_, _, r)| r).collect())
    }
}
