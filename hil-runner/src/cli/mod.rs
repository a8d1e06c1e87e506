//! The subcommands, one file each, and what they share: board choice, report files, exit statuses.

mod boards;
mod check;
mod decode;
mod run;
mod test;

use std::path::PathBuf;

use hil_runner::backend::BackendError;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::report::{self, ExitStatus, TestReport};
use hil_runner::runner::cancel::{self, Cancel};

/// A subcommand.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Run one firmware ELF on a board and judge it.
    Run(run::Cmd),
    /// Build the target test suites and run them on one or more boards.
    Test(test::Cmd),
    /// Decode a raw capture to text (like defmt-print), with loss counts.
    Decode(decode::Cmd),
    /// Verdicts for a raw capture, offline.
    Check(check::Cmd),
    /// List and validate the board definitions.
    Boards(boards::Cmd),
}

impl Command {
    /// Run the subcommand.
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        match self {
            Self::Run(cmd) => cmd.run(),
            Self::Test(cmd) => cmd.run(),
            Self::Decode(cmd) => cmd.run(),
            Self::Check(cmd) => cmd.run(),
            Self::Boards(cmd) => cmd.run(),
        }
    }
}

/// Where the reports go.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Write a JSON report (one object per run, with its tests) to FILE.
    #[arg(long, value_name = "FILE", env = "HIL_JSON")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report (a testsuite per run, a testcase per test) to FILE.
    #[arg(long, value_name = "FILE", env = "HIL_JUNIT")]
    junit: Option<PathBuf>,
}

impl ReportArgs {
    /// Print the terminal summary, write the report files, and return the exit status.
    pub fn emit(&self, reports: &[TestReport]) -> anyhow::Result<ExitStatus> {
        use anyhow::Context as _;
        for block in reports.iter().filter_map(report::terminal::libtest) {
            print!("{block}");
        }
        eprint!("{}", report::terminal::render(reports));
        if let Some(path) = &self.json {
            report::json::write(path, reports)
                .with_context(|| format!("cannot write JSON report {}", path.display()))?;
        }
        if let Some(path) = &self.junit {
            report::junit::write(path, reports)
                .with_context(|| format!("cannot write JUnit report {}", path.display()))?;
        }
        Ok(ExitStatus::of(reports.iter().map(|r| r.verdict)))
    }
}

/// The board named on the command line, else `$HIL_BOARD`, else the emulated default.
pub fn board(name: Option<&str>) -> anyhow::Result<Board> {
    Ok(Board::find(name.unwrap_or(DEFAULT_BOARD))?)
}

/// The documented exit status for an error that stopped a command.
pub fn exit_status_of(e: &anyhow::Error) -> ExitStatus {
    if e.chain().any(|c| c.is::<BackendError>()) {
        ExitStatus::Infrastructure
    } else {
        ExitStatus::BadInput
    }
}

/// The error and its causes for the terminal, joined by `: `; a cause whose text
/// the message already holds is left out (the library's errors name their source
/// in their own text, as `cannot read ELF PATH: No such file ...`).
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A runtime for a command that runs targets, and the cancel that SIGINT and SIGTERM fire
/// (the runs stop their targets; `main` exits 130 or 143).
pub fn runtime_with_signals() -> anyhow::Result<(tokio::runtime::Runtime, Cancel)> {
    use anyhow::Context as _;
    let rt = runtime()?;
    let cancel = {
        let _inside = rt.enter();
        cancel::on_signals().context("cannot watch for SIGINT and SIGTERM")?
    };
    Ok((rt, cancel))
}

#[cfg(test)]
mod tests {
    //! The error line: every cause once.

    use super::message;
    use anyhow::Context as _;

    #[test]
    fn a_cause_the_message_already_names_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Err::<(), _>(hil_runner::firmware::FirmwareError::Read {
            path: "fw.elf".into(),
            source: io,
        })
        .context("running fw.elf")
        .unwrap_err();
        assert_eq!(
            message(&e),
            "running fw.elf: cannot read ELF fw.elf: no such file"
        );
    }

    #[test]
    fn a_cause_the_message_does_not_name_is_kept() {
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write the capture")
            .unwrap_err();
        assert_eq!(message(&e), "cannot write the capture: disk full");
    }
}
