//! Board definitions: `boards/NAME.toml`, parsed into a raw struct, then validated into [`Board`].
//!
//! Emulated boards (`kind = "qemu"`) have a `[qemu]` table; real boards
//! (`kind = "probe"`) have `[probe]` and `[serial]` tables, see [`probe`].
//! [`memory_x`] reads a board's linker memory layout and [`verify`] checks a
//! board against probe-rs's chip registry and the firmware built for it.

pub mod checks;
pub mod memory_x;
pub mod probe;
pub mod verify;

pub use probe::{ProbeBoard, SerialPortSpec, SerialSettings, UsbId};

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use checks::Checks;

/// Name of the board used when neither `--board` nor `$HIL_BOARD` names one.
pub const DEFAULT_BOARD: &str = "lm3s6965evb";

/// Why a board definition cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// No such board in the boards directory.
    #[error("no board named {name:?} in {dir} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where boards were looked for.
        dir: PathBuf,
        /// The boards that exist.
        known: String,
    },
    /// The file could not be read.
    #[error("cannot read board file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a board.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A field has a value that cannot work.
    #[error("{path}: field `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, as a TOML path (`qemu.machine`).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// A board file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: String,
    #[serde(default)]
    description: String,
    kind: String,
    target: String,
    feature: String,
    memory: PathBuf,
    qemu: Option<RawQemu>,
    probe: Option<probe::RawProbe>,
    serial: Option<probe::RawSerial>,
    #[serde(default)]
    checks: checks::RawChecks,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQemu {
    machine: String,
    cpu: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

/// How a board is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardKind {
    /// Emulated by `qemu-system-arm`.
    Qemu(QemuBoard),
    /// A real board, flashed and watched through a debug probe, read through its serial port.
    Probe(ProbeBoard),
}

/// QEMU settings of an emulated board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuBoard {
    /// `-machine` value.
    pub machine: String,
    /// `-cpu` value, if the machine's default is not wanted.
    pub cpu: Option<String>,
    /// Extra arguments.
    pub args: Vec<String>,
}

/// A validated board definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// The board's name (its file name without `.toml`).
    pub name: String,
    /// One line for people.
    pub description: String,
    /// The file it came from.
    pub path: PathBuf,
    /// Rust target triple of its firmware.
    pub target: String,
    /// Cargo feature of the firmware crate that selects the board.
    pub feature: String,
    /// Linker memory layout (absolute).
    pub memory: PathBuf,
    /// How it is reached.
    pub kind: BoardKind,
    /// Floors the throughput suite must reach.
    pub checks: Checks,
}

/// Targets the toolchain file installs.
const KNOWN_TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.main-none-eabi",
    "thumbv8m.main-none-eabihf",
];

/// The boards directory: `$HIL_BOARDS_DIR`, else `boards/` of this repository.
pub fn boards_dir() -> PathBuf {
    std::env::var_os("HIL_BOARDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("boards"))
}

impl Board {
    /// A board by name (in [`boards_dir`]) or by path to its TOML file.
    pub fn find(name_or_path: &str) -> Result<Self, BoardError> {
        let as_path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || as_path.components().count() > 1 {
            return Self::load(as_path);
        }
        let dir = boards_dir();
        let path = dir.join(format!("{name_or_path}.toml"));
        if !path.exists() {
            let known = list(&dir)
                .map(|paths| {
                    let names: Vec<String> = paths.iter().filter_map(|p| stem(p)).collect();
                    names.join(", ")
                })
                .unwrap_or_default();
            return Err(BoardError::Unknown {
                name: name_or_path.into(),
                dir,
                known,
            });
        }
        Self::load(&path)
    }

    /// Read and validate one board file.
    pub fn load(path: &Path) -> Result<Self, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read {
            path: path.into(),
            source,
        })?;
        let raw: RawBoard = toml::from_str(&text).map_err(|e| BoardError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        raw.validate(path)
    }
}

impl RawBoard {
    fn validate(self, path: &Path) -> Result<Board, BoardError> {
        let field = |field, message: String| BoardError::Field {
            path: path.into(),
            field,
            message,
        };
        if stem(path).as_deref() != Some(self.name.as_str()) {
            return Err(field(
                "name",
                format!("{:?} must match the file name", self.name),
            ));
        }
        if !KNOWN_TARGETS.contains(&self.target.as_str()) {
            let known = KNOWN_TARGETS.join(", ");
            return Err(field(
                "target",
                format!("{:?} is not one of {known}", self.target),
            ));
        }
        if self.feature.is_empty() {
            return Err(field(
                "feature",
                "must name the firmware's board feature".into(),
            ));
        }
        let memory = path.parent().unwrap_or(Path::new(".")).join(&self.memory);
        if !memory.is_file() {
            return Err(field(
                "memory",
                format!("{} does not exist", memory.display()),
            ));
        }
        let kind = match self.kind.as_str() {
            "qemu" => {
                if self.probe.is_some() {
                    return Err(field("probe", "a qemu board has no [probe] table".into()));
                }
                if self.serial.is_some() {
                    return Err(field("serial", "a qemu board has no [serial] table".into()));
                }
                match self.qemu {
                    Some(q) if !q.machine.is_empty() => BoardKind::Qemu(QemuBoard {
                        machine: q.machine,
                        cpu: q.cpu,
                        args: q.args,
                    }),
                    Some(_) => return Err(field("qemu.machine", "must not be empty".into())),
                    None => return Err(field("qemu", "a qemu board needs a [qemu] table".into())),
                }
            }
            "probe" => {
                if self.qemu.is_some() {
                    return Err(field("qemu", "a probe board has no [qemu] table".into()));
                }
                let (p, serial) = match (self.probe, self.serial) {
                    (Some(p), Some(serial)) => (p, serial),
                    (None, _) => {
                        return Err(field("probe", "a probe board needs a [probe] table".into()))
                    }
                    (_, None) => {
                        return Err(field(
                            "serial",
                            "a probe board needs a [serial] table".into(),
                        ))
                    }
                };
                BoardKind::Probe(probe::validate(p, serial).map_err(|(f, m)| field(f, m))?)
            }
            other => return Err(field("kind", format!("{other:?} is not `qemu` or `probe`"))),
        };
        let baud = match &kind {
            BoardKind::Probe(p) => Some(p.serial.baud),
            BoardKind::Qemu(_) => None,
        };
        let checks = self.checks.validate(baud).map_err(|(f, m)| field(f, m))?;
        Ok(Board {
            checks,
            name: self.name,
            description: self.description,
            path: path.into(),
            target: self.target,
            feature: self.feature,
            memory,
            kind,
        })
    }
}

/// The board files in `dir`, sorted.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn stem(path: &Path) -> Option<String> {
    Some(path.file_stem()?.to_str()?.to_owned())
}
