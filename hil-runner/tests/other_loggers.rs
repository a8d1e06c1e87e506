//! Firmware on published defmt loggers that write no frame to a UART, through the installed binary: defmt-semihosting read from QEMU's semihosting console, defmt-rtt through its gdbstub.
//!
//! `target-tests/bench-logcost`'s `e2e` image logs 20,006 frames (sequence
//! frames of 4 to 224 payload bytes with the hil markers) through the
//! published defmt-semihosting, or defmt-rtt; on an emulated board the runner
//! reads them from QEMU's stdout, or from the RTT channel in RAM, instead of
//! the UART, and accounts for every one. (Either is bad input on a real board
//! read over serial: `bad_input.rs`.)

use std::process::Command;

/// The JSON report of `hil-runner run ELF ARGS` and its exit status.
fn run(elf: &std::path::Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hil-runner"))
        .arg("run")
        .arg(elf)
        .args(args)
        .arg("--json")
        .arg(&json)
        .env_remove("HIL_BOARD")
        .env_remove("HIL_QEMU_SERIAL")
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let reports: serde_json::Value = serde_json::from_str(&text).unwrap();
    (out.status.code(), reports[0].clone())
}

/// bench-logcost's `e2e` image on `logger`, copied out of cargo's target dir (the
/// build with another logger writes the same path): one build at a time.
fn e2e_on(logger: &str) -> std::path::PathBuf {
    static ONE_BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let built = hil_runner::build::build_package(
        "bench-logcost",
        "thumbv7m-none-eabi",
        &[format!("logger-{logger}")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let elf = built.into_iter().find(|i| i.name == "e2e").unwrap().elf;
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{logger}"));
    std::fs::copy(&elf, &kept).unwrap();
    kept
}

/// Every frame of the e2e image arrived, none malformed or missing.
fn assert_every_frame(status: Option<i32>, report: &serde_json::Value, what: &str) {
    assert_eq!(status, Some(0), "{what}: {report:#}");
    assert_eq!(report["verdict"], "pass", "{what}: {report:#}");
    assert_eq!(report["speaks"], "hil-protocol");
    assert_eq!(report["frames"], 20_006, "{what}");
    assert_eq!(report["bytes"], 2_010_120, "{what}");
    assert_eq!(
        (&report["malformed"], &report["missing"]),
        (&0.into(), &0.into())
    );
}

#[test]
fn defmt_rtt_frames_are_read_through_the_gdbstub_every_one_accounted_for() {
    // defmt-rtt's 1 KiB buffer holds a fraction of the 2 MB: only a channel in blocking
    // mode, read while the core runs, delivers every frame.
    let elf = e2e_on("rtt");
    let (status, report) = run(&elf, &[]);
    assert_every_frame(status, &report, "defmt-rtt");
    // The mode is set in the block's load image, in flash, before the core runs: the
    // firmware blocks from its first frame, however late the first read comes.
    let bytes = std::fs::read(&elf).unwrap();
    let block = hil_runner::backend::probe::rtt::symbol_address(&bytes).unwrap();
    let (at, flags) = hil_runner::backend::qemu::rtt::blocking_flags_at_load(&bytes, block)
        .expect("the flags' load address");
    assert!(at < 0x0004_0000, "{at:#x} is in the LM3S6965's flash");
    assert_eq!(u32::from_le_bytes(flags) & 0b11, 2, "BlockIfFull");
}

#[test]
fn defmt_semihosting_frames_are_read_from_qemus_console_every_one_accounted_for() {
    let e2e = e2e_on("semihosting");
    // The UART's path does not matter: the log does not go through it.
    for serial in ["pipe", "socket"] {
        let (status, report) = run(&e2e, &["--qemu-serial", serial]);
        assert_every_frame(status, &report, serial);
    }
}
