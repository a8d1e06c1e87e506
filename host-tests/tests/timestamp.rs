//! Firmware with a defmt timestamp: markers and drop reports decode after the
//! timestamp's bytes, whatever its format, and log frames show it.
//!
//! Before timestamps were supported the runner refused such an ELF
//! (`FirmwareError::Timestamp`, exit 2), and a drop report built from the
//! index alone could not decode.

use defmt_decoder::Table;
use hil_runner::analysis::Analyzer;
use hil_runner::decode::{Content, FrameDecoder};
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::markers::Marker;
use rstest::rstest;

const DROP: u16 = 1;
const LOG: u16 = 2;
const BOOT: u16 = 3;

/// A firmware table with `timestamp` as its `defmt::timestamp!` format.
fn firmware(timestamp: &str) -> Firmware {
    let entry = |tag: &str, raw_tag: &str, format: &str| {
        let raw = serde_json::json!({
            "package": "user-firmware", "tag": raw_tag, "data": format,
            "disambiguator": "1", "crate_name": "user"
        });
        serde_json::json!({ "string": { "tag": tag, "string": format }, "raw_symbol": raw.to_string() })
    };
    let mut entries = serde_json::Map::new();
    entries.insert(
        DROP.to_string(),
        entry("Info", "defmt_info", hil_protocol::fmt::DROP),
    );
    entries.insert(
        LOG.to_string(),
        entry("Info", "defmt_info", "burst {=u32} done"),
    );
    entries.insert(
        BOOT.to_string(),
        entry("Info", "defmt_info", hil_protocol::fmt::BOOT),
    );
    let ts = serde_json::json!({
        "string": { "tag": "Timestamp", "string": timestamp },
        "raw_symbol": serde_json::json!({
            "package": "user-firmware", "tag": "defmt_timestamp", "data": timestamp,
            "disambiguator": "2", "crate_name": "user"
        }).to_string()
    });
    let table: Table = serde_json::from_value(serde_json::json!({
        "timestamp": ts, "entries": entries, "bitflags": {}, "encoding": "Rzcobs"
    }))
    .expect("a defmt table");
    Firmware::from_table("user.elf".as_ref(), table, None, Default::default())
        .expect("a timestamped firmware is accepted")
}

/// One frame on the wire: index, timestamp bytes, arguments; rzcobs with its delimiter.
fn frame(index: u16, timestamp: &[u8], args: &[u8]) -> Vec<u8> {
    let mut raw = index.to_le_bytes().to_vec();
    raw.extend_from_slice(timestamp);
    raw.extend_from_slice(args);
    let mut out = Vec::new();
    hil_runner::rzcobs::encode_frame(&raw, &mut out);
    out
}

fn str_arg(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

#[rstest]
#[case::u64_microseconds("{=u64:us}", 1_234_567u64.to_le_bytes().to_vec())]
#[case::u32_ticks("{=u32}", 77u32.to_le_bytes().to_vec())]
#[case::none_fixed_str("t={=str}", str_arg("12:00:01"))]
#[case::two_args("{=u8}.{=u16}", vec![3, 0x10, 0x27])]
fn a_timestamped_drop_report_is_decoded_and_counted(
    #[case] format: &str,
    #[case] timestamp: Vec<u8>,
) {
    let fw = firmware(format);
    let mut decoder = FrameDecoder::new(&fw);
    let report = frame(DROP, &timestamp, &17u32.to_le_bytes());
    match decoder.decode(&report[..report.len() - 1]) {
        Ok(Content::Marker(Marker::Drop { dropped })) => assert_eq!(dropped, 17),
        Ok(_) => panic!("not a drop report"),
        Err(e) => panic!("malformed: {e}"),
    }
    let boot = frame(
        BOOT,
        &timestamp,
        &[str_arg("lm3s6965evb"), str_arg("user")].concat(),
    );
    assert!(matches!(
        decoder.decode(&boot[..boot.len() - 1]),
        Ok(Content::Marker(Marker::Boot { .. }))
    ));

    // A whole stream: log frames, two reports; counted, nothing malformed.
    let mut stream = vec![0];
    stream.extend(frame(LOG, &timestamp, &1u32.to_le_bytes()));
    stream.extend(frame(DROP, &timestamp, &5u32.to_le_bytes()));
    stream.extend(frame(LOG, &timestamp, &2u32.to_le_bytes()));
    stream.extend(frame(DROP, &timestamp, &7u32.to_le_bytes()));
    let mut analyzer = Analyzer::new(&fw, DEFAULT_MAX_FRAME_LEN);
    let mut shown = Vec::new();
    analyzer.feed(&stream, |f| {
        if let Ok(Content::Log(log)) = f.content {
            shown.push(log.display(false).to_string());
        }
    });
    let analysis = analyzer.finish(None);
    assert_eq!(analysis.summary.malformed, 0);
    assert_eq!(analysis.summary.dropped_reported, 12);
    assert_eq!(analysis.summary.frames, 4);
    assert_eq!(shown.len(), 2);
    assert!(shown[1].contains("burst 2 done"), "{shown:?}");
}

#[test]
fn the_log_shows_the_timestamp() {
    let fw = firmware("{=u64:us}");
    let mut decoder = FrameDecoder::new(&fw);
    let log = frame(LOG, &1_500_000u64.to_le_bytes(), &3u32.to_le_bytes());
    let Ok(Content::Log(f)) = decoder.decode(&log[..log.len() - 1]) else {
        panic!("a log frame");
    };
    let text = f.display(false).to_string();
    assert!(text.contains("1.500000"), "{text}");
}
