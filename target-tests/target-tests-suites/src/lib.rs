//! On-target defmt-test suites of `hil-transport` and `hil-protocol`, and the helpers they share.
//!
//! Each suite in `tests/` is one defmt-test 0.5 firmware image (`harness =
//! false`) that runs on the board's own core, logs through our transport and
//! is run by the cargo runner (`./hil-run`, that is `hil-runner run`):
//!
//! - `transport`: queue, staging, counters, flush and drain of the logger;
//! - `overflow`: the overflow policy the image was built for (`drop` by
//!   default, `--features policy-truncate` or `--features policy-block`);
//! - `preemption`: log calls preempted by interrupts (an NVIC IRQ and SysTick);
//! - `protocol`: the payload check values and markers of `hil-protocol`.
//!
//! `cargo test` in `target-tests/` runs all of them on the emulated
//! lm3s6965evb with the `drop` policy; `cargo test -p hil-target-tests
//! --features policy-truncate` (or `policy-block`) runs them again under
//! that policy. A workspace-wide build unifies features (bench-logcost turns
//! on `policy-block`), so every suite asserts in [`init`] that the transport
//! uses the policy the suite was built for ([`EXPECTED_POLICY`]).
//!
//! # The last frame arrives
//!
//! defmt-test logs `all tests passed!` and then exits through semihosting,
//! without calling `defmt::flush`; with a queued logger that last frame would
//! still be in the queue when the core stops. defmt-test 0.5 calls the
//! suite's `#[teardown]` function between that last frame and the exit, so
//! every suite's teardown is [`teardown`]: it flushes the queue into the
//! UART and waits [`hil_board::EXIT_GRACE_MS`] (as the hil-protocol firmware
//! does before it exits), so the far side of the serial link has the last
//! byte before QEMU exits or the probe sees the halt. Nothing in the
//! transport changes for it. Each test also starts with an empty queue:
//! [`before_each`] flushes the `(i/N) running ...` line defmt-test has just
//! logged, so a test that fills the queue starts from a known state and the
//! line is on the wire before the test runs. A failing test panics; the
//! board's panic handler logs `hil:panic`, flushes and exits with failure.
//!
//! # What goes on the wire
//!
//! Frames a test logs are drained into the UART like any others, so the host
//! sees every frame the transport accepted. Two kinds are kept off the wire:
//! frames logged only to learn their encoding (markers such as `hil:boot` or
//! `hil:panic` would make the runner judge the run by hil-protocol, and a
//! reference `hil:drop` would be counted as a real drop report), and the
//! partial frame the `truncate` policy leaves behind (it would merge into
//! defmt-test's next line).
#![no_std]
#![warn(missing_docs)]

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::{NVIC, SCB, SYST};
use critical_section::Mutex;
use hil_transport::Drain;

/// The overflow policy these suites were built for (this crate's features).
pub const EXPECTED_POLICY: &str = if cfg!(feature = "policy-block") {
    "block"
} else if cfg!(feature = "policy-truncate") {
    "truncate"
} else {
    "drop"
};

/// Bytes the transport wrote into the sink so far.
static SENT: AtomicU32 = AtomicU32::new(0);
/// Whether the sink also copies its bytes into [`TAP`].
static TAPPING: AtomicBool = AtomicBool::new(false);
/// What the sink wrote while tapping.
static TAP: Mutex<RefCell<Capture<TAP_SIZE>>> = Mutex::new(RefCell::new(Capture::new()));

/// Capacity of the sink tap ([`tap`]) in bytes.
pub const TAP_SIZE: usize = 4096;

/// The transport's sink: the board's UART, counting the bytes (and copying
/// them while a [`tap`] is open).
fn sink(bytes: &[u8]) {
    SENT.store(
        SENT.load(Ordering::Relaxed)
            .wrapping_add(bytes.len() as u32),
        Ordering::Relaxed,
    );
    if TAPPING.load(Ordering::Relaxed) {
        critical_section::with(|cs| TAP.borrow_ref_mut(cs).push(bytes));
    }
    hil_board::uart_write(bytes);
}

/// Sends `bytes` on to the UART like the transport's sink (counted in [`sent_bytes`]).
pub fn send(bytes: &[u8]) {
    sink(bytes);
}

/// Bytes the transport has written into the sink (the UART) so far.
pub fn sent_bytes() -> u32 {
    SENT.load(Ordering::Relaxed)
}

/// Runs `f` and returns everything the transport wrote into the sink meanwhile
/// (the bytes still go to the UART). At most [`TAP_SIZE`] bytes.
pub fn tap(f: impl FnOnce()) -> Capture<TAP_SIZE> {
    critical_section::with(|cs| TAP.borrow_ref_mut(cs).clear());
    TAPPING.store(true, Ordering::Relaxed);
    f();
    TAPPING.store(false, Ordering::Relaxed);
    critical_section::with(|cs| TAP.borrow_ref(cs).clone())
}

/// The state every suite's test gets: the queue's consumer and the core peripherals.
pub struct Suite {
    /// The consumer side of the log queue.
    pub drain: Drain,
    /// SysTick: the exit grace period; free for tests to pend.
    pub syst: SYST,
    /// The interrupt controller.
    pub nvic: NVIC,
    /// System control: exception priorities and pending bits.
    pub scb: SCB,
}

/// Every suite's `#[init]`: sets up the board and the transport (with the
/// counting sink) and checks the overflow policy.
///
/// # Panics
///
/// When the transport does not use [`EXPECTED_POLICY`] (features unified
/// by a workspace-wide build): the suite would test another policy than it claims.
pub fn init() -> Suite {
    hil_board::init();
    let drain = hil_transport::init(sink);
    let core = cortex_m::Peripherals::take().expect("core peripherals are taken once, here");
    assert_eq!(
        hil_transport::POLICY,
        EXPECTED_POLICY,
        "transport policy (features unified? build -p hil-target-tests)"
    );
    defmt::println!(
        "hil-target-tests: board {=str}, policy {=str}, queue {=usize} bytes, max frame {=usize} bytes",
        hil_board::NAME,
        hil_transport::POLICY,
        hil_transport::QUEUE_SIZE,
        hil_transport::MAX_FRAME
    );
    hil_transport::flush();
    Suite {
        drain,
        syst: core.SYST,
        nvic: core.NVIC,
        scb: core.SCB,
    }
}

/// Every suite's `#[before_each]`: sends what is queued (defmt-test's
/// `running` line), so each test starts with an empty queue.
pub fn before_each() {
    hil_transport::flush();
}

/// Every suite's `#[teardown]`, which defmt-test 0.5 runs after logging `all
/// tests passed!` and before it exits: sends that last frame and waits for
/// the link to carry it.
pub fn teardown(suite: &mut Suite) {
    hil_transport::flush();
    hil_board::wait_ms(&mut suite.syst, hil_board::EXIT_GRACE_MS);
}

/// Whether drained bytes also go on to the UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Send them on (through the counting sink), like any drained bytes.
    Send,
    /// Keep them on the target: reference frames that must not reach the host.
    Keep,
}

/// Drains the whole queue into a capture (and on to the UART, for
/// [`Wire::Send`]), a drop report that the drain releases included. Also checks that no drain step moved more than
/// [`hil_transport::DRAIN_CHUNK`] bytes.
pub fn drain_all<const N: usize>(drain: &Drain, wire: Wire) -> Capture<N> {
    let mut capture = Capture::new();
    let mut largest_chunk = 0;
    // A drain that frees space queues a pending drop report (policy `drop`):
    // only two empty drains in a row mean the queue is empty.
    let mut empty_drains = 0;
    while empty_drains < 2 {
        let moved = drain.drain_into(|chunk| {
            largest_chunk = largest_chunk.max(chunk.len());
            capture.push(chunk);
            if wire == Wire::Send {
                sink(chunk);
            }
        });
        empty_drains = if moved == 0 { empty_drains + 1 } else { 0 };
    }
    assert!(
        largest_chunk <= hil_transport::DRAIN_CHUNK,
        "a drain step moved {} bytes",
        largest_chunk
    );
    capture
}

/// The encoded frame(s) that `log` puts into the (empty) queue, drained at once.
pub fn frames_of<const N: usize>(drain: &Drain, wire: Wire, log: impl FnOnce()) -> Capture<N> {
    assert_eq!(
        drain_all::<0>(drain, Wire::Send).len(),
        0,
        "the queue was not empty"
    );
    log();
    drain_all(drain, wire)
}

/// Bytes collected from the queue or the sink, at most `N`.
#[derive(Clone)]
pub struct Capture<const N: usize> {
    bytes: [u8; N],
    len: usize,
    /// Bytes that did not fit.
    lost: usize,
}

impl<const N: usize> Default for Capture<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Capture<N> {
    /// An empty capture.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            lost: 0,
        }
    }

    /// Appends `bytes`; what does not fit is counted in [`Capture::len`] but not kept.
    pub fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match self.bytes.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => self.lost += 1,
            }
        }
    }

    /// Forgets everything captured.
    pub fn clear(&mut self) {
        self.len = 0;
        self.lost = 0;
    }

    /// Bytes captured, including any that did not fit.
    pub fn len(&self) -> usize {
        self.len + self.lost
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes captured.
    ///
    /// # Panics
    ///
    /// When more bytes came than the capture holds.
    pub fn bytes(&self) -> &[u8] {
        assert!(
            self.lost == 0,
            "capture of {} bytes overflowed by {}",
            N,
            self.lost
        );
        &self.bytes[..self.len]
    }

    /// The frames captured, each with its closing delimiter (a last piece
    /// without one is returned too: a truncated frame).
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes().split_inclusive(|&byte| byte == 0)
    }
}
