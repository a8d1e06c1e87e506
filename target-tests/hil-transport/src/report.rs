//! Drop reports: the `hil:drop n=N` frame the `drop` policy puts in front of the next frame that fits.
//!
//! The logger cannot log while it logs, so the report frame is built here:
//! the string index of `hil:drop` is learned once, at [`init`](crate::init),
//! by logging one report in capture mode (the logger records the frame's
//! raw bytes instead of sending it; the first two are the index); the frame
//! is then the index, the firmware's defmt timestamp (whatever
//! `defmt::timestamp!` defines, written by defmt's own timestamp function
//! while the logger records raw bytes, so the host decodes it like any
//! frame's) and the count, encoded with defmt's own rzcobs encoder.

use core::cell::Cell;

use critical_section::Mutex;

use crate::policy::FrameQueue;

/// Frames dropped since the last report that entered the queue.
static PENDING: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

/// String index of `hil:drop`, little-endian, once learned.
static INDEX: Mutex<Cell<Option<[u8; 2]>>> = Mutex::new(Cell::new(None));

/// Longest raw timestamp a report carries, in bytes (a `u64` takes 8; longer
/// timestamps are cut to this, and such reports do not decode).
pub(crate) const TIMESTAMP_MAX: usize = 40;

/// Longest raw report: index, timestamp and count (the logger records this much).
pub(crate) const RAW_MAX: usize = 2 + TIMESTAMP_MAX + 4;

/// Longest encoded report: the raw report and its check value, one rzcobs code byte and the delimiter.
///
/// rzcobs never encodes a segment longer than it is, except a run of 134
/// non-zero bytes (one code byte more) and the frame's last group (one code
/// byte): a group of 7 with zeros in it loses the zeros and gains a bitmask,
/// a run of 7 or more ended by a zero turns the zero into its code. So up to
/// 134 raw bytes encode to at most one byte more, reached when none is zero.
const REPORT_MAX: usize = RAW_MAX + crate::check::LEN + 2;
const _: () = assert!(
    RAW_MAX + crate::check::LEN <= 134,
    "one code byte per 134-byte run"
);

/// One encoded drop report frame, delimiter included.
pub(crate) struct ReportFrame {
    bytes: [u8; REPORT_MAX],
    len: usize,
    /// Frames it reports.
    #[allow(dead_code)] // Used by the `drop` policy only.
    pub(crate) count: u32,
}

impl core::ops::Deref for ReportFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Counts one dropped frame towards the next report.
#[allow(dead_code)] // Used by the `drop` policy only.
pub(crate) fn count_drop() {
    critical_section::with(|cs| {
        let pending = PENDING.borrow(cs);
        pending.set(pending.get().saturating_add(1));
    });
}

/// Frames dropped and not yet reported.
pub(crate) fn pending() -> u32 {
    critical_section::with(|cs| PENDING.borrow(cs).get())
}

/// The report of the pending drops, if any (and once the index is known).
#[allow(dead_code)] // Used by the `drop` policy only.
#[inline]
pub(crate) fn pending_report() -> Option<ReportFrame> {
    match pending() {
        0 => None,
        n => encode(n),
    }
}

/// `count` of the pending drops entered the queue in a report.
#[allow(dead_code)] // Used by the `drop` policy only.
pub(crate) fn reported(count: u32) {
    critical_section::with(|cs| {
        let pending = PENDING.borrow(cs);
        pending.set(pending.get().saturating_sub(count));
    });
}

/// Records the learned string index of `hil:drop`.
pub(crate) fn set_index(index: [u8; 2]) {
    critical_section::with(|cs| INDEX.borrow(cs).set(Some(index)));
}

/// The learned string index of `hil:drop`.
#[cfg(test)]
pub(crate) fn index() -> Option<[u8; 2]> {
    critical_section::with(|cs| INDEX.borrow(cs).get())
}

/// The report frame for `dropped` frames, or `None` before the index is learned.
pub(crate) fn encode(dropped: u32) -> Option<ReportFrame> {
    let index = critical_section::with(|cs| INDEX.borrow(cs).get())?;
    let mut frame = ReportFrame {
        bytes: [0; REPORT_MAX],
        len: 0,
        count: dropped,
    };
    let mut push = |bytes: &[u8]| {
        for &byte in bytes {
            frame.bytes[frame.len] = byte;
            frame.len += 1;
        }
    };
    // A fresh encoder writes a separator before its first frame; the stream
    // already has one, so it is left out.
    let mut encoder = crate::check::Encoder::new();
    let mut skip_separator = true;
    let mut write = |bytes: &[u8]| {
        if core::mem::take(&mut skip_separator) && bytes == [0] {
            return;
        }
        push(bytes);
    };
    encoder.start_frame(&mut write);
    encoder.write(&index, &mut write);
    crate::logger::with_timestamp(|timestamp| encoder.write(timestamp, &mut write));
    encoder.write(&dropped.to_le_bytes(), &mut write);
    encoder.end_frame(&mut write);
    Some(frame)
}

/// Puts the pending report, if any, into `queue`. False when a report is
/// pending and does not fit (nothing may go in ahead of it then).
pub(crate) fn push_pending(queue: &mut impl FrameQueue) -> bool {
    if cfg!(any(feature = "policy-block", feature = "policy-truncate")) {
        // Only `drop` reports; compiled out, no other push competes with the
        // log call's for inlining (the per-call cost).
        return true;
    }
    critical_section::with(|cs| {
        let pending = PENDING.borrow(cs);
        if pending.get() == 0 {
            return true;
        }
        let Some(report) = encode(pending.get()) else {
            // Before `init` the index is unknown; the report waits for it.
            return true;
        };
        if queue.try_push_cold(&report).is_err() {
            return false;
        }
        pending.set(0);
        true
    })
}

/// Serialises the host tests that use the statics above.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Forgets the pending drops (host tests).
#[cfg(test)]
pub(crate) fn reset_pending_for_test() {
    critical_section::with(|cs| PENDING.borrow(cs).set(0));
}

/// Resets the statics for a host test.
#[cfg(test)]
pub(crate) fn reset_for_test(index: [u8; 2]) {
    critical_section::with(|cs| PENDING.borrow(cs).set(0));
    set_index(index);
    crate::tests::set_timestamp_tail(0);
}

#[cfg(test)]
mod tests {
    //! The report frame is what the host decodes as `hil:drop n=N`, and fits its buffer at any timestamp's length.

    use super::{RAW_MAX, REPORT_MAX, TIMESTAMP_MAX};

    /// `raw` encoded as one frame with its check value if the feature is on.
    fn encoded(raw: &[u8]) -> Vec<u8> {
        let mut raw = raw.to_vec();
        #[cfg(feature = "frame-check")]
        raw.extend_from_slice(&crate::check::tests::reference(&raw).to_le_bytes());
        rzcobs(&raw)
    }

    /// `raw` rzcobs-encoded with its delimiter, without the separator a fresh encoder writes first.
    fn rzcobs(raw: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        let mut encoder = defmt::Encoder::new();
        let mut sink = |b: &[u8]| frame.extend_from_slice(b);
        encoder.start_frame(&mut sink);
        encoder.write(&raw, &mut sink);
        encoder.end_frame(&mut sink);
        assert_eq!(frame.remove(0), 0, "a fresh encoder's separator");
        frame
    }

    /// The report of `count` drops as the host decodes it: index, timestamp, count.
    fn report_raw(index: [u8; 2], timestamp: &[u8], count: u32) -> Vec<u8> {
        let mut raw = index.to_vec();
        raw.extend_from_slice(timestamp);
        raw.extend_from_slice(&count.to_le_bytes());
        raw
    }

    #[test]
    fn a_report_frame_is_rzcobs_of_index_timestamp_and_count() {
        let _lock = super::test_lock();
        super::reset_for_test([0x34, 0x12]);
        let frame = super::encode(0x0102_0304).unwrap();
        assert_eq!(frame.last(), Some(&0), "ends with its delimiter");
        assert!(!frame[..frame.len() - 1].contains(&0));
        // The host tests' timestamp (crate::tests) comes between index and count.
        let timestamp = crate::tests::timestamp_bytes();
        let raw = report_raw([0x34, 0x12], &timestamp, 0x0102_0304);
        assert_eq!(&frame[..], encoded(&raw), "defmt's encoding");
    }

    #[test]
    fn a_timestamp_longer_than_the_longest_is_cut_and_the_report_still_fits() {
        let _lock = super::test_lock();
        super::reset_for_test([0x34, 0x12]);
        for tail in [0, 1, 20, 31, 32, 33, 60, 64] {
            let timestamp = crate::tests::set_timestamp_tail(tail);
            let frame = super::encode(u32::MAX).unwrap();
            let kept = &timestamp[..timestamp.len().min(TIMESTAMP_MAX)];
            let raw = report_raw([0x34, 0x12], kept, u32::MAX);
            assert_eq!(&frame[..], encoded(&raw), "timestamp tail {tail}");
            assert!(frame.len() <= REPORT_MAX, "timestamp tail {tail}");
        }
        crate::tests::set_timestamp_tail(0);
    }

    #[test]
    fn the_report_buffer_is_the_longest_encoding_of_the_longest_report() {
        // The longest report, measured: the timestamp cut, index and count around it.
        let longest = report_raw([1, 1], &[0xa5; 64][..TIMESTAMP_MAX], u32::MAX);
        let longest = longest.len() + crate::check::LEN;
        assert_eq!(RAW_MAX + crate::check::LEN, longest);
        // No zero byte at all is the longest encoding; zeros anywhere never lengthen it.
        assert_eq!(REPORT_MAX, rzcobs(&vec![0xa5; longest]).len());
        for i in 0..longest {
            for j in i..longest {
                let mut raw = vec![0xa5; longest];
                raw[i] = 0;
                raw[j] = 0;
                assert!(rzcobs(&raw).len() <= REPORT_MAX, "zeros at {i} and {j}");
            }
        }
    }
}
