//! Every kind of bad input, as one table: the installed binary's exit status and a message naming
//! the file, board, field or offset (README: "Bad input"). Nothing here may panic or hang.
//!
//! Each row runs `hil-runner` once and waits for it with `wait4`, which also
//! gives the row's peak RSS and time; the gigabyte-of-zeros rows assert the
//! memory bound and print both figures (time only as a hang guard).

mod bad_input_rows;
mod probe_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bad_input_rows::{row, Bad, Row};
use rstest::rstest;

/// Hang guard of one row.
const GUARD: Duration = Duration::from_secs(600);
/// Peak RSS any `check`/`decode` of a capture may reach, whatever the capture's size.
const MAX_RSS_KIB: i64 = 256 * 1024;

/// The exit status, stderr, peak RSS (KiB) and wall time of the binary run with `row`.
// The child is reaped with wait4 (for its own rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run(row: &Row, dir: &Path) -> (Option<i32>, String, i64, Duration) {
    let stderr_path = dir.join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hil-runner"));
    cmd.args(&row.args)
        .env_remove("HIL_BOARD")
        .env_remove("HIL_BOARDS_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    if let Some(cwd) = &row.cwd {
        cmd.current_dir(cwd);
    }
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child; `status` and `usage` outlive the call.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(rc >= 0, "wait4: {}", std::io::Error::last_os_error());
        if rc == pid {
            break;
        }
        if started.elapsed() > GUARD {
            // SAFETY: kills our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("hang guard: {:?} did not end", row.args);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    (code, stderr, usage.ru_maxrss, took)
}

#[rstest]
#[case::elf_missing(Bad::ElfMissing, 2)]
#[case::not_an_elf(Bad::NotAnElf, 2)]
#[case::truncated_elf(Bad::TruncatedElf, 2)]
#[case::elf_without_a_defmt_table(Bad::ElfWithoutDefmt, 2)]
#[case::elf_for_another_core(Bad::ElfForAnotherCore, 2)]
#[case::elf_for_another_board(Bad::ElfForAnotherBoard, 2)]
#[case::elf_logging_over_rtt_on_a_serial_probe_board(Bad::ElfLoggingOverRtt, 2)]
#[case::unknown_board(Bad::UnknownBoard, 2)]
#[case::board_file_missing(Bad::BoardFileMissing, 2)]
#[case::board_file_not_toml(Bad::BoardNotToml, 2)]
#[case::board_unknown_field(Bad::BoardUnknownField, 2)]
#[case::board_field_missing(Bad::BoardFieldMissing, 2)]
#[case::board_field_of_the_wrong_type(Bad::BoardFieldWrongType, 2)]
#[case::board_name(Bad::BoardName, 2)]
#[case::board_kind(Bad::BoardKind, 2)]
#[case::board_target(Bad::BoardTarget, 2)]
#[case::board_feature(Bad::BoardFeature, 2)]
#[case::board_core_unknown(Bad::BoardCoreUnknown, 2)]
#[case::board_core_for_another_target(Bad::BoardCoreForAnotherTarget, 2)]
#[case::board_memory_missing(Bad::BoardMemoryMissing, 2)]
#[case::board_qemu_table_missing(Bad::BoardQemuTableMissing, 2)]
#[case::board_qemu_machine_empty(Bad::BoardQemuMachineEmpty, 2)]
#[case::board_qemu_machine_unknown_to_qemu(Bad::BoardQemuMachineUnknown, 2)]
#[case::board_qemu_cpu_unknown_to_qemu(Bad::BoardQemuCpuUnknown, 2)]
#[case::board_qemu_args_unknown_to_qemu(Bad::BoardQemuArgUnknown, 2)]
#[case::board_probe_table_on_a_qemu_board(Bad::BoardProbeTableOnQemu, 2)]
#[case::board_serial_table_on_a_qemu_board(Bad::BoardSerialTableOnQemu, 2)]
#[case::board_checks_min_bytes_per_s(Bad::BoardChecksBytesPerS, 2)]
#[case::board_checks_min_line_utilisation_without_a_baud_rate(
    Bad::BoardChecksUtilisationWithoutBaud,
    2
)]
#[case::board_probe_table_missing(Bad::BoardProbeTableMissing, 2)]
#[case::board_serial_table_missing(Bad::BoardSerialTableMissing, 2)]
#[case::board_qemu_table_on_a_probe_board(Bad::BoardQemuTableOnProbe, 2)]
#[case::board_probe_chip(Bad::BoardProbeChip, 2)]
#[case::board_probe_selector(Bad::BoardProbeSelector, 2)]
#[case::board_probe_speed(Bad::BoardProbeSpeed, 2)]
#[case::board_probe_protocol(Bad::BoardProbeProtocol, 2)]
#[case::board_serial_port_relative(Bad::BoardSerialPortRelative, 2)]
#[case::board_serial_usb(Bad::BoardSerialUsb, 2)]
#[case::board_serial_baud(Bad::BoardSerialBaud, 2)]
#[case::board_checks_min_line_utilisation_over_one(Bad::BoardChecksUtilisationOverOne, 2)]
#[case::timeout_not_positive(Bad::TimeoutNotPositive, 2)]
#[case::suites_manifest_broken(Bad::ManifestBroken, 2)]
#[case::suite_unknown(Bad::SuiteUnknown, 2)]
#[case::check_capture_missing(Bad::CaptureMissing, 2)]
#[case::check_capture_empty(Bad::CaptureEmpty, 2)]
#[case::check_capture_of_random_bytes(Bad::CaptureRandom, 2)]
#[case::decode_capture_of_random_bytes(Bad::DecodeRandom, 0)]
#[case::check_capture_of_a_gigabyte_of_zeros(Bad::CaptureGigabyteOfZeros, 2)]
#[case::decode_capture_of_a_gigabyte_of_zeros(Bad::DecodeGigabyteOfZeros, 0)]
fn bad_input_has_its_exit_status_and_a_message_naming_what_is_wrong(
    #[case] bad: Bad,
    #[case] status: i32,
) {
    let dir = tempfile::tempdir().unwrap();
    let row = row(bad, dir.path());
    let (code, stderr, rss_kib, took) = run(&row, dir.path());
    eprintln!("{bad:?}: exit {code:?}: {}", stderr.trim());
    assert_eq!(code, Some(status), "{bad:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{bad:?} panicked: {stderr}");
    for line in stderr.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        assert!(
            parts.windows(2).all(|w| w[0] != w[1]),
            "{bad:?}: a cause said twice in a row: {line}"
        );
    }
    for fragment in &row.expect {
        assert!(
            stderr.contains(fragment.as_str()),
            "{bad:?}: {fragment:?} not in: {stderr}"
        );
    }
    if row.args[0] == "check" || row.args[0] == "decode" {
        eprintln!(
            "{bad:?}: peak RSS {:.1} MiB, {:.2} s",
            rss_kib as f64 / 1024.0,
            took.as_secs_f64()
        );
        assert!(rss_kib < MAX_RSS_KIB, "{bad:?}: peak RSS {rss_kib} KiB");
    }
}
