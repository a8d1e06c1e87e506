//! hil-runner: runs defmt test firmware on emulated and real boards and turns its serial stream into verdicts.
//!
//! The data path, in module order: [`board`] definitions; a [`backend`]
//! starts the firmware and opens a [`source`] of bytes; the [`runner`] saves
//! every byte to the raw capture and feeds the [`analysis`]: [`framer`] →
//! [`rzcobs`] → [`decode`] (with the ELF's [`firmware`] table and the
//! [`markers`]) → [`check`]s; [`report`]s come out.
#![warn(missing_docs)]

pub mod analysis;
pub mod backend;
pub mod board;
pub mod boot_gate;
pub mod build;
pub mod check;
pub mod decode;
pub mod firmware;
pub mod framer;
pub mod markers;
pub mod report;
pub mod runner;
pub mod rzcobs;
pub mod serial_port;
pub mod source;
pub mod speaks;
pub mod suites;
pub mod timestamp;

use std::path::PathBuf;

/// The host workspace's `target/` directory (`$CARGO_TARGET_DIR` if set).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The repository root (where the host workspace's Cargo.toml is).
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    root.canonicalize().unwrap_or(root)
}
