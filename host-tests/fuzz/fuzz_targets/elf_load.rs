//! Fuzz target: ELF bytes to a firmware (`Firmware::from_bytes`, what `Firmware::load` does after reading).
//!
//! Either the ELF is refused with a named `FirmwareError` that names the
//! file, or the firmware's lookups are total: every string index has a marker
//! answer, every marker found maps back to an index that is that marker, every
//! location and timestamp lookup answers, and a stream of frames made of every
//! marker index (with the input's last bytes as arguments) and of those bytes
//! themselves decodes with every frame counted as valid or malformed.
#![no_main]

use std::path::Path;

use hil_runner::analysis::Analyzer;
use hil_runner::firmware::{Firmware, FirmwareError};
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::markers::MarkerKind;
use hil_runner::speaks::Speaks;
use libfuzzer_sys::fuzz_target;

const KINDS: [MarkerKind; 8] = [
    MarkerKind::Boot,
    MarkerKind::Start,
    MarkerKind::Param,
    MarkerKind::Seq,
    MarkerKind::Drop,
    MarkerKind::Stream,
    MarkerKind::End,
    MarkerKind::Panic,
];

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.elf");
    let firmware = match Firmware::from_bytes(path, data) {
        Ok(firmware) => firmware,
        Err(e) => {
            assert!(!matches!(e, FirmwareError::Read { .. }), "{e}");
            assert!(
                e.to_string().contains("fuzz.elf"),
                "error names no file: {e}"
            );
            return;
        }
    };
    lookups_are_total(&firmware, data);
});

fn lookups_are_total(firmware: &Firmware, data: &[u8]) {
    for index in 0..=u16::MAX {
        if let Some(kind) = firmware.marker(index) {
            let found = firmware
                .marker_index(kind)
                .expect("a marker in the table has an index");
            assert_eq!(firmware.marker(found), Some(kind), "index {index}");
        }
    }
    for kind in KINDS {
        if let Some(index) = firmware.marker_index(kind) {
            assert_eq!(firmware.marker(index), Some(kind), "{kind:?}");
        }
    }
    let indices: Vec<usize> = firmware.table().indices().collect();
    for &index in &indices {
        let _ = firmware.location(index as u64);
    }
    let _ = (
        Speaks::of(firmware),
        firmware.defmt_test(),
        firmware.embedded_test(),
    );

    // Frames: every marker index and a few table indices, each with the input's tail as arguments.
    let tail = &data[data.len().saturating_sub(64)..];
    let mut stream = Vec::new();
    let mut frames = 0u64;
    let table_indices = indices
        .iter()
        .take(8)
        .filter_map(|&i| u16::try_from(i).ok());
    let marker_indices = KINDS.iter().filter_map(|&k| firmware.marker_index(k));
    for index in marker_indices.chain(table_indices) {
        for args in [&tail[..tail.len().min(8)], tail] {
            let mut frame = index.to_le_bytes().to_vec();
            frame.extend_from_slice(args);
            if let Some(len) = firmware.timestamp_len(&frame) {
                assert!(
                    2 + len <= frame.len(),
                    "timestamp of {len} bytes in a {}-byte frame",
                    frame.len()
                );
            }
            hil_runner::rzcobs::encode_frame(&frame, &mut stream);
            frames += 1;
        }
    }
    // The tail itself, as raw link bytes: any number of frames, each valid or malformed.
    stream.extend_from_slice(tail);
    stream.push(0);
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    let mut seen = 0u64;
    analyzer.feed(&stream, |_| seen += 1);
    let summary = analyzer.summary().clone();
    assert!(seen >= frames, "{seen} frames seen, {frames} sent");
    assert_eq!(
        summary.frames + summary.malformed,
        seen,
        "every frame seen is valid or malformed"
    );
    let _ = analyzer.finish(None);
}
