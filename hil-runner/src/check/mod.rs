//! Checks that turn a decoded capture into violations: ordering, loss accounting, well-formed frames.

pub mod ordering;
pub mod overflow;

use serde::Serialize;

/// One thing wrong with a run, with where in the capture it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Violation {
    /// Sequence numbers never received on a stream.
    Gap {
        /// Stream id.
        stream: u8,
        /// First seq missing.
        first_missing: u32,
        /// Last seq missing.
        last_missing: u32,
        /// Offset of the frame after the gap.
        offset: u64,
    },
    /// A sequence number received twice.
    Duplicate {
        /// Stream id.
        stream: u8,
        /// The repeated seq.
        n: u32,
        /// Offset of the repeat.
        offset: u64,
    },
    /// A sequence number received after a later one.
    Reorder {
        /// Stream id.
        stream: u8,
        /// The late seq.
        n: u32,
        /// The seq it arrived after.
        after: u32,
        /// Offset of the late frame.
        offset: u64,
    },
    /// Frames that are not valid defmt frames of this ELF.
    Malformed {
        /// How many.
        count: u64,
        /// Offset of the first one.
        first_offset: u64,
        /// Why the first one was rejected.
        first_reason: String,
    },
    /// Runs longer than the maximum frame length, skipped.
    Oversize {
        /// How many.
        count: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// Frames lost with no drop report counting them.
    Unaccounted {
        /// Frames the firmware's transport was asked to send (end marker).
        attempted: u64,
        /// Frames received before the end marker (drop reports not included).
        received: u64,
        /// Frames the drop reports say were dropped.
        dropped_reported: u64,
        /// Offset of the end marker.
        offset: u64,
    },
    /// The firmware's drop counter disagrees with its drop reports.
    DropCount {
        /// Drops the end marker counts.
        firmware: u64,
        /// Drops the reports add up to.
        reported: u64,
        /// Offset of the end marker.
        offset: u64,
    },
    /// The firmware says it was built for another board.
    WrongBoard {
        /// Board the run used.
        expected: String,
        /// Board in the boot marker.
        found: String,
    },
    /// Under the `drop` policy, a loss event whose drop reports do not count its lost frames.
    DropReportMismatch {
        /// Offset where the stream recovered.
        offset: u64,
        /// Global number of the first frame lost.
        first_g: u32,
        /// Sequence frames lost there.
        lost: u32,
        /// Frames the drop reports there count.
        reported: u32,
    },
    /// Sequence frames missing and frames reported dropped differ (`drop` policy: they must be equal).
    MissingNotReported {
        /// Sequence frames sent and not received.
        missing: u64,
        /// Frames the drop reports count.
        reported: u64,
    },
    /// Under the `truncate` policy, losses that neither the firmware's count nor a malformed frame explains.
    TruncationUnaccounted {
        /// Frames the transport was asked to send.
        attempted: u64,
        /// Frames received before the end marker.
        received: u64,
        /// Frames the firmware counted as truncated or discarded.
        truncated: u64,
        /// Malformed frames (each hides one frame merged into a truncated one).
        malformed: u64,
    },
    /// A sequence frame the firmware says it never sent.
    SeqNotSent {
        /// Stream id.
        stream: u8,
        /// Its seq.
        n: u32,
        /// Frames the firmware sent on that stream.
        sent: u32,
    },
    /// The end marker never arrived.
    NoEnd {
        /// Bytes received in all.
        bytes: u64,
    },
    /// Bytes after the last delimiter: an unfinished frame.
    UnfinishedFrame {
        /// Its offset.
        offset: u64,
        /// Its length.
        len: usize,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gap { stream, first_missing, last_missing, offset } if first_missing == last_missing => {
                write!(f, "stream {stream}: seq {first_missing} missing (next frame at byte {offset})")
            }
            Self::Gap { stream, first_missing, last_missing, offset } => write!(
                f,
                "stream {stream}: seq {first_missing}..={last_missing} missing ({} frames; next frame at byte {offset})",
                u64::from(last_missing - first_missing) + 1
            ),
            Self::Duplicate { stream, n, offset } => {
                write!(f, "stream {stream}: seq {n} received twice (again at byte {offset})")
            }
            Self::Reorder { stream, n, after, offset } => {
                write!(f, "stream {stream}: seq {n} arrived after seq {after} (at byte {offset})")
            }
            Self::Malformed { count, first_offset, first_reason } => write!(
                f,
                "{count} malformed frames; the first at byte {first_offset}: {first_reason}"
            ),
            Self::Oversize { count, bytes } => {
                write!(f, "{count} runs over the maximum frame length skipped ({bytes} bytes)")
            }
            Self::Unaccounted { attempted, received, dropped_reported, offset } => write!(
                f,
                "{} frames lost without a drop report: firmware attempted {attempted}, received {received}, drops reported {dropped_reported} (end marker at byte {offset})",
                attempted.saturating_sub(received + dropped_reported)
            ),
            Self::DropCount { firmware, reported, offset } => write!(
                f,
                "firmware counted {firmware} dropped frames but its drop reports add up to {reported} (end marker at byte {offset})"
            ),
            Self::WrongBoard { expected, found } => {
                write!(f, "firmware was built for board {found}, run on {expected}")
            }
            Self::DropReportMismatch { offset, first_g, lost, reported } => write!(
                f,
                "{lost} frames lost from g={first_g} but drop reports count {reported} (stream recovered at byte {offset})"
            ),
            Self::MissingNotReported { missing, reported } => write!(
                f,
                "{missing} sequence frames missing but drop reports count {reported}"
            ),
            Self::TruncationUnaccounted { attempted, received, truncated, malformed } => write!(
                f,
                "truncate: firmware attempted {attempted}, received {received}, truncated {truncated}, malformed {malformed}: {} frames lost without a count",
                attempted.abs_diff(received + truncated + malformed)
            ),
            Self::SeqNotSent { stream, n, sent } => write!(
                f,
                "stream {stream}: seq {n} received but the firmware sent only {sent}"
            ),
            Self::NoEnd { bytes } => write!(f, "the end marker never arrived ({bytes} bytes received)"),
            Self::UnfinishedFrame { offset, len } => {
                write!(f, "unfinished frame of {len} bytes at byte {offset} (no delimiter)")
            }
        }
    }
}
