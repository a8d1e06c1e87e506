//! `hil-runner boards [--check]`: list the board definitions and validate them.

use hil_runner::board::{self, Board, BoardKind};
use hil_runner::report::ExitStatus;

/// List the board definitions; with --check, validate every one (exit 2 on the first bad file).
#[derive(clap::Args)]
pub struct Cmd {
    /// Validate every board file, naming the file and field of each problem.
    #[arg(long)]
    check: bool,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        let dir = board::boards_dir();
        let paths = board::list(&dir)
            .map_err(|e| anyhow::anyhow!("cannot list boards in {}: {e}", dir.display()))?;
        let mut bad = 0;
        for path in paths {
            match Board::load(&path) {
                Ok(b) => {
                    let kind = match &b.kind {
                        BoardKind::Qemu(q) => format!("qemu ({})", q.machine),
                    };
                    println!(
                        "{:<16} {:<24} {:<22} {}",
                        b.name, b.target, kind, b.description
                    );
                }
                Err(e) => {
                    bad += 1;
                    eprintln!("hil-runner: error: {e}");
                }
            }
        }
        if bad > 0 && self.check {
            eprintln!("hil-runner: {bad} bad board definitions");
            return Ok(ExitStatus::BadInput);
        }
        Ok(ExitStatus::Passed)
    }
}
