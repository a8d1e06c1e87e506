//! The stack trace of a fault on a real board: the shared unwinder ([`crate::backend::fault::unwind`]) over the probe.

use std::path::Path;

use super::access::{Probe, TargetControl};
use super::{CoreRegister, FaultCause, ProbeError};
use crate::backend::fault::{self, FaultAccess};
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

/// A [`TargetControl`] read word by word.
struct WordReader<'a, T: TargetControl + ?Sized>(&'a mut T);

impl<T: TargetControl + ?Sized> FaultAccess for WordReader<'_, T> {
    type Error = ProbeError;

    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        self.0.read_register(register)
    }

    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        self.0.read_word(address)
    }

    fn has_fault_status(&self) -> bool {
        self.0.has_fault_status()
    }
}

/// `len` bytes of memory through [`TargetControl::read_word`] (its default `read_memory`).
pub(super) fn read_by_words<T: TargetControl + ?Sized>(
    ctl: &mut T,
    address: u32,
    len: usize,
) -> Result<Vec<u8>, ProbeError> {
    FaultAccess::read_bytes(&mut WordReader(ctl), address, len)
}
