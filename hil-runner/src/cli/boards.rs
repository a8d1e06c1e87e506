//! `hil-runner boards [--check [--build]]`: list the board definitions, where each comes from, and validate them.

use std::path::PathBuf;

use hil_runner::board::{self, builtin, verify, Board, BoardKind, Origin};
use hil_runner::build::{self, BuildRequest, Images};
use hil_runner::report::ExitStatus;

/// List the board definitions; with --check, validate every one (exit 2 if any is bad).
///
/// Boards come from `$HIL_BOARDS_DIR`, the invoking project's `boards/` and
/// the built-in ones, in that order of precedence; each is listed once, with
/// where it comes from.
///
/// --check needs no probe: each probe board's chip must be in probe-rs's
/// registry, its memory.x must lie inside the chip's memory map, its target
/// triple must fit the chip's core, and the firmware images already built for
/// it (target-tests/target/TRIPLE/release) must load only into flash.
#[derive(clap::Args)]
pub struct Cmd {
    /// Validate every board file, naming the file and field of each problem.
    #[arg(long)]
    check: bool,
    /// With --check: build each board's test suites first, so every image is checked.
    #[arg(long, requires = "check")]
    build: bool,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<ExitStatus> {
        let sources = board::Sources::from_env();
        let mut bad = 0;
        for entry in sources.all() {
            let b = match entry {
                Ok(b) => b,
                Err(e) => {
                    bad += 1;
                    eprintln!("hil-runner: error: {e}");
                    continue;
                }
            };
            let kind = match &b.kind {
                BoardKind::Qemu(q) => format!("qemu ({})", q.machine),
                BoardKind::Probe(p) => format!("probe ({})", p.chip),
            };
            let log = match &b.kind {
                BoardKind::Qemu(_) => "serial",
                BoardKind::Probe(p) => p.log.name(),
            };
            println!(
                "{:<16} {:<11} {:<26} {:<22} {:<6} {:<14} {}",
                b.name,
                b.core,
                b.target,
                kind,
                log,
                b.origin.to_string(),
                b.description
            );
            if b.origin != Origin::BuiltIn && builtin::names().any(|n| n == b.name) {
                eprintln!(
                    "hil: {} from {} overrides the built-in board of that name",
                    b.name,
                    b.path.display()
                );
            }
            if self.check {
                let problems = self.check_one(&b)?;
                bad += usize::from(problems > 0);
            }
        }
        if bad > 0 && self.check {
            eprintln!("hil-runner: {bad} bad board definitions");
            return Ok(ExitStatus::BadInput);
        }
        Ok(ExitStatus::Passed)
    }

    /// Check one board against its chip and its built images; returns how many problems were found.
    fn check_one(&self, b: &Board) -> anyhow::Result<usize> {
        // The images checked are this repository's suites (target-tests/): without its
        // source tree there are none to check, only the definition and its memory layout.
        let repository = hil_runner::project::repository();
        if self.build {
            repository
                .as_ref()
                .map_err(|e| anyhow::anyhow!("--build: {e}"))?;
        }
        let images: Vec<PathBuf> = if self.build {
            let request = BuildRequest {
                board: b,
                images: Images::Suites,
                features: Vec::new(),
                env: Vec::new(),
            };
            build::build(&request)?.into_iter().map(|i| i.elf).collect()
        } else {
            verify::built_images(b)
        };
        let problems = verify::verify(b, &images);
        for p in &problems {
            eprintln!("hil-runner: error: {p}");
        }
        if let (Err(_), true) = (&repository, images.is_empty()) {
            eprintln!(
                "hil: {}: definition and memory layout ({}) {}{}; firmware images not checked: \
                 they are the hil-runner repository's suites (target-tests/), and no checkout of it \
                 is in the current directory or above it",
                b.name,
                b.memory,
                if problems.is_empty() { "ok" } else { "checked" },
                match &b.kind {
                    BoardKind::Probe(_) => ", against the chip in probe-rs's registry",
                    BoardKind::Qemu(_) => "",
                },
            );
        } else if images.is_empty() {
            eprintln!(
                "hil: {}: no firmware built for it in {}: image check skipped (--build builds it)",
                b.name,
                verify::firmware_target_dir()
                    .join(&b.target)
                    .join("release")
                    .display()
            );
        } else if problems.is_empty() {
            eprintln!(
                "hil: {}: ok, {} firmware images checked",
                b.name,
                images.len()
            );
        }
        Ok(problems.len())
    }
}
