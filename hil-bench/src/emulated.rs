//! The link on the emulated board: the throughput suite per payload size through the runner (socket and pty), its per-call cost under `-icount shift=0`, and the end-to-end run against defmt-semihosting.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hil_runner::analysis::Analyzer;
use hil_runner::backend::qemu::{QemuSerial, QEMU};
use hil_runner::board::Board;
use hil_runner::build::{self, BuildRequest, Images};
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::{TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::suites;
use serde::Serialize;

/// Filler sizes of the throughput firmware (its `EXTRAS`), one run each.
pub const EXTRAS: [u32; 5] = [0, 16, 64, 128, 220];

/// Bytes of check value before the filler of every sequence frame.
const CHECK_LEN: u32 = 4;

/// How long one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The QEMU arguments that make emulated time count instructions.
pub fn icount_args() -> Vec<String> {
    vec!["-icount".into(), "shift=0".into()]
}

/// Where the bench keeps its ELFs and captures.
pub fn bench_dir() -> PathBuf {
    hil_runner::target_dir().join("bench")
}

/// One throughput run of one payload size over one serial path.
#[derive(Debug, Clone, Serialize)]
pub struct SizePoint {
    /// Serial path: `socket` or `pty`.
    pub serial: String,
    /// Filler bytes after the check value.
    pub extra: u32,
    /// Payload bytes of each sequence frame (check value and filler).
    pub payload: u32,
    /// Mean encoded frame on the wire, delimiter included.
    pub frame_bytes: f64,
    /// The runner's figures and verdict.
    pub run: RunFigures,
}

/// What the runner's report says about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    /// Verdict (`pass` expected).
    pub verdict: String,
    /// Why, when not `pass`.
    pub reason: Option<String>,
    /// Bytes received.
    pub bytes: u64,
    /// Frames received.
    pub frames: u64,
    /// Link throughput, first byte to end marker.
    pub bytes_per_s: f64,
    /// Frame rate, first byte to end marker.
    pub frames_per_s: f64,
    /// Wall time from starting QEMU to the verdict.
    pub seconds_to_verdict: f64,
    /// The runner's `log_call_instructions`, when the run used icount.
    pub log_call_instructions: Option<f64>,
    /// The firmware's `log_call_cycles_min` parameter.
    pub log_call_min: Option<u32>,
}

impl RunFigures {
    fn of(report: &TestReport, seconds_to_verdict: f64) -> Self {
        let param = |name: &str| {
            report
                .details
                .as_ref()
                .and_then(|d| d.summary.params.get(name).copied())
        };
        Self {
            verdict: report.verdict.as_str().into(),
            reason: report.reason.clone(),
            bytes: report.bytes,
            frames: report.frames,
            bytes_per_s: report.bytes_per_s,
            frames_per_s: report.frames_per_s,
            seconds_to_verdict,
            log_call_instructions: report.log_call_instructions,
            log_call_min: param("log_call_cycles_min"),
        }
    }

    /// Frames per second from starting QEMU to the verdict (section 4's rate).
    pub fn frames_per_s_to_verdict(&self) -> f64 {
        self.frames as f64 / self.seconds_to_verdict
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass.as_str()
    }
}

/// Builds the throughput firmware with `env` (per-size builds) and keeps a copy named `tag`.
pub fn build_throughput(
    board: &Board,
    env: &[(&str, String)],
    tag: &str,
) -> anyhow::Result<PathBuf> {
    let suite = suites::find("throughput")?;
    let request = BuildRequest {
        board,
        images: Images::Suites,
        features: suite.features.clone(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    };
    let built = build::build_one_with(&request, &suite.bin)?;
    keep(&built, &format!("throughput-{tag}"))
}

/// The transport's overflow policies, each a firmware feature.
pub const POLICIES: [&str; 3] = ["policy-drop", "policy-truncate", "policy-block"];

/// Builds the throughput suite with `policy` in place of the suite's own policy feature.
pub fn build_throughput_policy(board: &Board, policy: &str) -> anyhow::Result<PathBuf> {
    let suite = suites::find("throughput")?;
    let mut features: Vec<String> = suite
        .features
        .iter()
        .filter(|f| !f.starts_with("policy-"))
        .cloned()
        .collect();
    features.push(policy.to_owned());
    let request = BuildRequest {
        board,
        images: Images::Suites,
        features,
        env: Vec::new(),
    };
    let built = build::build_one_with(&request, &suite.bin)?;
    keep(&built, &format!("throughput-{policy}"))
}

/// Copies a built ELF into the bench directory (later builds overwrite cargo's copy).
pub fn keep(built: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = bench_dir().join("elf");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::copy(built, &path)
        .with_context(|| format!("cannot copy {} to {}", built.display(), path.display()))?;
    Ok(path)
}

/// Runs `elf` on `board` through the runner; returns its figures.
pub fn run(
    rt: &tokio::runtime::Runtime,
    board: &Board,
    elf: &Path,
    serial: QemuSerial,
    qemu_args: Vec<String>,
) -> anyhow::Result<RunFigures> {
    let mut opts = RunOptions::new(board.clone(), elf.to_owned());
    opts.timeout = RUN_TIMEOUT;
    opts.qemu_serial = serial;
    opts.qemu_args = qemu_args;
    let stem = elf.file_name().and_then(|s| s.to_str()).unwrap_or("elf");
    opts.capture = bench_dir()
        .join("captures")
        .join(format!("{stem}-{}.raw", serial_name(serial)));
    let start = Instant::now();
    let report = rt
        .block_on(runner::run(&opts))
        .with_context(|| format!("running {}", elf.display()))?;
    Ok(RunFigures::of(&report, start.elapsed().as_secs_f64()))
}

/// The serial path's name in tables.
pub fn serial_name(serial: QemuSerial) -> &'static str {
    match serial {
        QemuSerial::Pipe => "pipe",
        QemuSerial::Pty => "pty",
        QemuSerial::Socket => "socket",
    }
}

/// Runs `once` `repeats` times (at least once) and keeps the run with the
/// median time to verdict, so one outlier either way moves nothing; a run
/// that does not pass fails the bench (its figures would measure a broken link).
pub fn median_run(
    repeats: u32,
    mut once: impl FnMut() -> anyhow::Result<RunFigures>,
) -> anyhow::Result<RunFigures> {
    let mut runs = (0..repeats.max(1))
        .map(|_| once())
        .collect::<anyhow::Result<Vec<_>>>()?;
    for run in &runs {
        require_pass("a benchmark run", run)?;
    }
    runs.sort_by(|a, b| a.seconds_to_verdict.total_cmp(&b.seconds_to_verdict));
    let median = runs.len() / 2;
    Ok(runs.swap_remove(median))
}

/// The throughput firmware built for one filler size, run over `serial` (the median of `repeats` runs).
pub fn size_point(
    rt: &tokio::runtime::Runtime,
    board: &Board,
    (elf, extra): (&Path, u32),
    serial: QemuSerial,
    repeats: u32,
) -> anyhow::Result<SizePoint> {
    let run = median_run(repeats, || run(rt, board, elf, serial, Vec::new()))?;
    let firmware_frames = run.frames.max(1);
    Ok(SizePoint {
        serial: serial_name(serial).into(),
        extra,
        payload: CHECK_LEN + extra,
        frame_bytes: run.bytes as f64 / firmware_frames as f64,
        run,
    })
}

/// Where QEMU's stdout gets the firmware's bytes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Semihosting writes (defmt-semihosting).
    Semihosting,
    /// UART0 (`-serial stdio`): our transport's link into a pipe.
    Uart,
}

/// Runs `elf` with its output on QEMU's stdout (a pipe), read into the runner's
/// analysis to a verdict, timed like a runner run (QEMU start to verdict).
pub fn stdout_run(elf: &Path, board: &str, stdout: Stdout) -> anyhow::Result<RunFigures> {
    let firmware = Firmware::load(elf)?;
    let stem = elf.file_name().and_then(|s| s.to_str()).unwrap_or("elf");
    let capture_path = bench_dir().join(format!("captures/{stem}-stdout.raw"));
    std::fs::create_dir_all(capture_path.parent().expect("has a parent"))?;
    let mut capture = std::io::BufWriter::new(std::fs::File::create(&capture_path)?);
    let start = Instant::now();
    let mut child = Command::new(QEMU)
        .args(["-machine", board, "-display", "none", "-monitor", "none"])
        .args([
            "-serial",
            if stdout == Stdout::Uart {
                "stdio"
            } else {
                "null"
            },
        ])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {QEMU}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut analyzer = Analyzer::new(&firmware, DEFAULT_MAX_FRAME_LEN);
    let mut buf = vec![0u8; 1 << 16];
    let (mut first_byte, mut last_byte) = (None, start);
    loop {
        let n = stdout.read(&mut buf).context("reading QEMU's stdout")?;
        if n == 0 {
            break;
        }
        first_byte.get_or_insert_with(Instant::now);
        last_byte = Instant::now();
        std::io::Write::write_all(&mut capture, &buf[..n])?;
        if analyzer.feed(&buf[..n], |_| {}) {
            break;
        }
        if start.elapsed() > RUN_TIMEOUT {
            break;
        }
    }
    let analysis = analyzer.finish(Some(board));
    let seconds_to_verdict = start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let (verdict, reason) = hil_runner::speaks::hil::verdict_of(&analysis);
    let link = first_byte.map_or(0.0, |first| last_byte.duration_since(first).as_secs_f64());
    let report =
        TestReport::error("e2e", board, "", "", String::new()).with_analysis(analysis, link);
    let mut figures = RunFigures::of(&report, seconds_to_verdict);
    figures.verdict = verdict.as_str().into();
    figures.reason = reason;
    Ok(figures)
}

/// Fails with the runner's reason unless the run passed.
pub fn require_pass(what: &str, figures: &RunFigures) -> anyhow::Result<()> {
    if !figures.passed() {
        bail!(
            "{what}: verdict {} ({})",
            figures.verdict,
            figures.reason.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Picking the run that stands for a figure.

    use super::*;

    fn figures(seconds: f64, verdict: Verdict) -> RunFigures {
        RunFigures {
            verdict: verdict.as_str().into(),
            reason: None,
            bytes: 100,
            frames: 10,
            bytes_per_s: 100.0 / seconds,
            frames_per_s: 10.0 / seconds,
            seconds_to_verdict: seconds,
            log_call_instructions: None,
            log_call_min: None,
        }
    }

    #[test]
    fn the_median_run_stands_and_a_failed_one_fails_the_bench() {
        let mut times = vec![3.0, 1.0, 2.0].into_iter();
        let run = median_run(3, || Ok(figures(times.next().unwrap(), Verdict::Pass))).unwrap();
        assert_eq!(run.seconds_to_verdict, 2.0);
        let mut verdicts = vec![Verdict::Pass, Verdict::Fail, Verdict::Pass].into_iter();
        let err = median_run(3, || Ok(figures(1.0, verdicts.next().unwrap()))).unwrap_err();
        assert!(err.to_string().contains("verdict fail"), "{err}");
        let run = median_run(0, || Ok(figures(4.0, Verdict::Pass))).unwrap();
        assert_eq!(run.seconds_to_verdict, 4.0);
    }
}
