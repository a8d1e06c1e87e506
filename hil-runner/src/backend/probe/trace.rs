//! The stack trace of a fault on a real board: the shared unwinder ([`crate::backend::fault::unwind`]) over the probe.

use std::path::Path;

use super::access::{Probe, TargetControl};
use super::FaultCause;
use crate::backend::fault;
use crate::backend::TargetEnd;

/// The stack trace of a fault's context (the core halted), added to `end`, read by the code
/// both backends share ([`fault::unwind`]) with the debug info of `elf`. Not for a reset,
/// whose registers are not a fault's.
pub fn with_stack_trace(ctl: &mut dyn TargetControl, end: TargetEnd, elf: &Path) -> TargetEnd {
    let TargetEnd::Fault(mut regs) = end else {
        return end;
    };
    if regs.cause != FaultCause::Reset {
        let stack_top = fault::unwind::stack_top_of_elf(elf);
        match fault::unwind::capture(&mut Probe(ctl), stack_top) {
            Ok(core) => regs.stack_trace = Some(fault::unwind::stack_trace(elf, &core)),
            Err(e) => tracing::warn!("no stack trace: {e}"),
        }
    }
    TargetEnd::Fault(regs)
}
