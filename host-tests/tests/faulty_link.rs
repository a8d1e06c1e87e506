//! A faulty link between QEMU and the runner: each fault's counts in the report are what the fault touched, predicted from the clean capture of the same run.
//!
//! Every test runs the real ordering firmware in QEMU with faults injected
//! into the byte stream ([`hil_runner::inject`]). The runner keeps the bytes
//! before the faults (the clean capture); the test decodes that capture
//! itself, applies the same faults to it, and predicts which frames the
//! faults touched: those are malformed (or corrupted), their sequence frames
//! missing (gaps named at the next frame of their stream), every other frame
//! received; and the capture must be exactly the faulted bytes.

use std::path::Path;
use std::time::Duration;

use hil_runner::check::Violation;
use hil_runner::decode::{Content, FrameDecoder};
use hil_runner::firmware::Firmware;
use hil_runner::framer::Framer;
use hil_runner::inject::{self, FaultKind, FaultPlan};
use hil_runner::markers::Marker;
use hil_runner::report::{TestReport, Verdict};
use hil_runner::runner::{self, RunOptions};
use hil_runner::rzcobs;
use host_tests::{board, suite};

/// One frame of the clean capture.
struct CleanFrame {
    /// Offset of its first byte.
    start: u64,
    /// Offset of its delimiter.
    end: u64,
    /// `(stream, n)` if it is a sequence frame.
    seq: Option<(u8, u32)>,
    /// It decoded as a valid frame.
    valid: bool,
}

/// What a run through a faulty link gave.
struct FaultyRun {
    report: TestReport,
    capture: Vec<u8>,
    clean: Vec<u8>,
}

fn run_faulty(suite_name: &str, plan: &str) -> FaultyRun {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("run.raw");
    let mut opts = RunOptions::new(board(), suite(suite_name));
    // A hang guard: a run through a faulty link must end by itself.
    opts.timeout = Duration::from_secs(300);
    opts.capture = capture.clone();
    opts.inject = Some(plan.parse().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(runner::run(&opts)).expect("run starts");
    FaultyRun {
        report,
        capture: std::fs::read(&capture).unwrap(),
        clean: std::fs::read(inject::clean_capture_path(&capture)).unwrap(),
    }
}

/// The clean capture's frames, decoded by the test.
fn clean_frames(firmware: &Firmware, clean: &[u8]) -> Vec<CleanFrame> {
    let mut decoder = FrameDecoder::new(firmware);
    let mut frames = Vec::new();
    Framer::new(4096).feed(clean, |f| {
        let content = decoder.decode(f.bytes);
        let seq = match &content {
            Ok(Content::Marker(Marker::Seq { stream, n, .. })) => Some((*stream, *n)),
            _ => None,
        };
        frames.push(CleanFrame {
            start: f.offset,
            end: f.offset + f.bytes.len() as u64,
            seq,
            valid: content.is_ok(),
        });
    });
    frames
}

/// The plan applied to `clean` by the test itself (stalls change no byte; a close ends the stream).
fn apply(plan: &FaultPlan, clean: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for fault in plan.faults() {
        let at = fault.at as usize;
        out.extend_from_slice(&clean[pos..at.min(clean.len())]);
        pos = at.min(clean.len());
        match fault.kind {
            FaultKind::Flip(mask) => {
                out.push(clean[at] ^ mask);
                pos = at + 1;
            }
            FaultKind::Drop(n) => pos = (at + n as usize).min(clean.len()),
            FaultKind::Noise(n) => out.extend(inject::noise_bytes(fault.at, n)),
            FaultKind::Stall(_) => {}
            FaultKind::Close => return out,
        }
    }
    out.extend_from_slice(&clean[pos..]);
    out
}

/// Where clean offset `at` (of a byte no fault touched) is in the faulted stream.
fn shifted(plan: &FaultPlan, at: u64) -> u64 {
    plan.faults()
        .iter()
        .filter(|f| f.at < at)
        .fold(at, |o, f| match f.kind {
            FaultKind::Drop(n) => o - n,
            FaultKind::Noise(n) => o + n,
            _ => o,
        })
}

/// Clean bytes a fault touches: a flip its byte, a drop its bytes, noise the byte it goes before.
fn touched_range(kind: FaultKind, at: u64) -> Option<(u64, u64)> {
    match kind {
        FaultKind::Flip(_) | FaultKind::Noise(_) => Some((at, at)),
        FaultKind::Drop(n) => Some((at, at + n - 1)),
        FaultKind::Stall(_) | FaultKind::Close => None,
    }
}

/// What the faults should have done to the run.
#[derive(Debug, Default)]
struct Prediction {
    /// Valid frames received.
    frames: u64,
    /// Frames the faults garbled: pieces of faulted bytes between intact delimiters.
    bad_pieces: u64,
    /// Of those, pieces that are valid rzcobs (with frame checks: corrupted, not malformed).
    rzcobs_valid: u64,
    /// Of those, pieces defmt-decoder decodes as a frame of the ELF's table (a wrong log line, without frame checks).
    defmt_valid: u64,
    /// Offsets of the garbled pieces in the faulted stream.
    piece_offsets: Vec<u64>,
    /// Sequence frames that do not arrive.
    missing: u64,
    /// The gaps the ordering check must name.
    gaps: Vec<Violation>,
}

fn predict(firmware: &Firmware, plan: &FaultPlan, clean: &[u8], faulted: &[u8]) -> Prediction {
    let frames = clean_frames(firmware, clean);
    let close = plan
        .faults()
        .iter()
        .find(|f| f.kind == FaultKind::Close)
        .map(|f| f.at);
    // A frame is touched by a fault on its bytes, its delimiter or the delimiter before it.
    let touched = |f: &CleanFrame| {
        let first = f.start.saturating_sub(1);
        plan.faults().iter().any(|fault| {
            touched_range(fault.kind, fault.at).is_some_and(|(a, b)| a <= f.end && first <= b)
        })
    };
    let mut p = Prediction::default();
    let mut group: Option<(u64, u64)> = None;
    let mut lost: Vec<(u8, u32)> = Vec::new();
    let mut bad_groups = Vec::new();
    for f in frames.iter().filter(|f| close.is_none_or(|c| f.end < c)) {
        if touched(f) {
            group = Some((group.map_or(f.start, |g| g.0), f.end));
            lost.extend(f.seq);
            continue;
        }
        if let Some(g) = group.take() {
            bad_groups.push(g);
        }
        p.frames += u64::from(f.valid);
        if let Some((stream, n)) = f.seq {
            // The next frame of a stream after its lost ones names the gap.
            let first = lost.iter().filter(|l| l.0 == stream).map(|l| l.1).min();
            if let Some(first) = first {
                p.gaps.push(Violation::Gap {
                    stream,
                    first_missing: first,
                    last_missing: n - 1,
                    offset: shifted(plan, f.start),
                });
                lost.retain(|l| l.0 != stream);
            }
        }
    }
    assert!(
        group.is_none() && lost.is_empty(),
        "a fault too near the end"
    );
    let mut decoder = FrameDecoder::new(firmware);
    let mut buf = Vec::new();
    for (start, end) in bad_groups {
        let from = shifted(plan, start);
        let piece_bytes = &faulted[from as usize..shifted(plan, end) as usize];
        let mut at = from;
        for piece in piece_bytes.split(|&b| b == 0) {
            let offset = at;
            at += piece.len() as u64 + 1;
            if piece.is_empty() {
                continue;
            }
            // A piece the decoder accepts (noise that happens to spell a frame: a few random
            // bytes between two zeros) is a valid frame to the runner too, not a malformed one.
            if decoder.decode(piece).is_ok() {
                p.frames += 1;
                continue;
            }
            p.piece_offsets.push(offset);
            p.bad_pieces += 1;
            if rzcobs::decode_into(piece, &mut buf).is_ok() {
                p.rzcobs_valid += 1;
                p.defmt_valid += u64::from(firmware.table().decode(&buf).is_ok());
            }
        }
    }
    p.missing = frames
        .iter()
        .filter(|f| f.seq.is_some() && touched(f))
        .count() as u64;
    p
}

/// Where the runner's malformed frames and the predicted pieces differ (a failing test's message).
fn explain_malformed(firmware: &Firmware, faulted: &[u8], p: &Prediction) {
    let mut decoder = FrameDecoder::new(firmware);
    let mut malformed = Vec::new();
    Framer::new(4096).feed(faulted, |f| {
        if let Err(e) = decoder.decode(f.bytes) {
            malformed.push((f.offset, e));
        }
    });
    let unexpected: Vec<_> = malformed
        .iter()
        .filter(|(o, _)| !p.piece_offsets.contains(o))
        .collect();
    let unseen: Vec<_> = p
        .piece_offsets
        .iter()
        .filter(|o| !malformed.iter().any(|(m, _)| m == *o))
        .collect();
    eprintln!(
        "malformed but not predicted: {unexpected:?}; predicted but not malformed: {unseen:?}"
    );
}

/// The report's gaps.
fn gaps(r: &TestReport) -> Vec<Violation> {
    r.details
        .as_ref()
        .unwrap()
        .violations
        .iter()
        .filter(|v| matches!(v, Violation::Gap { .. }))
        .cloned()
        .collect()
}

/// Run the ordering suite through `plan` and check the report against the prediction.
fn faulty_ordering(suite_name: &str, plan: &str) -> (FaultyRun, Prediction) {
    let run = run_faulty(suite_name, plan);
    let plan: FaultPlan = plan.parse().unwrap();
    let firmware = Firmware::load(Path::new(&run.report.elf)).unwrap();
    let faulted = apply(&plan, &run.clean);
    assert_eq!(
        run.capture, faulted,
        "the capture holds every byte that arrived, exactly"
    );
    assert_eq!(run.report.bytes, run.capture.len() as u64);
    let p = predict(&firmware, &plan, &run.clean, &faulted);
    let r = &run.report;
    assert_eq!(r.frames, p.frames, "valid frames: {p:?} {:?}", r.reason);
    if r.malformed != p.bad_pieces {
        explain_malformed(&firmware, &faulted, &p);
    }
    assert_eq!(r.malformed, p.bad_pieces, "malformed frames");
    assert_eq!(r.missing, p.missing, "missing sequence frames");
    // The report keeps the first 100 violations in full (gaps come first, as frames arrive).
    let named = gaps(r);
    assert_eq!(named.len(), p.gaps.len().min(100));
    assert_eq!(
        named,
        p.gaps[..named.len()],
        "gaps named at the next frame of their stream"
    );
    if firmware.frame_check() {
        assert_eq!(r.corrupted, p.rzcobs_valid, "corrupted: {p:?}");
    } else {
        assert_eq!(r.corrupted, 0);
    }
    (run, p)
}

fn assert_fails_on_loss(r: &TestReport) {
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.reason);
    assert!(
        r.missing >= 1 && r.malformed >= 1,
        "the fault touched something"
    );
}

#[test]
fn a_flipped_bit_costs_the_frame_it_hit() {
    let (run, _) = faulty_ordering("ordering", "flip@20001:0x04");
    assert_fails_on_loss(&run.report);
}

#[test]
fn dropped_bytes_cost_the_frames_they_were_in() {
    // 40 bytes: at least one delimiter, so at least two frames run together.
    let (run, _) = faulty_ordering("ordering", "drop@30000+3,drop@60000+40");
    assert_fails_on_loss(&run.report);
}

#[test]
fn a_noise_burst_costs_the_frame_it_lands_in() {
    let (run, _) = faulty_ordering("ordering", "noise@40000+16");
    assert_fails_on_loss(&run.report);
}

#[test]
fn a_stall_longer_than_a_frame_loses_nothing() {
    let (run, p) = faulty_ordering("ordering", "stall@25003:2s");
    let r = &run.report;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    assert_eq!((p.bad_pieces, p.missing), (0, 0));
    assert_eq!(run.capture, run.clean);
}

#[test]
fn a_closed_link_is_a_crash_with_every_byte_before_it_kept() {
    let run = run_faulty("ordering", "close@50005");
    let r = &run.report;
    assert_eq!(r.verdict, Verdict::Crash, "{:?}", r.reason);
    assert!(
        r.reason
            .as_deref()
            .unwrap_or("")
            .contains("serial link closed"),
        "{:?}",
        r.reason
    );
    assert_eq!(run.capture.len(), 50005);
    assert_eq!(run.capture, run.clean, "every byte up to the close");
    let firmware = Firmware::load(Path::new(&r.elf)).unwrap();
    let frames = clean_frames(&firmware, &run.clean);
    let whole = frames.iter().filter(|f| f.valid).count() as u64;
    assert_eq!((r.frames, r.malformed), (whole, 0));
    let cut = frames.last().map_or(0, |f| f.end + 1);
    let unfinished = Violation::UnfinishedFrame {
        offset: cut,
        len: (50005 - cut) as usize,
    };
    let violations = &r.details.as_ref().unwrap().violations;
    if cut < 50005 {
        assert!(violations.contains(&unfinished), "{violations:?}");
    }
}

#[test]
fn frame_checks_accept_no_bit_flipped_frame() {
    // 200 flips, 997 bytes apart: some hit delimiters, most hit frames.
    let plan: Vec<String> = (0..200)
        .map(|i| format!("flip@{}:0x10", 10_000 + i * 997))
        .collect();
    let plan = plan.join(",");
    let (plain, without) = faulty_ordering("ordering", &plan);
    let (checked, with) = faulty_ordering("ordering-frame-check", &plan);
    assert!(Firmware::load(Path::new(&checked.report.elf))
        .unwrap()
        .frame_check());
    assert!(!Firmware::load(Path::new(&plain.report.elf))
        .unwrap()
        .frame_check());
    // With frame checks, every garbled frame is rejected (the counts above
    // equal the prediction: no frame beyond the intact ones was accepted), and
    // those that were valid rzcobs are named corrupted.
    assert_eq!(checked.report.corrupted, with.rzcobs_valid);
    assert!(with.rzcobs_valid > 0);
    eprintln!(
        "bit flips, frame-check off: {} garbled frames, {} valid rzcobs, {} decoded by defmt-decoder as valid frames \
         (the runner rejects them by the sequence frames' own check value); \
         frame-check on: {} garbled frames, {} corrupted, 0 accepted",
        without.bad_pieces,
        without.rzcobs_valid,
        without.defmt_valid,
        with.bad_pieces,
        checked.report.corrupted
    );
}
