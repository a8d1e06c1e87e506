//! Ordering check: per stream, every sequence number once, in order, none missing.

use std::collections::BTreeMap;

use super::Violation;

/// State of one stream.
#[derive(Debug, Default)]
struct StreamState {
    /// The next sequence number expected.
    next: u32,
    /// Every sequence number received, as a bitset.
    seen: Vec<u64>,
    /// Distinct sequence numbers received.
    distinct: u64,
}

impl StreamState {
    /// Marks `n` seen; false if it was seen before.
    fn mark(&mut self, n: u32) -> bool {
        let (word, bit) = ((n / 64) as usize, n % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & (1 << bit) == 0;
        self.seen[word] |= 1 << bit;
        self.distinct += u64::from(fresh);
        fresh
    }
}

/// Checks sequence frames per stream as they arrive.
#[derive(Debug, Default)]
pub struct OrderingCheck {
    streams: BTreeMap<u8, StreamState>,
}

impl OrderingCheck {
    /// A check with no stream seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sequence frame `n` of `stream` arrived at byte `offset` of the capture.
    pub fn frame(&mut self, stream: u8, n: u32, offset: u64) -> Option<Violation> {
        let state = self.streams.entry(stream).or_default();
        let fresh = state.mark(n);
        let expected = state.next;
        match n.cmp(&expected) {
            std::cmp::Ordering::Equal => {
                state.next = n.wrapping_add(1);
                None
            }
            std::cmp::Ordering::Greater => {
                state.next = n.wrapping_add(1);
                Some(Violation::Gap {
                    stream,
                    first_missing: expected,
                    last_missing: n - 1,
                    offset,
                })
            }
            std::cmp::Ordering::Less if !fresh => Some(Violation::Duplicate { stream, n, offset }),
            std::cmp::Ordering::Less => Some(Violation::Reorder {
                stream,
                n,
                after: expected - 1,
                offset,
            }),
        }
    }

    /// The firmware says it logged `sent` frames on `stream` (its end-of-test count),
    /// at byte `offset`. Reports frames never received at the end of the stream.
    pub fn expect_sent(&mut self, stream: u8, sent: u32, offset: u64) -> Option<Violation> {
        let state = self.streams.entry(stream).or_default();
        (state.next < sent).then(|| {
            let v = Violation::Gap {
                stream,
                first_missing: state.next,
                last_missing: sent - 1,
                offset,
            };
            state.next = sent;
            v
        })
    }

    /// The highest sequence number received on `stream`.
    pub fn highest(&self, stream: u8) -> Option<u32> {
        let state = self.streams.get(&stream)?;
        (state.distinct > 0).then(|| state.next.wrapping_sub(1))
    }

    /// Distinct sequence numbers received per stream.
    pub fn received(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.streams.iter().map(|(&s, st)| (s, st.distinct))
    }
}
