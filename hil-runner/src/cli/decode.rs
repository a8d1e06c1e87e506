//! `hil-runner decode --elf ELF [CAPTURE|-]`: print a raw capture's frames as text, then its loss counts.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use hil_runner::analysis::Analyzer;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::ExitStatus;

/// Decode a raw capture to text (like defmt-print); malformed frames are shown with their byte offset.
///
/// Loss counts go to stderr at the end. Exit status 0 when the capture was read.
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
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut analyzer = Analyzer::new(&firmware, self.max_frame_len);
        let table = firmware.table();
        analyzer
            .feed_reader(input, |frame| {
                if self.offsets {
                    let _ = write!(out, "{:>10} ", frame.offset);
                }
                let _ = match (frame.content, table.decode(frame.decoded)) {
                    (Ok(_), Ok((f, _))) => writeln!(out, "{}", f.display(false)),
                    (Err(reason), _) => {
                        writeln!(out, "(malformed frame at byte {}: {reason})", frame.offset)
                    }
                    (Ok(_), Err(_)) => {
                        writeln!(out, "(frame at byte {} cannot be rendered)", frame.offset)
                    }
                };
            })
            .with_context(|| format!("cannot read capture {}", self.capture.display()))?;
        out.flush()?;
        let analysis = analyzer.finish(None);
        let s = &analysis.summary;
        eprintln!(
            "hil decode: {} bytes, {} frames, {} malformed, {} dropped (reported by the firmware)",
            s.bytes, s.frames, s.malformed, s.dropped_reported
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
