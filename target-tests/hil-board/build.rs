//! Selects the board: copies its linker memory layout from `boards/` and
//! checks that exactly one board feature is enabled.
//!
//! For the selected board `NAME`, `../../boards/NAME.memory.x` (relative to
//! this crate) becomes `$OUT_DIR/memory.x` on the linker search path, where
//! cortex-m-rt's `link.x` includes it, and the `hil_board` cfg is set. With no
//! board, or several, the crate fails to compile with a `compile_error!`.

use std::{env, fs, path::PathBuf};

/// Every supported board: its cargo feature and its file names in `boards/`.
const BOARDS: &[&str] = &["lm3s6965evb"];

fn feature_enabled(board: &str) -> bool {
    let var = format!("CARGO_FEATURE_{}", board.to_uppercase().replace('-', "_"));
    env::var_os(var).is_some()
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(hil_board)");
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
            let memory_x = manifest_dir
                .join("../../boards")
                .join(format!("{board}.memory.x"));
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
