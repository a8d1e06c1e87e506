//! Feeds captured bytes through framer, decoder and checks, and keeps the counts of a run.
//!
//! Every byte ends up in a decoded frame or in a counted loss (malformed,
//! oversize, unfinished); every frame the firmware meant to send is received,
//! reported dropped, or counted missing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check::ordering::OrderingCheck;
use crate::check::overflow::{LossTracker, OverflowSummary};
use crate::check::Violation;
use crate::decode::{Content, FrameDecoder, Malformed};
use crate::firmware::Firmware;
use crate::framer::{Framer, FramerStats, RawFrame};
use crate::markers::Marker;

/// Violations kept in full; more are counted only.
const MAX_VIOLATIONS: usize = 100;

/// What the test's end marker said, and where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EndMarker {
    /// Frames the transport was asked to send before the end marker.
    pub attempted: u32,
    /// Frames the transport dropped.
    pub dropped: u32,
    /// Offset of the end marker in the capture.
    pub offset: u64,
}

/// Counts and markers of one capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Bytes received.
    pub bytes: u64,
    /// Bytes a real board's serial port gave before the boot marker, discarded (not in `bytes`).
    pub discarded_before_boot: u64,
    /// What the target wrote through semihosting (real boards: `SYS_WRITE0`, `SYS_WRITE` to `:tt`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub semihosting_output: String,
    /// Valid frames (markers and log frames).
    pub frames: u64,
    /// Frames rejected by the decoder.
    pub malformed: u64,
    /// Of the malformed frames, those whose check value failed (firmware with hil-transport's `frame-check`).
    pub corrupted: u64,
    /// Valid frames (of `frames`) read out of the target's queue after it stopped ([`crate::recover`]).
    pub recovered: u64,
    /// Bytes read out of the target's queue after it stopped (not in `bytes`).
    pub recovered_bytes: u64,
    /// Why frames still queued on the stopped target could not be recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_error: Option<String>,
    /// Sequence frames received.
    pub seq_frames: u64,
    /// Frames dropped according to the transport's drop reports.
    pub dropped_reported: u64,
    /// Sequence frames the firmware logged but that never arrived and no drop report covers.
    pub missing: u64,
    /// Board named by the boot marker.
    pub board: Option<String>,
    /// Test named by the start (or boot) marker.
    pub test: Option<String>,
    /// Overflow policy named by the start marker.
    pub policy: Option<String>,
    /// Test parameters.
    pub params: BTreeMap<String, u32>,
    /// Sequence frames sent per stream, from the firmware's stream markers.
    pub sent: BTreeMap<u8, u32>,
    /// The end marker.
    pub end: Option<EndMarker>,
    /// Panic message, if the firmware panicked.
    pub panic: Option<String>,
    /// Loss events: where frames were lost, how many, and what said so.
    pub overflow: OverflowSummary,
    /// Valid frames (not drop reports) received before the end marker.
    #[serde(skip)]
    pub frames_before_end: u64,
}

/// A frame as the analyzer saw it, for printing (`decode`) or live logs (`run`).
pub struct SeenFrame<'a, 't> {
    /// Offset of the frame in the capture.
    pub offset: u64,
    /// What it decoded to.
    pub content: &'a Result<Content<'t>, Malformed>,
    /// The rzcobs-decoded bytes (empty if rzcobs decoding failed).
    pub decoded: &'a [u8],
}

/// Streaming analysis of one firmware's capture.
pub struct Analyzer<'t> {
    framer: Framer,
    decoder: FrameDecoder<'t>,
    ledger: Ledger,
}

impl<'t> Analyzer<'t> {
    /// An analyzer for `firmware`'s frames, skipping frames over `max_frame_len` bytes.
    pub fn new(firmware: &'t Firmware, max_frame_len: usize) -> Self {
        let ledger = Ledger {
            expects_end: crate::speaks::Speaks::of(firmware) == crate::speaks::Speaks::Hil,
            ..Ledger::default()
        };
        Self {
            framer: Framer::new(max_frame_len),
            decoder: FrameDecoder::new(firmware),
            ledger,
        }
    }

    /// Feed bytes as they arrived; `on_frame` sees every frame. Returns true once the end marker is in.
    pub fn feed(&mut self, data: &[u8], mut on_frame: impl FnMut(SeenFrame<'_, 't>)) -> bool {
        let Self {
            framer,
            decoder,
            ledger,
        } = self;
        framer.feed(data, |RawFrame { offset, bytes }| {
            let content = decoder.decode(bytes);
            on_frame(SeenFrame {
                offset,
                content: &content,
                decoded: decoder.decoded(),
            });
            ledger.account(offset, content);
        });
        ledger.summary.bytes = framer.stats().bytes - ledger.summary.recovered_bytes;
        ledger.summary.end.is_some()
    }

    /// Feed the bytes read out of the stopped target's queue, after everything that arrived:
    /// the same framer and decoder, their valid frames counted as `recovered` too.
    pub fn feed_recovered(&mut self, data: &[u8], on_frame: impl FnMut(SeenFrame<'_, 't>)) {
        self.ledger.recovering = true;
        self.ledger.summary.recovered_bytes += data.len() as u64;
        self.feed(data, on_frame);
    }

    /// Frames were still queued on the target but could not be read out: why.
    pub fn recovery_failed(&mut self, why: String) {
        self.ledger.summary.recovery_error = Some(why);
    }

    /// Feed everything `reader` yields, in 64 KiB pieces (the decoder never sees more at once).
    pub fn feed_reader(
        &mut self,
        mut reader: impl std::io::Read,
        mut on_frame: impl FnMut(SeenFrame<'_, 't>),
    ) -> std::io::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.feed(&buf[..n], &mut on_frame);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The counts so far.
    pub fn summary(&self) -> &Summary {
        &self.ledger.summary
    }

    /// End of the stream: close the accounts and return the counts and every violation found.
    pub fn finish(mut self, expected_board: Option<&str>) -> Analysis {
        let unfinished = self.framer.finish();
        self.ledger
            .close(unfinished, self.framer.stats(), expected_board)
    }
}

/// The accounts kept while frames arrive.
#[derive(Default)]
struct Ledger {
    ordering: OrderingCheck,
    losses: LossTracker,
    summary: Summary,
    violations: Vec<Violation>,
    violations_total: u64,
    first_malformed: Option<(u64, Malformed)>,
    /// The firmware logs hil-protocol's end marker: a run without one lost it.
    expects_end: bool,
    /// The frames come from the stopped target's queue ([`Analyzer::feed_recovered`]).
    recovering: bool,
}

impl Ledger {
    fn account(&mut self, offset: u64, content: Result<Content<'_>, Malformed>) {
        let marker = match content {
            Err(reason) => {
                self.summary.malformed += 1;
                self.summary.corrupted += u64::from(reason == Malformed::Corrupted);
                self.losses.malformed();
                self.first_malformed.get_or_insert((offset, reason));
                return;
            }
            Ok(Content::Log(_)) => None,
            Ok(Content::Marker(marker)) => Some(marker),
        };
        self.summary.frames += 1;
        self.summary.recovered += u64::from(self.recovering);
        // Drop reports come from the transport, not from log calls; the end
        // marker's own count stops just before it.
        let logged = !matches!(marker, Some(Marker::Drop { .. } | Marker::End { .. }));
        if logged && self.summary.end.is_none() {
            self.summary.frames_before_end += 1;
        }
        if let Some(marker) = marker {
            self.marker(offset, marker);
        }
    }

    fn marker(&mut self, offset: u64, marker: Marker) {
        let s = &mut self.summary;
        match marker {
            Marker::Boot { board, test } => {
                s.board = Some(board);
                s.test.get_or_insert(test);
            }
            Marker::Start { test, policy } => {
                s.test = Some(test);
                s.policy = Some(policy);
            }
            Marker::Param { name, value } => {
                s.params.insert(name, value);
            }
            Marker::Seq { stream, n, g, .. } => {
                s.seq_frames += 1;
                self.losses.seq(g, offset);
                let v = self.ordering.frame(stream, n, offset);
                self.push_ordering(v);
            }
            Marker::Drop { dropped } => {
                s.dropped_reported += u64::from(dropped);
                if self.expects_end {
                    self.losses.drop_report(dropped);
                } else {
                    // No sequence frames to place it: the report is the loss event.
                    self.losses.reported_loss(dropped, offset);
                }
            }
            Marker::Stream { stream, sent } => {
                s.sent.insert(stream, sent);
                let v = self.ordering.expect_sent(stream, sent, offset);
                self.push_ordering(v);
            }
            Marker::End { attempted, dropped } => {
                if s.end.is_none() {
                    let total = s.sent.values().fold(0u32, |a, &b| a.saturating_add(b));
                    self.losses.end(total, offset);
                }
                s.end.get_or_insert(EndMarker {
                    attempted,
                    dropped,
                    offset,
                });
            }
            Marker::Panic { message } => s.panic = Some(message),
        }
    }

    /// The transport's policy lets frames go missing (each loss is judged by the overflow check).
    fn loss_allowed(&self) -> bool {
        matches!(self.summary.policy.as_deref(), Some("drop" | "truncate"))
    }

    /// An ordering finding: a gap is a violation only where no loss is allowed.
    fn push_ordering(&mut self, violation: Option<Violation>) {
        if matches!(violation, Some(Violation::Gap { .. })) && self.loss_allowed() {
            return;
        }
        self.push(violation);
    }

    fn push(&mut self, violation: Option<Violation>) {
        if let Some(v) = violation {
            self.violations_total += 1;
            if self.violations.len() < MAX_VIOLATIONS {
                self.violations.push(v);
            }
        }
    }

    fn close(
        mut self,
        unfinished: Option<(u64, usize)>,
        stats: FramerStats,
        expected_board: Option<&str>,
    ) -> Analysis {
        if let Some((offset, len)) = unfinished {
            self.push(Some(Violation::UnfinishedFrame { offset, len }));
        }
        if stats.oversize_frames > 0 {
            self.push(Some(Violation::Oversize {
                count: stats.oversize_frames,
                bytes: stats.oversize_bytes,
            }));
        }
        let truncate = self.summary.policy.as_deref() == Some("truncate");
        if let Some((first_offset, reason)) = self.first_malformed.filter(|_| !truncate) {
            self.push(Some(Violation::Malformed {
                count: self.summary.malformed,
                first_offset,
                first_reason: reason.to_string(),
            }));
        }
        if let (Some(expected), Some(found)) = (expected_board, self.summary.board.as_deref()) {
            if expected != found {
                let v = Violation::WrongBoard {
                    expected: expected.into(),
                    found: found.into(),
                };
                self.push(Some(v));
            }
        }
        let received: BTreeMap<u8, u64> = self.ordering.received().collect();
        let s = &mut self.summary;
        s.missing = s
            .sent
            .iter()
            .map(|(stream, &sent)| {
                u64::from(sent).saturating_sub(received.get(stream).copied().unwrap_or(0))
            })
            .sum();
        let mut seq_not_sent = Vec::new();
        for (&stream, &sent) in &s.sent {
            if let Some(highest) = self.ordering.highest(stream).filter(|&h| h >= sent) {
                seq_not_sent.push(Violation::SeqNotSent {
                    stream,
                    n: highest,
                    sent,
                });
            }
        }
        for v in seq_not_sent {
            self.push(Some(v));
        }
        let s = &mut self.summary;
        s.overflow = self.losses.summary().clone();
        let policy_violations: Vec<Violation> = match s.policy.as_deref() {
            Some("drop") => {
                let mut v: Vec<Violation> = self.losses.drop_policy_violations().collect();
                if s.missing != s.dropped_reported {
                    v.push(Violation::MissingNotReported {
                        missing: s.missing,
                        reported: s.dropped_reported,
                    });
                }
                v
            }
            _ => Vec::new(),
        };
        let accounting = match s.end {
            None if !self.expects_end => None,
            None => Some(Violation::NoEnd { bytes: s.bytes }),
            Some(end) if truncate => {
                let explained = s.frames_before_end + u64::from(end.dropped) + s.malformed;
                let impossible = s.malformed > u64::from(end.dropped);
                (explained != u64::from(end.attempted) || impossible).then_some(
                    Violation::TruncationUnaccounted {
                        attempted: end.attempted.into(),
                        received: s.frames_before_end,
                        truncated: end.dropped.into(),
                        malformed: s.malformed,
                    },
                )
            }
            Some(end) if s.frames_before_end + s.dropped_reported != u64::from(end.attempted) => {
                Some(Violation::Unaccounted {
                    attempted: end.attempted.into(),
                    received: s.frames_before_end,
                    dropped_reported: s.dropped_reported,
                    offset: end.offset,
                })
            }
            Some(end) if u64::from(end.dropped) != s.dropped_reported => {
                Some(Violation::DropCount {
                    firmware: end.dropped.into(),
                    reported: s.dropped_reported,
                    offset: end.offset,
                })
            }
            Some(_) => None,
        };
        self.push(accounting);
        for v in policy_violations {
            self.push(Some(v));
        }
        Analysis {
            summary: self.summary,
            violations: self.violations,
            violations_total: self.violations_total,
        }
    }
}

/// The result of analysing one capture.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Counts and markers.
    pub summary: Summary,
    /// The first violations found (at most 100).
    pub violations: Vec<Violation>,
    /// All violations found.
    pub violations_total: u64,
}
