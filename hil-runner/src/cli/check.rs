//! `hil-runner check --elf ELF CAPTURE`: verdicts for a raw capture, offline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hil_runner::analysis::Analyzer;
use hil_runner::check::Violation;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::{ExitStatus, TestReport};
use hil_runner::speaks::{Limits, Rates, RunEnd, Speaks, Stop};

use super::ReportArgs;

/// Verdicts for a raw capture, offline: the same checks as a live run.
///
/// A capture that is empty or holds no frame of the ELF at all is bad input
/// (exit status 2). How the target ended is not in a capture: a plain defmt firmware's capture
/// passes unless it shows a panic or lost frames; a defmt-test capture passes
/// when every test passed and `all tests passed!` is in it.
#[derive(clap::Args)]
pub struct Cmd {
    /// The firmware ELF that produced the capture.
    #[arg(long)]
    elf: PathBuf,
    /// The raw capture file.
    capture: PathBuf,
    /// Board the capture was taken on; checked against the boot marker if given.
    #[arg(long, env = "HIL_BOARD")]
    board: Option<String>,
    /// Frames longer than this many bytes are skipped and counted.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: usize,
    #[command(flatten)]
    reports: ReportArgs,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        let firmware = Firmware::load(&self.elf)?;
        let file = std::fs::File::open(&self.capture)
            .with_context(|| format!("cannot open capture {}", self.capture.display()))?;
        let speaks = Speaks::of(&firmware);
        let mut listener = speaks.listener(&firmware, Limits::default());
        let mut analyzer = Analyzer::new(&firmware, self.max_frame_len);
        let read_at = Instant::now();
        analyzer
            .feed_reader(file, |frame| listener.frame(&frame, read_at))
            .with_context(|| format!("cannot read capture {}", self.capture.display()))?;
        let analysis = analyzer.finish(self.board.as_deref());
        let s = &analysis.summary;
        let capture = self.capture.display();
        anyhow::ensure!(s.bytes > 0, "capture {capture} is empty: no byte to check");
        if s.frames == 0 {
            let first = analysis
                .violations
                .iter()
                .find(|v| matches!(v, Violation::Malformed { .. }))
                .map(|v| format!(": {v}"))
                .unwrap_or_default();
            anyhow::bail!(
                "capture {capture} holds no defmt frame of {} in its {} bytes ({} malformed{first}); \
                 is it a capture of this firmware?",
                self.elf.display(),
                s.bytes,
                s.malformed
            );
        }
        let name = self
            .elf
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("firmware");
        let judgement = listener.judge(&RunEnd {
            stop: &Stop::CaptureEnded,
            analysis: &analysis,
            timeout: Duration::ZERO,
            board: None,
            at: read_at,
            name,
            rates: Rates::default(),
        });
        let board = analysis.summary.board.clone().unwrap_or_default();
        let mut report = TestReport::error(
            name,
            &board,
            &self.elf.display().to_string(),
            &self.capture.display().to_string(),
            String::new(),
        )
        .with_analysis(analysis, 0.0)
        .with_judgement(judgement);
        report.speaks = Some(speaks);
        self.reports.emit(&[report])
    }
}
