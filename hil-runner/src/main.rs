//! `hil-runner`: run defmt test firmware on emulated and real boards; decode and check captures.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Hardware-in-the-loop runner for defmt logging over a serial link.
///
/// Exit status: 0 all passed, 1 a check failed (or the firmware crashed),
/// 2 bad input or configuration, 3 infrastructure fault (QEMU, probe,
/// serial), 4 timeout; 130 / 143 interrupted by SIGINT / SIGTERM (the target
/// stopped, reports and captures written for what ran).
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
    let status = match cli.command.run() {
        Ok(status) => status.code(),
        Err(e) => {
            eprintln!("hil-runner: error: {}", cli::message(&e));
            cli::exit_status_of(&e).code()
        }
    };
    // Interrupted: the runs stopped their targets and wrote what ran; the status says why.
    match hil_runner::runner::cancel::signalled() {
        Some(signal) => ExitCode::from(signal.exit_code()),
        None => ExitCode::from(status),
    }
}
