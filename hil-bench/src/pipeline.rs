//! Host pipeline bench: a synthetic capture of real firmware frames, timed through the check path and full rendering.
//!
//! The capture is what the throughput firmware would send: its own markers
//! and log frames, encoded with the ELF's string indices (as
//! `host-tests`' `marker_frame` does), so it decodes and checks to `pass`.
//! The check path is [`Analyzer`] over the bytes in 64 KiB pieces (framing,
//! rzcobs, decoding, ordering and loss accounting, no text); full rendering
//! adds what `hil-runner decode` does per frame: the defmt-decoder frame
//! formatted as text, like `defmt-print`.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use hil_runner::analysis::Analyzer;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::markers::Marker;
use hil_runner::rzcobs;
use serde::Serialize;

/// Pieces the capture is fed in, as the runner's reader and `feed_reader` do.
const PIECE: usize = 64 * 1024;

/// Filler bytes of the sequence frames, cycled through: short log lines mostly.
const EXTRAS: [u32; 5] = [0, 4, 8, 16, 32];

/// Every this many frames, one is an ordinary log frame (`seq={=u32} val={=u32}`), not a marker.
const LOG_EVERY: u64 = 8;

/// The format string of the ordinary log frame in the throughput firmware.
const LOG_MESSAGE_PROBE: &str = "seq=1 val=2";

/// A capture built in memory, and what it holds.
pub struct Capture {
    /// The raw bytes, as a serial link would deliver them.
    pub bytes: Vec<u8>,
    /// Frames in it (markers and log frames).
    pub frames: u64,
}

/// Builds a capture of `frames` frames (boot, start, sequence and log frames, stream and end markers).
pub fn capture(firmware: &Firmware, frames: u64) -> anyhow::Result<Capture> {
    ensure!(frames >= 8, "a capture needs at least 8 frames");
    let log_index = log_frame_index(firmware)?;
    let mut bytes = vec![0u8];
    let mut raw = Vec::with_capacity(512);
    let mut push_marker = |bytes: &mut Vec<u8>, marker: &Marker| -> anyhow::Result<()> {
        let index = firmware
            .marker_index(marker.kind())
            .with_context(|| format!("the ELF has no {:?} marker", marker.kind()))?;
        raw.clear();
        raw.extend_from_slice(&index.to_le_bytes());
        marker.write_args(&mut raw);
        rzcobs::encode_frame(&raw, bytes);
        Ok(())
    };
    let head = [
        Marker::Boot {
            board: "lm3s6965evb".into(),
            test: "throughput".into(),
        },
        Marker::Start {
            test: "throughput".into(),
            policy: "block".into(),
        },
        Marker::Param {
            name: "bytes_per_size".into(),
            value: 65_536,
        },
    ];
    for marker in &head {
        push_marker(&mut bytes, marker)?;
    }
    // Head, stream and end markers are frames too.
    let body = frames - head.len() as u64 - 2;
    let (mut seq, mut logged) = (0u32, 0u32);
    let mut log_raw = Vec::with_capacity(16);
    for i in 0..body {
        if i % LOG_EVERY == LOG_EVERY - 1 {
            log_raw.clear();
            log_raw.extend_from_slice(&log_index.to_le_bytes());
            log_raw.extend_from_slice(&logged.to_le_bytes());
            log_raw.extend_from_slice(&logged.wrapping_mul(0x9E37_79B9).to_le_bytes());
            rzcobs::encode_frame(&log_raw, &mut bytes);
            logged += 1;
        } else {
            let len = 4 + EXTRAS[seq as usize % EXTRAS.len()];
            let marker = Marker::Seq {
                stream: 0,
                n: seq,
                g: seq,
                len,
            };
            push_marker(&mut bytes, &marker)?;
            seq += 1;
        }
    }
    push_marker(
        &mut bytes,
        &Marker::Stream {
            stream: 0,
            sent: seq,
        },
    )?;
    let attempted = u32::try_from(frames - 1).context("too many frames")?;
    push_marker(
        &mut bytes,
        &Marker::End {
            attempted,
            dropped: 0,
        },
    )?;
    Ok(Capture { bytes, frames })
}

/// The string index of the throughput firmware's `seq={=u32} val={=u32}` log call.
fn log_frame_index(firmware: &Firmware) -> anyhow::Result<u16> {
    let table = firmware.table();
    table
        .indices()
        .filter_map(|index| u16::try_from(index).ok())
        .find(|&index| {
            let mut raw = index.to_le_bytes().to_vec();
            raw.extend_from_slice(&1u32.to_le_bytes());
            raw.extend_from_slice(&2u32.to_le_bytes());
            table.decode(&raw).is_ok_and(|(frame, used)| {
                used == raw.len() && frame.display_message().to_string() == LOG_MESSAGE_PROBE
            })
        })
        .with_context(|| {
            format!(
                "{} has no `seq={{=u32}} val={{=u32}}` log call",
                firmware.path().display()
            )
        })
}

/// One timed pass over the capture.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Seconds the pass took (the fastest of the repetitions).
    pub seconds: f64,
    /// Megabytes (10^6 bytes) of capture per second.
    pub mb_per_s: f64,
    /// Frames per second.
    pub frames_per_s: f64,
}

impl Timing {
    /// The rates of `capture` read in `elapsed`.
    pub fn of(capture: &Capture, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Self {
            seconds,
            mb_per_s: capture.bytes.len() as f64 / seconds / 1e6,
            frames_per_s: capture.frames as f64 / seconds,
        }
    }
}

/// The check path: frames, decodes and checks the whole capture; fails unless the verdict is `pass`.
pub fn check_once(firmware: &Firmware, capture: &Capture) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    for piece in capture.bytes.chunks(PIECE) {
        analyzer.feed(piece, |_| {});
    }
    let analysis = analyzer.finish(Some("lm3s6965evb"));
    let elapsed = start.elapsed();
    ensure!(
        analysis.violations.is_empty() && analysis.summary.frames == capture.frames,
        "the bench capture does not check clean: {} frames of {}, first violation: {:?}",
        analysis.summary.frames,
        capture.frames,
        analysis.violations.first().map(ToString::to_string)
    );
    Ok(elapsed)
}

/// Full rendering: the check path plus every frame formatted as text (like
/// `hil-runner decode`, into memory). Returns the time and the bytes of text.
pub fn render_once(firmware: &Firmware, capture: &Capture) -> anyhow::Result<(Duration, u64)> {
    let table = firmware.table();
    let start = Instant::now();
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    let mut text: Vec<u8> = Vec::with_capacity(4 * PIECE);
    let (mut text_bytes, mut lines) = (0u64, 0u64);
    for piece in capture.bytes.chunks(PIECE) {
        analyzer.feed(piece, |frame| {
            if let (Ok(_), Ok((f, _))) = (frame.content, table.decode(frame.decoded)) {
                let _ = writeln!(text, "{}", f.display(false));
                lines += 1;
            }
        });
        text_bytes += text.len() as u64;
        text.clear();
    }
    let analysis = analyzer.finish(None);
    let elapsed = start.elapsed();
    ensure!(
        lines == capture.frames && analysis.summary.frames == capture.frames,
        "rendered {lines} lines for {} frames",
        capture.frames
    );
    Ok((elapsed, text_bytes))
}

/// The fastest of `runs` runs of `f` (at least one).
pub fn fastest(
    runs: u32,
    mut f: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Duration> {
    let mut best = f()?;
    for _ in 1..runs {
        best = best.min(f()?);
    }
    Ok(best)
}
