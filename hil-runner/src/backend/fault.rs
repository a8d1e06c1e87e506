//! Reading a fault: the registers of the faulting context and the fault status registers.
//!
//! Both backends end a run on a HardFault or lockup with the same
//! [`FaultRegisters`], read by the same code ([`fault_registers`]) through a
//! small trait, [`FaultAccess`]: the probe backend implements it over its
//! debug probe, the QEMU backend over QEMU's gdbstub.

use std::fmt;

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

/// Register and memory reads of a halted core: what [`fault_registers`] needs.
pub trait FaultAccess {
    /// Why a read failed.
    type Error;
    /// A core register.
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, Self::Error>;
    /// A 32-bit word of target memory.
    fn read_word(&mut self, address: u32) -> Result<u32, Self::Error>;
    /// Whether the core has the fault status registers (ARMv7-M and ARMv8-M; not ARMv6-M).
    fn has_fault_status(&self) -> bool;
    /// `len` bytes of target memory from `address` (any alignment); by default word by word.
    fn read_bytes(&mut self, address: u32, len: usize) -> Result<Vec<u8>, Self::Error> {
        let start = address & !3;
        let skip = (address - start) as usize;
        let mut bytes = Vec::with_capacity(len + 8);
        let mut at = start;
        while bytes.len() < skip + len {
            bytes.extend_from_slice(&self.read_word(at)?.to_le_bytes());
            at = at.wrapping_add(4);
        }
        Ok(bytes[skip..skip + len].to_vec())
    }
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
    /// The MemManage handler was entered (a real board's vector catch; ARMv7-M and ARMv8-M).
    MemManage,
    /// The BusFault handler was entered (a real board's vector catch).
    BusFault,
    /// The UsageFault handler was entered (a real board's vector catch).
    UsageFault,
    /// The core was reset (a real board's reset vector catch: a watchdog, a reset on panic,
    /// `SYSRESETREQ`): the registers are those at the reset vector, not of a fault.
    Reset,
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
    /// CFSR (None on ARMv6-M, which has none, and for a lockup in QEMU, which aborts).
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
            FaultCause::MemManage => "MemManage fault",
            FaultCause::BusFault => "BusFault",
            FaultCause::UsageFault => "UsageFault",
            FaultCause::Reset => "core reset (caught by the reset vector catch: a watchdog, a reset on panic, or SYSRESETREQ)",
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
            _ if self.cause == FaultCause::Lockup => f.write_str(
                "; no fault status registers (ARMv6-M, or QEMU, which aborts on a lockup)",
            ),
            _ => f.write_str("; no fault status registers (ARMv6-M)"),
        }
    }
}

/// CFSR and HFSR (None on a core without them).
pub fn fault_status<A: FaultAccess + ?Sized>(
    ctl: &mut A,
) -> Result<(Option<u32>, Option<u32>), A::Error> {
    if !ctl.has_fault_status() {
        return Ok((None, None));
    }
    Ok((Some(ctl.read_word(CFSR)?), Some(ctl.read_word(HFSR)?)))
}

/// The faulting context's registers: from the stacked exception frame when LR holds an EXC_RETURN.
pub fn fault_registers<A: FaultAccess + ?Sized>(
    ctl: &mut A,
    cause: FaultCause,
) -> Result<FaultRegisters, A::Error> {
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
    // 0xFFFF_FFFF is LR's value out of reset, not an EXC_RETURN.
    if lr >> 28 == 0xF && lr != u32::MAX && cause != FaultCause::Reset {
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
