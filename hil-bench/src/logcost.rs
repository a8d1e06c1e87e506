//! Cost of one log call on the target per logger (bench-logcost firmware under `-icount shift=0`), and its section sizes (llvm-size).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Context as _};
use hil_runner::backend::qemu::QEMU;
use hil_runner::build;
use serde::Serialize;

/// The loggers compared: our transport and the two published ones.
pub const LOGGERS: [&str; 3] = ["hil", "rtt", "semihosting"];

/// The firmware package.
const PACKAGE: &str = "bench-logcost";

/// The two images of one logger's build.
pub struct Images {
    /// `logcost`: times the log call.
    pub logcost: PathBuf,
    /// `e2e`: the end-to-end workload.
    pub e2e: PathBuf,
}

/// Builds bench-logcost for the emulated board with `logger-NAME` and keeps copies of its ELFs.
pub fn build_logger(logger: &str) -> anyhow::Result<Images> {
    let built = build::build_package(PACKAGE, "thumbv7m-none-eabi", &[format!("logger-{logger}")])
        .with_context(|| format!("building {PACKAGE} with logger-{logger}"))?;
    let keep = |name: &str| -> anyhow::Result<PathBuf> {
        let image = built
            .iter()
            .find(|i| i.name == name)
            .with_context(|| format!("{PACKAGE} built no {name} image"))?;
        crate::emulated::keep(&image.elf, &format!("{name}-{logger}"))
    };
    Ok(Images {
        logcost: keep("logcost")?,
        e2e: keep("e2e")?,
    })
}

/// The per-call cost of one logger, from the firmware's result line.
#[derive(Debug, Clone, Serialize)]
pub struct LogCost {
    /// The logger.
    pub logger: String,
    /// Calls timed.
    pub calls: u64,
    /// Instructions per SysTick tick (calibration).
    pub instructions_per_tick: f64,
    /// Mean instructions per call, net of the counter reads.
    pub mean_instructions: f64,
    /// Cheapest call, to one tick.
    pub min_instructions: f64,
    /// Section sizes of the image.
    pub sizes: Sizes,
}

/// Runs the logcost image under `-icount shift=0` and reads its result line.
pub fn measure(logger: &str, elf: &Path) -> anyhow::Result<LogCost> {
    let output = Command::new(QEMU)
        .args([
            "-machine",
            "lm3s6965evb",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .args([
            "-serial",
            "null",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        .args(["-icount", "shift=0", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {QEMU}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("hil-bench logger="))
        .with_context(|| format!("{}: no result line (QEMU {})", elf.display(), output.status))?;
    let field = |key: &str| -> anyhow::Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .with_context(|| format!("no {key} in {line:?}"))?
            .parse::<f64>()
            .with_context(|| format!("{key} in {line:?}"))
    };
    let calls = field("calls")?;
    let per_tick = field("cal_instructions")? / field("cal_ticks")?;
    let net_sum = field("call_sum")? - field("empty_sum")?;
    let net_min = field("call_min")? - field("empty_min")?;
    Ok(LogCost {
        logger: logger.into(),
        calls: calls as u64,
        instructions_per_tick: per_tick,
        mean_instructions: net_sum * per_tick / calls,
        min_instructions: net_min * per_tick,
        sizes: sizes(elf)?,
    })
}

/// Section sizes of an image, in bytes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sizes {
    /// `.text`: code.
    pub text: u64,
    /// `.rodata`: constants (defmt's table is not loaded: it is not here).
    pub rodata: u64,
    /// `.data`: initialised RAM.
    pub data: u64,
    /// `.bss`: zeroed RAM.
    pub bss: u64,
    /// `.uninit`: RAM left uninitialised (defmt-rtt's buffer).
    pub uninit: u64,
}

/// The rustc of the toolchain that builds the firmware: the one next to the
/// cargo the builds run (`$CARGO`, set by `cargo run`), else `rustc` on
/// `PATH` in the firmware workspace (rustup picks the pinned toolchain there).
fn build_rustc() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| Some(cargo.parent()?.join("rustc")))
        .filter(|rustc| rustc.is_file())
        .unwrap_or_else(|| "rustc".into())
}

/// What `RUSTC ARGS` prints, run in the firmware workspace.
fn rustc(rustc: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(rustc)
        .current_dir(build::firmware_dir())
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", rustc.display()))?;
    ensure!(
        out.status.success(),
        "{} {} failed: {}",
        rustc.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `SYSROOT/lib/rustlib/HOST/bin/llvm-size`: where the `llvm-tools` component puts it.
fn llvm_size_in(sysroot: &Path, host: &str) -> PathBuf {
    sysroot.join("lib/rustlib").join(host).join("bin/llvm-size")
}

/// The llvm-size of the toolchain the firmware builds with (component `llvm-tools`).
fn llvm_size() -> anyhow::Result<PathBuf> {
    let compiler = build_rustc();
    let sysroot = rustc(&compiler, &["--print", "sysroot"])?.trim().to_owned();
    let host = rustc(&compiler, &["-vV"])?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")?;
    let path = llvm_size_in(Path::new(&sysroot), &host);
    ensure!(
        path.is_file(),
        "{} is missing (toolchain {sysroot}): install the llvm-tools component, \
         `rustup component add llvm-tools` in target-tests/",
        path.display()
    );
    Ok(path)
}

/// `llvm-size -A` of `elf`: the sections that take flash or RAM.
pub fn sizes(elf: &Path) -> anyhow::Result<Sizes> {
    let output = Command::new(llvm_size()?)
        .arg("-A")
        .arg(elf)
        .output()
        .context("cannot run llvm-size")?;
    ensure!(
        output.status.success(),
        "llvm-size {} failed",
        elf.display()
    );
    let mut sizes = Sizes::default();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut cols = line.split_whitespace();
        let (Some(name), Some(size)) =
            (cols.next(), cols.next().and_then(|s| s.parse::<u64>().ok()))
        else {
            continue;
        };
        match name {
            ".text" => sizes.text += size,
            ".rodata" => sizes.rodata += size,
            ".data" => sizes.data += size,
            ".bss" => sizes.bss += size,
            ".uninit" => sizes.uninit += size,
            _ => {}
        }
    }
    Ok(sizes)
}
