//! The target test suites (`target-tests/firmware/suites.toml`): which binary, built with which features.
//!
//! One binary can be several suites (the overflow test once per policy), so
//! each suite's ELF is copied to its own path after its build.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::board::Board;
use crate::build::{self, BuildError, BuildRequest, Images};

/// One suite: a firmware binary and the features it is built with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The suite's name in reports (`overflow-drop`).
    pub name: String,
    /// The firmware binary (`src/bin/NAME.rs`).
    pub bin: String,
    /// Firmware features on top of the board's.
    #[serde(default)]
    pub features: Vec<String>,
    /// The boards it runs on (names of `boards/NAME.toml`), for features only
    /// some boards have (an interrupt drain); empty: every board.
    #[serde(default)]
    pub boards: Vec<String>,
}

impl Suite {
    /// Whether the suite runs on the board called `board`.
    pub fn runs_on(&self, board: &str) -> bool {
        self.boards.is_empty() || self.boards.iter().any(|b| b == board)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    suite: Vec<Suite>,
}

/// Why the suites cannot be listed or built (bad input: exit status 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The manifest cannot be read or parsed.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The suite's firmware did not build.
    #[error("suite {suite}: {source}")]
    Build {
        /// The suite.
        suite: String,
        /// The build error.
        source: BuildError,
    },
    /// The built ELF cannot be copied to the suite's own path.
    #[error("suite {suite}: cannot copy the ELF to {path}: {source}")]
    Copy {
        /// The suite.
        suite: String,
        /// Where it was to go.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The manifest's path.
pub fn manifest_path() -> PathBuf {
    build::firmware_dir().join("firmware/suites.toml")
}

/// Every suite of the manifest at `path`, in order.
pub fn load(path: &Path) -> Result<Vec<Suite>, SuiteError> {
    let err = |message: String| SuiteError::Manifest {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    Ok(manifest.suite)
}

/// The suite called `name` in the manifest.
pub fn find(name: &str) -> Result<Suite, SuiteError> {
    let path = manifest_path();
    load(&path)?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SuiteError::Manifest {
            path,
            message: format!("no suite named {name}"),
        })
}

/// Build `suite` for `board`; returns the path of its own copy of the ELF.
///
/// Builds with other features write the same artifact path, so build and copy
/// happen under one lock (for the threads of this process).
pub fn build_suite(board: &Board, suite: &Suite) -> Result<PathBuf, SuiteError> {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let request = BuildRequest {
        board,
        images: Images::Suites,
        features: suite.features.clone(),
        env: Vec::new(),
    };
    let built =
        build::build_one_with(&request, &suite.bin).map_err(|source| SuiteError::Build {
            suite: suite.name.clone(),
            source,
        })?;
    let dir = build::firmware_dir()
        .join("target/hil-suites")
        .join(&board.name);
    let path = dir.join(&suite.name);
    // Copy, then rename: a reader of `path` sees the old ELF or the new one, never half of one.
    let partial = dir.join(format!(".{}.{}", suite.name, std::process::id()));
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::copy(&built, &partial))
        .and_then(|_| std::fs::rename(&partial, &path))
        .map_err(|source| SuiteError::Copy {
            suite: suite.name.clone(),
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    //! Which boards a suite of the manifest runs on.

    use super::*;

    #[test]
    fn a_suite_that_names_boards_runs_only_on_those_and_one_that_names_none_on_all() {
        let manifest: Manifest = toml::from_str(
            "[[suite]]\nname = \"a\"\nbin = \"ordering\"\n\
             [[suite]]\nname = \"b\"\nbin = \"ordering\"\nboards = [\"lm3s6965evb\", \"netduinoplus2\"]\n",
        )
        .unwrap();
        let [all, some] = &manifest.suite[..] else {
            panic!("two suites: {:?}", manifest.suite)
        };
        assert!(all.runs_on("microbit"));
        assert!(some.runs_on("netduinoplus2"));
        assert!(some.runs_on("lm3s6965evb"));
        assert!(!some.runs_on("microbit"));
    }
}
