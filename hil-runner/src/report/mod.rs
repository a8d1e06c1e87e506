//! Test reports: one [`TestReport`] per test, written as terminal text, JSON or JUnit XML.

pub mod cases;
pub mod json;
pub mod junit;
pub mod terminal;

use serde::Serialize;

use crate::analysis::Analysis;
use crate::backend::TargetEnd;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// A check failed (ordering, loss accounting, malformed frames ...).
    Fail,
    /// The firmware panicked or faulted, or exited without its end marker.
    Crash,
    /// The end marker did not arrive before the deadline.
    Timeout,
    /// The harness could not run the test (QEMU, probe or serial fault).
    Error,
}

impl Verdict {
    /// The verdict's name as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Crash => "crash",
            Self::Timeout => "timeout",
            Self::Error => "error",
        }
    }
}

/// The runner's documented exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: every test passed.
    Passed = 0,
    /// 1: a check failed or the firmware crashed.
    CheckFailed = 1,
    /// 4: a test timed out.
    Timeout = 4,
    /// 3: infrastructure fault (QEMU, probe, serial).
    Infrastructure = 3,
    /// 2: bad input or configuration (board file, ELF, arguments).
    BadInput = 2,
}

impl ExitStatus {
    /// The status of a set of verdicts: the most serious one wins
    /// (infrastructure, then timeout, then failure).
    pub fn of(verdicts: impl IntoIterator<Item = Verdict>) -> Self {
        verdicts
            .into_iter()
            .map(|v| match v {
                Verdict::Pass => Self::Passed,
                Verdict::Fail | Verdict::Crash => Self::CheckFailed,
                Verdict::Timeout => Self::Timeout,
                Verdict::Error => Self::Infrastructure,
            })
            .max()
            .unwrap_or(Self::Passed)
    }

    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Shortest stretch of arrivals a rate is computed over: bytes that arrive in
/// one or two reads say nothing about the link's speed.
const MIN_RATE_WINDOW_S: f64 = 0.01;

/// `n` per second over `duration_s`, or 0 for a run too short to measure (under 10 ms).
pub fn rate(n: u64, duration_s: f64) -> f64 {
    if duration_s >= MIN_RATE_WINDOW_S {
        n as f64 / duration_s
    } else {
        0.0
    }
}

/// Everything known about one test run.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Test name (from the start marker, else the ELF's file name).
    pub name: String,
    /// Board it ran on.
    pub board: String,
    /// The firmware ELF.
    pub elf: String,
    /// The raw capture: every byte received.
    pub capture: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line, when not `pass`.
    pub reason: Option<String>,
    /// Valid frames received.
    pub frames: u64,
    /// Frames rejected by the decoder.
    pub malformed: u64,
    /// Of the malformed frames, those whose check value failed (hil-transport's `frame-check`).
    pub corrupted: u64,
    /// Valid frames (of `frames`) read out of the target's queue after it stopped.
    pub recovered: u64,
    /// Frames the transport reported dropped.
    pub dropped_reported: u64,
    /// Sequence frames sent but neither received nor reported dropped.
    pub missing: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Seconds from the first byte to the end marker (or the last byte).
    pub duration_s: f64,
    /// Link throughput: `bytes / duration_s` (0 when the run took under 10 ms: too short to measure).
    pub bytes_per_s: f64,
    /// Frame rate: `frames / duration_s` (0 when the run took under 10 ms).
    pub frames_per_s: f64,
    /// Cost of one log call on the target, in instructions: the throughput
    /// firmware's `log_call_cycles` on an emulated board run under QEMU's
    /// `-icount shift=0` (one instruction per nanosecond); absent otherwise.
    pub log_call_instructions: Option<f64>,
    /// Cost of one log call on the target, in core cycles (real boards: DWT
    /// cycle counter, or SysTick on ARMv6-M).
    pub log_call_cycles: Option<f64>,
    /// Share of the serial line the run used: `bytes_per_s / (baud / 10)` (8N1:
    /// ten bits per byte), when the link's baud rate is known.
    pub line_utilisation: Option<f64>,
    /// Overflow policy of the firmware's transport (`drop`, `truncate`, `block`).
    pub policy: Option<String>,
    /// Loss events: count, frames lost per event, the worst one.
    pub overflow: Option<crate::check::overflow::OverflowSummary>,
    /// How the target ended.
    pub target_end: Option<TargetEnd>,
    /// The first violations (at most 100).
    pub violations: Vec<serde_json::Value>,
    /// Violations in all.
    pub violations_total: u64,
    /// What the firmware speaks (`defmt`, `defmt-test`, `hil-protocol`).
    pub speaks: Option<crate::speaks::Speaks>,
    /// The tests inside the run, in order (one for firmware that is one test).
    pub tests: Vec<cases::TestCase>,
    /// Everything the analysis counted.
    pub details: Option<Analysis>,
}

impl TestReport {
    /// A report of a test the harness could not run or judge.
    pub fn error(name: &str, board: &str, elf: &str, capture: &str, reason: String) -> Self {
        Self {
            name: name.into(),
            board: board.into(),
            elf: elf.into(),
            capture: capture.into(),
            verdict: Verdict::Error,
            reason: Some(reason),
            frames: 0,
            malformed: 0,
            corrupted: 0,
            recovered: 0,
            dropped_reported: 0,
            missing: 0,
            bytes: 0,
            duration_s: 0.0,
            bytes_per_s: 0.0,
            frames_per_s: 0.0,
            log_call_instructions: None,
            log_call_cycles: None,
            line_utilisation: None,
            policy: None,
            overflow: None,
            target_end: None,
            violations: Vec::new(),
            violations_total: 0,
            speaks: None,
            tests: Vec::new(),
            details: None,
        }
    }

    /// Take the verdict, the reason and the tests of a judgement.
    pub fn with_judgement(mut self, judgement: crate::speaks::Judgement) -> Self {
        self.verdict = judgement.verdict;
        self.reason = judgement.reason;
        self.tests = judgement.tests;
        self
    }

    /// Fill counts, rates and violations from an analysis.
    pub fn with_analysis(mut self, analysis: Analysis, duration_s: f64) -> Self {
        let s = &analysis.summary;
        self.frames = s.frames;
        self.malformed = s.malformed;
        self.corrupted = s.corrupted;
        self.recovered = s.recovered;
        self.dropped_reported = s.dropped_reported;
        self.missing = s.missing;
        self.bytes = s.bytes;
        self.duration_s = duration_s;
        let rate = |n: u64| rate(n, duration_s);
        self.bytes_per_s = rate(s.bytes);
        self.frames_per_s = rate(s.frames);
        if let Some(test) = &s.test {
            self.name = test.clone();
        }
        self.policy = s.policy.clone();
        self.overflow = Some(s.overflow.clone());
        self.violations = analysis
            .violations
            .iter()
            .map(|v| {
                let mut json = serde_json::to_value(v).unwrap_or_default();
                json["message"] = v.to_string().into();
                json
            })
            .collect();
        self.violations_total = analysis.violations_total;
        self.log_call_cycles = match (s.params.get(LOG_CALL_CLOCK), s.params.get(LOG_CALL_COST)) {
            (Some(&(CLOCK_DWT | CLOCK_SYSTICK)), Some(&cycles)) => Some(f64::from(cycles)),
            _ => None,
        };
        self.details = Some(analysis);
        self
    }

    /// Fill the figures that depend on how the run was made: the per-call cost
    /// counts instructions only under QEMU's `-icount shift=0`, and line
    /// utilisation needs the link's baud rate.
    pub fn with_link(mut self, link: &RunLink) -> Self {
        let params = self.details.as_ref().map(|a| &a.summary.params);
        let param = |name: &str| params.and_then(|p| p.get(name)).copied();
        self.log_call_instructions = match (param(LOG_CALL_CLOCK), param(LOG_CALL_COST)) {
            (Some(CLOCK_EMULATED), Some(instructions)) if link.icount => {
                Some(f64::from(instructions))
            }
            _ => None,
        };
        self.line_utilisation = link
            .baud
            .filter(|&baud| baud > 0 && self.bytes_per_s > 0.0)
            .map(|baud| self.bytes_per_s / (f64::from(baud) / 10.0));
        self
    }
}

/// Parameter of the throughput firmware: what its `log_call_cycles` counts.
pub const LOG_CALL_CLOCK: &str = "log_call_clock";
/// Parameter of the throughput firmware: mean cost of one log call.
pub const LOG_CALL_COST: &str = "log_call_cycles";
/// `log_call_clock`: emulated board, instructions (valid under `-icount shift=0` only).
pub const CLOCK_EMULATED: u32 = 1;
/// `log_call_clock`: core cycles from the DWT cycle counter.
pub const CLOCK_DWT: u32 = 2;
/// `log_call_clock`: core cycles from SysTick (ARMv6-M).
pub const CLOCK_SYSTICK: u32 = 3;

/// How a run was made, as far as its figures depend on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLink {
    /// QEMU ran with `-icount shift=0`: emulated time counts instructions.
    pub icount: bool,
    /// Baud rate of the serial link (real boards), for line utilisation.
    pub baud: Option<u32>,
}

impl RunLink {
    /// The link of a run with these extra QEMU arguments and this baud rate.
    pub fn new(qemu_args: &[String], baud: Option<u32>) -> Self {
        Self {
            icount: icount_shift_zero(qemu_args),
            baud,
        }
    }
}

/// Whether QEMU arguments contain `-icount shift=0` (or `-icount 0`, `-icount shift=0,...`).
pub fn icount_shift_zero(args: &[String]) -> bool {
    args.windows(2).any(|pair| {
        matches!(pair[0].as_str(), "-icount" | "--icount")
            && pair[1].split(',').any(|opt| opt == "0" || opt == "shift=0")
    })
}

#[cfg(test)]
mod tests {
    //! The run-dependent figures of a report.

    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn icount_is_recognised_in_its_spellings() {
        assert!(icount_shift_zero(&args(&["-icount", "shift=0"])));
        assert!(icount_shift_zero(&args(&["-icount", "shift=0,align=off"])));
        assert!(icount_shift_zero(&args(&["-m", "1", "-icount", "0"])));
        assert!(!icount_shift_zero(&args(&["-icount", "shift=3"])));
        assert!(!icount_shift_zero(&args(&["-icount"])));
        assert!(!icount_shift_zero(&args(&[])));
    }

    fn report(params: &[(&str, u32)], bytes: u64) -> TestReport {
        let mut analysis = crate::analysis::Analysis {
            summary: Default::default(),
            violations: Vec::new(),
            violations_total: 0,
        };
        analysis.summary.bytes = bytes;
        for &(name, value) in params {
            analysis.summary.params.insert(name.into(), value);
        }
        TestReport::error("t", "b", "e", "c", String::new()).with_analysis(analysis, 2.0)
    }

    #[test]
    fn emulated_cost_is_instructions_only_under_icount() {
        let params = [(LOG_CALL_CLOCK, CLOCK_EMULATED), (LOG_CALL_COST, 509)];
        let icount = RunLink::new(&args(&["-icount", "shift=0"]), None);
        let r = report(&params, 100).with_link(&icount);
        assert_eq!(r.log_call_instructions, Some(509.0));
        assert_eq!(r.log_call_cycles, None);
        let r = report(&params, 100).with_link(&RunLink::default());
        assert_eq!(r.log_call_instructions, None);
    }

    #[test]
    fn real_board_cost_is_cycles_and_utilisation_needs_the_baud_rate() {
        let params = [(LOG_CALL_CLOCK, CLOCK_DWT), (LOG_CALL_COST, 420)];
        // 23,040 bytes in 2 s at 115200 baud (11,520 bytes/s of line): full.
        let r = report(&params, 23_040).with_link(&RunLink::new(&[], Some(115_200)));
        assert_eq!(r.log_call_cycles, Some(420.0));
        assert_eq!(r.log_call_instructions, None);
        assert_eq!(r.line_utilisation, Some(1.0));
        let r = report(&params, 23_040).with_link(&RunLink::default());
        assert_eq!(r.line_utilisation, None);
    }
}
