//! Puts the lm3s6965evb memory layout (`boards/lm3s6965evb.memory.x`) on the linker search path as `memory.x`.
//!
//! This crate cannot use hil-board for it: hil-board depends on hil-transport,
//! whose global logger would clash with defmt-rtt and defmt-semihosting.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let memory_x = manifest_dir.join("../../boards/lm3s6965evb.memory.x");
    println!("cargo::rerun-if-changed={}", memory_x.display());
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let layout = fs::read(&memory_x)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", memory_x.display()));
    fs::write(out_dir.join("memory.x"), layout).expect("write memory.x into OUT_DIR");
    println!("cargo::rustc-link-search={}", out_dir.display());
}
