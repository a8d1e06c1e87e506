//! `hil-runner decode --elf ELF [CAPTURE|-]`: print a raw capture's frames as text (or JSON), then its loss counts.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use hil_runner::analysis::Analyzer;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::log_format::{self, LogRenderer};
use hil_runner::report::ExitStatus;

/// Decode a raw capture to text (like defmt-print); malformed frames are shown with their byte offset.
///
/// Frames are rendered by defmt-decoder's formatter, with the source location
/// from the ELF's debug info; colours only on a terminal (and not with
/// `NO_COLOR`). Loss counts go to stderr at the end. Exit status 0 when the
/// capture was read.
#[derive(clap::Args)]
pub struct Cmd {
    /// The firmware ELF that produced the capture.
    #[arg(long)]
    elf: PathBuf,
    /// The raw capture file, or `-` (the default) for standard input.
    #[arg(default_value = "-")]
    capture: PathBuf,
    /// Frames longer than this many bytes are skipped and counted.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: usize,
    /// Prefix every line with the frame's byte offset in the capture.
    #[arg(long)]
    offsets: bool,
    /// How to show a frame, as defmt-print's --log-format: `default` (with the
    /// location line), `oneline`, or a format string such as "{t} {L} {s}"
    /// (`{L}` level, `{s}` message, `{m}` module, `{F}` file, `{l}` line, `{t}` timestamp).
    #[arg(long, value_name = "FMT", conflicts_with = "json")]
    log_format: Option<String>,
    /// One JSON object per line, as defmt-print --json prints (a schema version line first);
    /// a malformed frame is an object with `malformed` and `offset`.
    #[arg(long)]
    json: bool,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        let firmware = Firmware::load(&self.elf)?;
        let input: Box<dyn std::io::Read> = if self.capture.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(
                std::fs::File::open(&self.capture)
                    .with_context(|| format!("cannot open capture {}", self.capture.display()))?,
            )
        };
        let stdout = std::io::stdout();
        let colour = !self.json && log_format::colour_for(&stdout);
        let renderer = LogRenderer::new(&firmware, self.log_format.as_deref(), colour)?;
        let mut out = std::io::BufWriter::new(stdout.lock());
        if self.json {
            writeln!(out, "{}", log_format::json_schema_line())?;
        }
        let mut analyzer = Analyzer::new(&firmware, self.max_frame_len);
        let table = firmware.table();
        analyzer
            .feed_reader(input, |frame| {
                let offset = frame.offset;
                let line = match (frame.content, table.decode(frame.decoded)) {
                    (Ok(_), Ok((f, _))) if self.json => renderer.render_json(&f),
                    (Ok(_), Ok((f, _))) => renderer.render(f),
                    (Err(reason), _) if self.json => serde_json::json!({
                        "malformed": reason.to_string(),
                        "offset": offset,
                    })
                    .to_string(),
                    (Err(reason), _) => format!("(malformed frame at byte {offset}: {reason})"),
                    (Ok(_), Err(_)) if self.json => serde_json::json!({
                        "malformed": "cannot be rendered",
                        "offset": offset,
                    })
                    .to_string(),
                    (Ok(_), Err(_)) => format!("(frame at byte {offset} cannot be rendered)"),
                };
                let _ = if self.offsets && !self.json {
                    writeln!(out, "{offset:>10} {line}")
                } else {
                    writeln!(out, "{line}")
                };
            })
            .with_context(|| format!("cannot read capture {}", self.capture.display()))?;
        out.flush()?;
        let analysis = analyzer.finish(None);
        let s = &analysis.summary;
        eprintln!(
            "hil decode: {}: {} bytes, {} frames, {} malformed, {} dropped (reported by the firmware)",
            self.capture.display(),
            s.bytes,
            s.frames,
            s.malformed,
            s.dropped_reported
        );
        for v in analysis.violations.iter().filter(|v| {
            matches!(
                v,
                hil_runner::check::Violation::Oversize { .. }
                    | hil_runner::check::Violation::UnfinishedFrame { .. }
            )
        }) {
            eprintln!("hil decode: {v}");
        }
        Ok(ExitStatus::Passed)
    }
}
