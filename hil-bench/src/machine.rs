//! The machine the figures were measured on: cores, CPU, QEMU, rustc, load.

use std::process::Command;

use serde::Serialize;

/// What BENCHMARKS.md says about the machine.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `nproc`.
    pub cores: String,
    /// CPU model (`/proc/cpuinfo`).
    pub cpu: String,
    /// `qemu-system-arm --version`, first line.
    pub qemu: String,
    /// `rustc --version` of the pinned toolchain.
    pub rustc: String,
    /// Kernel and architecture (`uname -sr`, `uname -m`).
    pub os: String,
    /// `/proc/loadavg` when the bench started: other work on the machine skews the figures.
    pub load_at_start: String,
}

/// First line of a command's stdout, or `unknown`.
fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(hil_runner::repo_root())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_owned())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The current load average (1, 5, 15 minutes).
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Looks the machine up.
pub fn describe() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cores: first_line("nproc", &[]),
        cpu,
        qemu: first_line(hil_runner::backend::qemu::QEMU, &["--version"]),
        rustc: first_line("rustc", &["--version"]),
        os: format!(
            "{} {}",
            first_line("uname", &["-sr"]),
            first_line("uname", &["-m"])
        ),
        load_at_start: load(),
    }
}
