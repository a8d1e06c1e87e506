//! Builds the test firmware in `target-tests/` for a board and lists the images cargo produced.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::board::Board;

/// The firmware crate whose binaries are the test suites.
pub const FIRMWARE_PACKAGE: &str = "hil-firmware";

/// Why the firmware could not be built (bad input: exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// cargo could not be run.
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    /// The build has no image of that name.
    #[error("the firmware crate has no image named {name}")]
    NoImage {
        /// The name asked for.
        name: String,
    },
    /// cargo build failed; its diagnostics were printed.
    #[error(
        "building the firmware for board {board} failed (cargo exit status {status}): {command}"
    )]
    Failed {
        /// The board.
        board: String,
        /// cargo's status.
        status: i32,
        /// The command, to rerun by hand.
        command: String,
    },
}

/// Which targets of the firmware crate to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Images {
    /// `src/bin/*`: the test suites.
    Suites,
    /// `examples/*`: firmware for the runner's own negative tests.
    Examples,
}

/// One firmware image cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The binary's name (`ordering`).
    pub name: String,
    /// Path of the ELF.
    pub elf: PathBuf,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// The board (its target triple and firmware feature).
    pub board: &'a Board,
    /// Suites or examples.
    pub images: Images,
    /// Extra firmware features (e.g. an overflow policy).
    pub features: Vec<String>,
    /// Extra environment for the build (`HIL_QUEUE_SIZE` ...).
    pub env: Vec<(String, String)>,
}

/// The firmware workspace.
pub fn firmware_dir() -> PathBuf {
    crate::repo_root().join("target-tests")
}

/// Install the Rust target of `triple` with rustup if its standard library is missing.
///
/// rust-toolchain.toml lists the targets, but rustup adds them only when it
/// installs the toolchain itself; a toolchain that was already there lacks them.
pub fn ensure_target(triple: &str) -> Result<(), BuildError> {
    let libdir = Command::new("rustc")
        .current_dir(firmware_dir())
        .args(["--print", "target-libdir", "--target", triple])
        .output()
        .map_err(BuildError::Cargo)?;
    let libdir = String::from_utf8_lossy(&libdir.stdout).trim().to_owned();
    if !libdir.is_empty() && std::path::Path::new(&libdir).is_dir() {
        return Ok(());
    }
    eprintln!(
        "hil: the Rust target {triple} is missing; installing it: rustup target add {triple}"
    );
    let status = Command::new("rustup")
        .current_dir(firmware_dir())
        .args(["target", "add", triple])
        .status()
        .map_err(BuildError::Cargo)?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            board: triple.to_owned(),
            status: status.code().unwrap_or(-1),
            command: format!("rustup target add {triple}"),
        })
    }
}

/// Build `req` with `cargo build --release` in `target-tests/` and return the images.
pub fn build(req: &BuildRequest<'_>) -> Result<Vec<Image>, BuildError> {
    ensure_target(&req.board.target)?;
    let mut features = vec![req.board.feature.clone()];
    features.extend(req.features.iter().cloned());
    tracing::info!(board = %req.board.name, ?features, "building firmware");
    let build = CargoBuild {
        package: FIRMWARE_PACKAGE,
        images: req.images,
        target: &req.board.target,
        features: &features,
        env: &req.env,
    };
    build.run(&req.board.name)
}

/// Build the binaries of another crate of the firmware workspace for `target`, with
/// `features` and without its default ones (bench-logcost with a published logger: the
/// bench's anchors, and firmware that is not ours in the tests).
pub fn build_package(
    package: &str,
    target: &str,
    features: &[String],
) -> Result<Vec<Image>, BuildError> {
    ensure_target(target)?;
    let build = CargoBuild {
        package,
        images: Images::Suites,
        target,
        features,
        env: &[],
    };
    build.run(target)
}

/// One `cargo build --release` in the firmware workspace.
struct CargoBuild<'a> {
    package: &'a str,
    images: Images,
    target: &'a str,
    features: &'a [String],
    env: &'a [(String, String)],
}

impl CargoBuild<'_> {
    /// Runs it; `board` names what it was for in an error.
    fn run(&self, board: &str) -> Result<Vec<Image>, BuildError> {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(firmware_dir())
            .args(["build", "--release", "--package", self.package])
            .arg(match self.images {
                Images::Suites => "--bins",
                Images::Examples => "--examples",
            })
            .args(["--target", self.target, "--no-default-features"])
            .args(["--features", &self.features.join(",")])
            .args(["--message-format", "json-render-diagnostics"])
            // The firmware's own .cargo/config.toml sets the linker scripts;
            // RUSTFLAGS from the environment would replace them.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let command = format!("cd {} && {:?}", firmware_dir().display(), cmd);
        let output = cmd.output().map_err(BuildError::Cargo)?;
        if !output.status.success() {
            return Err(BuildError::Failed {
                board: board.to_owned(),
                status: output.status.code().unwrap_or(-1),
                command,
            });
        }
        let mut images: Vec<Image> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| image_of(line, self.images))
            .collect();
        images.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(images)
    }
}

/// Build the images of `board` and return the ELF of the one called `name`.
pub fn build_one(board: &Board, images: Images, name: &str) -> Result<PathBuf, BuildError> {
    let request = BuildRequest {
        board,
        images,
        features: Vec::new(),
        env: Vec::new(),
    };
    build_one_with(&request, name)
}

/// Build `req` and return the ELF of the image called `name`.
pub fn build_one_with(req: &BuildRequest<'_>, name: &str) -> Result<PathBuf, BuildError> {
    let built = build(req)?;
    built
        .into_iter()
        .find(|i| i.name == name)
        .map(|i| i.elf)
        .ok_or_else(|| BuildError::NoImage {
            name: name.to_owned(),
        })
}

/// The image a `compiler-artifact` message announces, if it is one we asked for.
fn image_of(line: &str, images: Images) -> Option<Image> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" || msg["target"]["name"].is_null() {
        return None;
    }
    let kind = match images {
        Images::Suites => "bin",
        Images::Examples => "example",
    };
    let kinds = msg["target"]["kind"].as_array()?;
    if !kinds.iter().any(|k| k == kind) {
        return None;
    }
    Some(Image {
        name: msg["target"]["name"].as_str()?.to_owned(),
        elf: PathBuf::from(msg["executable"].as_str()?),
    })
}
