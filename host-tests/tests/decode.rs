//! Frames to markers or log frames, or why they are malformed; the markers' wire format both ways.

use hil_protocol::fmt;
use hil_runner::decode::{Content, FrameDecoder, Malformed};
use hil_runner::markers::{Marker, MarkerKind};
use host_tests::streams::{
    frame, hil_firmware, hil_firmware_timestamped, hil_index, marker_frame, str_arg, LOG_INFO,
};

fn every_marker() -> Vec<Marker> {
    vec![
        Marker::Boot {
            board: "lm3s6965evb".into(),
            test: "ordering".into(),
        },
        Marker::Start {
            test: "overflow".into(),
            policy: "drop".into(),
        },
        Marker::Param {
            name: "capacity".into(),
            value: 0x0102_0304,
        },
        Marker::Seq {
            stream: 2,
            n: 0x0506_0708,
            g: 0x0a0b_0c0d,
            len: 37,
        },
        Marker::Drop { dropped: 77 },
        Marker::Stream {
            stream: 3,
            sent: 0x1234_5678,
        },
        Marker::End {
            attempted: 1000,
            dropped: 12,
        },
        Marker::Panic {
            message: "src/main.rs:1:1: boom".into(),
        },
    ]
}

#[test]
fn every_marker_is_found_by_its_format_string_and_reads_back_what_was_written() {
    let kinds = [
        (fmt::BOOT, MarkerKind::Boot),
        (fmt::START, MarkerKind::Start),
        (fmt::PARAM, MarkerKind::Param),
        (fmt::SEQ, MarkerKind::Seq),
        (fmt::DROP, MarkerKind::Drop),
        (fmt::STREAM, MarkerKind::Stream),
        (fmt::END, MarkerKind::End),
        (fmt::PANIC, MarkerKind::Panic),
    ];
    for (format, kind) in kinds {
        assert_eq!(MarkerKind::from_format(format), Some(kind));
    }
    assert_eq!(MarkerKind::from_format("{=str}"), None);
    let fw = hil_firmware();
    for marker in every_marker() {
        let kind = marker.kind();
        assert_eq!(fw.marker_index(kind), Some(hil_index(kind)));
        let mut args = Vec::new();
        marker.write_args(&mut args);
        assert_eq!(
            Marker::read(kind, &args),
            Some((marker.clone(), args.len()))
        );
        // Bytes after the arguments are not read.
        args.extend([9, 9]);
        assert_eq!(
            Marker::read(kind, &args),
            Some((marker.clone(), args.len() - 2))
        );
        args.truncate(args.len() - 3);
        assert_eq!(Marker::read(kind, &args), None, "{kind:?} one byte short");
        let mut decoder = FrameDecoder::new(&fw);
        let bytes = marker_frame(&fw, &marker);
        match decoder.decode(&bytes[..bytes.len() - 1]) {
            Ok(Content::Marker(m)) => assert_eq!(m, marker),
            _ => panic!("{kind:?} does not decode"),
        }
        assert_eq!(&decoder.decoded()[..2], &hil_index(kind).to_le_bytes());
    }
}

#[test]
fn markers_and_logs_are_read_after_the_firmwares_timestamp() {
    // defmt puts the timestamp's bytes between the string index and the arguments.
    let fw = hil_firmware_timestamped(&[], Some("{=u32:us}"));
    let stamp = 0xdead_beef_u32.to_le_bytes();
    let mut decoder = FrameDecoder::new(&fw);
    for marker in every_marker() {
        let kind = marker.kind();
        let mut raw = stamp.to_vec();
        marker.write_args(&mut raw);
        let bytes = frame(hil_index(kind), &raw);
        match decoder.decode(&bytes[..bytes.len() - 1]) {
            Ok(Content::Marker(m)) => assert_eq!(m, marker),
            other => panic!("{kind:?} with a timestamp: {:?}", other.err()),
        }
        // One byte of the arguments more is not padding: the marker's length counts the timestamp.
        raw.push(9);
        let bytes = frame(hil_index(kind), &raw);
        assert!(
            matches!(
                decoder.decode(&bytes[..bytes.len() - 1]),
                Err(Malformed::Trailing(n)) if n >= 1
            ),
            "{kind:?}: a byte after the arguments"
        );
    }
    let mut raw = stamp.to_vec();
    raw.extend(str_arg("stamped"));
    let bytes = frame(LOG_INFO, &raw);
    match decoder.decode(&bytes[..bytes.len() - 1]) {
        Ok(Content::Log(frame)) => {
            assert_eq!(frame.display_message().to_string(), "stamped");
        }
        other => panic!("a timestamped log frame: {:?}", other.err()),
    }
    // A frame shorter than its timestamp is malformed, not a marker.
    let bytes = frame(hil_index(MarkerKind::End), &stamp[..3]);
    assert_eq!(
        decoder.decode(&bytes[..bytes.len() - 1]).err(),
        Some(Malformed::Arguments)
    );
}

#[test]
fn a_string_argument_is_its_length_and_its_bytes() {
    let mut args = Vec::new();
    Marker::Panic {
        message: "ab".into(),
    }
    .write_args(&mut args);
    assert_eq!(args, [2, 0, 0, 0, b'a', b'b']);
    let mut args = Vec::new();
    Marker::Stream { stream: 1, sent: 2 }.write_args(&mut args);
    assert_eq!(args, [1, 2, 0, 0, 0]);
}

#[test]
fn a_sequence_frame_whose_payload_fails_its_check_is_not_read() {
    let seq = Marker::Seq {
        stream: 0,
        n: 1,
        g: 2,
        len: 8,
    };
    let mut args = Vec::new();
    seq.write_args(&mut args);
    for i in 0..args.len() {
        let mut bad = args.clone();
        bad[i] ^= 0x10;
        let read = Marker::read(MarkerKind::Seq, &bad);
        assert_ne!(read.map(|(m, _)| m), Some(seq.clone()), "byte {i}");
    }
}

/// Decode one frame (with its delimiter) of the hil firmware.
fn decode(bytes: &[u8]) -> Result<(), Malformed> {
    let fw = hil_firmware();
    let mut decoder = FrameDecoder::new(&fw);
    decoder.decode(&bytes[..bytes.len() - 1]).map(|_| ())
}

#[test]
fn each_kind_of_malformed_frame_is_named() {
    assert_eq!(decode(&[0x55, 0x44, 0x00]), Err(Malformed::Rzcobs));
    // Only an empty frame decodes to fewer than two bytes (rzcobs pads to whole groups).
    assert_eq!(decode(&[0]), Err(Malformed::TooShort));
    assert_eq!(decode(&frame_of(&[0x07])), Err(Malformed::Arguments));
    assert_eq!(decode(&frame(999, &[])), Err(Malformed::UnknownIndex(999)));
    // A marker, and a log string, with arguments too short.
    assert_eq!(
        decode(&frame(hil_index(MarkerKind::End), &[1, 2])),
        Err(Malformed::Arguments)
    );
    assert_eq!(
        decode(&frame(LOG_INFO, &[5, 0, 0, 0, b'a'])),
        Err(Malformed::Arguments)
    );
    // Bytes after the arguments.
    let mut args = str_arg("ok");
    args.push(3);
    assert!(matches!(
        decode(&frame(LOG_INFO, &args)),
        Err(Malformed::Trailing(_))
    ));
    let mut args = 5u32.to_le_bytes().to_vec();
    args.extend(7u32.to_le_bytes());
    args.push(1);
    assert!(matches!(
        decode(&frame(hil_index(MarkerKind::End), &args)),
        Err(Malformed::Trailing(_))
    ));
}

fn frame_of(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    hil_runner::rzcobs::encode_frame(raw, &mut out);
    out
}

#[test]
fn up_to_six_zero_bytes_after_the_arguments_are_padding_seven_are_not() {
    let fw = hil_firmware();
    let mut decoder = FrameDecoder::new(&fw);
    let mut rests = std::collections::BTreeSet::new();
    for text in ["", "o", "ok", "ok!", "ok!!", "ok!!!", "ok!!!!"] {
        let used = 2 + str_arg(text).len();
        for zeros in 0..=13 {
            let mut args = str_arg(text);
            args.resize(args.len() + zeros, 0);
            let bytes = frame(LOG_INFO, &args);
            let result = decoder.decode(&bytes[..bytes.len() - 1]).map(|_| ());
            // rzcobs leaves trailing zeros implicit: the decoded frame ends on a
            // whole group, so what counts is what follows the arguments once decoded.
            let rest = decoder.decoded().len() - used;
            assert!(rest >= zeros, "{zeros} zeros decode to {rest}");
            rests.insert(rest);
            if rest < 7 {
                assert_eq!(result, Ok(()), "{rest} zeros are padding");
            } else {
                assert_eq!(
                    result,
                    Err(Malformed::Trailing(rest)),
                    "{rest} zeros are not padding"
                );
            }
        }
    }
    assert!(
        rests.contains(&6) && rests.contains(&7),
        "six and seven: {rests:?}"
    );
}

#[test]
fn a_log_frame_decodes_to_its_text_and_keeps_its_bytes() {
    let fw = hil_firmware();
    let mut decoder = FrameDecoder::new(&fw);
    let bytes = frame(LOG_INFO, &str_arg("hi"));
    match decoder.decode(&bytes[..bytes.len() - 1]) {
        Ok(Content::Log(f)) => assert_eq!(f.display_message().to_string(), "hi"),
        _ => panic!("not a log frame"),
    }
    let mut raw = LOG_INFO.to_le_bytes().to_vec();
    raw.extend(str_arg("hi"));
    assert_eq!(&decoder.decoded()[..raw.len()], &raw[..]);
}

#[test]
fn malformed_frames_say_why() {
    assert_eq!(Malformed::Rzcobs.to_string(), "not valid rzcobs");
    assert_eq!(
        Malformed::UnknownIndex(0x12).to_string(),
        "string index 0x0012 is not in the ELF's defmt table"
    );
    assert_eq!(
        Malformed::Trailing(3).to_string(),
        "3 bytes left after the arguments"
    );
}
