//! The `defmt-print` anchor: installed into `target/bench-tools` with cargo, timed on the bench capture.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};

/// The published crate and the version the figures are for.
const CRATE: &str = "defmt-print";

/// `cargo install defmt-print --locked --root target/bench-tools` unless it is there already.
pub fn install() -> anyhow::Result<PathBuf> {
    let root = hil_runner::target_dir().join("bench-tools");
    let exe = root.join("bin").join(CRATE);
    if exe.is_file() {
        return Ok(exe);
    }
    eprintln!("hil-bench: installing {CRATE} into {}", root.display());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", CRATE, "--locked", "--root"])
        .arg(&root)
        .status()
        .context("cannot run cargo install")?;
    ensure!(
        status.success() && exe.is_file(),
        "cargo install {CRATE} failed"
    );
    Ok(exe)
}

/// `defmt-print --version`, for the tables.
pub fn version(exe: &Path) -> String {
    Command::new(exe)
        .arg("--version")
        .output()
        .map(|o| {
            let out = String::from_utf8_lossy(&o.stdout);
            out.lines().next().unwrap_or_default().trim().to_owned()
        })
        .unwrap_or_default()
}

/// Time `defmt-print -e ELF` reading `capture` on stdin; its text is read
/// from a pipe and counted, not kept. Returns the time and the lines printed.
pub fn time(exe: &Path, elf: &Path, capture: &Path) -> anyhow::Result<(Duration, u64)> {
    let input = std::fs::File::open(capture)
        .with_context(|| format!("cannot open {}", capture.display()))?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .arg("-e")
        .arg(elf)
        .stdin(input)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run defmt-print")?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = stdout
            .read(&mut buf)
            .context("reading defmt-print's output")?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let status = child.wait().context("waiting for defmt-print")?;
    let elapsed = start.elapsed();
    ensure!(status.success(), "defmt-print failed: {status}");
    Ok((elapsed, lines))
}
