//! Shared fixtures of the host tests: firmware built once per test binary, frames built from an ELF's table.

use std::path::PathBuf;

use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::firmware::Firmware;
use hil_runner::suites;

/// The board the end-to-end tests run on: `$HIL_BOARD`, else the emulated default.
pub fn board() -> Board {
    let name = std::env::var("HIL_BOARD").unwrap_or_else(|_| DEFAULT_BOARD.into());
    Board::find(&name).unwrap_or_else(|e| panic!("board {name}: {e}"))
}

/// The ELF of firmware image `name` (a suite or an example) for the selected board (cargo builds it once).
pub fn image(images: Images, name: &str) -> PathBuf {
    build::build_one(&board(), images, name).unwrap_or_else(|e| panic!("{e}"))
}

/// The ELF of suite `name` of the manifest (its features applied) for the selected board.
pub fn suite(name: &str) -> PathBuf {
    let suite = suites::find(name).unwrap_or_else(|e| panic!("{e}"));
    suites::build_suite(&board(), &suite).unwrap_or_else(|e| panic!("{e}"))
}

/// The ordering suite's ELF, parsed.
pub fn ordering_firmware() -> Firmware {
    Firmware::load(&suite("ordering")).expect("ordering ELF loads")
}

/// `capture` with the whole frame of sequence number `n` on `stream` (and its delimiter) cut out.
/// Returns the new capture and the offset the frame had.
pub fn cut_seq_frame(firmware: &Firmware, capture: &[u8], stream: u8, n: u32) -> (Vec<u8>, u64) {
    use hil_runner::decode::{Content, FrameDecoder};
    use hil_runner::framer::Framer;
    use hil_runner::markers::Marker;

    let mut decoder = FrameDecoder::new(firmware);
    let mut found = None;
    Framer::new(4096).feed(capture, |f| {
        if let Ok(Content::Marker(Marker::Seq {
            stream: s, n: m, ..
        })) = decoder.decode(f.bytes)
        {
            if (s, m) == (stream, n) {
                found = Some((f.offset as usize, f.bytes.len()));
            }
        }
    });
    let (offset, len) =
        found.unwrap_or_else(|| panic!("seq {n} of stream {stream} not in the capture"));
    let mut cut = capture[..offset].to_vec();
    cut.extend_from_slice(&capture[offset + len + 1..]);
    (cut, offset as u64)
}
pub mod recovery;
pub mod streams;

pub use streams::marker_frame;

/// Cases a property test runs: `$HIL_PROPTEST_CASES` if set (mutation testing runs fewer), else `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("HIL_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
