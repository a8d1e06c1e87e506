//! `decode` renders frames as defmt-print does: `--log-format`, `--json`, locations, no colours off a terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hil_runner::analysis::Analyzer;
use hil_runner::board::{Board, DEFAULT_BOARD};
use hil_runner::build::{self, Images};
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::log_format::LogRenderer;

fn hil(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .args(args)
        .env_remove("HIL_BOARD")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .expect("hil-runner runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `panics` example and a capture of one run of it on the emulated board.
fn panics_capture(dir: &Path) -> (PathBuf, PathBuf) {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    let elf = build::build_one(&board, Images::Examples, "panics").unwrap();
    let capture = dir.join("panics.raw");
    let out = hil(&["run", s(&elf), "--capture", s(&capture), "--quiet"], &[]);
    let len = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 0,
        "no capture: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elf, capture)
}

const GOLDEN: &str = "\
INFO  hil:boot board=lm3s6965evb test=panics
INFO  hil:start test=panics policy=drop
INFO  hil:seq s=0 n=0 g=0 p=[171, 102, 94, 153]
INFO  hil:seq s=0 n=1 g=1 p=[155, 85, 51, 35]
INFO  hil:seq s=0 n=2 g=2 p=[139, 68, 8, 173]
INFO  hil:seq s=0 n=3 g=3 p=[123, 51, 221, 54]
INFO  hil:seq s=0 n=4 g=4 p=[107, 34, 178, 192]
INFO  hil:panic firmware/examples/panics.rs:21:5: deliberate panic for the crash test
";

#[test]
fn decode_renders_frames_like_defmt_print_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (elf, capture) = panics_capture(dir.path());

    // A custom format, golden; CLICOLOR_FORCE would make `colored` colour a pipe: still none.
    let out = hil(
        &[
            "decode",
            "--elf",
            s(&elf),
            "--log-format",
            "{L} {s}",
            s(&capture),
        ],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), GOLDEN);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("8 frames, 0 malformed"), "{err}");

    // The default format has the location line from the ELF's debug info; no ANSI escapes off a terminal.
    for format in [
        None,
        Some("oneline"),
        Some("{L:severity} {s:bold} {m} {F}:{l}"),
    ] {
        let mut args = vec!["decode", "--elf", s(&elf), s(&capture)];
        if let Some(f) = format {
            args.extend(["--log-format", f]);
        }
        let out = hil(&args, &[("CLICOLOR_FORCE", "1")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{format:?}");
        assert!(
            !text.contains('\u{1b}'),
            "{format:?}: ANSI escapes in {text:?}"
        );
        assert!(
            text.contains("hil-protocol/src/lib.rs"),
            "{format:?}: {text}"
        );
    }
    let out = hil(&["decode", "--elf", s(&elf), s(&capture)], &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("└─ hil_protocol::emit::boot @ ")),
        "{text}"
    );

    // --offsets prefixes each line with the frame's byte offset.
    let out = hil(
        &[
            "decode",
            "--elf",
            s(&elf),
            "--offsets",
            "--log-format",
            "{s}",
            s(&capture),
        ],
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (offset, first) = text
        .lines()
        .next()
        .unwrap()
        .trim_start()
        .split_once(' ')
        .unwrap();
    assert!(
        offset.parse::<u64>().is_ok() && first == "hil:boot board=lm3s6965evb test=panics",
        "{text}"
    );

    // --json: defmt-print's shape, a schema line first.
    let out = hil(&["decode", "--elf", s(&elf), "--json", s(&capture)], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("{\"schema_version\":1}"));
    let frames: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(frames.len(), 8);
    assert_eq!(frames[0]["data"], "hil:boot board=lm3s6965evb test=panics");
    assert_eq!(frames[0]["level"], "INFO");
    for f in &frames {
        let loc = &f["location"];
        assert!(loc["file"].as_str().unwrap().ends_with(".rs"), "{f}");
        assert!(loc["line"].as_u64().unwrap() > 0, "{f}");
        assert_eq!(loc["module_path"]["crate_name"], "hil_protocol", "{f}");
        assert!(f["host_timestamp"].is_i64(), "{f}");
    }
    assert_eq!(frames[7]["location"]["module_path"]["function"], "panic");
}

#[test]
fn a_bad_log_format_is_bad_input() {
    let board = Board::find(DEFAULT_BOARD).unwrap();
    let elf = build::build_one(&board, Images::Examples, "panics").unwrap();
    let out = hil(
        &[
            "decode",
            "--elf",
            s(&elf),
            "--log-format",
            "{L}",
            "/dev/null",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid log format") && err.contains("{s}"),
        "{err}"
    );
}

#[test]
fn the_renderer_colours_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (elf, capture) = panics_capture(dir.path());
    let firmware = Firmware::load(&elf).unwrap();
    let render = |colour: bool| {
        let renderer = LogRenderer::new(&firmware, Some("{L} {s}"), colour).unwrap();
        let mut lines = Vec::new();
        let mut analyzer = Analyzer::new(&firmware, DEFAULT_MAX_FRAME_LEN);
        analyzer
            .feed_reader(std::fs::File::open(&capture).unwrap(), |frame| {
                let (f, _) = firmware.table().decode(frame.decoded).unwrap();
                lines.push(renderer.render(f));
            })
            .unwrap();
        lines
    };
    let plain = render(false);
    assert_eq!(plain.join("\n") + "\n", GOLDEN);
    let coloured = render(true);
    assert!(coloured[0].contains("\u{1b}["), "{:?}", coloured[0]);
    assert_eq!(hil_runner::log_format::strip_ansi(&coloured[0]), plain[0]);
    // A colourless renderer made after a colour one still emits no escapes.
    assert!(!render(false)[0].contains('\u{1b}'));
}
