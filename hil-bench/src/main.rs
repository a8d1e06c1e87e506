//! hil-bench: measures the link and the harness side by side with defmt-rtt, defmt-semihosting and defmt-print, and writes BENCHMARKS.md.
//!
//! One command, `cargo run --release -p hil-bench`, builds the firmware,
//! runs it on the emulated board and times the host pipeline; every ratio
//! compares figures taken in the same run.

mod defmt_print;
mod emulated;
mod logcost;
mod machine;
mod markdown;
mod matrix;
mod mutants;
mod pipeline;
mod plot;
mod soak;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use hil_runner::backend::qemu::QemuSerial;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::firmware::Firmware;
use serde::Serialize;

use crate::emulated::Stdout;

/// The command that regenerates the figures, as BENCHMARKS.md prints it.
pub const COMMAND: &str = "cargo run --release -p hil-bench";

/// Measure the link (emulated board) and the harness (host pipeline) and write BENCHMARKS.md with its plot.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Frames in the synthetic capture the host pipeline is timed on.
    #[arg(long, default_value_t = 1_000_000)]
    frames: u64,
    /// Encoded bytes each payload size sends in the per-size throughput runs.
    #[arg(long, default_value_t = 1 << 20)]
    bytes_per_size: u32,
    /// Repetitions of each host timing (the fastest counts).
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// Repetitions of each run on the emulated board (the median counts).
    #[arg(long, default_value_t = 3)]
    link_runs: u32,
    /// Where BENCHMARKS.md goes (default: the repository root); the plot and raw
    /// results go to `benchmarks/` next to it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the board matrix (`hil-runner test` on every emulated board, one
    /// after the other and all at once); BENCHMARKS.md then says it was not measured.
    #[arg(long)]
    no_board_matrix: bool,
    /// A single measurement instead of the whole bench.
    #[command(subcommand)]
    mode: Option<Mode>,
}

/// The measurements that run on their own.
#[derive(clap::Subcommand)]
enum Mode {
    /// Millions of frames through the emulated link in one run: peak RSS and frames lost (`soak.rs`).
    Soak(soak::SoakArgs),
    /// Only section 4: the e2e firmware through every path, against defmt-semihosting (prints the table).
    E2e,
}

/// Everything measured, as written to `benchmarks/results.json`.
#[derive(Serialize)]
pub struct Results {
    /// The machine.
    pub machine: machine::Machine,
    /// Load average when the bench ended.
    pub load_at_end: String,
    /// Seconds the whole bench took.
    pub elapsed_s: f64,
    /// Encoded bytes per size in the throughput runs.
    pub bytes_per_size: u32,
    /// Runs on the emulated board per figure (the median counts).
    pub link_runs: u32,
    /// Passes per host timing (the fastest counts).
    pub host_runs: u32,
    /// Throughput per payload size and serial path.
    pub sizes: Vec<emulated::SizePoint>,
    /// The throughput suite as `hil-runner test` builds it, under `-icount shift=0` (socket).
    pub suite_icount: emulated::RunFigures,
    /// The same suite built with each overflow policy, under `-icount shift=0` (socket).
    pub policy_icount: Vec<PolicyRun>,
    /// Cost per log call per logger.
    pub logcost: Vec<logcost::LogCost>,
    /// Host pipeline.
    pub pipeline: PipelineResults,
    /// End to end: the e2e firmware per logger and path.
    pub e2e: Vec<E2eRow>,
    /// `hil-runner test` on every emulated board, one after the other and all at once.
    pub board_matrix: Option<matrix::BoardMatrix>,
    /// cargo-mutants' totals, if `mutants.out/outcomes.json` was there.
    pub mutants: Option<mutants::Mutants>,
    /// The last `hil-bench soak`'s figures, if it left them.
    pub soak: Option<soak::SoakFigures>,
}

/// The throughput suite built with one overflow policy.
#[derive(Serialize)]
pub struct PolicyRun {
    /// The transport's policy feature (`policy-drop`).
    pub policy: String,
    /// The runner's figures.
    pub run: emulated::RunFigures,
}

/// Host pipeline figures.
#[derive(Serialize)]
pub struct PipelineResults {
    /// Frames in the capture.
    pub frames: u64,
    /// Bytes in the capture.
    pub bytes: u64,
    /// Check path (no text).
    pub check: pipeline::Timing,
    /// Full rendering, like `hil-runner decode`.
    pub render: pipeline::Timing,
    /// Text the rendering produced.
    pub render_text_bytes: u64,
    /// defmt-print on the same capture.
    pub defmt_print: pipeline::Timing,
    /// Lines defmt-print printed.
    pub defmt_print_lines: u64,
    /// `defmt-print --version`.
    pub defmt_print_version: String,
}

/// One end-to-end run.
#[derive(Serialize)]
pub struct E2eRow {
    /// The logger.
    pub logger: String,
    /// How the bytes reached the host.
    pub path: String,
    /// The figures.
    pub run: emulated::RunFigures,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Mode::Soak(args)) = &cli.mode {
        return soak::main(args).map(drop);
    }
    if let Some(Mode::E2e) = &cli.mode {
        return e2e_only(cli.link_runs);
    }
    let started = Instant::now();
    let machine = machine::describe();
    let root = cli.out.clone().unwrap_or_else(hil_runner::repo_root);
    let board = Board::find(DEFAULT_BOARD)?;
    let rt = tokio::runtime::Runtime::new()?;

    // defmt-print first: a fresh machine compiles it once.
    let defmt_print = defmt_print::install()?;

    step("building the throughput firmware, one image per payload size");
    let bytes = cli.bytes_per_size.to_string();
    let mut per_size = Vec::new();
    for extra in emulated::EXTRAS {
        let env = [
            ("HIL_THROUGHPUT_EXTRA", extra.to_string()),
            ("HIL_THROUGHPUT_BYTES", bytes.clone()),
        ];
        per_size.push((
            extra,
            emulated::build_throughput(&board, &env, &format!("extra-{extra}"))?,
        ));
    }
    let suite_elf = emulated::build_throughput(&board, &[], "suite")?;
    let mut policy_elfs = Vec::new();
    for policy in emulated::POLICIES {
        policy_elfs.push((policy, emulated::build_throughput_policy(&board, policy)?));
    }

    step("link throughput per payload size (runner, socket and pty)");
    let mut sizes = Vec::new();
    for serial in [QemuSerial::Socket, QemuSerial::Pty] {
        for (extra, elf) in &per_size {
            let point = emulated::size_point(&rt, &board, (elf, *extra), serial, cli.link_runs)?;
            eprintln!(
                "  {:<6} payload {:>3} B: {:>9.0} B/s {:>8.0} frames/s ({})",
                point.serial,
                point.payload,
                point.run.bytes_per_s,
                point.run.frames_per_s,
                point.run.verdict
            );
            sizes.push(point);
        }
    }

    step("throughput suite under -icount shift=0 (per-call cost from the runner)");
    let suite_icount = emulated::run(
        &rt,
        &board,
        &suite_elf,
        QemuSerial::Socket,
        emulated::icount_args(),
    )?;
    emulated::require_pass("throughput suite under icount", &suite_icount)?;
    eprintln!(
        "  log_call_instructions = {:?}",
        suite_icount.log_call_instructions
    );
    let mut policy_icount = Vec::new();
    for (policy, elf) in &policy_elfs {
        let run = emulated::run(
            &rt,
            &board,
            elf,
            QemuSerial::Socket,
            emulated::icount_args(),
        )?;
        emulated::require_pass(
            &format!("throughput suite with {policy} under icount"),
            &run,
        )?;
        eprintln!(
            "  {policy}: log_call_instructions = {:?}",
            run.log_call_instructions
        );
        policy_icount.push(PolicyRun {
            policy: (*policy).into(),
            run,
        });
    }

    step("cost per log call: our transport, defmt-rtt, defmt-semihosting (icount)");
    let mut logcost = Vec::new();
    let mut e2e_images = Vec::new();
    for logger in logcost::LOGGERS {
        let images = logcost::build_logger(logger)?;
        let cost = logcost::measure(logger, &images.logcost)?;
        eprintln!(
            "  {logger:<12} {:>7.1} instructions per call",
            cost.mean_instructions
        );
        logcost.push(cost);
        e2e_images.push((logger, images.e2e));
    }

    step("end to end: the same firmware through the socket, the pty and defmt-semihosting");
    let e2e = e2e_runs(&rt, &board, &e2e_images, cli.link_runs)?;

    step("host pipeline: synthetic capture, check path, full rendering, defmt-print");
    let firmware = Firmware::load(&suite_elf)?;
    let capture = pipeline::capture(&firmware, cli.frames)?;
    let capture_path = emulated::bench_dir().join("captures/pipeline.raw");
    std::fs::write(&capture_path, &capture.bytes)
        .with_context(|| format!("cannot write {}", capture_path.display()))?;
    let check = pipeline::fastest(cli.runs.max(1), || {
        pipeline::check_once(&firmware, &capture)
    })?;
    let mut text_bytes = 0;
    let render = pipeline::fastest(cli.runs.max(1), || {
        let (elapsed, text) = pipeline::render_once(&firmware, &capture)?;
        text_bytes = text;
        Ok(elapsed)
    })?;
    let (print_time, print_lines) = defmt_print::time(&defmt_print, &suite_elf, &capture_path)?;
    let pipeline = PipelineResults {
        frames: capture.frames,
        bytes: capture.bytes.len() as u64,
        check: pipeline::Timing::of(&capture, check),
        render: pipeline::Timing::of(&capture, render),
        render_text_bytes: text_bytes,
        defmt_print: pipeline::Timing::of(&capture, print_time),
        defmt_print_lines: print_lines,
        defmt_print_version: defmt_print::version(&defmt_print),
    };
    eprintln!(
        "  check {:.1} MB/s, render {:.1} MB/s, defmt-print {:.2} MB/s",
        pipeline.check.mb_per_s, pipeline.render.mb_per_s, pipeline.defmt_print.mb_per_s
    );

    let board_matrix = if cli.no_board_matrix {
        None
    } else {
        step("board matrix: hil-runner test on every emulated board, one after the other, then all at once");
        let m = matrix::measure(&emulated::bench_dir())?;
        eprintln!(
            "  one after the other {:.0} s (one suite at a time: {:.0} s), all at once {:.0} s",
            m.sequential_s, m.one_at_a_time_s, m.parallel_s
        );
        Some(m)
    };

    let results = Results {
        machine,
        load_at_end: machine::load(),
        elapsed_s: started.elapsed().as_secs_f64(),
        bytes_per_size: cli.bytes_per_size,
        link_runs: cli.link_runs.max(1),
        host_runs: cli.runs.max(1),
        sizes,
        suite_icount,
        policy_icount,
        logcost,
        pipeline,
        e2e,
        board_matrix,
        mutants: mutants::read(&root),
        soak: soak::read_last(),
    };
    let dir = root.join("benchmarks");
    std::fs::create_dir_all(&dir)?;
    plot::throughput(&dir.join("throughput.svg"), &results.sizes)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    let md = root.join("BENCHMARKS.md");
    std::fs::write(&md, markdown::render(&results))
        .with_context(|| format!("cannot write {}", md.display()))?;
    eprintln!(
        "hil-bench: wrote {} in {:.0} s",
        md.display(),
        results.elapsed_s
    );
    Ok(())
}

/// How the e2e firmware's bytes reach the analysis.
#[derive(Clone, Copy)]
enum E2ePath {
    /// The runner, over QEMU's UART.
    Runner(QemuSerial),
    /// QEMU's stdout, read by the bench.
    Stdout(Stdout),
}

/// The e2e image of each logger over every path it has on the emulated board
/// (each the median of `repeats` runs).
fn e2e_runs(
    rt: &tokio::runtime::Runtime,
    board: &Board,
    images: &[(&str, PathBuf)],
    repeats: u32,
) -> anyhow::Result<Vec<E2eRow>> {
    let mut rows = Vec::new();
    for (logger, elf) in images {
        let paths: &[(&str, E2ePath)] = match *logger {
            "hil" => &[
                ("pipe (runner, default)", E2ePath::Runner(QemuSerial::Pipe)),
                ("socket (runner)", E2ePath::Runner(QemuSerial::Socket)),
                ("pty (runner)", E2ePath::Runner(QemuSerial::Pty)),
                ("UART0 on QEMU's stdout", E2ePath::Stdout(Stdout::Uart)),
            ],
            "semihosting" => &[(
                "semihosting on QEMU's stdout",
                E2ePath::Stdout(Stdout::Semihosting),
            )],
            // defmt-rtt needs a probe to read its buffer: no emulated link.
            _ => &[],
        };
        for &(path, how) in paths {
            let run = emulated::median_run(repeats, || match how {
                E2ePath::Runner(serial) => emulated::run(rt, board, elf, serial, Vec::new()),
                E2ePath::Stdout(what) => emulated::stdout_run(elf, &board.name, what),
            })?;
            eprintln!(
                "  {logger:<12} {path:<28} {:>8.0} frames/s to verdict ({})",
                run.frames_per_s_to_verdict(),
                run.verdict
            );
            rows.push(E2eRow {
                logger: (*logger).into(),
                path: path.into(),
                run,
            });
        }
    }
    Ok(rows)
}

/// `hil-bench e2e`: section 4 alone, its rows printed with each ratio to defmt-semihosting.
fn e2e_only(repeats: u32) -> anyhow::Result<()> {
    let board = Board::find(DEFAULT_BOARD)?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut images = Vec::new();
    for logger in ["hil", "semihosting"] {
        images.push((logger, logcost::build_logger(logger)?.e2e));
    }
    let rows = e2e_runs(&rt, &board, &images, repeats)?;
    let rate = |row: &E2eRow| row.run.frames_per_s_to_verdict();
    let anchor = rows
        .iter()
        .find(|row| row.logger == "semihosting")
        .map(rate)
        .context("no defmt-semihosting run")?;
    for row in &rows {
        println!(
            "{:<12} {:<30} {:>8.0} frames/s to verdict  {:.2}x defmt-semihosting",
            row.logger,
            row.path,
            rate(row),
            rate(row) / anchor
        );
    }
    Ok(())
}

/// Announces a step on stderr.
fn step(what: &str) {
    eprintln!("hil-bench: {what}");
}
