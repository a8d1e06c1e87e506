//! embedded-test suites: the tests listed in the ELF, each judged in a fresh target by how it ends.
//!
//! embedded-test 0.7 puts each test in section `.embedded_test.tests` as a
//! static `(fn() -> !, &'static str)`: the test's invoker and its module
//! path; the static's symbol name is a JSON object (`name`, `ignored`,
//! `should_panic`, `timeout` in seconds). After reset the target asks for its
//! command line through semihosting and runs `run_addr ADDR` (the invoker's
//! address, decimal); the test ends with semihosting exit 0 (pass) or abort
//! (fail: an `Err`, a panic, through embedded-test's panic handler).

use std::time::{Duration, Instant};

use super::panic::PanicWatch;
use super::{Ending, Judgement, Listener, RunEnd};
use crate::analysis::SeenFrame;
use crate::decode::Content;
use crate::firmware::Firmware;
use crate::report::cases::{Outcome, TestCase};
use crate::report::Verdict;

/// The ELF section that lists the tests.
pub const TESTS_SECTION: &str = ".embedded_test.tests";
/// The symbol of the protocol version embedded-test speaks.
pub const VERSION_SYMBOL: &str = "EMBEDDED_TEST_VERSION";
/// The protocol version this reader knows.
pub const KNOWN_VERSION: u32 = 1;

/// One test of an embedded-test ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedTest {
    /// `module::test`, without the crate's name (as libtest and probe-rs name it).
    pub name: String,
    /// `#[ignore]`.
    pub ignored: bool,
    /// `#[should_panic]`: it passes when it aborts.
    pub should_panic: bool,
    /// `#[timeout(S)]`, or the suite's default.
    pub timeout: Option<Duration>,
    /// Address of the test's invoker, the argument of `run_addr`.
    pub invoker: u32,
}

impl EmbeddedTest {
    /// The command line the target asks for to run this test.
    pub fn command_line(&self) -> [String; 2] {
        ["run_addr".into(), self.invoker.to_string()]
    }
}

/// The tests of an embedded-test ELF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedTestTable {
    /// `EMBEDDED_TEST_VERSION`.
    pub version: u32,
    /// The tests, in the order of their statics in the section.
    pub tests: Vec<EmbeddedTest>,
}

#[derive(serde::Deserialize)]
struct RawTest {
    name: String,
    #[serde(default)]
    ignored: bool,
    #[serde(default)]
    should_panic: bool,
    timeout: Option<u64>,
}

/// The embedded-test table of `elf`: `Ok(None)` if it is not an embedded-test ELF,
/// an error naming what is wrong if its table cannot be read.
pub fn read(elf: &[u8]) -> Result<Option<EmbeddedTestTable>, String> {
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
    let Ok(file) = object::File::parse(elf) else {
        return Ok(None);
    };
    let Some(version) = file.symbols().find(|s| s.name() == Ok(VERSION_SYMBOL)) else {
        return Ok(None);
    };
    // embedded-test's linker script gathers `.embedded_test.tests` and
    // `.embedded_test.meta` into `.embedded_test`, a section that is not
    // loaded (address 0): a symbol's value is an offset into it.
    let Some(section) = version
        .section_index()
        .and_then(|i| file.section_by_index(i).ok())
    else {
        return Err(format!("{VERSION_SYMBOL} is in no section"));
    };
    let table = section
        .data()
        .map_err(|e| format!("cannot read {}: {e}", section.name().unwrap_or("?")))?;
    let word_at = |offset: u64| -> Option<u32> {
        let start = usize::try_from(offset.checked_sub(section.address())?).ok()?;
        Some(u32::from_le_bytes(
            table.get(start..start.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    // The module path is in the image (`.rodata`): found by its address.
    let loaded = |address: u64, len: usize| -> Option<Vec<u8>> {
        file.sections()
            .filter(|s| s.index() != section.index() && s.address() != 0)
            .find_map(|s| {
                let start = usize::try_from(address.checked_sub(s.address())?).ok()?;
                Some(s.data().ok()?.get(start..start.checked_add(len)?)?.to_vec())
            })
    };
    let version =
        word_at(version.address()).ok_or_else(|| format!("cannot read {VERSION_SYMBOL}"))?;
    let mut tests = Vec::new();
    for symbol in file.symbols() {
        let Ok(json) = symbol.name() else { continue };
        if symbol.section_index() != Some(section.index()) || !json.starts_with('{') {
            continue;
        }
        let raw: RawTest = serde_json::from_str(json)
            .map_err(|e| format!("test symbol {json:?} in {TESTS_SECTION}: {e}"))?;
        let at = symbol.address();
        let (Some(invoker), Some(path_ptr), Some(path_len)) =
            (word_at(at), word_at(at + 4), word_at(at + 8))
        else {
            return Err(format!("cannot read the static of test {}", raw.name));
        };
        let module = loaded(u64::from(path_ptr), path_len as usize)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        tests.push((
            at,
            EmbeddedTest {
                name: test_name(&module, &raw.name),
                ignored: raw.ignored,
                should_panic: raw.should_panic,
                timeout: raw.timeout.map(Duration::from_secs),
                invoker,
            },
        ));
    }
    tests.sort_by_key(|(at, _)| *at);
    Ok(Some(EmbeddedTestTable {
        version,
        tests: tests.into_iter().map(|(_, t)| t).collect(),
    }))
}

/// `mixed::tests` + `passes` → `tests::passes`: the module path without the crate.
fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}

/// Reads the run of one embedded-test test.
pub struct EmbeddedTestRun<'t> {
    test: EmbeddedTest,
    watch: PanicWatch<'t>,
    /// The last error line, or embedded-test's `Test exited with Err(..)` line.
    last_error: Option<String>,
    started: Option<Instant>,
}

impl<'t> EmbeddedTestRun<'t> {
    /// A reader for the run of `test` of `firmware`.
    pub fn new(firmware: &'t Firmware, test: EmbeddedTest) -> Self {
        Self {
            test,
            watch: PanicWatch::new(firmware),
            last_error: None,
            started: None,
        }
    }
}

impl Listener for EmbeddedTestRun<'_> {
    fn frame(&mut self, frame: &SeenFrame<'_, '_>, at: Instant) {
        self.started.get_or_insert(at);
        if let Ok(Content::Log(f)) = frame.content {
            let is_error = f.level() == Some(defmt_parser::Level::Error);
            let message = || f.display_message().to_string();
            if is_error {
                self.last_error = Some(message());
            } else if f.level().is_some() {
                let m = message();
                if m.starts_with("Test exited with Err") {
                    self.last_error = Some(m);
                }
            }
        }
        self.watch.frame(frame);
    }

    fn judge(mut self: Box<Self>, end: &RunEnd<'_>) -> Judgement {
        let ending = Ending::of(end);
        let panic = self.watch.take();
        let failure = panic
            .as_ref()
            .map(|p| p.message.clone())
            .or(self.last_error.take());
        let location = panic.and_then(|p| p.location);
        let (outcome, message) = match (&ending, self.test.should_panic) {
            (Ending::Exit(0), false) => (Outcome::Pass, None),
            (Ending::Exit(0), true) => (
                Outcome::Fail,
                Some("the test passed but is marked #[should_panic]".to_owned()),
            ),
            (Ending::Exit(_), true) => (Outcome::Pass, None),
            (Ending::Exit(code), false) => (
                Outcome::Fail,
                Some(failure.unwrap_or_else(|| format!("the test aborted (status {code})"))),
            ),
            (Ending::Fault(fault), _) => (Outcome::Crash, Some(fault.clone())),
            (Ending::Timeout(_), _) => {
                let bound = end.timeout.as_secs_f64();
                (
                    Outcome::Timeout,
                    Some(format!("still running after {bound:.1} s")),
                )
            }
            (Ending::Lost(detail), _) => (Outcome::Error, Some(detail.clone())),
            (Ending::Unknown, _) => (Outcome::Fail, Some("the capture has no end".into())),
        };
        let verdict = match outcome {
            Outcome::Pass => Verdict::Pass,
            Outcome::Crash => Verdict::Crash,
            Outcome::Timeout => Verdict::Timeout,
            Outcome::Error => Verdict::Error,
            _ => Verdict::Fail,
        };
        let duration = self
            .started
            .map_or(0.0, |s| end.at.saturating_duration_since(s).as_secs_f64());
        let location = location.filter(|_| outcome != Outcome::Pass);
        let case =
            TestCase::new(&self.test.name, outcome, duration).because(message.clone(), location);
        Judgement {
            verdict,
            reason: message.map(|m| format!("test {} {}: {m}", self.test.name, outcome.libtest())),
            tests: vec![case],
        }
        .with_link(end)
    }
}

#[cfg(test)]
mod tests;
