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
pub mod frame_check;
pub mod framer;
pub mod inject;
pub mod lock;
pub mod log_format;
pub mod markers;
pub mod project;
pub mod recover;
pub mod report;
pub mod runner;
pub mod rzcobs;
pub mod serial_port;
pub mod source;
pub mod speaks;
pub mod suites;
#[cfg(test)]
mod test_elf;
pub mod timestamp;

use std::path::PathBuf;

/// The invoking project's target dir: `$CARGO_TARGET_DIR` if set, else
/// `target/` of the project the current directory is in, else `./target`.
///
/// Run inside this repository, that is this repository's `target/`. A run's
/// captures go by the ELF as well: [`project::target_dir`].
pub fn target_dir() -> PathBuf {
    project::target_dir(None)
}

/// This repository's root, found from the current directory (see [`project::repository`]).
///
/// Only `hil-runner test`, the firmware build of this repository's suites and
/// the benches need it. Outside the repository this is the current directory,
/// where the repository's files are then missing: call
/// [`project::repository`] first for a clear error.
pub fn repo_root() -> PathBuf {
    project::repository().unwrap_or_else(|e| e.start)
}
