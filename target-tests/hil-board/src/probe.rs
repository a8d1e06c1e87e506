//! Ending a run on real boards, driven by a debug probe: a semihosting exit.
//!
//! [`exit`] sends nothing itself (the caller has flushed the log queue; a
//! UART or USB peripheral keeps sending what it holds while the core is
//! halted). It makes the semihosting call `SYS_EXIT` (`bkpt 0xAB` with
//! `r0` = 0x18 and `r1` = `ADP_Stopped_ApplicationExit` for success,
//! `ADP_Stopped_RunTimeErrorUnknown` for failure), as `cortex-m-semihosting`'s
//! `debug::exit` does on the emulated board: the host's probe backend decodes
//! it through probe-rs and reports exit status 0 or 1, as QEMU does, so the
//! same firmware ends the same way on both. The host leaves the core halted
//! there; a debugger that resumes it lands on the call again.
//!
//! Without a debugger a `bkpt` escalates to HardFault. On ARMv7-M the core can
//! tell whether a debugger is attached, and sleeps in a `wfi` loop instead.
//! ARMv6-M (the RP2040's Cortex-M0+) cannot read its debug registers, so there
//! the call always runs: with no debugger it faults, the HardFault handler
//! exits with failure, and that second `bkpt` locks the core up, which stops
//! it as well.

use core::arch::asm;

/// `SYS_EXIT`.
const SYS_EXIT: u32 = 0x18;
/// `ADP_Stopped_ApplicationExit`: the exit reason for success.
pub const EXIT_SUCCESS: u32 = 0x2_0026;
/// `ADP_Stopped_RunTimeErrorUnknown`: the exit reason for failure.
pub const EXIT_FAILURE: u32 = 0x2_0023;

/// Ends the run: a semihosting exit, which halts the core for the debugger.
pub fn exit(success: bool) -> ! {
    let reason = if success { EXIT_SUCCESS } else { EXIT_FAILURE };
    loop {
        if !debugger_may_be_attached() {
            cortex_m::asm::wfi();
        } else {
            // SAFETY: the semihosting trap only hands the core to the debugger,
            // which reads `r0` and `r1`; it touches no memory and no stack here.
            unsafe {
                asm!(
                    "bkpt #0xab",
                    inout("r0") SYS_EXIT => _,
                    in("r1") reason,
                    options(nomem, nostack)
                )
            };
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
