//! Boards with `log = "rtt"`: the log is RTT up-channel 0, read through the probe session.
//!
//! The doubles serve a control block in fake memory, laid out as defmt-rtt lays it out,
//! and write the firmware's log into its ring buffer only where the host has freed space
//! (blocking mode), so the host's reading, wrap-around, read-offset handover, the drain
//! after the core stops and the search for the block are the runner's real code.

mod probe_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hil_runner::backend::probe::{CoreStatus, ProbeBackend, Semihosting};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, LogSource};
use hil_runner::build::{self, Images};
use hil_runner::firmware::Firmware;
use hil_runner::report::{ExitStatus, TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::speaks::{Limits, Speaks};
use probe_support::doubles::{backend, exit, poke, semihosting, Double, FakeRtt, Scripted};
use probe_support::{board_file, drain, NUCLEO_MEMORY};

/// A probe board (STM32F401: RAM at 0x2000_0000, 96 KiB) that logs over RTT.
fn rtt_board(dir: &Path, name: &str) -> Board {
    let toml = format!(
        "name = \"{name}\"\nkind = \"probe\"\ntarget = \"thumbv7em-none-eabihf\"\n\
         feature = \"{name}\"\nmemory = \"{name}.memory.x\"\nlog = \"rtt\"\n\n\
         [probe]\nchip = \"STM32F401RETx\"\n"
    );
    Board::load(&board_file(dir, name, &toml, NUCLEO_MEMORY)).unwrap()
}

/// A minimal ARM ELF whose symbol table has `_SEGGER_RTT` at `address` (no segments).
fn elf_with_rtt_symbol(dir: &Path, address: u32) -> PathBuf {
    let shstrtab = b"\0.shstrtab\0.strtab\0.symtab\0";
    let strtab = b"\0_SEGGER_RTT\0";
    let mut symtab = vec![0u8; 16]; // the null symbol
    for v in [1u32, address, 1024] {
        symtab.extend(v.to_le_bytes());
    }
    symtab.extend([0x11, 0, 0xFFF1u16 as u8, 0xFF]); // global object, absolute section
    let (shstr_at, str_at) = (52u32, 52 + shstrtab.len() as u32);
    let sym_at = (str_at + strtab.len() as u32 + 3) & !3;
    let sh_at = sym_at + symtab.len() as u32;
    let mut out = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let w16 = |out: &mut Vec<u8>, v: u16| out.extend(v.to_le_bytes());
    let w32 = |out: &mut Vec<u8>, v: u32| out.extend(v.to_le_bytes());
    w16(&mut out, 2); // ET_EXEC
    w16(&mut out, 40); // EM_ARM
    w32(&mut out, 1);
    w32(&mut out, 0); // entry
    w32(&mut out, 0); // no program headers
    w32(&mut out, sh_at);
    w32(&mut out, 0x0500_0200);
    for v in [52u16, 32, 0, 40, 4, 1] {
        w16(&mut out, v);
    }
    out.extend(shstrtab);
    out.extend(strtab);
    out.resize(sym_at as usize, 0);
    out.extend(&symtab);
    out.extend([0; 40]); // null section
    let sections: [[u32; 10]; 3] = [
        [1, 3, 0, 0, shstr_at, shstrtab.len() as u32, 0, 0, 1, 0],
        [11, 3, 0, 0, str_at, strtab.len() as u32, 0, 0, 1, 0],
        [19, 2, 0, 0, sym_at, symtab.len() as u32, 2, 1, 4, 16],
    ];
    for fields in sections {
        fields.iter().for_each(|v| w32(&mut out, *v));
    }
    let path = dir.join("rtt.elf");
    std::fs::write(&path, out).unwrap();
    path
}

/// Start `chip` on `board`, read the RTT source until it closes; the bytes and how the core ended.
async fn read_all(
    board: &Board,
    chip: Scripted,
    elf: &Path,
) -> (Result<Vec<u8>, String>, Option<TargetEnd>, Vec<String>) {
    let access = Double::new(&["0483:374b"], chip);
    let mut b =
        backend(board, access.clone(), None).with_rtt_attach_deadline(Duration::from_secs(5));
    let mut source = b.start(elf).await.unwrap();
    assert!(
        source.describe().starts_with("RTT up channel 0 of board"),
        "{}",
        source.describe()
    );
    let bytes = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match source.read_some(&mut buf) {
                Ok(hil_runner::source::ReadOutcome::Data(n)) => out.extend(&buf[..n]),
                Ok(hil_runner::source::ReadOutcome::Idle) => {}
                Ok(hil_runner::source::ReadOutcome::Closed) => return Ok(out),
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    let bytes = tokio::time::timeout(Duration::from_secs(30), bytes)
        .await
        .expect("the source closes (hang guard)")
        .unwrap();
    let end = probe_support::doubles::ended_within(&mut b, 5).await;
    b.stop().await;
    (bytes, end, access.log())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_board_file_may_log_over_rtt_without_a_serial_table() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "pico-rtt");
    let hil_runner::board::BoardKind::Probe(p) = &board.kind else {
        panic!("{board:?}")
    };
    assert_eq!(p.log, LogSource::Rtt);
    assert_eq!(p.serial(), None);
}

#[test]
fn a_bad_log_value_or_a_missing_serial_table_is_an_error_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "log = \"uart\"\n",
            "field `log`: \"uart\" is not a log source",
        ),
        (
            "log = \"serial\"\n",
            "field `serial`: a probe board needs a [serial] table",
        ),
        ("", "field `serial`: a probe board needs a [serial] table"),
    ];
    for (log, expected) in cases {
        let toml = format!(
            "name = \"bad\"\nkind = \"probe\"\ntarget = \"thumbv7em-none-eabihf\"\n\
             feature = \"bad\"\nmemory = \"bad.memory.x\"\n{log}\n[probe]\nchip = \"STM32F401RETx\"\n"
        );
        let path = board_file(dir.path(), "bad", &toml, NUCLEO_MEMORY);
        let e = Board::load(&path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(e.contains(expected), "{log:?}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ring_buffer_smaller_than_the_log_wraps_and_every_byte_arrives_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "wraps-rtt");
    let log = pattern(1000);
    let mut chip = Scripted::new(&[exit(0)]);
    // 16 bytes of ring for 1000 bytes of log: it wraps over 60 times, each read in two halves
    // when it has; the firmware writes only into space the host has handed back.
    let mut rtt = FakeRtt::new(0x2000_0400, 16, &log);
    rtt.per_poll = 11;
    chip.rtt = Some(rtt);
    let elf = elf_with_rtt_symbol(dir.path(), 0x2000_0400);
    let (bytes, end, _) = read_all(&board, chip, &elf).await;
    assert_eq!(bytes.unwrap(), log);
    assert_eq!(end, Some(TargetEnd::Exited { code: 0 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bytes_written_just_before_the_core_stops_are_drained_after_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "drains-rtt");
    let log = pattern(200);
    // The firmware writes its whole log and exits in the same poll: nothing is read while
    // it runs, everything after the halt.
    let mut chip = Scripted::new(&[exit(0)]);
    chip.rtt = Some(FakeRtt::new(0x2000_0400, 1024, &log));
    chip.rtt.as_mut().unwrap().appears_after = 0;
    let elf = elf_with_rtt_symbol(dir.path(), 0x2000_0400);
    let (bytes, end, _) = read_all(&board, chip, &elf).await;
    assert_eq!(bytes.unwrap(), log);
    assert_eq!(end, Some(TargetEnd::Exited { code: 0 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_control_block_left_in_ram_by_the_last_run_is_cleared_before_the_reset() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "stale-rtt");
    let fresh = pattern(300);
    let mut chip = Scripted::new(&[exit(0)]);
    let rtt = FakeRtt::new(0x2000_0400, 64, &fresh);
    // What the last run left: its block, with 5 bytes the host never read.
    let mut stale = b"SEGGER RTT\0\0\0\0\0\0".to_vec();
    for w in [1u32, 0, 0, rtt.buffer, 64, 5, 0, 2] {
        stale.extend(w.to_le_bytes());
    }
    poke(&mut chip.memory, rtt.control_block, &stale);
    poke(&mut chip.memory, rtt.buffer, b"STALE");
    chip.rtt = Some(rtt);
    let elf = elf_with_rtt_symbol(dir.path(), 0x2000_0400);
    let (bytes, _, log) = read_all(&board, chip, &elf).await;
    assert_eq!(bytes.unwrap(), fresh);
    let cleared = log.iter().position(|e| e == "write 0x20000400 0x0");
    let reset = log.iter().position(|e| e == "reset_and_run");
    assert!(cleared.is_some() && cleared < reset, "{log:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_symbol_ram_is_scanned_and_the_channel_is_put_in_blocking_mode() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "scan-rtt");
    let log = pattern(700);
    let mut chip = Scripted::new(&[
        semihosting(Semihosting::Other { operation: 0x04 }),
        CoreStatus::Running,
        exit(0),
    ]);
    chip.console = ["hello\n".into()].into();
    chip.rtt = Some(FakeRtt::new(0x2001_0a00, 128, &log));
    let elf = probe_support::write_elf(dir.path(), "no-symbol.elf", &[]);
    let access = Double::new(&["0483:374b"], chip);
    let mut b = backend(&board, access.clone(), None);
    let mut source = b.start(&elf).await.unwrap();
    let bytes = tokio::task::spawn_blocking(move || drain(source.as_mut()));
    let bytes = tokio::time::timeout(Duration::from_secs(30), bytes)
        .await
        .expect("the source closes (hang guard)")
        .unwrap();
    assert_eq!(bytes, log);
    assert_eq!(
        probe_support::doubles::ended_within(&mut b, 5).await,
        Some(TargetEnd::Exited { code: 0 })
    );
    assert_eq!(b.target_output(), "hello\n");
    b.stop().await;
    // Flags of up channel 0: mode 2, BlockIfFull.
    let flags = access
        .log()
        .iter()
        .any(|e| e == &format!("write {:#x} 0x2", 0x2001_0a00 + 24 + 20));
    assert!(flags, "{:?}", access.log());
}

/// A real firmware image: the `logs_then_exits` example for the emulated board (built once).
fn real_elf() -> PathBuf {
    let emulated = Board::find("lm3s6965evb").unwrap();
    build::build_one(&emulated, Images::Examples, "logs_then_exits").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_control_block_is_an_error_that_names_where_it_was_looked_for_exit_status_3() {
    let dir = tempfile::tempdir().unwrap();
    let board = rtt_board(dir.path(), "absent-rtt");
    let elf = real_elf();
    let chip = Scripted::new(&[CoreStatus::Running]);
    let access = Double::new(&["0483:374b"], chip);
    let b = backend(&board, access, None).with_rtt_attach_deadline(Duration::from_millis(200));
    let firmware = Firmware::load(&elf).unwrap();
    let report = run(b, &firmware, &board, &elf, dir.path()).await;
    assert_eq!(report.verdict, Verdict::Error, "{report:?}");
    let reason = report.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(
            "no RTT control block found in RAM 0x20000000..0x20018000 (the ELF has no \
             _SEGGER_RTT symbol)"
        ) && reason.contains("does the firmware log through defmt-rtt"),
        "{reason}"
    );
    assert_eq!(ExitStatus::of([report.verdict]).code(), 3);
}

/// One full run of `firmware` on `backend`, judged as `hil-runner run` judges it.
async fn run(
    backend: ProbeBackend,
    firmware: &Firmware,
    board: &Board,
    elf: &Path,
    dir: &Path,
) -> TestReport {
    let mut opts = RunOptions::new(board.clone(), elf.into());
    opts.capture = dir.join(format!("{}.raw", board.name));
    opts.timeout = Duration::from_secs(60);
    let capture = std::fs::File::create(&opts.capture).unwrap();
    let listener = Speaks::of(firmware).listener(firmware, Limits::default());
    runner::run_on(backend, firmware, &opts, capture, listener).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_firmwares_log_over_rtt_is_judged_as_over_the_serial_link() {
    // The reference: the firmware on the emulated board, its log over the UART.
    let elf = real_elf();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = RunOptions::new(Board::find("lm3s6965evb").unwrap(), elf.clone());
    opts.capture = dir.path().join("serial.raw");
    let serial = runner::run(&opts).await.unwrap();
    let wire = std::fs::read(&opts.capture).unwrap();
    assert!(serial.frames > 2000, "{serial:?}");

    // The same bytes from the same firmware, now written into an RTT ring buffer of 256
    // bytes (it wraps over a hundred times) on a probe board of the name the firmware boots
    // with; the ELF has no `_SEGGER_RTT`, so RAM is scanned for the block.
    let board = rtt_board(dir.path(), "lm3s6965evb");
    let mut chip = Scripted::new(&[exit(0)]);
    chip.rtt = Some(FakeRtt::new(0x2000_2000, 256, &wire));
    let access = Double::new(&["0483:374b"], chip);
    let firmware = Firmware::load(&elf).unwrap();
    let rtt = run(
        backend(&board, access, None),
        &firmware,
        &board,
        &elf,
        dir.path(),
    )
    .await;

    assert_eq!(
        std::fs::read(&rtt.capture).unwrap(),
        wire,
        "the capture holds every RTT byte"
    );
    assert_eq!(
        (
            rtt.verdict,
            &rtt.reason,
            rtt.frames,
            rtt.malformed,
            rtt.missing,
            rtt.bytes
        ),
        (
            serial.verdict,
            &serial.reason,
            serial.frames,
            serial.malformed,
            serial.missing,
            serial.bytes
        )
    );
    let outcomes = |r: &TestReport| -> Vec<(String, String)> {
        r.tests
            .iter()
            .map(|t| (t.name.clone(), format!("{:?}", t.outcome)))
            .collect()
    };
    assert_eq!(outcomes(&rtt), outcomes(&serial));
    assert_eq!(rtt.target_end, Some(TargetEnd::Exited { code: 0 }));
    assert_eq!(rtt.target_end, serial.target_end);
}
