//! What the probe backend needs from a debug probe, as two small traits, and how a halt is read.
//!
//! [`ProbeAccess`] lists probes and attaches to a chip; the [`TargetControl`]
//! it returns flashes, resets, reports the core's status and reads registers
//! and memory. [`super::real::ProbeRs`] implements them over the probe-rs
//! library; tests implement them with doubles. [`target_end`] turns a halted
//! core into a [`TargetEnd`]: a breakpoint, or a fault with its registers.

use std::fmt;
use std::path::{Path, PathBuf};

use super::progress::FlashEvent;
use crate::backend::TargetEnd;
use crate::board::UsbId;

/// What a probe operation failed at. Messages name the probe, chip or ELF.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// probe-rs has no target description for the chip.
    #[error("probe-rs does not know the chip {chip:?} (check `probe.chip` with `hil-runner boards --check`)")]
    UnknownChip {
        /// The chip name asked for.
        chip: String,
    },
    /// The probe could not be opened.
    #[error("cannot open debug probe {probe}: {message}")]
    Open {
        /// The probe.
        probe: String,
        /// probe-rs's message.
        message: String,
    },
    /// The probe did not reach the chip.
    #[error("cannot attach to {chip}{}: {message}", if *under_reset { " under reset" } else { "" })]
    Attach {
        /// The chip.
        chip: String,
        /// Whether the reset line was held.
        under_reset: bool,
        /// probe-rs's message.
        message: String,
    },
    /// Flashing the image failed (erase, program or verify).
    #[error("flashing {elf} failed: {message}")]
    Flash {
        /// The image.
        elf: PathBuf,
        /// probe-rs's message.
        message: String,
    },
    /// Controlling or reading the core failed.
    #[error("cannot {action}: {message}")]
    Core {
        /// What was being done (`reset and run the core`).
        action: &'static str,
        /// probe-rs's message.
        message: String,
    },
    /// probe-rs panicked.
    #[error("probe-rs panicked while {action}: {message}")]
    Panicked {
        /// What was being done.
        action: &'static str,
        /// The panic message.
        message: String,
    },
}

/// A debug probe found by listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInfo {
    /// The probe's name (`STLink V2-1`).
    pub identifier: String,
    /// Its USB ids and serial number.
    pub id: UsbId,
    /// Whether this user may open it (Linux: udev rules).
    pub accessible: bool,
}

impl fmt::Display for ProbeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.identifier)
    }
}

/// Lists debug probes and attaches to a chip through one.
pub trait ProbeAccess: Send + Sync {
    /// The probes attached; returns at once when there are none.
    fn list(&self) -> Vec<ProbeInfo>;

    /// Open `probe` and attach to `chip` (holding reset while attaching if `under_reset`).
    fn attach(
        &self,
        probe: &ProbeInfo,
        chip: &str,
        under_reset: bool,
    ) -> Result<Box<dyn TargetControl>, ProbeError>;
}

/// A core register the backend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreRegister {
    /// `r0`: the firmware's exit code at its breakpoint.
    R0,
    /// Link register.
    Lr,
    /// Program counter.
    Pc,
    /// Program status register.
    Xpsr,
    /// Main stack pointer.
    Msp,
    /// Process stack pointer.
    Psp,
}

/// Why a core is halted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaltCause {
    /// A breakpoint (`bkpt`, or a hardware breakpoint).
    Breakpoint,
    /// An exception the debugger catches (the HardFault vector catch).
    Exception,
    /// Anything else (a debugger request, a step ...), as probe-rs names it.
    Other(String),
}

/// The core's state as the probe sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreStatus {
    /// Running (or sleeping).
    Running,
    /// Halted.
    Halted(HaltCause),
    /// Locked up (Cortex-M: a fault inside the HardFault handler).
    LockedUp,
}

/// A chip the probe is attached to.
pub trait TargetControl: Send {
    /// Erase, program and verify `elf`, reporting progress.
    fn flash(&mut self, elf: &Path, progress: &mut dyn FnMut(FlashEvent))
        -> Result<(), ProbeError>;
    /// Reset the chip, arm the HardFault catch, and run.
    fn reset_and_run(&mut self) -> Result<(), ProbeError>;
    /// The core's state now.
    fn status(&mut self) -> Result<CoreStatus, ProbeError>;
    /// A core register (the core is halted).
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError>;
    /// A 32-bit word of target memory.
    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError>;
    /// Halt the core (stop the test).
    fn halt(&mut self) -> Result<(), ProbeError>;
    /// Whether the core has the fault status registers (ARMv7-M and ARMv8-M; not ARMv6-M).
    fn has_fault_status(&self) -> bool;
}

/// Configurable Fault Status Register.
pub const CFSR: u32 = 0xE000_ED28;
/// HardFault Status Register.
pub const HFSR: u32 = 0xE000_ED2C;
/// MemManage Fault Address Register.
pub const MMFAR: u32 = 0xE000_ED34;
/// BusFault Address Register.
pub const BFAR: u32 = 0xE000_ED38;

/// How the fault showed itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultCause {
    /// The HardFault exception (caught on entry, or seen in HFSR/CFSR at a halt).
    HardFault,
    /// The core locked up.
    Lockup,
}

/// The registers of a fault: where it happened and the fault status registers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FaultRegisters {
    /// HardFault or lockup.
    pub cause: FaultCause,
    /// Program counter of the faulting code.
    pub pc: u32,
    /// Link register of the faulting code.
    pub lr: u32,
    /// Program status register of the faulting code.
    pub xpsr: u32,
    /// Whether `pc`, `lr` and `xpsr` come from the exception frame the fault stacked
    /// (false: the core's registers at the halt).
    pub stacked: bool,
    /// CFSR (None on ARMv6-M, which has none).
    pub cfsr: Option<u32>,
    /// HFSR.
    pub hfsr: Option<u32>,
    /// MMFAR (valid when CFSR.MMARVALID).
    pub mmfar: Option<u32>,
    /// BFAR (valid when CFSR.BFARVALID).
    pub bfar: Option<u32>,
}

const CFSR_BITS: &[(u32, &str)] = &[
    (0, "IACCVIOL"),
    (1, "DACCVIOL"),
    (3, "MUNSTKERR"),
    (4, "MSTKERR"),
    (5, "MLSPERR"),
    (7, "MMARVALID"),
    (8, "IBUSERR"),
    (9, "PRECISERR"),
    (10, "IMPRECISERR"),
    (11, "UNSTKERR"),
    (12, "STKERR"),
    (13, "LSPERR"),
    (15, "BFARVALID"),
    (16, "UNDEFINSTR"),
    (17, "INVSTATE"),
    (18, "INVPC"),
    (19, "NOCP"),
    (20, "STKOF"),
    (24, "UNALIGNED"),
    (25, "DIVBYZERO"),
];
const HFSR_BITS: &[(u32, &str)] = &[(1, "VECTTBL"), (30, "FORCED"), (31, "DEBUGEVT")];

fn bits(value: u32, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| value & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect();
    set.join(" ")
}

impl fmt::Display for FaultRegisters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cause = match self.cause {
            FaultCause::HardFault => "HardFault",
            FaultCause::Lockup => "core locked up",
        };
        write!(
            f,
            "{cause} at pc={:#010x} lr={:#010x} xpsr={:#010x}",
            self.pc, self.lr, self.xpsr
        )?;
        if !self.stacked {
            f.write_str(" (core registers; no exception frame)")?;
        }
        match (self.cfsr, self.hfsr) {
            (Some(cfsr), Some(hfsr)) => write!(
                f,
                "; cfsr={cfsr:#010x} [{}] hfsr={hfsr:#010x} [{}] mmfar={:#010x} bfar={:#010x}",
                bits(cfsr, CFSR_BITS),
                bits(hfsr, HFSR_BITS),
                self.mmfar.unwrap_or(0),
                self.bfar.unwrap_or(0)
            ),
            _ => f.write_str("; no fault status registers (ARMv6-M)"),
        }
    }
}

/// How the target ended, if the core is no longer running: reads the registers a report needs.
pub fn target_end(
    ctl: &mut dyn TargetControl,
    status: &CoreStatus,
) -> Result<Option<TargetEnd>, ProbeError> {
    let cause = match status {
        CoreStatus::Running => return Ok(None),
        CoreStatus::LockedUp => FaultCause::Lockup,
        CoreStatus::Halted(HaltCause::Exception) => FaultCause::HardFault,
        CoreStatus::Halted(_) => {
            // A breakpoint is the firmware's exit, unless a fault got there first
            // (a HardFault handler that ends in `bkpt` without the vector catch).
            let (cfsr, hfsr) = fault_status(ctl)?;
            if cfsr.unwrap_or(0) == 0 && hfsr.unwrap_or(0) == 0 {
                let pc = ctl.read_register(CoreRegister::Pc)?;
                let r0 = ctl.read_register(CoreRegister::R0)?;
                return Ok(Some(TargetEnd::Halted { pc, r0 }));
            }
            FaultCause::HardFault
        }
    };
    Ok(Some(TargetEnd::Fault(fault_registers(ctl, cause)?)))
}

fn fault_status(ctl: &mut dyn TargetControl) -> Result<(Option<u32>, Option<u32>), ProbeError> {
    if !ctl.has_fault_status() {
        return Ok((None, None));
    }
    Ok((Some(ctl.read_word(CFSR)?), Some(ctl.read_word(HFSR)?)))
}

/// The faulting context's registers: from the stacked exception frame when LR holds an EXC_RETURN.
pub fn fault_registers(
    ctl: &mut dyn TargetControl,
    cause: FaultCause,
) -> Result<FaultRegisters, ProbeError> {
    let (cfsr, hfsr) = fault_status(ctl)?;
    let (mmfar, bfar) = if ctl.has_fault_status() {
        (Some(ctl.read_word(MMFAR)?), Some(ctl.read_word(BFAR)?))
    } else {
        (None, None)
    };
    let lr = ctl.read_register(CoreRegister::Lr)?;
    let mut regs = FaultRegisters {
        cause,
        pc: ctl.read_register(CoreRegister::Pc)?,
        lr,
        xpsr: ctl.read_register(CoreRegister::Xpsr)?,
        stacked: false,
        cfsr,
        hfsr,
        mmfar,
        bfar,
    };
    // EXC_RETURN (0xFxxx_xxxx): the frame r0-r3, r12, lr, pc, xpsr is on MSP or PSP (bit 2).
    if lr >> 28 == 0xF {
        let sp_register = if lr & 0x4 != 0 {
            CoreRegister::Psp
        } else {
            CoreRegister::Msp
        };
        let frame = ctl.read_register(sp_register).and_then(|sp| {
            Ok((
                ctl.read_word(sp.wrapping_add(0x14))?,
                ctl.read_word(sp.wrapping_add(0x18))?,
                ctl.read_word(sp.wrapping_add(0x1c))?,
            ))
        });
        if let Ok((lr, pc, xpsr)) = frame {
            (regs.lr, regs.pc, regs.xpsr, regs.stacked) = (lr, pc, xpsr, true);
        }
    }
    Ok(regs)
}
