//! Where the invoking project is: its root, its target dir, its boards, and this repository's source tree.
//!
//! The runner serves any firmware crate, so nothing here looks at where the
//! runner itself was built. The *project* is the Cargo project the current
//! directory belongs to: the nearest ancestor with a `Cargo.toml`, or the
//! root of the workspace that package is in (found as cargo finds it: the
//! nearest ancestor `Cargo.toml`, itself included, with a `[workspace]` table
//! that does not `exclude` the package).

use std::path::{Path, PathBuf};

/// A file that only this repository's source tree has: `hil-runner test` builds its suites.
pub const REPOSITORY_MARKER: &str = "target-tests/firmware/suites.toml";

/// The invoking project's root for a process started in `start` (see the module docs).
pub fn root_from(start: &Path) -> Option<PathBuf> {
    let package = start
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())?;
    let workspace = package.ancestors().find(|dir| {
        let Some(manifest) = read_manifest(&dir.join("Cargo.toml")) else {
            return false;
        };
        let Some(ws) = manifest.get("workspace").and_then(|w| w.as_table()) else {
            return false;
        };
        !excludes(dir, ws, package)
    });
    Some(workspace.unwrap_or(package).to_owned())
}

/// The invoking project's root (from the current directory), if it is in one.
pub fn root() -> Option<PathBuf> {
    root_from(&current_dir())
}

/// `boards/` of the invoking project, if it has one.
pub fn boards_dir() -> Option<PathBuf> {
    root()
        .map(|root| root.join("boards"))
        .filter(|d| d.is_dir())
}

/// Whether workspace `ws` at `root` excludes the package at `package` (cargo's `exclude`: path prefixes).
fn excludes(root: &Path, ws: &toml::Table, package: &Path) -> bool {
    let Some(exclude) = ws.get("exclude").and_then(|e| e.as_array()) else {
        return false;
    };
    exclude
        .iter()
        .filter_map(|e| e.as_str())
        .any(|e| package.starts_with(root.join(e)))
}

fn read_manifest(path: &Path) -> Option<toml::Table> {
    let text = std::fs::read_to_string(path).ok()?;
    toml::from_str(&text).ok()
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// The target dir a run's files go under, from the environment and the current directory.
///
/// See [`select_target_dir`]; `elf` is the firmware being run, if any.
pub fn target_dir(elf: Option<&Path>) -> PathBuf {
    let cwd = current_dir();
    let env = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    select_target_dir(env, elf, root_from(&cwd).as_deref(), &cwd)
}

/// The target dir a run's files go under:
///
/// 1. `cargo_target_dir` (`$CARGO_TARGET_DIR`) if set;
/// 2. else the target dir that holds the ELF (see [`elf_target_dir`]), unless
///    that lies inside the invoking project: then the project's own
///    `target/` (an ELF of a workspace nested in the project, like this
///    repository's `target-tests/`, keeps its captures with the project's);
/// 3. else `<project root>/target`;
/// 4. else `target/` of the current directory.
///
/// Relative paths are taken relative to `cwd`.
pub fn select_target_dir(
    cargo_target_dir: Option<PathBuf>,
    elf: Option<&Path>,
    project_root: Option<&Path>,
    cwd: &Path,
) -> PathBuf {
    if let Some(dir) = cargo_target_dir {
        return cwd.join(dir);
    }
    let project_target = project_root.map(|root| cwd.join(root).join("target"));
    if let Some(elf_target) = elf.and_then(|elf| elf_target_dir(&cwd.join(elf))) {
        return match (project_root, project_target) {
            (Some(root), Some(target)) if elf_target.starts_with(cwd.join(root)) => target,
            _ => elf_target,
        };
    }
    project_target.unwrap_or_else(|| cwd.join("target"))
}

/// The cargo target dir an ELF lies in: the nearest ancestor that has a
/// `CACHEDIR.TAG` (cargo writes one) or is named `target`.
///
/// `.../target/thumbv7m-none-eabi/debug/deps/foo-123` → `.../target`.
pub fn elf_target_dir(elf: &Path) -> Option<PathBuf> {
    elf.parent()?
        .ancestors()
        .find(|dir| {
            dir.file_name().is_some_and(|n| n == "target") || dir.join("CACHEDIR.TAG").is_file()
        })
        .map(Path::to_owned)
}

/// Where a run's raw capture goes unless `--capture` says otherwise:
/// `TARGET/hil/captures/BOARD/ELF-TIME-PID.raw` (never overwritten), TARGET from [`target_dir`].
pub fn capture_path(board: &str, elf: &Path) -> PathBuf {
    let stem = elf
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("firmware");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    target_dir(Some(elf))
        .join("hil/captures")
        .join(board)
        .join(format!("{stem}-{stamp}-{}.raw", std::process::id()))
}

/// This repository's source tree was not found: `hil-runner test` cannot build its suites.
#[derive(Debug, thiserror::Error)]
#[error(
    "`hil-runner test` builds and runs the hil-runner repository's own target test suites and needs its \
     source tree: no {REPOSITORY_MARKER} (with boards/) in {} or any directory above it; run it inside a \
     checkout of the repository (for your own firmware use `hil-runner run ELF`, e.g. as the cargo runner)",
    start.display()
)]
pub struct RepositoryNotFound {
    /// Where the search started (the current directory).
    pub start: PathBuf,
}

/// The hil-runner repository `start` is in: the nearest ancestor with [`REPOSITORY_MARKER`] and `boards/`.
pub fn repository_from(start: &Path) -> Result<PathBuf, RepositoryNotFound> {
    start
        .ancestors()
        .find(|dir| dir.join(REPOSITORY_MARKER).is_file() && dir.join("boards").is_dir())
        .map(Path::to_owned)
        .ok_or_else(|| RepositoryNotFound {
            start: start.to_owned(),
        })
}

/// The hil-runner repository the current directory is in.
pub fn repository() -> Result<PathBuf, RepositoryNotFound> {
    let cwd = current_dir();
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    repository_from(&cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_project_is_the_workspace_root_unless_the_package_is_excluded() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"app\"]\nexclude = [\"fw\"]\n",
        );
        write(&root.join("app/Cargo.toml"), "[package]\nname = \"app\"\n");
        write(
            &root.join("fw/Cargo.toml"),
            "[workspace]\nmembers = [\"a\"]\n",
        );
        write(&root.join("fw/a/Cargo.toml"), "[package]\nname = \"a\"\n");
        write(&root.join("fw/b/Cargo.toml"), "[package]\nname = \"b\"\n");
        std::fs::create_dir_all(root.join("app/src/deep")).unwrap();
        assert_eq!(root_from(&root.join("app/src/deep")).unwrap(), root);
        assert_eq!(root_from(root).unwrap(), root);
        assert_eq!(root_from(&root.join("fw/a")).unwrap(), root.join("fw"));
        assert_eq!(root_from(&root.join("fw")).unwrap(), root.join("fw"));

        let lone = tempfile::tempdir().unwrap();
        write(
            &lone.path().join("crate/Cargo.toml"),
            "[package]\nname = \"c\"\n",
        );
        std::fs::create_dir_all(lone.path().join("crate/src")).unwrap();
        assert_eq!(
            root_from(&lone.path().join("crate/src")).unwrap(),
            lone.path().join("crate")
        );
        assert_eq!(root_from(lone.path()), None);
    }

    #[test]
    fn captures_go_under_the_elfs_target_dir() {
        let cwd = Path::new("/work/app");
        let elf = Path::new("/elsewhere/target/thumbv7m-none-eabi/debug/deps/foo-123");
        assert_eq!(
            select_target_dir(None, Some(elf), Some(cwd), cwd),
            Path::new("/elsewhere/target")
        );
        // No project: still the ELF's target dir.
        assert_eq!(
            select_target_dir(None, Some(elf), None, cwd),
            Path::new("/elsewhere/target")
        );
        // Relative ELF path, inside the project.
        let rel = Path::new("target/thumbv7m-none-eabi/release/app");
        assert_eq!(
            select_target_dir(None, Some(rel), Some(cwd), cwd),
            Path::new("/work/app/target")
        );
    }

    #[test]
    fn an_elf_of_a_nested_workspace_keeps_its_captures_in_the_projects_target_dir() {
        // This repository: `hil-runner test` from the root runs ELFs of target-tests/.
        let root = Path::new("/repo");
        let elf = Path::new("/repo/target-tests/target/hil-suites/lm3s6965evb/ordering");
        assert_eq!(
            select_target_dir(None, Some(elf), Some(root), root),
            Path::new("/repo/target")
        );
    }

    #[test]
    fn cargo_target_dir_wins() {
        let cwd = Path::new("/work/app");
        let elf = Path::new("/elsewhere/target/thumbv7m-none-eabi/debug/foo");
        assert_eq!(
            select_target_dir(Some("/ci/t".into()), Some(elf), Some(cwd), cwd),
            Path::new("/ci/t")
        );
        assert_eq!(
            select_target_dir(Some("rel".into()), None, None, cwd),
            Path::new("/work/app/rel")
        );
    }

    #[test]
    fn with_neither_the_project_then_the_current_dir() {
        let cwd = Path::new("/work/app/src");
        let elf = Path::new("/tmp/loose/foo.elf");
        assert_eq!(
            select_target_dir(None, Some(elf), Some(Path::new("/work/app")), cwd),
            Path::new("/work/app/target")
        );
        assert_eq!(
            select_target_dir(None, Some(elf), None, cwd),
            Path::new("/work/app/src/target")
        );
        assert_eq!(
            select_target_dir(None, None, None, cwd),
            Path::new("/work/app/src/target")
        );
    }

    #[test]
    fn a_cachedir_tag_marks_a_target_dir_of_another_name() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            &tmp.path().join("out/CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55",
        );
        let elf = tmp.path().join("out/thumbv7m-none-eabi/debug/foo");
        assert_eq!(elf_target_dir(&elf).unwrap(), tmp.path().join("out"));
    }

    #[test]
    fn the_repository_is_found_from_inside_it_only() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            repository_from(here).unwrap(),
            here.parent().unwrap().to_owned()
        );
        let tmp = tempfile::tempdir().unwrap();
        let err = repository_from(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(REPOSITORY_MARKER), "{err}");
    }
}
