//! On-target embedded-test suite of `hil-transport` under a crash in the
//! middle of a frame, and the helpers it uses.
//!
//! `tests/crash_mid_frame.rs` is one embedded-test 0.7 image: the runner
//! (`hil-runner run`, the workspace's cargo runner) lists its tests from the
//! ELF and runs each in a fresh target, because a crash leaves the target
//! unusable for a next test: the logger stays taken (a log call that never
//! returned), interrupts stay masked, the queue holds what the crash left.
//!
//! # What is under test
//!
//! The transport's promise that **a frame is on the wire whole or not at
//! all**, also when the firmware dies while a frame is being encoded: the
//! frame under construction sits in the logger's staging buffer, never in the
//! queue, so the board's panic handler (hil-board's, with its default feature
//! `panic-handler`) can flush the queue and every byte it sends belongs to a
//! whole frame. embedded-test's own panic handler is off (its default feature
//! `panic-handler`): it logs through defmt without checking whether a log
//! call is in progress (a panic inside a `Format` impl would re-enter the
//! logger) and aborts without a flush (the queued frames would never leave).
//!
//! # How a test passes
//!
//! A plain test passes when it returns (embedded-test exits with status 0). A
//! `#[should_panic]` test passes when the target ends with another status:
//! here the board's panic handler exits with failure (status 1) after its
//! flush. So that such a test cannot pass by panicking somewhere else (a
//! setup step that went wrong), its checks before the crash use [`expect`]:
//! a failed check exits with **success**, which the runner reports as "the
//! test passed but is marked #[should_panic]", a failure, with the check's
//! text in the log. The runner fails any run whose stream has malformed,
//! oversize or unfinished frames, so a partial frame reaching the wire fails
//! the test even though the target did crash.
//!
//! # The last line of a passing test
//!
//! embedded-test logs `Test exited with () or Ok(..)` and exits at once,
//! without `defmt::flush`: with a queued logger that frame stays in the queue
//! (nothing is lost on the wire, it simply never leaves). A passing test
//! calls [`finish`] last, so everything it logged is sent.
#![no_std]
#![warn(missing_docs)]

use cortex_m::peripheral::SYST;
use hil_transport::Drain;

/// The overflow policy the suite is written for.
pub const POLICY: &str = "drop";

/// What each test gets from `#[init]`.
pub struct Target {
    /// The consumer side of the log queue (the tests leave it alone: frames
    /// stay queued until a flush, a crash's flush included).
    pub drain: Drain,
    /// SysTick, for the grace period of [`finish`].
    pub syst: SYST,
}

/// The suite's `#[init]`: sets up the board's UART and the transport, logs
/// one line about the build and sends it, so the queue starts empty.
pub fn init() -> Target {
    hil_board::init();
    let drain = hil_transport::init(hil_board::uart_write);
    let core = cortex_m::Peripherals::take().expect("core peripherals are taken once, here");
    defmt::info!(
        "crash-suite: board {=str}, policy {=str}, queue {=usize} bytes, max frame {=usize} bytes",
        hil_board::NAME,
        hil_transport::POLICY,
        hil_transport::QUEUE_SIZE,
        hil_transport::MAX_FRAME
    );
    hil_transport::flush();
    Target {
        drain,
        syst: core.SYST,
    }
}

/// A check before the crash of a `#[should_panic]` test: when `holds` is
/// false, logs `what`, sends the log and exits with **success**, so the
/// runner fails the test ("passed but is marked #[should_panic]") instead of
/// counting a panic that is not the one under test.
pub fn expect(holds: bool, what: &str) {
    if holds {
        return;
    }
    defmt::error!("crash-suite: check before the crash failed: {=str}", what);
    hil_transport::flush();
    // SAFETY: the run ends here; nothing else uses SysTick again.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    hil_board::wait_ms(&mut syst, hil_board::EXIT_GRACE_MS);
    hil_board::exit(true)
}

/// The checks every `#[should_panic]` test makes first: the policy is the
/// one the suite is written for, and this target is fresh (no log call in
/// progress, nothing dropped).
pub fn expect_fresh_target() {
    expect(
        hil_transport::POLICY == POLICY,
        "the transport uses the policy `drop` (features unified? test -p hil-target-crash-tests)",
    );
    expect(!hil_transport::is_logging(), "no log call is in progress");
    expect(hil_transport::dropped() == 0, "nothing was dropped yet");
}

/// Logs `what` is about to happen and sends it: the capture shows the test
/// got as far as its crash.
pub fn arm(what: &str) {
    defmt::info!("crash-suite: crashing now: {=str}", what);
    hil_transport::flush();
}

/// Logs `n` frames and leaves them in the queue (nothing drains it).
pub fn queue_frames(n: u32) {
    for i in 1..=n {
        defmt::info!("crash-suite: queued frame {=u32} of {=u32}", i, n);
    }
}

/// Logs fill frames (45 bytes each, encoded) into the undrained queue until
/// one does not fit and is dropped: the queue is full. Returns how many were
/// queued; stops after [`hil_transport::QUEUE_SIZE`] attempts (a policy that
/// never drops, `block`, drains into the UART instead).
pub fn fill_queue() -> u32 {
    let dropped = hil_transport::dropped();
    let mut queued = 0;
    for _ in 0..hil_transport::QUEUE_SIZE {
        defmt::info!("crash-suite: fill {=[u8]}", &[0x33u8; 40][..]);
        if hil_transport::dropped() != dropped {
            break;
        }
        queued += 1;
    }
    queued
}

/// Sends everything queued and waits for the link to carry it: a passing
/// test's last step (see the crate docs).
pub fn finish(target: &mut Target) {
    hil_transport::flush();
    hil_board::wait_ms(&mut target.syst, hil_board::EXIT_GRACE_MS);
}

/// A value whose `Format` impl panics half way through its own encoding: the
/// log call that formats it is left with a partial frame.
pub struct PanicsMidFrame;

impl defmt::Format for PanicsMidFrame {
    fn format(&self, f: defmt::Formatter) {
        // These bytes are encoded into the staging buffer, then the frame is abandoned.
        defmt::write!(f, "the first half of a frame {=[u8]}", &[0x55u8; 16][..]);
        panic!("crash-suite: panic inside a Format impl, mid-frame");
    }
}

/// A value whose `Format` impl executes an undefined instruction half way
/// through its encoding: a HardFault in the middle of a log call (inside the
/// logger's critical section every fault escalates to HardFault).
pub struct FaultsMidFrame;

impl defmt::Format for FaultsMidFrame {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "the first half of a frame {=[u8]}", &[0x55u8; 16][..]);
        cortex_m::asm::udf()
    }
}
