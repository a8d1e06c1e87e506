//! Firmware on published defmt loggers that write no frame to a UART, through the installed binary: defmt-semihosting is read from QEMU's semihosting console.
//!
//! `target-tests/bench-logcost`'s `e2e` image logs 20,006 frames (sequence
//! frames of 4 to 224 payload bytes with the hil markers) through the
//! published defmt-semihosting; on an emulated board the runner reads them
//! from QEMU's stdout instead of the UART, and accounts for every one. (A
//! firmware on defmt-rtt is bad input on a UART board: `bad_input.rs`.)

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

#[test]
fn defmt_semihosting_frames_are_read_from_qemus_console_every_one_accounted_for() {
    let built = hil_runner::build::build_package(
        "bench-logcost",
        "thumbv7m-none-eabi",
        &["logger-semihosting".into()],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e2e = built.into_iter().find(|i| i.name == "e2e").unwrap().elf;
    // The UART's path does not matter: the log does not go through it.
    for serial in ["pipe", "socket"] {
        let (status, report) = run(&e2e, &["--qemu-serial", serial]);
        assert_eq!(status, Some(0), "{serial}: {report:#}");
        assert_eq!(report["verdict"], "pass", "{serial}: {report:#}");
        assert_eq!(report["speaks"], "hil-protocol");
        assert_eq!(report["frames"], 20_006, "{serial}");
        assert_eq!(report["bytes"], 2_010_120, "{serial}");
        assert_eq!(
            (&report["malformed"], &report["missing"]),
            (&0.into(), &0.into())
        );
    }
}
