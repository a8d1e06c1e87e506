//! The transport under a crash in the middle of a frame, one fresh target per
//! test (embedded-test 0.7; see the crate docs for how a test passes).
//!
//! Every crash leaves a partial frame in the logger's staging buffer and some
//! whole frames in the queue; the board's panic handler flushes the queue and
//! exits with failure. The runner checks what it can see: the target ended
//! the way the test says (`#[should_panic]`: a failure status) and the
//! captured stream has no malformed, oversize or unfinished frame.
#![no_std]
#![no_main]

#[embedded_test::tests(default_timeout = 10)]
mod tests {
    use hil_target_crash_tests::{
        arm, expect, expect_fresh_target, fill_queue, finish, queue_frames, FaultsMidFrame,
        PanicsMidFrame, Target,
    };

    #[init]
    fn init() -> Target {
        hil_target_crash_tests::init()
    }

    /// The premise of the suite: a test starts on a fresh target, whatever
    /// the test before it left behind (a taken logger, a full queue). Only
    /// `init`'s line has been logged, nothing dropped, no log call open.
    #[test]
    fn starts_on_a_fresh_target(mut target: Target) {
        assert!(!hil_transport::is_logging());
        assert_eq!(hil_transport::attempted(), 1, "only init's line");
        assert_eq!(hil_transport::dropped(), 0);
        defmt::info!("crash-suite: a fresh target");
        finish(&mut target);
    }

    /// A panic inside a `Format` impl, half way through a frame, with three
    /// whole frames still queued. The handler sees a log call in progress,
    /// so it does not log (that would re-enter the logger); it flushes the
    /// three frames and exits with failure. On the wire: the three frames,
    /// whole; the abandoned half frame never left the staging buffer.
    #[test]
    #[should_panic]
    fn panic_inside_format_keeps_the_queued_frames_whole(_target: Target) {
        expect_fresh_target();
        arm("panic inside Format, 3 frames queued");
        let attempted = hil_transport::attempted();
        queue_frames(3);
        expect(
            hil_transport::attempted() == attempted + 3 && hil_transport::dropped() == 0,
            "three frames queued, none dropped",
        );
        defmt::info!("crash-suite: this frame never ends: {}", PanicsMidFrame);
    }

    /// A panic inside a `Format` impl while the queue is full (one fill frame
    /// was just dropped, its drop report is pending). The flush sends the full
    /// queue, every fill frame whole; the partial frame stays off the wire.
    /// The pending drop report does not go out: `hil_transport::flush` sends
    /// the queue only, so the host sees one frame fewer and no count for it.
    #[test]
    #[should_panic]
    fn panic_inside_format_with_a_full_queue(_target: Target) {
        expect_fresh_target();
        arm("panic inside Format, queue full");
        let queued = fill_queue();
        expect(
            queued > 0 && hil_transport::dropped() == 1,
            "the queue filled up and dropped exactly one frame",
        );
        defmt::info!("crash-suite: this frame never ends: {}", PanicsMidFrame);
    }

    /// A plain panic (no log call in progress) while the queue is full. The
    /// board's handler logs its `hil:panic` marker first and flushes after:
    /// the pending drop report (`hil:drop n=1`, the fill frame) still fits
    /// and goes in, the marker does not and is dropped, and that drop is
    /// never reported (the flush sends the queue only). On the wire: every
    /// fill frame whole and the report, but not the panic's message.
    #[test]
    #[should_panic]
    fn panic_with_a_full_queue(_target: Target) {
        expect_fresh_target();
        arm("plain panic, queue full");
        let queued = fill_queue();
        expect(
            queued > 0 && hil_transport::dropped() == 1,
            "the queue filled up and dropped exactly one frame",
        );
        panic!("crash-suite: panic with a full queue");
    }

    /// A HardFault in the middle of a log call (an undefined instruction
    /// inside a `Format` impl, within the logger's critical section), with
    /// three frames queued and one sent. Ignored: under hil-runner the core
    /// stops at the HardFault handler's first instruction (QEMU's gdbstub
    /// breakpoint, a probe's vector catch), so the board's handler never
    /// flushes and the runner reports `crash` with the faulting pc, also for
    /// a `#[should_panic]` test. Run it with `-- --ignored`: the stream must
    /// still hold only whole frames (the sent one), and the report names the
    /// fault.
    #[test]
    #[should_panic]
    #[ignore]
    fn hard_fault_mid_log_call(_target: Target) {
        expect_fresh_target();
        arm("HardFault inside a log call, 3 frames queued");
        queue_frames(3);
        defmt::info!("crash-suite: this frame never ends: {}", FaultsMidFrame);
    }
}
