//! Fuzz target: board-file text to a validated board (`Board::from_toml`), and `memory.x` text to a layout.
//!
//! The input is a board file's TOML, optionally followed by a NUL byte and a
//! linker memory layout. The TOML is validated twice, as `fuzz.toml` in a
//! directory holding `memory.x` and `lm3s6965evb.memory.x` (a project's board)
//! and as the built-in board `fuzz`. Either it is an error naming the file
//! (and, for a bad value, one of the board file's fields), or a board whose
//! fields hold what validation promises, which written back as TOML validates
//! to the same board. The layout either parses into regions that written back
//! parse to the same regions, or is an error naming a line of the text.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hil_runner::board::memory_x::{MemoryLayout, MemoryXError};
use hil_runner::board::{
    builtin, probe, Board, BoardError, BoardKind, MemoryFile, Origin, SerialPortSpec, WireProtocol,
    KNOWN_TARGETS,
};
use libfuzzer_sys::fuzz_target;

/// Every field a `BoardError::Field` may name: the board file's TOML paths.
const FIELDS: &[&str] = &[
    "name",
    "target",
    "feature",
    "core",
    "memory",
    "kind",
    "log",
    "qemu",
    "qemu.machine",
    "probe",
    "probe.chip",
    "probe.selector",
    "probe.speed",
    "probe.protocol",
    "serial",
    "serial.port",
    "serial.usb",
    "serial.baud",
    "checks.min_line_utilisation",
    "checks.min_bytes_per_s",
];

/// `fuzz.toml` in a directory of its own, next to the memory layouts it may name.
fn project_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hil-fuzz-board-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let (_, layout) = builtin::FILES
            .iter()
            .find(|(name, _)| *name == "lm3s6965evb.memory.x")
            .expect("the default board's layout is built in");
        for name in ["memory.x", "lm3s6965evb.memory.x"] {
            std::fs::write(dir.join(name), layout).expect("writing a memory layout");
        }
        dir.join("fuzz.toml")
    })
}

fuzz_target!(|data: &[u8]| {
    let (board, layout) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    if let Ok(text) = std::str::from_utf8(board) {
        check_board(project_path(), text, Origin::File);
        check_board(Path::new("<built-in>/fuzz.toml"), text, Origin::BuiltIn);
    }
    if let Some(Ok(text)) = layout.map(std::str::from_utf8) {
        check_layout(text);
    }
});

fn check_board(path: &Path, text: &str, origin: Origin) {
    match Board::from_toml(path, text, origin.clone()) {
        Ok(board) => {
            holds_its_invariants(&board, path, &origin);
            let again = render(&board);
            match Board::from_toml(path, &again, origin) {
                Ok(back) => assert_eq!(back, board, "round trip changed the board:\n{again}"),
                Err(e) => panic!("a valid board written back does not validate: {e}\n{again}"),
            }
        }
        Err(e) => names_the_file_and_field(&e, path),
    }
}

fn names_the_file_and_field(e: &BoardError, path: &Path) {
    let message = e.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "error does not name the file: {message}"
    );
    match e {
        BoardError::Parse { message, .. } => assert!(!message.is_empty(), "{e}"),
        BoardError::Field { field, message, .. } => {
            assert!(FIELDS.contains(field), "unknown field {field:?}: {e}");
            assert!(!message.is_empty(), "{e}");
        }
        other => panic!("parsing text gave a {other:?}"),
    }
}

fn holds_its_invariants(board: &Board, path: &Path, origin: &Origin) {
    assert_eq!(board.name, "fuzz", "name must be the file's stem");
    assert_eq!((&board.path, &board.origin), (&path.to_owned(), origin));
    assert!(KNOWN_TARGETS.contains(&board.target.as_str()), "{board:?}");
    assert!(!board.feature.is_empty(), "{board:?}");
    assert!(!board.core.is_empty(), "{board:?}");
    match &board.memory {
        MemoryFile::BuiltIn { name, text } => {
            assert_eq!(*origin, Origin::BuiltIn);
            assert!(builtin::FILES.contains(&(name, text)), "{name}");
        }
        MemoryFile::File(file) => {
            assert_ne!(*origin, Origin::BuiltIn);
            assert!(file.is_file(), "{}", file.display());
        }
    }
    let baud = match &board.kind {
        BoardKind::Qemu(q) => {
            assert!(!q.machine.is_empty(), "{board:?}");
            None
        }
        BoardKind::Probe(p) => {
            assert!(probe::chip_target(&p.chip).is_ok(), "{board:?}");
            assert_ne!(p.speed_khz, Some(0), "{board:?}");
            // `log = "rtt"`: no serial link, so no line rate.
            p.serial().map(|serial| {
                assert!(serial.baud > 0, "{board:?}");
                if let SerialPortSpec::Path(port) = &serial.port {
                    assert!(port.starts_with('/'), "{board:?}");
                }
                serial.baud
            })
        }
    };
    if let Some(u) = board.checks.min_line_utilisation {
        assert!(u > 0.0 && u <= 1.0 && baud.is_some(), "{board:?}");
    }
    if let Some(b) = board.checks.min_bytes_per_s {
        assert!(b > 0.0 && b.is_finite(), "{board:?}");
    }
}

/// The board as a board file.
fn render(board: &Board) -> String {
    use toml::{Table, Value};
    let s = |v: &str| Value::String(v.to_owned());
    let mut t = Table::new();
    t.insert("name".into(), s(&board.name));
    t.insert("description".into(), s(&board.description));
    t.insert("target".into(), s(&board.target));
    t.insert("feature".into(), s(&board.feature));
    // A core the file did not name is what the target implies: write it only if it was named.
    if board.core.starts_with("cortex-") {
        t.insert("core".into(), s(&board.core));
    }
    let memory = match &board.memory {
        MemoryFile::BuiltIn { name, .. } => (*name).to_owned(),
        MemoryFile::File(file) => file.display().to_string(),
    };
    t.insert("memory".into(), s(&memory));
    match &board.kind {
        BoardKind::Qemu(q) => {
            t.insert("kind".into(), s("qemu"));
            let mut qemu = Table::new();
            qemu.insert("machine".into(), s(&q.machine));
            if let Some(cpu) = &q.cpu {
                qemu.insert("cpu".into(), s(cpu));
            }
            let args = q.args.iter().map(|a| s(a)).collect();
            qemu.insert("args".into(), Value::Array(args));
            t.insert("qemu".into(), Value::Table(qemu));
        }
        BoardKind::Probe(p) => {
            t.insert("kind".into(), s("probe"));
            let mut pt = Table::new();
            pt.insert("chip".into(), s(&p.chip));
            if let Some(sel) = &p.selector {
                pt.insert("selector".into(), s(&sel.to_string()));
            }
            pt.insert(
                "connect_under_reset".into(),
                Value::Boolean(p.connect_under_reset),
            );
            if let Some(speed) = p.speed_khz {
                pt.insert("speed".into(), Value::Integer(speed.into()));
            }
            if let Some(protocol) = p.protocol {
                let name = match protocol {
                    WireProtocol::Swd => "swd",
                    WireProtocol::Jtag => "jtag",
                };
                pt.insert("protocol".into(), s(name));
            }
            pt.insert("allow_erase_all".into(), Value::Boolean(p.allow_erase_all));
            t.insert("probe".into(), Value::Table(pt));
            match p.serial() {
                Some(serial) => {
                    let mut st = Table::new();
                    match &serial.port {
                        SerialPortSpec::Path(port) => st.insert("port".into(), s(port)),
                        SerialPortSpec::Usb(id) => st.insert("usb".into(), s(&id.to_string())),
                    };
                    st.insert("baud".into(), Value::Integer(serial.baud.into()));
                    st.insert("native_usb".into(), Value::Boolean(serial.native_usb));
                    t.insert("serial".into(), Value::Table(st));
                }
                None => {
                    t.insert("log".into(), s("rtt"));
                }
            }
        }
    }
    let mut checks = Table::new();
    if let Some(u) = board.checks.min_line_utilisation {
        checks.insert("min_line_utilisation".into(), Value::Float(u));
    }
    if let Some(b) = board.checks.min_bytes_per_s {
        checks.insert("min_bytes_per_s".into(), Value::Float(b));
    }
    t.insert("checks".into(), Value::Table(checks));
    toml::to_string(&t).expect("a table serializes")
}

fn check_layout(text: &str) {
    match MemoryLayout::parse(text) {
        Ok(layout) => {
            let mut again = String::from("MEMORY\n{\n");
            for r in &layout.regions {
                assert!(!r.name.is_empty());
                again += &format!(
                    "  {} : ORIGIN = {:#x}, LENGTH = {:#x}\n",
                    r.name, r.origin, r.length
                );
            }
            again += "}\n";
            let back = MemoryLayout::parse(&again).unwrap_or_else(|e| {
                panic!("a parsed layout written back does not parse: {e}\n{again}")
            });
            assert_eq!(back, layout, "round trip changed the layout:\n{again}");
        }
        Err(MemoryXError::Syntax { line, message }) => {
            let lines = text.matches('\n').count() + 1;
            assert!(
                (1..=lines).contains(&line),
                "line {line} of {lines}: {message}"
            );
        }
        Err(MemoryXError::NoMemory) => {}
        Err(other) => panic!("parsing text gave {other:?}"),
    }
}
