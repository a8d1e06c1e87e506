//! `hil-runner test`: build the target test suites for each board and run every one.

use std::time::Duration;

use anyhow::Context as _;
use hil_runner::report::{ExitStatus, TestReport};
use hil_runner::runner::{self, RunOptions};
use hil_runner::suites;

use super::run::QemuArgs;
use super::ReportArgs;

/// Build the target test suites (target-tests/firmware/suites.toml) and run them on one or more boards.
#[derive(clap::Args)]
pub struct Cmd {
    /// Boards to run on (repeat for several); default `$HIL_BOARD`, else the emulated board.
    #[arg(long = "board", env = "HIL_BOARD", value_delimiter = ',')]
    boards: Vec<String>,
    /// Run only the suites with these names (repeat for several).
    #[arg(long = "only", value_name = "SUITE")]
    only: Vec<String>,
    /// Seconds each suite may take before it is stopped (verdict `timeout`).
    #[arg(long, default_value_t = 300.0, value_name = "S")]
    timeout: f64,
    #[command(flatten)]
    reports: ReportArgs,
    #[command(flatten)]
    qemu: QemuArgs,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        // This repository's own suites: they need its source tree.
        hil_runner::project::repository()?;
        let names = if self.boards.is_empty() {
            vec![None]
        } else {
            self.boards.iter().map(|b| Some(b.as_str())).collect()
        };
        let boards = names
            .into_iter()
            .map(super::board)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let manifest = suites::manifest_path();
        let suites: Vec<_> = suites::load(&manifest)?
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.contains(&s.name))
            .collect();
        anyhow::ensure!(
            !suites.is_empty(),
            "no suite to run in {} (--only {:?})",
            manifest.display(),
            self.only
        );
        let rt = super::runtime()?;
        let mut reports: Vec<TestReport> = Vec::new();
        for board in &boards {
            for suite in &suites {
                eprintln!("hil: building {} for {}", suite.name, board.name);
                let elf = suites::build_suite(board, suite)?;
                eprintln!("hil: running {} on {}", suite.name, board.name);
                let mut opts = RunOptions::new(board.clone(), elf);
                opts.timeout = Duration::from_secs_f64(self.timeout);
                opts.qemu_serial = self.qemu.qemu_serial;
                opts.qemu_args = self.qemu.qemu_args.clone();
                let mut report = rt
                    .block_on(runner::run(&opts))
                    .with_context(|| format!("suite {} on {}", suite.name, board.name))?;
                report.name = suite.name.clone();
                eprintln!(
                    "hil: {} {} ({} frames)",
                    suite.name,
                    report.verdict.as_str(),
                    report.frames
                );
                reports.push(report);
            }
        }
        self.reports.emit(&reports)
    }
}
