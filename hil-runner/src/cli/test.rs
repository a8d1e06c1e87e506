//! `hil-runner test`: build the target test suites for each board and run every one.

use std::time::Duration;

use anyhow::Context as _;
use hil_runner::build::{self, BuildRequest, Images};
use hil_runner::report::{ExitStatus, TestReport};
use hil_runner::runner::{self, RunOptions};

use super::run::QemuArgs;
use super::ReportArgs;

/// Build the target test suites and run them on one or more boards.
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
        let names = if self.boards.is_empty() {
            vec![None]
        } else {
            self.boards.iter().map(|b| Some(b.as_str())).collect()
        };
        let boards = names
            .into_iter()
            .map(super::board)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rt = super::runtime()?;
        let mut reports: Vec<TestReport> = Vec::new();
        for board in boards {
            let request = BuildRequest {
                board: &board,
                images: Images::Suites,
                features: Vec::new(),
                env: Vec::new(),
            };
            eprintln!("hil: building the test suites for {}", board.name);
            let images = build::build(&request)?;
            let images: Vec<_> = images
                .into_iter()
                .filter(|i| self.only.is_empty() || self.only.contains(&i.name))
                .collect();
            anyhow::ensure!(
                !images.is_empty(),
                "no test suite to run for board {}",
                board.name
            );
            for image in images {
                eprintln!("hil: running {} on {}", image.name, board.name);
                let mut opts = RunOptions::new(board.clone(), image.elf.clone());
                opts.timeout = Duration::from_secs_f64(self.timeout);
                opts.qemu_serial = self.qemu.qemu_serial;
                opts.qemu_args = self.qemu.qemu_args.clone();
                let report = rt
                    .block_on(runner::run(&opts))
                    .with_context(|| format!("suite {} on {}", image.name, board.name))?;
                eprintln!(
                    "hil: {} {} ({} frames)",
                    image.name,
                    report.verdict.as_str(),
                    report.frames
                );
                reports.push(report);
            }
        }
        self.reports.emit(&reports)
    }
}
