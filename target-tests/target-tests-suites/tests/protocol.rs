//! hil-protocol on the target: the sequence payload check, and the markers'
//! format strings and frames.
#![no_std]
#![no_main]

use hil_board as _;
use hil_target_tests::{frames_of, Capture, Suite, Wire};

/// FNV-1a, 32 bit, written out again from its definition.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The documented check value: FNV-1a over stream, n, g and the payload length.
fn reference_check(stream: u8, n: u32, g: u32, len: usize) -> u32 {
    let mut fields = [0u8; 13];
    fields[0] = stream;
    fields[1..5].copy_from_slice(&n.to_le_bytes());
    fields[5..9].copy_from_slice(&g.to_le_bytes());
    fields[9..].copy_from_slice(&(len as u32).to_le_bytes());
    fnv1a(&fields)
}

/// Logs one marker and returns its frame, kept off the wire: a marker
/// would make the runner read this suite as hil-protocol firmware.
fn marker(s: &Suite, emit: impl FnOnce()) -> Capture<512> {
    let attempted = hil_transport::attempted();
    let frame: Capture<512> = frames_of(&s.drain, Wire::Keep, emit);
    assert_eq!(hil_transport::attempted() - attempted, 1);
    assert_eq!(frame.frames().count(), 1, "one frame");
    assert_eq!(frame.bytes().last(), Some(&0));
    frame
}

#[defmt_test::tests]
mod tests {
    use hil_protocol::{fmt, seq_payload, seq_payload_is_valid, SEQ_CHECK_LEN, SEQ_PAYLOAD_MAX};
    use hil_target_tests as suite;

    use super::*;

    #[init]
    fn init() -> Suite {
        suite::init()
    }

    #[before_each]
    fn before_each() {
        suite::before_each();
    }

    #[teardown]
    fn teardown(suite: &mut Suite) {
        suite::teardown(suite);
    }

    #[test]
    fn the_check_value_is_fnv1a_of_the_fields_and_the_length() {
        // The reference itself, against FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
        let mut payload = [0u8; 64];
        for (stream, n, g, len) in [(0, 0, 0, 4), (1, 7, 9, 13), (3, u32::MAX, 1 << 31, 64)] {
            seq_payload(stream, n, g, &mut payload[..len]);
            let check = reference_check(stream, n, g, len);
            assert_eq!(payload[..4], check.to_le_bytes());
            for (i, &byte) in payload[..len].iter().enumerate() {
                assert_eq!(byte, (check >> (8 * (i % 4))) as u8 ^ (i / 4) as u8);
            }
        }
    }

    #[test]
    fn every_payload_is_valid_for_its_own_fields_only() {
        let mut payload = [0u8; SEQ_PAYLOAD_MAX];
        for len in (0..=40).chain([255, SEQ_PAYLOAD_MAX]) {
            let (stream, n, g) = (len as u8 % 3, len as u32 * 7, len as u32 * 13 + 1);
            seq_payload(stream, n, g, &mut payload[..len]);
            let valid = &payload[..len];
            assert_eq!(
                seq_payload_is_valid(stream, n, g, valid),
                len >= SEQ_CHECK_LEN
            );
            if len >= SEQ_CHECK_LEN {
                assert!(!seq_payload_is_valid(stream + 1, n, g, valid));
                assert!(!seq_payload_is_valid(stream, n + 1, g, valid));
                assert!(!seq_payload_is_valid(stream, n, g + 1, valid));
                assert!(!seq_payload_is_valid(stream, n, g, &valid[..len - 1]));
            }
        }
    }

    #[test]
    fn every_changed_byte_fails_the_check() {
        let mut payload = [0u8; 48];
        for len in SEQ_CHECK_LEN..=payload.len() {
            seq_payload(1, 2, 3, &mut payload[..len]);
            for i in 0..len {
                for bit in [0, 7] {
                    payload[i] ^= 1 << bit;
                    assert!(
                        !seq_payload_is_valid(1, 2, 3, &payload[..len]),
                        "len {}, byte {}",
                        len,
                        i
                    );
                    payload[i] ^= 1 << bit;
                }
            }
            assert!(seq_payload_is_valid(1, 2, 3, &payload[..len]));
        }
    }

    #[test]
    fn the_marker_format_strings_are_the_ones_the_host_looks_up() {
        assert_eq!(fmt::BOOT, "hil:boot board={=str} test={=str}");
        assert_eq!(fmt::START, "hil:start test={=str} policy={=str}");
        assert_eq!(fmt::PARAM, "hil:param {=str}={=u32}");
        assert_eq!(fmt::SEQ, "hil:seq s={=u8} n={=u32} g={=u32} p={=[u8]}");
        assert_eq!(fmt::DROP, "hil:drop n={=u32}");
        assert_eq!(fmt::STREAM, "hil:stream s={=u8} sent={=u32}");
        assert_eq!(fmt::END, "hil:end attempted={=u32} dropped={=u32}");
        assert_eq!(fmt::PANIC, "hil:panic {=str}");
        assert_eq!(fmt::ALL.len(), 8);
        for (i, a) in fmt::ALL.iter().enumerate() {
            assert!(a.starts_with("hil:"));
            let name = a.split(' ').next().unwrap();
            for b in &fmt::ALL[i + 1..] {
                assert!(name != b.split(' ').next().unwrap(), "{} twice", name);
            }
        }
    }

    #[test]
    fn each_marker_is_one_frame(s: &mut Suite) {
        use hil_protocol::emit;
        marker(s, || emit::boot("board", "test"));
        marker(s, || emit::start("test", "drop"));
        marker(s, || emit::param("frames", 1));
        marker(s, || emit::seq_frame(0, 1, 2, &[1, 2, 3, 4]));
        marker(s, || emit::drop_report(3));
        marker(s, || emit::stream(0, 5));
        marker(s, || emit::end(10, 0));
        marker(s, || emit::panic("message"));
    }

    #[test]
    fn seq_frames_grow_with_their_payload_up_to_the_maximum(s: &mut Suite) {
        let short = marker(s, || hil_protocol::seq(0, 0, 0)).len();
        let long = marker(s, || hil_protocol::seq(0, 1, 100)).len();
        let max = marker(s, || {
            hil_protocol::seq(0, 2, SEQ_PAYLOAD_MAX - SEQ_CHECK_LEN)
        })
        .len();
        let capped = marker(s, || hil_protocol::seq(0, 3, 10 * SEQ_PAYLOAD_MAX)).len();
        assert!(short < long && long < max, "{} {} {}", short, long, max);
        // The payload is capped at SEQ_PAYLOAD_MAX: no longer than the maximum (give or take rzcobs).
        assert!(
            capped <= max + 1 && capped + 1 >= max,
            "{} vs {}",
            capped,
            max
        );
    }
}
