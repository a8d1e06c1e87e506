//! Exclusive use of a real board's debug probe and serial port, across threads and processes.
//!
//! A run on a real board holds one lock per resource it touches: the probe
//! (its `VID:PID[:serial]` selector, or "the only probe attached") and the
//! serial port (its path, resolved through symlinks when it exists, or its
//! USB id). Each lock is an advisory `flock` on a file in [`lock_dir`]: the
//! kernel drops it when the holder exits, however it exits, and a second
//! holder (another run of this process, or another `hil-runner`) waits,
//! saying once what it waits for and who holds it, until the lock is free or
//! the lock timeout has passed ([`LockError::Timeout`]).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::board::probe::SerialPortSpec;
use crate::board::{Board, BoardKind};

/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another run held the resource for the whole lock timeout.
    #[error("board {board}: {resource} is in use by {holder}; gave up after {waited:.1} s (--lock-timeout)")]
    Timeout {
        /// The board the run was for.
        board: String,
        /// The resource (`debug probe 0483:374b`, `serial port /dev/ttyACM0`).
        resource: String,
        /// Who holds it, as its lock file says (`hil-runner pid 1234`).
        holder: String,
        /// How long this run waited, in seconds.
        waited: f64,
    },
    /// The lock file cannot be made or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Locks held for one run; dropping it releases them.
#[derive(Debug)]
pub struct Held {
    files: Vec<File>,
}

impl Held {
    /// How many locks are held.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether none is (an emulated board).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Where lock files live: `$HIL_LOCK_DIR`, else `hil-locks` in the system's temporary directory.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("HIL_LOCK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("hil-locks"))
}

/// The resources a run on `board` uses exclusively: (lock name, what it is for messages). None for emulated boards.
pub fn resources(board: &Board) -> Vec<(String, String)> {
    let BoardKind::Probe(p) = &board.kind else {
        return Vec::new();
    };
    let probe = match &p.selector {
        Some(id) => (format!("probe-{id}"), format!("debug probe {id}")),
        None => (
            "probe-any".to_owned(),
            "the only debug probe attached".to_owned(),
        ),
    };
    // A board that logs over RTT reads through its probe only.
    let Some(serial) = p.serial() else {
        return vec![probe];
    };
    let port = match &serial.port {
        SerialPortSpec::Path(path) => {
            let resolved = std::fs::canonicalize(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.clone());
            (
                format!("serial-{resolved}"),
                format!("serial port {resolved}"),
            )
        }
        SerialPortSpec::Usb(id) => (format!("serial-usb-{id}"), format!("serial port {id}")),
    };
    vec![probe, port]
}

/// A file name for a lock name: anything but `[A-Za-z0-9._-]` becomes `_`.
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.lock")
}

/// Take every lock `board` needs, waiting up to `timeout` in all; `waiting` is told once per resource that is busy.
///
/// Blocking: call it from a thread that may wait (e.g. `spawn_blocking`).
pub fn acquire(
    board: &Board,
    timeout: Duration,
    waiting: impl FnMut(&str, &str),
) -> Result<Held, LockError> {
    acquire_in(&lock_dir(), board, timeout, waiting)
}

/// [`acquire`] with the lock files in `dir`.
pub fn acquire_in(
    dir: &Path,
    board: &Board,
    timeout: Duration,
    mut waiting: impl FnMut(&str, &str),
) -> Result<Held, LockError> {
    let started = Instant::now();
    let mut held = Held { files: Vec::new() };
    // Always in the same order (sorted by name), so two runs never hold one each and wait for the other.
    let mut wanted = resources(board);
    wanted.sort();
    wanted.dedup();
    for (name, what) in wanted {
        let path = dir.join(file_name(&name));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut told = false;
        loop {
            // SAFETY: a valid open descriptor; flock has no memory effects.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(e));
            }
            let holder = holder_of(&mut file);
            if !told {
                waiting(&what, &holder);
                told = true;
            }
            if started.elapsed() >= timeout {
                return Err(LockError::Timeout {
                    board: board.name.clone(),
                    resource: what,
                    holder,
                    waited: started.elapsed().as_secs_f64(),
                });
            }
            std::thread::sleep(RETRY.min(timeout.saturating_sub(started.elapsed())));
        }
        // Say who holds it, for the messages of those who wait.
        let note = format!(
            "hil-runner pid {} (board {})\n",
            std::process::id(),
            board.name
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()));
        held.files.push(file);
    }
    Ok(held)
}

fn holder_of(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "another run".to_owned()
    } else {
        text.to_owned()
    }
}
