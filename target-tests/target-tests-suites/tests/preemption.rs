//! Log calls preempted by interrupts: an interrupt that becomes pending
//! during a log call runs right after the call, and both frames come out
//! whole and in order. An NVIC interrupt (IRQ 0, pended with `NVIC::pend`)
//! at a low priority and SysTick (pended with `SCB::set_pendst`) at a higher one.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::{NVIC, SCB};
use cortex_m_rt::exception;
use hil_board as _;
use hil_target_tests::{frames_of, Capture, Suite, Wire};

/// IRQ 0 of the NVIC (on the lm3s6965, GPIO port A: nothing else raises it here).
#[derive(Clone, Copy)]
struct Irq0;

// SAFETY: 0 is a valid interrupt number on every Cortex-M device.
unsafe impl InterruptNumber for Irq0 {
    fn number(self) -> u16 {
        0
    }
}

/// What a log call's argument pends while defmt formats it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Pend {
    Nothing = 0,
    Irq = 1,
    SysTick = 2,
}

/// An argument that pends an interrupt from inside the log call, and
/// records what it saw there. Formats the same bytes whatever it pends.
struct Pends(Pend);

/// Set inside a log call whose argument pended an interrupt: whether the
/// logger was taken, and how many handlers had run by then.
static SEEN_TAKEN: AtomicBool = AtomicBool::new(false);
static SEEN_RUNS: AtomicU32 = AtomicU32::new(u32::MAX);
/// Handler runs so far, IRQ 0 and SysTick together.
static RUNS: AtomicU32 = AtomicU32::new(0);
/// Whether the logger was taken when a handler started (it must not be).
static HANDLER_SAW_TAKEN: AtomicBool = AtomicBool::new(false);
/// What IRQ 0's own log call pends (a `Pend` as `u8`).
static IRQ_PENDS: AtomicU8 = AtomicU8::new(0);

impl defmt::Format for Pends {
    fn format(&self, f: defmt::Formatter) {
        match self.0 {
            Pend::Nothing => {}
            Pend::Irq => NVIC::pend(Irq0),
            Pend::SysTick => SCB::set_pendst(),
        }
        if self.0 != Pend::Nothing {
            // Still inside the log call: the interrupt is pending, not run.
            SEEN_TAKEN.store(hil_transport::is_logging(), Ordering::Relaxed);
            SEEN_RUNS.store(RUNS.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        defmt::write!(f, "pends");
    }
}

/// Thread mode's frame (one call site, so its bytes are the same wherever it is called from).
fn thread_frame(pend: Pend) {
    defmt::info!("thread frame {} {=[u8]}", Pends(pend), &[0x11u8; 40][..]);
}

/// IRQ 0's frame.
fn irq_frame(pend: Pend) {
    defmt::info!("irq frame {} {=u32}", Pends(pend), 0xA5A5_0001);
}

/// SysTick's frame.
fn systick_frame() {
    defmt::info!("systick frame {=u32}", 0x5A5A_0002);
}

fn handler_starts() {
    if hil_transport::is_logging() {
        HANDLER_SAW_TAKEN.store(true, Ordering::Relaxed);
    }
    RUNS.store(RUNS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn != 0 {
        panic!("unexpected interrupt {}", irqn);
    }
    handler_starts();
    let pend = match IRQ_PENDS.load(Ordering::Relaxed) {
        2 => Pend::SysTick,
        _ => Pend::Nothing,
    };
    irq_frame(pend);
}

#[exception]
fn SysTick() {
    handler_starts();
    systick_frame();
}

/// Each frame as it is when logged alone, from thread mode.
fn alone(s: &Suite) -> (Capture<128>, Capture<128>, Capture<128>) {
    (
        frames_of(&s.drain, Wire::Send, || thread_frame(Pend::Nothing)),
        frames_of(&s.drain, Wire::Send, || irq_frame(Pend::Nothing)),
        frames_of(&s.drain, Wire::Send, systick_frame),
    )
}

fn reset() {
    RUNS.store(0, Ordering::Relaxed);
    SEEN_RUNS.store(u32::MAX, Ordering::Relaxed);
    SEEN_TAKEN.store(false, Ordering::Relaxed);
    HANDLER_SAW_TAKEN.store(false, Ordering::Relaxed);
}

#[defmt_test::tests]
mod tests {
    use cortex_m::peripheral::scb::SystemHandler;
    use hil_target_tests::{self as suite, drain_all};

    use super::*;

    #[init]
    fn init() -> Suite {
        let mut s = suite::init();
        // SAFETY: no priority-based critical sections in this firmware
        // (critical sections disable interrupts), so changing priorities
        // cannot break one; IRQ 0 has a handler (DefaultHandler).
        unsafe {
            s.scb.set_priority(SystemHandler::SysTick, 0x20);
            s.nvic.set_priority(Irq0, 0x80);
            NVIC::unmask(Irq0);
        }
        s
    }

    #[before_each]
    fn before_each() {
        suite::before_each();
        reset();
    }

    #[teardown]
    fn teardown(suite: &mut Suite) {
        suite::teardown(suite);
    }

    #[test]
    fn an_irq_pended_inside_a_log_call_logs_right_after_it(s: &mut Suite) {
        let (thread, irq, _) = alone(s);
        IRQ_PENDS.store(Pend::Nothing as u8, Ordering::Relaxed);
        thread_frame(Pend::Irq);
        assert!(
            SEEN_TAKEN.load(Ordering::Relaxed),
            "pended inside the log call"
        );
        assert_eq!(
            SEEN_RUNS.load(Ordering::Relaxed),
            0,
            "IRQ 0 waited for the call"
        );
        assert_eq!(
            RUNS.load(Ordering::Relaxed),
            1,
            "IRQ 0 ran once, right after"
        );
        assert!(!HANDLER_SAW_TAKEN.load(Ordering::Relaxed));
        let both: Capture<256> = drain_all(&s.drain, Wire::Send);
        let mut frames = both.frames();
        assert_eq!(
            frames.next(),
            Some(thread.bytes()),
            "thread frame first, whole"
        );
        assert_eq!(frames.next(), Some(irq.bytes()), "then IRQ 0's, whole");
        assert_eq!(frames.next(), None);
    }

    #[test]
    fn systick_pended_inside_a_log_call_logs_right_after_it(s: &mut Suite) {
        let (thread, _, systick) = alone(s);
        thread_frame(Pend::SysTick);
        assert_eq!(SEEN_RUNS.load(Ordering::Relaxed), 0);
        assert_eq!(RUNS.load(Ordering::Relaxed), 1);
        let both: Capture<256> = drain_all(&s.drain, Wire::Send);
        let mut expected: Capture<256> = Capture::new();
        expected.push(thread.bytes());
        expected.push(systick.bytes());
        assert_eq!(both.bytes(), expected.bytes());
    }

    #[test]
    fn nested_interrupts_each_log_after_the_call_they_preempted(s: &mut Suite) {
        // Thread mode pends IRQ 0; IRQ 0's log call pends SysTick (higher priority).
        let (thread, irq, systick) = alone(s);
        IRQ_PENDS.store(Pend::SysTick as u8, Ordering::Relaxed);
        thread_frame(Pend::Irq);
        IRQ_PENDS.store(Pend::Nothing as u8, Ordering::Relaxed);
        assert_eq!(RUNS.load(Ordering::Relaxed), 2);
        assert!(!HANDLER_SAW_TAKEN.load(Ordering::Relaxed));
        let all: Capture<256> = drain_all(&s.drain, Wire::Send);
        let mut frames = all.frames();
        assert_eq!(frames.next(), Some(thread.bytes()));
        assert_eq!(frames.next(), Some(irq.bytes()));
        assert_eq!(frames.next(), Some(systick.bytes()));
        assert_eq!(frames.next(), None);
    }

    #[test]
    fn an_irq_that_logs_while_thread_mode_drains_queues_whole_frames(s: &mut Suite) {
        let (thread, irq, _) = alone(s);
        thread_frame(Pend::Nothing);
        // Pended between two drain steps: runs when the step's critical section ends.
        let mut steps = 0;
        let mut all: Capture<256> = Capture::new();
        while s.drain.drain_into(|chunk| {
            if steps == 0 {
                NVIC::pend(Irq0);
            }
            steps += 1;
            all.push(chunk);
            suite::send(chunk);
        }) > 0
        {}
        assert_eq!(RUNS.load(Ordering::Relaxed), 1);
        assert!(steps >= 2, "{} drain steps", steps);
        let mut frames = all.frames();
        assert_eq!(frames.next(), Some(thread.bytes()));
        assert_eq!(frames.next(), Some(irq.bytes()));
        assert_eq!(frames.next(), None);
    }
}
