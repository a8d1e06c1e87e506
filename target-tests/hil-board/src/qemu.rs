//! Ending a run on boards emulated by QEMU: semihosting exit.

use cortex_m_semihosting::debug;

/// Ends the run: QEMU exits with status 0 for success, 1 for failure.
///
/// QEMU must run with semihosting enabled (`-semihosting-config enable=on`).
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // A debugger may let the program continue after the exit request: stay here.
    loop {
        cortex_m::asm::wfi();
    }
}
