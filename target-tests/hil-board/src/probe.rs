//! Ending a run on real boards, driven by a debug probe: halt on a breakpoint.
//!
//! [`exit`] sends nothing itself (the caller has flushed the log queue; a
//! UART or USB peripheral keeps sending what it holds while the core is
//! halted). It leaves the exit code in `r0` (0 success, 1 failure) and
//! executes a breakpoint whose immediate is the same code (`bkpt #0` success,
//! `bkpt #1` failure). The debugger sees the core halt with the reason
//! "breakpoint": the host's probe backend reads `r0` (or the `bkpt` at the
//! PC) to tell success from failure. A debugger that resumes the core lands on
//! the breakpoint again.
//!
//! Without a debugger a `bkpt` escalates to HardFault. On ARMv7-M the core can
//! tell whether a debugger is attached, and sleeps in a `wfi` loop instead.
//! ARMv6-M (the RP2040's Cortex-M0+) cannot read its debug registers, so there
//! the breakpoint always runs: with no debugger it faults, the HardFault
//! handler exits with failure, and that second `bkpt` locks the core up,
//! which stops it as well.

use core::arch::asm;

/// Exit code left in `r0`, and the `bkpt` immediate, for success.
pub const EXIT_SUCCESS: u32 = 0;
/// Exit code left in `r0`, and the `bkpt` immediate, for failure.
pub const EXIT_FAILURE: u32 = 1;

/// Ends the run: halts the core on a breakpoint, with the exit code in `r0`.
pub fn exit(success: bool) -> ! {
    loop {
        if !debugger_may_be_attached() {
            cortex_m::asm::wfi();
        } else if success {
            // SAFETY: `bkpt` only hands the core to the debugger; it touches no
            // memory and no stack, and `r0` is declared as its input.
            unsafe { asm!("bkpt #0", in("r0") EXIT_SUCCESS, options(nomem, nostack)) };
        } else {
            // SAFETY: as above.
            unsafe { asm!("bkpt #1", in("r0") EXIT_FAILURE, options(nomem, nostack)) };
        }
    }
}

/// Whether a debugger may be attached: on ARMv7-M, `DHCSR.C_DEBUGEN`.
#[cfg(not(hil_armv6m))]
fn debugger_may_be_attached() -> bool {
    cortex_m::peripheral::DCB::is_debugger_attached()
}

/// Whether a debugger may be attached: ARMv6-M cannot tell, so always.
#[cfg(hil_armv6m)]
fn debugger_may_be_attached() -> bool {
    true
}
