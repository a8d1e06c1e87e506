//! Frames with a check value (hil-transport's `frame-check`): verified and stripped before decoding; a failing one is corrupted, never a log line or a marker.

use hil_runner::firmware::Firmware;
use hil_runner::frame_check::crc16;
use hil_runner::markers::Marker;
use hil_runner::rzcobs;
use host_tests::streams::{analyse, hil_firmware, str_arg, LOG_INFO};

/// One frame as a `frame-check` transport sends it: index, arguments, CRC-16 (LE), rzcobs, delimiter.
fn checked(index: u16, args: &[u8]) -> Vec<u8> {
    let mut raw = index.to_le_bytes().to_vec();
    raw.extend_from_slice(args);
    raw.extend_from_slice(&crc16(&raw).to_le_bytes());
    let mut out = Vec::new();
    rzcobs::encode_frame(&raw, &mut out);
    out
}

fn checked_marker(firmware: &Firmware, marker: &Marker) -> Vec<u8> {
    let mut args = Vec::new();
    marker.write_args(&mut args);
    checked(firmware.marker_index(marker.kind()).unwrap(), &args)
}

fn checking() -> Firmware {
    hil_firmware().with_frame_check(true)
}

/// A log frame with one literal byte of its text flipped (still valid rzcobs, still a valid defmt frame).
fn flipped(mut frame: Vec<u8>, text_byte: usize) -> Vec<u8> {
    frame[text_byte] ^= 0x01;
    frame
}

#[test]
fn checked_frames_decode_with_the_check_value_stripped() {
    let firmware = checking();
    let mut bytes = checked(LOG_INFO, &str_arg("hello, checked world"));
    bytes.extend(checked_marker(
        &firmware,
        &Marker::Param {
            name: "frames".into(),
            value: 0,
        },
    ));
    // Data of every length: the check value is found behind any rzcobs padding.
    for len in 0..20 {
        bytes.extend(checked(LOG_INFO, &str_arg(&"x".repeat(len))));
    }
    let analysis = analyse(&firmware, &bytes, None);
    let s = &analysis.summary;
    assert_eq!(
        (s.frames, s.malformed, s.corrupted),
        (22, 0, 0),
        "{analysis:?}"
    );
    assert_eq!(s.params.get("frames"), Some(&0));
}

#[test]
fn a_flipped_bit_the_decoder_would_accept_is_counted_corrupted() {
    let text = str_arg("hello, checked world");
    // Without the check a flipped text byte is a valid (wrong) log line ...
    let plain = flipped(host_tests::streams::frame(LOG_INFO, &text), 10);
    let s = analyse(&hil_firmware(), &plain, None).summary;
    assert_eq!((s.frames, s.malformed), (1, 0));
    // ... with it, a corrupted frame.
    let bad = flipped(checked(LOG_INFO, &text), 10);
    let s = analyse(&checking(), &bad, None).summary;
    assert_eq!((s.frames, s.malformed, s.corrupted), (0, 1, 1));
}

#[test]
fn a_corrupted_marker_is_never_accepted() {
    let firmware = checking();
    let end = checked_marker(
        &firmware,
        &Marker::End {
            attempted: 5,
            dropped: 0,
        },
    );
    // Flip each bit of the frame's literal bytes in turn: never an end marker.
    for bit in 0..(end.len() - 1) * 8 {
        let mut bad = end.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        if bad[..bad.len() - 1].contains(&0) {
            continue; // a new delimiter: framing, not the check, splits it
        }
        let s = analyse(&firmware, &bad, None).summary;
        assert!(s.end.is_none(), "bit {bit}: {s:?}");
        assert_eq!((s.frames, s.malformed), (0, 1), "bit {bit}");
    }
}

#[test]
fn frames_without_a_check_value_fail_it() {
    let plain = host_tests::streams::frame(LOG_INFO, &str_arg("no check value here"));
    let s = analyse(&checking(), &plain, None).summary;
    assert_eq!((s.frames, s.corrupted), (0, 1));
}

#[test]
fn malformed_rzcobs_is_malformed_not_corrupted() {
    // A group code announcing more literals than the frame has.
    let s = analyse(&checking(), &[0x05, 0x00], None).summary;
    assert_eq!((s.malformed, s.corrupted), (1, 0));
}
