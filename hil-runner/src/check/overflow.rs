//! Overflow check: loss events found from the global sequence numbers, judged by the transport's policy.
//!
//! Every sequence frame carries `g`, its number across all streams in the
//! order frames entered the transport. A jump in `g` is a loss event: the
//! frames lost there, the drop reports and malformed frames seen since the
//! previous sequence frame, and the offset where the stream recovered.

use serde::Serialize;

use super::Violation;

/// Loss events kept in full; more are counted only.
const MAX_EVENTS: usize = 1000;

/// One place where frames were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LossEvent {
    /// Offset of the first sequence frame after the loss (or of the end marker).
    pub offset: u64,
    /// Global number of the first frame lost.
    pub first_g: u32,
    /// Sequence frames lost.
    pub lost: u32,
    /// Frames the drop reports since the previous sequence frame count.
    pub reported: u32,
    /// Malformed frames since the previous sequence frame.
    pub malformed: u32,
}

/// What the overflow check found, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OverflowSummary {
    /// Loss events in all.
    pub events: u64,
    /// Frames lost per event, for the first events (at most 1000).
    pub lost_per_event: Vec<u32>,
    /// The event that lost the most frames.
    pub worst: Option<LossEvent>,
}

/// Follows `g` across sequence frames and collects loss events.
#[derive(Debug, Default)]
pub struct LossTracker {
    next_g: u32,
    reported_since: u32,
    malformed_since: u32,
    events: Vec<LossEvent>,
    summary: OverflowSummary,
}

impl LossTracker {
    /// A drop report for `dropped` frames arrived.
    pub fn drop_report(&mut self, dropped: u32) {
        self.reported_since = self.reported_since.saturating_add(dropped);
    }

    /// A drop report for `dropped` frames arrived at `offset` in a stream
    /// without sequence frames (a user's firmware on hil-transport without
    /// hil-protocol markers): each report is a loss event of its own, whose
    /// `lost` is what the report says and whose `first_g` counts the frames
    /// reported lost before it.
    pub fn reported_loss(&mut self, dropped: u32, offset: u64) {
        self.reported_since = self.reported_since.saturating_add(dropped);
        let g = self.next_g.saturating_add(dropped);
        self.close_event(g, offset);
        self.next_g = g;
    }

    /// A malformed frame arrived.
    pub fn malformed(&mut self) {
        self.malformed_since += 1;
    }

    /// Sequence frame `g` arrived at `offset`.
    pub fn seq(&mut self, g: u32, offset: u64) {
        self.close_event(g, offset);
        self.next_g = self.next_g.max(g.wrapping_add(1));
    }

    /// The stream ended (end marker at `offset`) after `total` sequence frames were sent.
    pub fn end(&mut self, total: u32, offset: u64) {
        self.close_event(total, offset);
    }

    fn close_event(&mut self, g: u32, offset: u64) {
        let lost = g.saturating_sub(self.next_g);
        if lost > 0 || self.reported_since > 0 || self.malformed_since > 0 {
            let event = LossEvent {
                offset,
                first_g: self.next_g,
                lost,
                reported: self.reported_since,
                malformed: self.malformed_since,
            };
            let s = &mut self.summary;
            s.events += 1;
            if s.lost_per_event.len() < MAX_EVENTS {
                s.lost_per_event.push(lost);
                self.events.push(event);
            }
            if s.worst.is_none_or(|w| lost > w.lost) {
                s.worst = Some(event);
            }
        }
        self.reported_since = 0;
        self.malformed_since = 0;
    }

    /// What was found.
    pub fn summary(&self) -> &OverflowSummary {
        &self.summary
    }

    /// Violations of the `drop` policy's rule: each event's drop reports count exactly the frames lost there.
    pub fn drop_policy_violations(&self) -> impl Iterator<Item = Violation> + '_ {
        self.events
            .iter()
            .filter(|e| e.lost != e.reported)
            .map(|e| Violation::DropReportMismatch {
                offset: e.offset,
                first_g: e.first_g,
                lost: e.lost,
                reported: e.reported,
            })
    }
}
