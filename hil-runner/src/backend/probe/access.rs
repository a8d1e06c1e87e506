//! What the probe backend needs from a debug probe, as two small traits, and how a halt is read.
//!
//! [`ProbeAccess`] lists probes and attaches to a chip; the [`TargetControl`]
//! it returns flashes, resets, reports the core's status and reads registers
//! and memory. [`super::real::ProbeRs`] implements them over the probe-rs
//! library; tests implement them with doubles. [`target_end`] turns a halted
//! core into a [`TargetEnd`]: a breakpoint, or a fault with its registers
//! (read by the code both backends share, [`crate::backend::fault`]).

use std::fmt;
use std::path::{Path, PathBuf};

use super::progress::FlashEvent;
use crate::backend::fault::{self, FaultAccess};
pub use crate::backend::fault::{
    CoreRegister, FaultCause, FaultRegisters, BFAR, CFSR, HFSR, MMFAR,
};
use crate::backend::TargetEnd;
use crate::board::{ProbeBoard, UsbId, WireProtocol};
use crate::recover::{QueueImage, QueueLayout, RecoverError};

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
    /// The chip is locked (read protection, nRF APPROTECT) and may not be erased to unlock it.
    #[error(
        "the chip {chip} is locked (read-out protection, nRF APPROTECT): {message}; to unlock \
         it probe-rs must erase the whole chip: set `probe.allow_erase_all = true` in the board file"
    )]
    Locked {
        /// The chip.
        chip: String,
        /// probe-rs's message.
        message: String,
    },
    /// Another program has the probe open.
    #[error(
        "debug probe {probe} is busy: another program has it open (probe-rs, OpenOCD, a \
         debugger, another hil-runner); close it and run again ({message})"
    )]
    Busy {
        /// The probe.
        probe: String,
        /// probe-rs's message.
        message: String,
    },
    /// Attaching, flashing and starting the target took longer than the bring-up deadline.
    #[error(
        "attaching, flashing and starting the target took longer than {seconds} s: the probe or \
         the chip does not answer (unplug and re-plug the board)"
    )]
    Deadline {
        /// The deadline.
        seconds: u64,
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
    /// No RTT control block appeared in the target's RAM (a board with `log = "rtt"`).
    #[error(
        "no RTT control block found {looked} within {seconds} s of the start{detail}: does the \
         firmware log through defmt-rtt (its board file says `log = \"rtt\"`)?"
    )]
    RttNotFound {
        /// Where it was looked for: `at _SEGGER_RTT (0x20000000)`, `in RAM 0x20000000..0x20040000`.
        looked: String,
        /// How long it was looked for.
        seconds: f64,
        /// What was found instead, if anything (`; at 0x20000000: up channel 0 has size 0`).
        detail: String,
    },
    /// RTT up-channel 0 holds values that cannot be a ring buffer.
    #[error("RTT up channel 0 (descriptor at {descriptor:#010x}): {message}")]
    RttChannel {
        /// Address of the channel's descriptor in the control block.
        descriptor: u32,
        /// What is wrong.
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
    /// Its USB ids and serial number (and the interface to open, once one is chosen).
    pub id: UsbId,
    /// The USB interfaces probe-rs lists it on (one entry per interface, merged into this
    /// one probe); empty when probe-rs names none.
    pub interfaces: Vec<u8>,
    /// Whether this user may open it (Linux: udev rules).
    pub accessible: bool,
}

impl fmt::Display for ProbeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.id, self.identifier)?;
        if self.id.interface.is_none() && self.interfaces.len() > 1 {
            let list: Vec<String> = self.interfaces.iter().map(u8::to_string).collect();
            write!(f, ", interfaces {}", list.join(", "))?;
        }
        f.write_str(")")
    }
}

/// How to attach: the `[probe]` settings of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachOptions {
    /// probe-rs chip name.
    pub chip: String,
    /// Hold reset while attaching.
    pub under_reset: bool,
    /// SWD/JTAG clock in kHz.
    pub speed_khz: Option<u32>,
    /// Wire protocol.
    pub protocol: Option<WireProtocol>,
    /// Let probe-rs erase a locked chip.
    pub allow_erase_all: bool,
}

impl AttachOptions {
    /// The options a board file gives.
    pub fn of(probe: &ProbeBoard) -> Self {
        Self {
            chip: probe.chip.clone(),
            under_reset: probe.connect_under_reset,
            speed_khz: probe.speed_khz,
            protocol: probe.protocol,
            allow_erase_all: probe.allow_erase_all,
        }
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

    /// Attach as `options` say (speed, protocol, erase permission); default: [`Self::attach`],
    /// ignoring the options it has no parameter for.
    fn attach_with(
        &self,
        probe: &ProbeInfo,
        options: &AttachOptions,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        self.attach(probe, &options.chip, options.under_reset)
    }
}

/// Why a core is halted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaltCause {
    /// A breakpoint (`bkpt`, or a hardware breakpoint) that is not a semihosting call.
    Breakpoint,
    /// A semihosting call (`bkpt 0xAB`): the operation, decoded from `r0`/`r1`.
    Semihosting(Semihosting),
    /// An exception the debugger catches (a vector catch: HardFault, the other faults, reset).
    Exception,
    /// Anything else (a debugger request, a step ...), as probe-rs names it.
    Other(String),
}

/// A semihosting request the core is halted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Semihosting {
    /// `SYS_EXIT` or `SYS_EXIT_EXTENDED`: the status QEMU would exit with (0 success, the
    /// application's status for `SYS_EXIT_EXTENDED`, else 1), and how the target put it.
    Exit {
        /// The exit status.
        code: i32,
        /// The request as probe-rs decoded it (`success`, `reason: 0x20023`).
        detail: String,
    },
    /// `SYS_GET_CMDLINE`: the target asks for its command line (embedded-test: which test to run).
    CommandLine,
    /// Any other operation (`SYS_WRITE0`, `SYS_OPEN`, `SYS_WRITE` ...), by number.
    Other {
        /// The operation number (`r0`).
        operation: u32,
    },
}

impl Semihosting {
    /// The exit status QEMU gives for an exit request: 0 for `ADP_Stopped_ApplicationExit`,
    /// the application's status when `SYS_EXIT_EXTENDED` carries one, 1 for any other reason.
    pub fn exit_code(success: bool, exit_status: Option<u32>) -> i32 {
        match (success, exit_status) {
            (true, _) => 0,
            (false, Some(status)) => i32::try_from(status).unwrap_or(i32::MAX),
            (false, None) => 1,
        }
    }
}

/// The core's state as the probe sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreStatus {
    /// Running (or sleeping).
    Running,
    /// Halted.
    Halted(HaltCause),
    /// Locked up (Cortex-M: a fault inside the HardFault handler). The core is not halted:
    /// registers can be read only after [`TargetControl::halt`].
    LockedUp,
}

/// What the host answered to a semihosting request ([`TargetControl::answer_semihosting`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answered {
    /// Console output the request carried (`SYS_WRITE0`, `SYS_WRITEC`, `SYS_WRITE` to `:tt`).
    pub output: Option<String>,
}

/// A chip the probe is attached to.
pub trait TargetControl: Send {
    /// Erase, program and verify `elf`, reporting progress.
    fn flash(&mut self, elf: &Path, progress: &mut dyn FnMut(FlashEvent))
        -> Result<(), ProbeError>;
    /// Reset the chip, arm the vector catches (HardFault, reset, and the other faults where
    /// the core has them), and run.
    fn reset_and_run(&mut self) -> Result<(), ProbeError>;
    /// The core's state now.
    fn status(&mut self) -> Result<CoreStatus, ProbeError>;
    /// A core register (the core is halted; a running core refuses).
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError>;
    /// A 32-bit word of target memory.
    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError>;
    /// Halt the core (stop the test; a locked-up core before its registers are read).
    fn halt(&mut self) -> Result<(), ProbeError>;
    /// Answer the semihosting request the core is halted on, as `probe-rs run` does:
    /// the command line with `command_line`, console output read and returned, `:tt`
    /// opened as stdout/stderr, anything else failed (status -1). The core stays halted.
    fn answer_semihosting(&mut self, command_line: &str) -> Result<Answered, ProbeError>;
    /// Let a halted core run on (after a semihosting request is answered).
    fn resume(&mut self) -> Result<(), ProbeError>;
    /// Whether the core has the fault status registers (ARMv7-M and ARMv8-M; not ARMv6-M).
    fn has_fault_status(&self) -> bool;
    /// `len` bytes of target memory from `address` (any alignment; the core may run).
    /// Default: through [`Self::read_word`].
    fn read_bytes(&mut self, address: u32, len: usize) -> Result<Vec<u8>, ProbeError> {
        let start = address & !3;
        let end = u64::from(address) + len as u64;
        let mut bytes = Vec::with_capacity(len + 8);
        let mut at = u64::from(start);
        while at < end {
            bytes.extend_from_slice(&self.read_word(at as u32)?.to_le_bytes());
            at += 4;
        }
        let skip = (address - start) as usize;
        Ok(bytes[skip..skip + len].to_vec())
    }
    /// Write a 32-bit word of target memory (`address` word-aligned; the core may run).
    /// Default: refused (a probe access that cannot write memory cannot read RTT).
    fn write_word(&mut self, address: u32, value: u32) -> Result<(), ProbeError> {
        let _ = value;
        Err(ProbeError::Core {
            action: "write target memory",
            message: format!("this probe access cannot write memory (at {address:#010x})"),
        })
    }
    /// Wait `interval` between two status polls of a running core (a log read over RTT
    /// reads its channel meanwhile). Default: sleep.
    fn idle(&mut self, interval: std::time::Duration) {
        std::thread::sleep(interval);
    }
}

/// The exception number in xPSR's IPSR field.
const IPSR_MASK: u32 = 0x1FF;

/// How the target ended, if the core is no longer running: reads the registers a report needs.
///
/// A semihosting exit is [`TargetEnd::Exited`]; other semihosting requests are not an end
/// (the watcher answers them and resumes the core). A vector catch is told apart by the
/// exception the core is about to enter (IPSR): HardFault, MemManage, BusFault, UsageFault,
/// or none (thread mode at the reset vector: a reset). A locked-up core is halted first.
pub fn target_end(
    ctl: &mut dyn TargetControl,
    status: &CoreStatus,
) -> Result<Option<TargetEnd>, ProbeError> {
    let cause = match status {
        CoreStatus::Running => return Ok(None),
        CoreStatus::Halted(HaltCause::Semihosting(Semihosting::Exit { code, .. })) => {
            return Ok(Some(TargetEnd::Exited { code: *code }))
        }
        CoreStatus::Halted(HaltCause::Semihosting(_)) => return Ok(None),
        CoreStatus::LockedUp => {
            // probe-rs refuses register reads on a core that is not halted.
            ctl.halt()?;
            FaultCause::Lockup
        }
        CoreStatus::Halted(HaltCause::Exception) => {
            match ctl.read_register(CoreRegister::Xpsr)? & IPSR_MASK {
                4 => FaultCause::MemManage,
                5 => FaultCause::BusFault,
                6 => FaultCause::UsageFault,
                0 | 1 => FaultCause::Reset,
                _ => FaultCause::HardFault,
            }
        }
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

/// The faulting context's registers: from the stacked exception frame when LR holds an EXC_RETURN.
pub fn fault_registers(
    ctl: &mut dyn TargetControl,
    cause: FaultCause,
) -> Result<FaultRegisters, ProbeError> {
    fault::fault_registers(&mut Probe(ctl), cause)
}

fn fault_status(ctl: &mut dyn TargetControl) -> Result<(Option<u32>, Option<u32>), ProbeError> {
    fault::fault_status(&mut Probe(ctl))
}

/// The transport's queue of the halted core ([`crate::recover`]), word by word.
pub fn read_queue(
    ctl: &mut dyn TargetControl,
    layout: &QueueLayout,
) -> Result<QueueImage, RecoverError> {
    let mut probe = Probe(ctl);
    QueueImage::from_reads(layout, |address, len| {
        probe
            .read_bytes(address, len)
            .map_err(|e| RecoverError::Read(format!("{len} bytes at {address:#010x}: {e}")))
    })
}

/// A probe's [`TargetControl`] as the shared fault reader's [`FaultAccess`].
pub(super) struct Probe<'a>(pub(super) &'a mut dyn TargetControl);

impl FaultAccess for Probe<'_> {
    type Error = ProbeError;

    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        self.0.read_register(register)
    }

    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        self.0.read_word(address)
    }

    fn read_bytes(&mut self, address: u32, len: usize) -> Result<Vec<u8>, ProbeError> {
        self.0.read_bytes(address, len)
    }

    fn has_fault_status(&self) -> bool {
        self.0.has_fault_status()
    }
}
