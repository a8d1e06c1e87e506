//! The one place a verdict is decided (`hil_runner::speaks`): plain defmt and hil-protocol runs on
//! hand-made frame streams, every way the target can end.

use std::time::{Duration, Instant};

use hil_protocol::fmt;
use hil_runner::analysis::{Analysis, Analyzer};
use hil_runner::backend::TargetEnd;
use hil_runner::board::checks::Checks;
use hil_runner::board::Board;
use hil_runner::firmware::Firmware;
use hil_runner::framer::DEFAULT_MAX_FRAME_LEN;
use hil_runner::report::cases::Outcome;
use hil_runner::report::Verdict;
use hil_runner::speaks::{Ending, Judgement, Limits, Rates, RunEnd, Speaks, Stop};
use host_tests::streams::{
    frame, hil_firmware, hil_firmware_without, str_arg, Stream, LOG_CORE_PANIC, LOG_PANICKED,
};
use rstest::rstest;

/// Judge `bytes` of `firmware` as a run that ended with `stop` (board, rates as given).
fn judge_with(
    firmware: &Firmware,
    bytes: &[u8],
    stop: Stop,
    board: Option<&Board>,
    rates: Rates,
) -> Judgement {
    let mut listener = Speaks::of(firmware).listener(firmware, Limits::default());
    let mut analyzer = Analyzer::new(firmware, DEFAULT_MAX_FRAME_LEN);
    let t0 = Instant::now();
    for (i, piece) in bytes.chunks(16).enumerate() {
        let at = t0 + Duration::from_millis(i as u64);
        analyzer.feed(piece, |f| listener.frame(&f, at));
    }
    let analysis = analyzer.finish(board.map(|b| b.name.as_str()));
    let at = t0 + Duration::from_secs(2);
    listener.judge(&run_end(&stop, &analysis, board, at, rates))
}

/// How a run of `elf-name` ended, with a 30 s `--timeout`.
fn run_end<'a>(
    stop: &'a Stop,
    analysis: &'a Analysis,
    board: Option<&'a Board>,
    at: Instant,
    rates: Rates,
) -> RunEnd<'a> {
    RunEnd {
        stop,
        analysis,
        timeout: Duration::from_secs(30),
        board,
        at,
        name: "elf-name",
        rates,
    }
}

fn judge(firmware: &Firmware, bytes: &[u8], stop: Stop) -> Judgement {
    judge_with(firmware, bytes, stop, None, Rates::default())
}

const EXIT_0: Stop = Stop::TargetEnded(TargetEnd::Exited { code: 0 });

fn fault() -> TargetEnd {
    host_tests::streams::hard_fault_end()
}

/// A passing hil-protocol run of test `name`.
fn hil_run(fw: &Firmware, name: &str) -> Vec<u8> {
    Stream::new(fw)
        .boot("lm3s6965evb", name)
        .start(name, "block")
        .seq(0, 0, 0)
        .stream(0, 1)
        .end(4, 0)
        .bytes
}

#[test]
fn what_the_firmware_speaks_is_read_from_its_table() {
    assert_eq!(Speaks::of(&hil_firmware()), Speaks::Hil);
    assert_eq!(Speaks::of(&plain()), Speaks::Defmt);
    // hil-protocol firmware that never ends still speaks hil-protocol.
    assert_eq!(Speaks::of(&hil_firmware_without(&[fmt::END])), Speaks::Hil);
    assert_eq!(Speaks::Hil.as_str(), "hil-protocol");
    assert_eq!(Speaks::Defmt.as_str(), "defmt");
    assert_eq!(Speaks::DefmtTest.as_str(), "defmt-test");
}

#[test]
fn a_hil_run_that_ends_with_its_end_marker_passes_as_one_test_named_by_the_firmware() {
    let fw = hil_firmware();
    let j = judge(&fw, &hil_run(&fw, "ordering"), Stop::Finished);
    assert_eq!((j.verdict, j.reason.as_deref()), (Verdict::Pass, None));
    assert_eq!(j.tests.len(), 1);
    assert_eq!(j.tests[0].name, "ordering");
    assert_eq!(j.tests[0].outcome, Outcome::Pass);
    assert!(
        j.tests[0].duration_s > 1.0,
        "from the first frame to the end"
    );
}

#[test]
fn a_hil_run_with_a_violation_fails_with_the_first_one() {
    let fw = hil_firmware();
    let bytes = Stream::new(&fw)
        .boot("lm3s6965evb", "t")
        .start("t", "block")
        .seq(0, 1, 0)
        .stream(0, 2)
        .end(4, 0)
        .bytes;
    let j = judge(&fw, &bytes, Stop::Finished);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(
        j.reason
            .as_deref()
            .unwrap()
            .starts_with("stream 0: seq 0 missing"),
        "{:?}",
        j.reason
    );
    assert_eq!(j.tests[0].outcome, Outcome::Fail);
    assert_eq!(j.tests[0].message, j.reason);
}

#[rstest]
#[case::finished(Stop::Finished)]
#[case::exited(Stop::TargetEnded(TargetEnd::Exited { code: 1 }))]
#[case::deadline(Stop::Deadline)]
#[case::fault(Stop::TargetEnded(fault()))]
fn a_hil_panic_marker_is_a_crash_with_its_message(#[case] stop: Stop) {
    let fw = hil_firmware();
    let bytes = Stream::new(&fw)
        .boot("lm3s6965evb", "t")
        .panic("src/main.rs:3:5: boom")
        .bytes;
    let j = judge(&fw, &bytes, stop);
    assert_eq!(j.verdict, Verdict::Crash);
    assert_eq!(
        j.reason.as_deref(),
        Some("firmware panicked: src/main.rs:3:5: boom")
    );
    assert_eq!(j.tests[0].outcome, Outcome::Crash);
    assert_eq!(j.tests[0].name, "t", "from the boot marker");
}

#[rstest]
#[case::fault(Stop::TargetEnded(fault()), Verdict::Crash, "target faulted: ")]
#[case::deadline(Stop::Deadline, Verdict::Timeout, "no end marker within 30.0 s (")]
#[case::test_deadline(Stop::TestDeadline, Verdict::Timeout, "no end marker within 30.0 s (")]
#[case::serial_failed(Stop::SourceFailed("EIO".into()), Verdict::Error, "serial read failed: EIO")]
#[case::exited(Stop::TargetEnded(TargetEnd::Exited { code: 3 }), Verdict::Crash, "target exited with status 3 before its end marker")]
#[case::killed(Stop::TargetEnded(TargetEnd::Killed { detail: "qemu died".into() }), Verdict::Error, "qemu died")]
#[case::halted(Stop::TargetEnded(TargetEnd::Halted { pc: 0x10, r0: 0 }), Verdict::Crash, "target halted")]
#[case::stopped(
    Stop::TargetEnded(TargetEnd::Stopped),
    Verdict::Crash,
    "serial link closed before the end marker"
)]
#[case::source_closed(
    Stop::SourceClosed,
    Verdict::Crash,
    "serial link closed before the end marker"
)]
fn a_hil_run_without_its_end_marker_is_judged_by_how_it_stopped(
    #[case] stop: Stop,
    #[case] verdict: Verdict,
    #[case] reason: &str,
) {
    let fw = hil_firmware();
    let bytes = Stream::new(&fw).boot("lm3s6965evb", "t").seq(0, 0, 0).bytes;
    let j = judge(&fw, &bytes, stop);
    assert_eq!(j.verdict, verdict);
    let got = j.reason.unwrap();
    assert!(got.starts_with(reason), "{got}");
    if verdict == Verdict::Timeout {
        let frames = "2 frames received)";
        assert!(
            got.ends_with(&format!("{} bytes, {frames}", bytes.len())),
            "{got}"
        );
    }
}

#[rstest]
#[case::capture(Stop::CaptureEnded, Verdict::Fail)]
#[case::finished(Stop::Finished, Verdict::Fail)]
fn an_offline_capture_without_the_end_marker_fails_on_its_checks(
    #[case] stop: Stop,
    #[case] verdict: Verdict,
) {
    let fw = hil_firmware();
    let bytes = Stream::new(&fw).boot("lm3s6965evb", "t").bytes;
    let j = judge(&fw, &bytes, stop);
    assert_eq!(j.verdict, verdict);
    assert!(j.reason.unwrap().contains("end marker never arrived"));
}

#[rstest]
#[case::exited(Stop::TargetEnded(TargetEnd::Exited { code: 0 }))]
#[case::stopped(Stop::TargetEnded(TargetEnd::Stopped))]
fn a_hil_run_whose_end_marker_arrived_is_judged_by_its_checks(#[case] stop: Stop) {
    let fw = hil_firmware();
    let j = judge(&fw, &hil_run(&fw, "t"), stop);
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reason);
}

#[test]
fn a_fault_after_the_end_marker_is_still_a_crash() {
    let fw = hil_firmware();
    let j = judge(&fw, &hil_run(&fw, "t"), Stop::TargetEnded(fault()));
    assert_eq!(j.verdict, Verdict::Crash);
}

fn board_with(checks: Checks) -> Board {
    let mut board = Board::find("lm3s6965evb").unwrap();
    board.checks = checks;
    board
}

fn rates(bytes_per_s: f64) -> Rates {
    Rates {
        bytes_per_s,
        line_utilisation: None,
    }
}

#[test]
fn a_throughput_run_below_the_boards_floor_fails_naming_the_board_file() {
    let fw = hil_firmware();
    let board = board_with(Checks {
        min_line_utilisation: None,
        min_bytes_per_s: Some(1000.0),
    });
    let bytes = hil_run(&fw, "throughput");
    let slow = judge_with(&fw, &bytes, Stop::Finished, Some(&board), rates(999.0));
    assert_eq!(slow.verdict, Verdict::Fail);
    let reason = slow.reason.unwrap();
    assert!(reason.starts_with("link too slow"), "{reason}");
    assert!(
        reason.ends_with(&format!("in {}", board.path.display())),
        "{reason}"
    );
    assert_eq!(slow.tests[0].outcome, Outcome::Fail);
    let fast = judge_with(&fw, &bytes, Stop::Finished, Some(&board), rates(1000.0));
    assert_eq!(fast.verdict, Verdict::Pass);
    // Only the throughput suite is held to the floor; a failed run keeps its own reason.
    let other = judge_with(
        &fw,
        &hil_run(&fw, "ordering"),
        Stop::Finished,
        Some(&board),
        rates(1.0),
    );
    assert_eq!(other.verdict, Verdict::Pass);
    let timed_out = judge_with(&fw, &bytes[..20], Stop::Deadline, Some(&board), rates(1.0));
    assert_eq!(timed_out.verdict, Verdict::Timeout);
}

#[test]
fn rates_are_bytes_per_second_and_the_share_of_the_line() {
    let r = Rates::new(11_520, 1.0, Some(115_200));
    assert_eq!(r.bytes_per_s, 11_520.0);
    assert_eq!(r.line_utilisation, Some(1.0));
    assert_eq!(Rates::new(11_520, 1.0, None).line_utilisation, None);
    assert_eq!(Rates::new(11_520, 1.0, Some(0)).line_utilisation, None);
    assert_eq!(Rates::new(0, 1.0, Some(115_200)).line_utilisation, None);
}

/// A plain defmt firmware: no end marker.
fn plain() -> Firmware {
    // No boot, start or end marker: what a user's firmware on hil-transport has.
    hil_firmware_without(&[fmt::END, fmt::BOOT, fmt::START])
}

fn plain_log(fw: &Firmware) -> Vec<u8> {
    Stream::new(fw).log("hello").log("world").bytes
}

#[rstest]
#[case::exit_0(EXIT_0, Verdict::Pass, Outcome::Pass, None)]
#[case::halt_r0_0(Stop::TargetEnded(TargetEnd::Halted { pc: 4, r0: 0 }), Verdict::Pass, Outcome::Pass, None)]
#[case::capture(Stop::CaptureEnded, Verdict::Pass, Outcome::Pass, None)]
#[case::exit_2(Stop::TargetEnded(TargetEnd::Exited { code: 2 }), Verdict::Fail, Outcome::Fail, Some("the firmware exited with status 2"))]
#[case::halt_r0_huge(Stop::TargetEnded(TargetEnd::Halted { pc: 4, r0: u32::MAX }), Verdict::Fail, Outcome::Fail, Some("the firmware exited with status 2147483647"))]
#[case::deadline(
    Stop::Deadline,
    Verdict::Timeout,
    Outcome::Timeout,
    Some("still running after --timeout 30.0 s (20 bytes received)")
)]
#[case::test_deadline(
    Stop::TestDeadline,
    Verdict::Timeout,
    Outcome::Timeout,
    Some("still running at --test-timeout")
)]
#[case::killed(Stop::TargetEnded(TargetEnd::Killed { detail: "gone".into() }), Verdict::Error, Outcome::Error, Some("gone"))]
#[case::source_failed(Stop::SourceFailed("EIO".into()), Verdict::Error, Outcome::Error, Some("serial read failed: EIO"))]
#[case::source_closed(
    Stop::SourceClosed,
    Verdict::Error,
    Outcome::Error,
    Some("the serial link closed while the target was running")
)]
fn a_plain_run_is_judged_by_how_the_target_ended(
    #[case] stop: Stop,
    #[case] verdict: Verdict,
    #[case] outcome: Outcome,
    #[case] reason: Option<&str>,
) {
    let fw = plain();
    let bytes = plain_log(&fw);
    assert_eq!(bytes.len(), 20, "the deadline message counts these bytes");
    let j = judge(&fw, &bytes, stop);
    assert_eq!(j.verdict, verdict);
    assert_eq!(j.reason.as_deref(), reason);
    assert_eq!(j.tests.len(), 1);
    let case = &j.tests[0];
    assert_eq!((case.name.as_str(), case.outcome), ("elf-name", outcome));
    assert_eq!(case.message.as_deref(), reason);
    assert!(case.duration_s > 1.0);
}

#[test]
fn a_plain_run_that_faulted_is_a_crash_with_the_registers() {
    let fw = plain();
    let j = judge(&fw, &plain_log(&fw), Stop::TargetEnded(fault()));
    assert_eq!(j.verdict, Verdict::Crash);
    let reason = j.reason.unwrap();
    assert!(
        reason.starts_with("target faulted: ") && reason.contains("pc=0x00001234"),
        "{reason}"
    );
}

#[rstest]
#[case::defmt_panic(LOG_PANICKED, "boom", "panicked at 'boom'", None)]
#[case::core_panic(
    LOG_CORE_PANIC,
    "src/main.rs:7:9:\nboom",
    "panicked at src/main.rs:7:9:\nboom",
    Some("src/main.rs:7")
)]
fn a_plain_run_that_panicked_is_a_crash_whatever_the_exit(
    #[case] index: u16,
    #[case] arg: &str,
    #[case] message: &str,
    #[case] location: Option<&str>,
) {
    let fw = plain();
    let mut bytes = plain_log(&fw);
    bytes.extend(frame(index, &str_arg(arg)));
    // A second panic (panic-probe logging the core panic again) does not replace the first.
    bytes.extend(frame(LOG_CORE_PANIC, &str_arg("src/lib.rs:1:1:\nsecond")));
    let j = judge(&fw, &bytes, EXIT_0);
    assert_eq!(j.verdict, Verdict::Crash);
    assert_eq!(j.reason.as_deref(), Some(message));
    let case = &j.tests[0];
    assert_eq!(case.outcome, Outcome::Crash);
    assert_eq!(case.message.as_deref(), Some(message));
    assert_eq!(case.location.as_deref(), location);
}

#[test]
fn a_plain_run_with_a_hil_panic_marker_is_a_crash_at_its_location() {
    let fw = plain();
    let bytes = Stream::new(&fw)
        .raw(&plain_log(&fw))
        .panic("src/main.rs:9:5: boom")
        .bytes;
    let j = judge(&fw, &bytes, EXIT_0);
    assert_eq!(j.verdict, Verdict::Crash);
    assert_eq!(j.reason.as_deref(), Some("src/main.rs:9:5: boom"));
    assert_eq!(j.tests[0].location.as_deref(), Some("src/main.rs:9"));
}

#[test]
fn a_panic_message_at_info_level_is_not_a_crash() {
    let fw = plain();
    let bytes = Stream::new(&fw)
        .raw(&plain_log(&fw))
        .log("panicked at info level")
        .bytes;
    let j = judge(&fw, &bytes, EXIT_0);
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reason);
}

#[test]
fn a_hil_run_is_over_at_its_end_or_panic_marker_a_plain_one_never() {
    let fw = hil_firmware();
    let over = |bytes: &[u8]| {
        let mut listener = Speaks::of(&fw).listener(&fw, Limits::default());
        let mut analyzer = Analyzer::new(&fw, DEFAULT_MAX_FRAME_LEN);
        analyzer.feed(bytes, |f| listener.frame(&f, Instant::now()));
        listener.finished()
    };
    let started = Stream::new(&fw).boot("b", "t").seq(0, 0, 0);
    assert!(!over(&started.bytes));
    assert!(over(&Stream::new(&fw).boot("b", "t").end(1, 0).bytes));
    assert!(over(&Stream::new(&fw).boot("b", "t").panic("boom").bytes));
    let fw = plain();
    let mut listener = Speaks::of(&fw).listener(&fw, Limits::default());
    let mut analyzer = Analyzer::new(&fw, DEFAULT_MAX_FRAME_LEN);
    analyzer.feed(&Stream::new(&fw).panic("boom").bytes, |f| {
        listener.frame(&f, Instant::now())
    });
    assert!(!listener.finished());
    assert_eq!(listener.deadline(), None);
}

#[test]
fn a_plain_run_that_exited_well_fails_on_a_malformed_frame() {
    let fw = plain();
    let mut bytes = plain_log(&fw);
    bytes.extend([0x55, 0x44, 0x00]);
    let j = judge(&fw, &bytes, EXIT_0);
    assert_eq!(j.verdict, Verdict::Fail);
    let reason = j.reason.unwrap();
    assert!(reason.contains("1 malformed frames"), "{reason}");
    assert_eq!(j.tests[0].outcome, Outcome::Fail);
    assert_eq!(j.tests[0].message.as_deref(), Some(reason.as_str()));
    // A run that failed anyway keeps its own reason.
    let j = judge(
        &fw,
        &bytes,
        Stop::TargetEnded(TargetEnd::Exited { code: 1 }),
    );
    assert_eq!(
        j.reason.as_deref(),
        Some("the firmware exited with status 1")
    );
}

#[rstest]
#[case::oversize(vec![0x01; 5000], "runs over the maximum frame length")]
#[case::unfinished(vec![0x01, 0x02], "unfinished frame")]
fn a_plain_run_fails_on_any_lost_link_bytes(#[case] extra: Vec<u8>, #[case] why: &str) {
    let fw = plain();
    let mut bytes = plain_log(&fw);
    bytes.extend(&extra);
    if extra.len() > 100 {
        bytes.push(0);
    }
    let j = judge(&fw, &bytes, EXIT_0);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.as_deref().unwrap().contains(why), "{:?}", j.reason);
}

#[test]
fn how_the_target_ended_is_read_from_the_stop() {
    let fw = plain();
    let analysis = Analyzer::new(&fw, 64).finish(None);
    let end = |stop: &Stop| {
        Ending::of(&RunEnd {
            stop,
            analysis: &analysis,
            timeout: Duration::from_millis(1500),
            board: None,
            at: Instant::now(),
            name: "x",
            rates: Rates::default(),
        })
    };
    assert_eq!(end(&EXIT_0), Ending::Exit(0));
    assert_eq!(
        end(&Stop::TargetEnded(TargetEnd::Halted { pc: 0, r0: 7 })),
        Ending::Exit(7)
    );
    assert_eq!(
        end(&Stop::Deadline),
        Ending::Timeout("still running after --timeout 1.5 s (0 bytes received)".into())
    );
    assert_eq!(end(&Stop::CaptureEnded), Ending::Unknown);
    assert_eq!(
        end(&Stop::Finished),
        Ending::Lost("the serial link closed while the target was running".into())
    );
    assert!(
        matches!(end(&Stop::TargetEnded(fault())), Ending::Fault(f) if f.contains("pc=0x00001234"))
    );
}

/// A drop-policy run: seq 0, `lost` frames dropped and reported (one event), seq `lost + 1`, end;
/// and the offset of the loss event.
fn dropping_run(fw: &Firmware, lost: u32) -> (usize, Vec<u8>) {
    let s = Stream::new(fw)
        .boot("lm3s6965evb", "t")
        .start("t", "drop")
        .seq(0, 0, 0)
        .drop_report(lost);
    // The event is where the next frame shows the gap.
    let event_at = s.bytes.len();
    let s = s.seq(0, lost + 1, lost + 1).stream(0, lost + 2);
    // boot, start, 2 seq, stream, and the dropped ones.
    (event_at, s.end(5 + lost, lost).bytes)
}

#[test]
fn the_loss_line_names_each_kind_of_loss_and_only_those_there_were() {
    use hil_runner::speaks::loss_line;
    use host_tests::streams::analyse;
    let fw = hil_firmware();
    assert_eq!(loss_line(&analyse(&fw, &hil_run(&fw, "t"), None)), None);

    let (event_at, bytes) = dropping_run(&fw, 3);
    let a = analyse(&fw, &bytes, None);
    assert_eq!(a.violations, [], "reported drops are allowed under drop");
    assert_eq!(
        loss_line(&a).as_deref(),
        Some(
            format!(
                "frames lost: 3 frames dropped by the firmware (1 loss event, largest 3 at byte {event_at})"
            )
            .as_str()
        )
    );

    // Two events (one reported short), a malformed frame: each named, counted once.
    let s = Stream::new(&fw)
        .boot("lm3s6965evb", "t")
        .start("t", "drop")
        .seq(0, 0, 0)
        .drop_report(1)
        .seq(0, 3, 3)
        .drop_report(1)
        .raw(&[0x55, 0x44, 0x00])
        .seq(0, 5, 5)
        .stream(0, 6);
    let a = analyse(&fw, &s.end(10, 2).bytes, None);
    let line = loss_line(&a).expect("frames were lost");
    assert!(
        line.starts_with(
            "frames lost: 2 frames dropped by the firmware (2 loss events, largest 2 at byte "
        ),
        "{line}"
    );
    assert!(
        line.ends_with("), 1 frames missing without a drop report, 1 malformed frames"),
        "{line}"
    );
}

#[test]
fn fail_on_loss_fails_a_passing_run_that_lost_frames_and_changes_nothing_else() {
    let fw = hil_firmware();
    let strict = Limits {
        fail_on_loss: true,
        ..Limits::default()
    };
    let (_, lossy) = dropping_run(&fw, 3);
    for (bytes, lost) in [(hil_run(&fw, "t"), false), (lossy, true)] {
        let mut judgements = Vec::new();
        for limits in [Limits::default(), strict] {
            let mut listener = Speaks::of(&fw).listener(&fw, limits);
            let mut analyzer = Analyzer::new(&fw, DEFAULT_MAX_FRAME_LEN);
            let at = Instant::now();
            let (head, tail) = bytes.split_at(bytes.len() - 4);
            analyzer.feed(head, |f| listener.frame(&f, at));
            assert!(!listener.finished(), "the end marker is not in yet");
            analyzer.feed(tail, |f| listener.frame(&f, at));
            assert!(listener.finished(), "the end marker ends the run");
            assert_eq!(listener.deadline(), None);
            let analysis = analyzer.finish(None);
            let end = run_end(&Stop::Finished, &analysis, None, at, Rates::default());
            judgements.push(listener.judge(&end));
        }
        let [lenient, strict] = &judgements[..] else {
            unreachable!()
        };
        assert_eq!(lenient.verdict, Verdict::Pass, "{:?}", lenient.reason);
        if lost {
            let why = "frames lost: 3 frames dropped by the firmware";
            assert_eq!(strict.verdict, Verdict::Fail);
            let reason = strict.reason.as_deref().unwrap();
            assert!(
                reason.starts_with(why) && reason.ends_with(" (--fail-on-loss)"),
                "{reason}"
            );
            assert_eq!(strict.tests.len(), 1);
            assert_eq!(strict.tests[0].outcome, Outcome::Fail);
            assert_eq!(strict.tests[0].message.as_deref(), Some(reason));
        } else {
            assert_eq!(
                strict.verdict,
                Verdict::Pass,
                "nothing lost: {:?}",
                strict.reason
            );
            assert_eq!(strict.tests[0].outcome, lenient.tests[0].outcome);
        }
    }
}
