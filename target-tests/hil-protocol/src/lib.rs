//! Test markers shared by the HIL firmware and the host runner.
//!
//! Every marker is one defmt frame whose format string is defined here, once.
//! The firmware emits them through [`emit`] (feature `defmt`); the runner
//! finds them in the ELF's defmt table by the same strings ([`fmt`]) and reads
//! their arguments, so the two sides cannot drift apart.
//!
//! A test run is, in order: [`fmt::BOOT`], [`fmt::START`], any number of
//! [`fmt::PARAM`], the test's own frames ([`fmt::SEQ`], sent with [`seq`], and others, with
//! [`fmt::DROP`] reports from the transport wherever frames were dropped),
//! one [`fmt::STREAM`] per stream, and [`fmt::END`].
//!
//! Marker arguments use only `u8`, `u32` and `str`, so the host can read them
//! straight from the frame bytes without rendering text.
#![no_std]
#![warn(missing_docs)]

/// Stream id of frames logged from thread mode.
pub const THREAD_STREAM: u8 = 0;

/// Bytes of the check value at the start of every sequence frame's payload.
pub const SEQ_CHECK_LEN: usize = 4;

/// Longest sequence frame payload (check value included).
pub const SEQ_PAYLOAD_MAX: usize = 256;

/// Fills `payload` (its whole length, at least [`SEQ_CHECK_LEN`] bytes) for sequence frame
/// (`stream`, `n`, `g`): a 32-bit FNV-1a check over the fields and the length, then filler
/// bytes derived from it. A frame whose payload differs from this was corrupted.
pub fn seq_payload(stream: u8, n: u32, g: u32, payload: &mut [u8]) {
    let check = seq_check(stream, n, g, payload.len());
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte = (check >> (8 * (i % 4))) as u8 ^ (i / 4) as u8;
    }
}

/// Whether `payload` is the one [`seq_payload`] makes for (`stream`, `n`, `g`).
pub fn seq_payload_is_valid(stream: u8, n: u32, g: u32, payload: &[u8]) -> bool {
    if payload.len() < SEQ_CHECK_LEN {
        return false;
    }
    let check = seq_check(stream, n, g, payload.len());
    // Byte `i` is `(check >> (8 * (i % 4))) as u8 ^ (i / 4) as u8`: compared a
    // little-endian word at a time (the host checks every sequence frame).
    let mut words = payload.chunks_exact(4);
    let whole_words = words.by_ref().enumerate().all(|(q, word)| {
        u32::from_le_bytes([word[0], word[1], word[2], word[3]])
            == check ^ (u32::from(q as u8) * 0x0101_0101)
    });
    let last = (payload.len() / 4) as u8;
    whole_words
        && words
            .remainder()
            .iter()
            .enumerate()
            .all(|(k, &byte)| byte == (check >> (8 * k)) as u8 ^ last)
}

fn seq_check(stream: u8, n: u32, g: u32, len: usize) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let fields = [stream]
        .into_iter()
        .chain(n.to_le_bytes())
        .chain(g.to_le_bytes())
        .chain((len as u32).to_le_bytes());
    for byte in fields {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash
}

/// Next global sequence number (`g`) of [`seq`].
#[cfg(feature = "defmt")]
static NEXT_G: critical_section::Mutex<core::cell::Cell<u32>> =
    critical_section::Mutex::new(core::cell::Cell::new(0));

/// Emit sequence frame `n` of `stream` with `extra` filler bytes after the check value
/// (at most [`SEQ_PAYLOAD_MAX`] − [`SEQ_CHECK_LEN`]).
///
/// The global number `g` is taken and the frame logged in one critical section, so
/// `g` follows the order in which frames enter the transport, across all streams.
#[cfg(feature = "defmt")]
pub fn seq(stream: u8, n: u32, extra: usize) {
    let len = (SEQ_CHECK_LEN + extra).min(SEQ_PAYLOAD_MAX);
    let mut payload = [0u8; SEQ_PAYLOAD_MAX];
    critical_section::with(|cs| {
        let next = NEXT_G.borrow(cs);
        let g = next.get();
        next.set(g.wrapping_add(1));
        seq_payload(stream, n, g, &mut payload[..len]);
        emit::seq_frame(stream, n, g, &payload[..len]);
    });
}

macro_rules! markers {
    ($(
        $(#[$doc:meta])*
        $name:ident, $emit:ident ( $($arg:ident : $ty:ty),* ) = $fmt:literal;
    )*) => {
        /// The markers' defmt format strings, as the host looks them up.
        pub mod fmt {
            $( $(#[$doc])* pub const $name: &str = $fmt; )*
            /// Every marker format string.
            pub const ALL: &[&str] = &[$($name),*];
        }

        /// Emit the markers through defmt (firmware side).
        #[cfg(feature = "defmt")]
        pub mod emit {
            $(
                $(#[$doc])*
                #[inline]
                pub fn $emit($($arg: $ty),*) {
                    defmt::info!($fmt, $($arg),*);
                }
            )*
        }
    };
}

markers! {
    /// The firmware booted: the board it was built for and the test's name.
    BOOT, boot(board: &str, test: &str) = "hil:boot board={=str} test={=str}";
    /// A test starts: its name and the overflow policy of the transport.
    START, start(test: &str, policy: &str) = "hil:start test={=str} policy={=str}";
    /// One named parameter of the running test (queue capacity, frame count ...).
    PARAM, param(name: &str, value: u32) = "hil:param {=str}={=u32}";
    /// One sequence frame: stream id (0 = thread mode, 1.. = interrupt priorities), its number
    /// in the stream, its number across all streams (`g`) and a payload that starts with a
    /// check value over all of them ([`seq_payload`]). Emit it with [`seq`], not directly.
    SEQ, seq_frame(stream: u8, n: u32, g: u32, payload: &[u8]) = "hil:seq s={=u8} n={=u32} g={=u32} p={=[u8]}";
    /// A drop report from the transport: frames dropped since the previous report.
    DROP, drop_report(dropped: u32) = "hil:drop n={=u32}";
    /// How many sequence frames the firmware logged on one stream.
    STREAM, stream(stream: u8, sent: u32) = "hil:stream s={=u8} sent={=u32}";
    /// The test ended: frames the transport was asked to send before this one, and how many it dropped.
    END, end(attempted: u32, dropped: u32) = "hil:end attempted={=u32} dropped={=u32}";
    /// The firmware panicked; the message follows. The runner reports `crash`.
    PANIC, panic(message: &str) = "hil:panic {=str}";
}

#[cfg(test)]
mod tests {
    //! Host tests: the word-wise payload check agrees with the byte-wise rule.

    use super::*;

    fn bytewise(stream: u8, n: u32, g: u32, payload: &[u8]) -> bool {
        let check = seq_check(stream, n, g, payload.len());
        payload.len() >= SEQ_CHECK_LEN
            && payload
                .iter()
                .enumerate()
                .all(|(i, &byte)| byte == (check >> (8 * (i % 4))) as u8 ^ (i / 4) as u8)
    }

    #[test]
    fn payload_check_accepts_its_payloads_and_rejects_every_changed_byte() {
        let mut payload = [0u8; SEQ_PAYLOAD_MAX];
        for len in 0..=SEQ_PAYLOAD_MAX {
            let (stream, n, g) = (len as u8 % 3, len as u32 * 7, len as u32 * 13 + 1);
            seq_payload(stream, n, g, &mut payload[..len]);
            let valid = &mut payload[..len];
            assert_eq!(
                seq_payload_is_valid(stream, n, g, valid),
                len >= SEQ_CHECK_LEN
            );
            assert_eq!(
                seq_payload_is_valid(stream, n, g, valid),
                bytewise(stream, n, g, valid)
            );
            for i in 0..len {
                valid[i] ^= 1 << (i % 8);
                assert!(
                    !seq_payload_is_valid(stream, n, g, valid),
                    "len {len}, byte {i}"
                );
                assert!(!bytewise(stream, n, g, valid));
                valid[i] ^= 1 << (i % 8);
            }
            assert_eq!(
                seq_payload_is_valid(stream, n + 1, g, valid),
                bytewise(stream, n + 1, g, valid)
            );
        }
    }
}
