//! `hil-bench soak`: millions of frames through the emulated link in one run, with the runner's peak memory and every lost frame counted.
//!
//! Builds the `soak` firmware (`target-tests/firmware/src/bin/soak.rs`, block
//! policy) with `HIL_SOAK_FRAMES` frames, runs it through the runner's library
//! (`runner::run`, what `hil-runner run` does) on the default board over the
//! default serial path, and reads this process's peak resident set
//! (`VmHWM` in `/proc/self/status`) before and after: QEMU is a process of its
//! own, so the peak is the runner's. Frames lost are the sequence frames the
//! firmware sent that the runner did not receive; the bench fails unless they,
//! the report's `missing`, `dropped_reported` and `malformed`, are all 0 and
//! the verdict is `pass`.
//! The capture (about 14 bytes per frame) is written under the target dir and
//! deleted once measured.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hil_runner::backend::qemu::QemuSerial;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, BuildRequest, Images};
use hil_runner::runner::{self, RunOptions};
use serde::Serialize;

use crate::emulated;

/// Options of `hil-bench soak`.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Sequence frames the firmware sends in the one run.
    #[arg(long, default_value_t = 10_000_000)]
    pub frames: u32,
    /// How long the run may take, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// Keep the capture (by default it is deleted once measured).
    #[arg(long)]
    pub keep_capture: bool,
    /// Where the figures go as JSON (default: `soak.json` in the bench directory under the target dir).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What one soak run measured.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct SoakFigures {
    /// The board.
    pub board: String,
    /// The serial path from QEMU to the runner.
    pub serial: String,
    /// Sequence frames the firmware sent.
    pub frames_sent: u32,
    /// Sequence frames the runner received.
    pub seq_frames: u64,
    /// Valid frames of any kind the runner received.
    pub frames: u64,
    /// Sequence frames sent and not received.
    pub frames_lost: u64,
    /// The report's `missing`.
    pub missing: u64,
    /// The report's `dropped_reported`.
    pub dropped_reported: u64,
    /// The report's `malformed`.
    pub malformed: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Size of the raw capture file (deleted once measured unless kept).
    pub capture_bytes: u64,
    /// The verdict.
    pub verdict: String,
    /// Seconds from starting QEMU to the verdict.
    pub seconds: f64,
    /// The report's link rate (first byte to end marker).
    pub frames_per_s: f64,
    /// The report's link rate in bytes.
    pub bytes_per_s: f64,
    /// Peak resident set of the runner process before the run (KiB).
    pub vm_hwm_before_kib: u64,
    /// Peak resident set of the runner process after the run (KiB).
    pub vm_hwm_after_kib: u64,
}

/// Builds the soak firmware with `frames` frames, runs it once and prints the figures.
pub fn main(args: &SoakArgs) -> anyhow::Result<SoakFigures> {
    let board = Board::find(DEFAULT_BOARD)?;
    eprintln!(
        "hil-bench soak: building the soak firmware ({} frames)",
        args.frames
    );
    let request = BuildRequest {
        board: &board,
        images: Images::Suites,
        features: vec!["policy-block".into()],
        env: vec![("HIL_SOAK_FRAMES".into(), args.frames.to_string())],
    };
    let built = build::build_one_with(&request, "soak")?;
    let elf = emulated::keep(&built, &format!("soak-{}", args.frames))?;

    let serial = QemuSerial::default();
    let mut opts = RunOptions::new(board.clone(), elf.clone());
    opts.timeout = Duration::from_secs(args.timeout);
    opts.qemu_serial = serial;
    opts.capture = emulated::bench_dir().join("captures/soak.raw");
    let rt = tokio::runtime::Runtime::new()?;
    let vm_hwm_before_kib = vm_hwm_kib()?;
    eprintln!(
        "hil-bench soak: running on {} over the {} path (peak RSS so far {vm_hwm_before_kib} KiB)",
        board.name,
        emulated::serial_name(serial)
    );
    let start = Instant::now();
    let report = rt
        .block_on(runner::run(&opts))
        .with_context(|| format!("running {}", elf.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    let vm_hwm_after_kib = vm_hwm_kib()?;
    let capture_bytes = std::fs::metadata(&opts.capture).map_or(0, |m| m.len());
    if !args.keep_capture {
        let _ = std::fs::remove_file(&opts.capture);
    }

    let seq_frames = report.details.as_ref().map_or(0, |d| d.summary.seq_frames);
    let figures = SoakFigures {
        board: board.name.clone(),
        serial: emulated::serial_name(serial).into(),
        frames_sent: args.frames,
        seq_frames,
        frames: report.frames,
        frames_lost: u64::from(args.frames).saturating_sub(seq_frames),
        missing: report.missing,
        dropped_reported: report.dropped_reported,
        malformed: report.malformed,
        bytes: report.bytes,
        capture_bytes,
        verdict: report.verdict.as_str().into(),
        seconds,
        frames_per_s: report.frames_per_s,
        bytes_per_s: report.bytes_per_s,
        vm_hwm_before_kib,
        vm_hwm_after_kib,
    };
    print(&figures);
    let json = args
        .json
        .clone()
        .unwrap_or_else(|| emulated::bench_dir().join("soak.json"));
    if let Some(dir) = json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&json, serde_json::to_string_pretty(&figures)? + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    eprintln!("hil-bench soak: figures in {}", json.display());
    let f = &figures;
    if f.verdict != "pass" || f.frames_lost + f.missing + f.dropped_reported + f.malformed != 0 {
        bail!(
            "soak: verdict {}, {} frames lost, {} missing, {} dropped, {} malformed ({})",
            f.verdict,
            f.frames_lost,
            f.missing,
            f.dropped_reported,
            f.malformed,
            report.reason.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(figures)
}

fn print(f: &SoakFigures) {
    println!("soak on {} ({} path):", f.board, f.serial);
    println!("  frames sent        {:>12}", f.frames_sent);
    println!("  sequence frames in {:>11}", f.seq_frames);
    println!(
        "  frames lost        {:>12}  (missing {}, dropped {}, malformed {})",
        f.frames_lost, f.missing, f.dropped_reported, f.malformed
    );
    println!(
        "  bytes              {:>12}  (capture file {})",
        f.bytes, f.capture_bytes
    );
    println!("  verdict            {:>12}", f.verdict);
    println!("  seconds to verdict {:>12.1}", f.seconds);
    println!("  link frames/s      {:>12.0}", f.frames_per_s);
    println!("  link bytes/s       {:>12.0}", f.bytes_per_s);
    println!(
        "  runner peak RSS    {:>9} KiB  (before the run: {} KiB)",
        f.vm_hwm_after_kib, f.vm_hwm_before_kib
    );
}

/// This process's peak resident set (`VmHWM`), in KiB.
pub fn vm_hwm_kib() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    parse_vm_hwm(&status).context("/proc/self/status has no VmHWM line")
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The figures of the last `hil-bench soak` (its `soak.json` in the bench directory), if any.
pub fn read_last() -> Option<SoakFigures> {
    let text = std::fs::read_to_string(emulated::bench_dir().join("soak.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The soak section's paragraph of BENCHMARKS.md.
pub fn paragraph(f: Option<&SoakFigures>) -> String {
    let how = "`cargo run --release -p hil-bench -- soak` sends 10 million sequence frames \
               through the emulated link in one run (minutes: not part of the whole bench)";
    let Some(f) = f else {
        return format!("{how}. No soak figures were found when this page was generated.");
    };
    format!(
        "{how}. Last soak, {} over the {} path: {} frames sent, {} received, **{} lost** \
         (missing {}, dropped {}, malformed {}), {} bytes in {:.0} s ({:.0} frames/s on the \
         link), verdict {}; the runner's peak resident set **{} KiB** ({} KiB before the run).",
        f.board,
        f.serial,
        f.frames_sent,
        f.seq_frames,
        f.frames_lost,
        f.missing,
        f.dropped_reported,
        f.malformed,
        f.bytes,
        f.seconds,
        f.frames_per_s,
        f.verdict,
        f.vm_hwm_after_kib,
        f.vm_hwm_before_kib,
    )
}

#[cfg(test)]
mod tests {
    //! Reading the peak resident set.

    use super::*;

    #[test]
    fn the_peak_resident_set_is_read_from_the_vmhwm_line() {
        let status =
            "Name:\thil-bench\nVmPeak:\t  9000 kB\nVmHWM:\t    4242 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(4242));
        assert_eq!(parse_vm_hwm("VmRSS:\t 4000 kB\n"), None);
        assert!(vm_hwm_kib().unwrap() > 0);
    }

    #[test]
    fn the_soak_paragraph_quotes_the_frames_lost_and_the_peak_resident_set_of_soak_json() {
        let json = r#"{"board":"lm3s6965evb","serial":"pipe","frames_sent":10,"seq_frames":9,
            "frames":12,"frames_lost":1,"missing":1,"dropped_reported":0,"malformed":0,
            "bytes":150,"capture_bytes":150,"verdict":"fail","seconds":2.0,
            "frames_per_s":5.0,"bytes_per_s":75.0,"vm_hwm_before_kib":7000,"vm_hwm_after_kib":9000}"#;
        let figures: SoakFigures = serde_json::from_str(json).unwrap();
        let text = paragraph(Some(&figures));
        for part in [
            "10 frames sent",
            "9 received",
            "**1 lost**",
            "**9000 KiB**",
            "verdict fail",
        ] {
            assert!(text.contains(part), "{part:?} missing from: {text}");
        }
        assert!(paragraph(None).contains("No soak figures"));
    }
}
