//! Board definitions: `boards/NAME.toml`, parsed into a raw struct, then validated into [`Board`].
//!
//! A board named on the command line is looked for in `$HIL_BOARDS_DIR`,
//! then in the invoking project's `boards/` (see [`crate::project`]), then
//! among the [`builtin`] boards embedded in the runner; `--board PATH` loads
//! one file. The first found wins, so a project overrides a built-in board.
//!
//! Emulated boards (`kind = "qemu"`) have a `[qemu]` table; real boards
//! (`kind = "probe"`) have `[probe]` and `[serial]` tables (no `[serial]` with
//! `log = "rtt"`: the log read over RTT through the probe), see [`probe`].
//! [`memory_x`] reads a board's linker memory layout and [`verify`] checks a
//! board against probe-rs's chip registry and the firmware built for it.

pub mod builtin;
pub mod checks;
pub mod memory_x;
pub mod probe;
pub mod verify;

pub use probe::{LogSource, ProbeBoard, SerialPortSpec, SerialSettings, UsbId, WireProtocol};

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use checks::Checks;

/// Name of the board used when neither `--board` nor `$HIL_BOARD` names one.
pub const DEFAULT_BOARD: &str = "lm3s6965evb";

/// Why a board definition cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// No board of that name in any of the places looked.
    #[error("no board named {name:?}: looked for {looked} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where it was looked for, in order.
        looked: String,
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
    core: Option<String>,
    memory: PathBuf,
    qemu: Option<RawQemu>,
    probe: Option<probe::RawProbe>,
    serial: Option<probe::RawSerial>,
    /// Where a probe board's log comes from: `serial` (default) or `rtt`.
    log: Option<String>,
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
    /// The CPU core (`cortex-m3`, `cortex-m4f`, ...): the board file's `core`, else what the target implies.
    pub core: String,
    /// Linker memory layout.
    pub memory: MemoryFile,
    /// How it is reached.
    pub kind: BoardKind,
    /// Floors the throughput suite must reach.
    pub checks: Checks,
    /// Where the definition came from.
    pub origin: Origin,
}

/// Where a board definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the runner ([`builtin`]).
    BuiltIn,
    /// The invoking project's `boards/` (the directory).
    Project(PathBuf),
    /// `$HIL_BOARDS_DIR` (the directory).
    BoardsDir(PathBuf),
    /// A file named on the command line (`--board PATH`).
    File,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("built-in"),
            Self::Project(_) => f.write_str("project"),
            Self::BoardsDir(_) => f.write_str("HIL_BOARDS_DIR"),
            Self::File => f.write_str("file"),
        }
    }
}

/// A board's linker memory layout (`memory.x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryFile {
    /// A file on disk (the board file's directory joined with its `memory` field).
    File(PathBuf),
    /// A built-in board's layout, embedded in the runner.
    BuiltIn {
        /// Its file name in the repository's `boards/`.
        name: &'static str,
        /// Its text.
        text: &'static str,
    },
}

impl MemoryFile {
    /// The layout's text.
    pub fn text(&self) -> std::io::Result<Cow<'static, str>> {
        match self {
            Self::File(path) => std::fs::read_to_string(path).map(Cow::Owned),
            Self::BuiltIn { text, .. } => Ok(Cow::Borrowed(text)),
        }
    }

    /// The file on disk, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            Self::BuiltIn { .. } => None,
        }
    }

    /// A file holding the layout, for a build (the linker needs a file): the
    /// file itself, or a built-in layout written to `dir/NAME` (for example
    /// under the target dir: `target/hil/boards`), rewritten only if it differs.
    pub fn to_file(&self, dir: &Path) -> std::io::Result<PathBuf> {
        match self {
            Self::File(path) => Ok(path.clone()),
            Self::BuiltIn { name, text } => {
                let path = dir.join(name);
                if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
                    std::fs::create_dir_all(dir)?;
                    std::fs::write(&path, text)?;
                }
                Ok(path)
            }
        }
    }
}

impl std::fmt::Display for MemoryFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::BuiltIn { name, .. } => write!(f, "{name} (built-in)"),
        }
    }
}

impl PartialEq<PathBuf> for MemoryFile {
    fn eq(&self, other: &PathBuf) -> bool {
        self.path() == Some(other.as_path())
    }
}

/// Cortex-M cores a board file may name in `core`, with the targets that generate code for each.
const CORES: &[(&str, &[&str])] = &[
    ("cortex-m0", &["thumbv6m-none-eabi"]),
    ("cortex-m0+", &["thumbv6m-none-eabi"]),
    ("cortex-m3", &["thumbv6m-none-eabi", "thumbv7m-none-eabi"]),
    (
        "cortex-m4",
        &[
            "thumbv6m-none-eabi",
            "thumbv7m-none-eabi",
            "thumbv7em-none-eabi",
        ],
    ),
    (
        "cortex-m4f",
        &[
            "thumbv6m-none-eabi",
            "thumbv7m-none-eabi",
            "thumbv7em-none-eabi",
            "thumbv7em-none-eabihf",
        ],
    ),
    (
        "cortex-m7",
        &[
            "thumbv6m-none-eabi",
            "thumbv7m-none-eabi",
            "thumbv7em-none-eabi",
            "thumbv7em-none-eabihf",
        ],
    ),
    (
        "cortex-m33",
        &[
            "thumbv6m-none-eabi",
            "thumbv7m-none-eabi",
            "thumbv8m.base-none-eabi",
            "thumbv8m.main-none-eabi",
            "thumbv8m.main-none-eabihf",
        ],
    ),
    (
        "cortex-m55",
        &[
            "thumbv6m-none-eabi",
            "thumbv7m-none-eabi",
            "thumbv8m.main-none-eabi",
            "thumbv8m.main-none-eabihf",
        ],
    ),
];

/// The architecture a target implies, for boards whose file names no `core`.
fn core_of_target(target: &str) -> &'static str {
    match target {
        "thumbv6m-none-eabi" => "armv6-m",
        "thumbv7m-none-eabi" => "armv7-m",
        "thumbv7em-none-eabi" => "armv7e-m",
        "thumbv7em-none-eabihf" => "armv7e-m+fpu",
        "thumbv8m.main-none-eabi" => "armv8-m.main",
        "thumbv8m.main-none-eabihf" => "armv8-m.main+fpu",
        _ => "cortex-m",
    }
}

/// Targets the toolchain file installs: a board's `target` is one of them.
pub const KNOWN_TARGETS: &[&str] = &[
    "thumbv6m-none-eabi",
    "thumbv7m-none-eabi",
    "thumbv7em-none-eabi",
    "thumbv7em-none-eabihf",
    "thumbv8m.main-none-eabi",
    "thumbv8m.main-none-eabihf",
];

/// The first boards directory a name is looked for in: `$HIL_BOARDS_DIR`, else
/// the invoking project's `boards/` (which may not exist), else `./boards`.
pub fn boards_dir() -> PathBuf {
    let sources = Sources::from_env();
    sources
        .env_dir
        .or(sources.project_dir)
        .unwrap_or_else(|| PathBuf::from("boards"))
}

/// Where boards are looked for by name, in order; the built-in boards come last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// `$HIL_BOARDS_DIR`, if set.
    pub env_dir: Option<PathBuf>,
    /// The invoking project's `boards/`, if the project has one.
    pub project_dir: Option<PathBuf>,
    /// The invoking project's root, if there is one (for messages).
    pub project_root: Option<PathBuf>,
}

impl Sources {
    /// From `$HIL_BOARDS_DIR` and the current directory.
    pub fn from_env() -> Self {
        let project_root = crate::project::root();
        Self {
            env_dir: std::env::var_os("HIL_BOARDS_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            project_dir: project_root
                .as_ref()
                .map(|r| r.join("boards"))
                .filter(|d| d.is_dir()),
            project_root,
        }
    }

    /// The directories, each with the origin of its boards.
    fn dirs(&self) -> impl Iterator<Item = (PathBuf, Origin)> + '_ {
        let env = self
            .env_dir
            .iter()
            .map(|d| (d.clone(), Origin::BoardsDir(d.clone())));
        let project = self
            .project_dir
            .iter()
            .map(|d| (d.clone(), Origin::Project(d.clone())));
        env.chain(project)
    }

    /// The board called `name`: the first of `$HIL_BOARDS_DIR`, the project's `boards/`, the built-in ones.
    pub fn find(&self, name: &str) -> Result<Board, BoardError> {
        for (dir, origin) in self.dirs() {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                return Board::load_from(&path, origin);
            }
        }
        if let Some(text) = builtin::file(&format!("{name}.toml")) {
            return Board::builtin(name, text);
        }
        Err(BoardError::Unknown {
            name: name.into(),
            looked: self.looked(name),
            known: self.names().join(", "),
        })
    }

    /// Every board, one per name (the first found wins), sorted by name; a
    /// file that does not load is an error in the list, naming the file.
    pub fn all(&self) -> Vec<Result<Board, BoardError>> {
        let mut found: std::collections::BTreeMap<String, Result<Board, BoardError>> =
            std::collections::BTreeMap::new();
        for (dir, origin) in self.dirs() {
            for path in list(&dir).unwrap_or_default() {
                let Some(name) = stem(&path) else { continue };
                found
                    .entry(name)
                    .or_insert_with(|| Board::load_from(&path, origin.clone()));
            }
        }
        for name in builtin::names() {
            found.entry(name.to_owned()).or_insert_with(|| {
                Board::builtin(
                    name,
                    builtin::file(&format!("{name}.toml")).unwrap_or_default(),
                )
            });
        }
        found.into_values().collect()
    }

    /// The names of every board, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs()
            .flat_map(|(dir, _)| list(&dir).unwrap_or_default())
            .filter_map(|p| stem(&p))
            .chain(builtin::names().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The places looked for `name`, in order, for people.
    pub fn looked(&self, name: &str) -> String {
        let file = format!("{name}.toml");
        let env = match &self.env_dir {
            Some(d) => format!("$HIL_BOARDS_DIR/{file} ({})", d.join(&file).display()),
            None => format!("$HIL_BOARDS_DIR/{file} (HIL_BOARDS_DIR is not set)"),
        };
        let project = match (&self.project_dir, &self.project_root) {
            (Some(d), _) => format!("the project's boards/{file} ({})", d.join(&file).display()),
            (None, Some(root)) => format!(
                "the project's boards/{file} ({} has no boards/)",
                root.display()
            ),
            (None, None) => format!(
                "the project's boards/{file} (no Cargo.toml in the current directory or above it)"
            ),
        };
        format!("{env}, then {project}, then the built-in boards")
    }
}

impl Board {
    /// A board by name (see [`Sources::find`]) or by path to its TOML file.
    pub fn find(name_or_path: &str) -> Result<Self, BoardError> {
        let as_path = Path::new(name_or_path);
        if name_or_path.ends_with(".toml") || as_path.components().count() > 1 {
            return Self::load(as_path);
        }
        Sources::from_env().find(name_or_path)
    }

    /// Read and validate one board file.
    pub fn load(path: &Path) -> Result<Self, BoardError> {
        Self::load_from(path, Origin::File)
    }

    /// Read and validate one board file found in a place of `origin`.
    pub fn load_from(path: &Path, origin: Origin) -> Result<Self, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_toml(path, &text, origin)
    }

    /// Parse and validate a board file's `text`, as [`Board::load_from`] does once it has read it.
    ///
    /// `path` names the file: its stem must be the board's `name`, a relative
    /// `memory` is looked for next to it (for [`Origin::BuiltIn`]: among the
    /// built-in files), and every error names it.
    pub fn from_toml(path: &Path, text: &str, origin: Origin) -> Result<Self, BoardError> {
        parse(path, text)?.validate(path, origin)
    }

    /// The built-in board `name` whose definition is `text` (its memory layout is built in too).
    fn builtin(name: &str, text: &str) -> Result<Self, BoardError> {
        let path = PathBuf::from(format!("<built-in>/{name}.toml"));
        Self::from_toml(&path, text, Origin::BuiltIn)
    }
}

fn parse(path: &Path, text: &str) -> Result<RawBoard, BoardError> {
    toml::from_str(text).map_err(|e| BoardError::Parse {
        path: path.into(),
        message: e.to_string(),
    })
}

impl RawBoard {
    fn validate(self, path: &Path, origin: Origin) -> Result<Board, BoardError> {
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
        let core = match self.core {
            None => core_of_target(&self.target).to_owned(),
            Some(core) => match CORES.iter().find(|(c, _)| *c == core) {
                Some((_, targets)) if targets.contains(&self.target.as_str()) => core,
                Some(_) => {
                    return Err(field(
                        "core",
                        format!("{core:?} cannot run code for target {:?}", self.target),
                    ))
                }
                None => {
                    let known: Vec<&str> = CORES.iter().map(|(c, _)| *c).collect();
                    return Err(field(
                        "core",
                        format!("{core:?} is not one of {}", known.join(", ")),
                    ));
                }
            },
        };
        let memory = if origin == Origin::BuiltIn {
            let name = self.memory.to_str().unwrap_or_default();
            match builtin::FILES.iter().find(|(n, _)| *n == name) {
                Some(&(name, text)) => MemoryFile::BuiltIn { name, text },
                None => return Err(field("memory", format!("{name:?} is not a built-in file"))),
            }
        } else {
            let memory = path.parent().unwrap_or(Path::new(".")).join(&self.memory);
            if !memory.is_file() {
                return Err(field(
                    "memory",
                    format!("{} does not exist", memory.display()),
                ));
            }
            MemoryFile::File(memory)
        };
        let kind = match self.kind.as_str() {
            "qemu" => {
                if self.probe.is_some() {
                    return Err(field("probe", "a qemu board has no [probe] table".into()));
                }
                if self.serial.is_some() {
                    return Err(field("serial", "a qemu board has no [serial] table".into()));
                }
                if self.log.is_some() {
                    return Err(field(
                        "log",
                        "a qemu board logs through its emulated UART; `log` is for probe boards"
                            .into(),
                    ));
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
                let Some(p) = self.probe else {
                    return Err(field("probe", "a probe board needs a [probe] table".into()));
                };
                BoardKind::Probe(
                    probe::validate(p, self.serial, self.log.as_deref())
                        .map_err(|(f, m)| field(f, m))?,
                )
            }
            other => return Err(field("kind", format!("{other:?} is not `qemu` or `probe`"))),
        };
        let baud = match &kind {
            BoardKind::Probe(p) => p.serial().map(|s| s.baud),
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
            core,
            memory,
            kind,
            origin,
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
