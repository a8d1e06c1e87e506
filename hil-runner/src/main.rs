//! `hil-runner`: run defmt test firmware on emulated and real boards; decode and check captures.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Hardware-in-the-loop runner for defmt logging over a serial link.
///
/// Exit status: 0 all passed, 1 a check failed (or the firmware crashed),
/// 2 bad input or configuration, 3 infrastructure fault (QEMU, probe,
/// serial), 4 timeout.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: cli::Command,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,probe_rs=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) => {
            eprintln!("hil-runner: error: {e:#}");
            ExitCode::from(cli::exit_status_of(&e).code())
        }
    }
}
