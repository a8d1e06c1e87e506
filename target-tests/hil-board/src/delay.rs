//! Busy waits timed by SysTick on the core clock, for the grace period before a run ends.

use cortex_m::peripheral::SYST;

/// How long a run waits after its last flush before it stops, in milliseconds
/// of (emulated) time, so a reader on the far side of the serial port gets the
/// last bytes (QEMU drops what a pty still holds when it exits).
pub const EXIT_GRACE_MS: u32 = 500;

/// Busy-waits `ms` milliseconds, counting SysTick cycles of the core clock.
/// Leaves SysTick stopped and its interrupt disabled.
pub fn wait_ms(syst: &mut SYST, ms: u32) {
    hil_cycles::start(syst);
    hil_cycles::wait_cycles(u64::from(crate::CORE_CLOCK_HZ) * u64::from(ms) / 1000);
    syst.disable_counter();
}

/// [`wait_ms`] for [`EXIT_GRACE_MS`] from a failure handler, which owns nothing.
pub(crate) fn exit_grace() {
    // SAFETY: only called on the way to `exit` from the panic or HardFault
    // handler, with interrupts disabled: the run is over, and no other code
    // uses SysTick again, so taking it here cannot conflict with an owner.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    wait_ms(&mut syst, EXIT_GRACE_MS);
}
