//! Selects the board: copies its linker memory layout from `boards/` and
//! checks that exactly one board feature is enabled.
//!
//! For the selected board `NAME`, the memory layout named by the `memory`
//! field of `../../boards/NAME.toml` (relative to this crate; the path is
//! relative to the board file) becomes `$OUT_DIR/memory.x` on the linker
//! search path, where cortex-m-rt's `link.x` includes it, and the `hil_board`
//! cfg is set. With no board, or several, the crate fails to compile with a
//! `compile_error!`. On ARMv6-M targets the `hil_armv6m` cfg is set too.
//! With the `rtt` feature the board file is `NAME-rtt.toml` (the board's RTT
//! variant); `HIL_BOARD_NAME` is set to the board file's name either way.

use std::{
    env, fs,
    path::{Path, PathBuf},
};

/// Every supported board: its cargo feature, also the name of its `boards/NAME.toml`.
const BOARDS: &[&str] = &[
    "lm3s6965evb",
    "microbit",
    "mps2-an385",
    "mps2-an386",
    "mps2-an500",
    "mps2-an505",
    "mps3-an547",
    "netduinoplus2",
    "nucleo-f401re",
    "nrf52840-dk",
    "rpi-pico",
    "rpi-pico-usb",
];

/// The `memory` field of a board file: a top-level `memory = "FILE"` line.
///
/// A line scan, not a TOML parser: the host runner parses board files fully;
/// the build only needs this one string, which board files keep on one line.
fn memory_file_of(board_file: &Path) -> String {
    let text = fs::read_to_string(board_file)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", board_file.display()));
    text.lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == "memory")
        .and_then(|(_, value)| {
            let value = value.trim();
            let value = value.strip_prefix('"')?;
            Some(value[..value.find('"')?].to_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no top-level `memory = \"FILE\"` line",
                board_file.display()
            )
        })
}

fn feature_enabled(board: &str) -> bool {
    let var = format!("CARGO_FEATURE_{}", board.to_uppercase().replace('-', "_"));
    env::var_os(var).is_some()
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hil_board)");
    println!("cargo::rustc-check-cfg=cfg(hil_armv6m)");
    if env::var("TARGET").is_ok_and(|target| target.starts_with("thumbv6m-")) {
        println!("cargo::rustc-cfg=hil_armv6m");
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let selected: Vec<&str> = BOARDS
        .iter()
        .copied()
        .filter(|board| feature_enabled(board))
        .collect();

    let board_check = match selected.as_slice() {
        [board] => {
            let manifest_dir =
                PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
            let boards_dir = manifest_dir.join("../../boards");
            // With `rtt` the board's RTT variant: its own board file, the same memory layout.
            let name = if env::var_os("CARGO_FEATURE_RTT").is_some() {
                format!("{board}-rtt")
            } else {
                (*board).to_owned()
            };
            println!("cargo::rustc-env=HIL_BOARD_NAME={name}");
            let board_file = boards_dir.join(format!("{name}.toml"));
            println!("cargo::rerun-if-changed={}", board_file.display());
            let memory_x = boards_dir.join(memory_file_of(&board_file));
            println!("cargo::rerun-if-changed={}", memory_x.display());
            let layout = fs::read(&memory_x).unwrap_or_else(|err| {
                panic!("board {board}: cannot read {}: {err}", memory_x.display())
            });
            fs::write(out_dir.join("memory.x"), layout).expect("write memory.x into OUT_DIR");
            println!("cargo::rustc-link-search={}", out_dir.display());
            println!("cargo::rustc-cfg=hil_board");
            String::new()
        }
        [] => format!(
            "compile_error!(\"hil-board: no board selected; enable exactly one board feature: {}\");\n",
            BOARDS.join(", ")
        ),
        several => format!(
            "compile_error!(\"hil-board: {} boards selected ({}); enable exactly one board feature\");\n",
            several.len(),
            several.join(", ")
        ),
    };
    fs::write(out_dir.join("board_check.rs"), board_check).expect("write board_check.rs");
}
