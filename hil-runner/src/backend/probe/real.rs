//! [`ProbeAccess`] and [`TargetControl`] over the probe-rs library (blocking: call from a blocking thread).
//!
//! Listing goes through a probe-rs [`Lister`]: the default one sees every
//! probe driver; tests inject their own (`Lister::with_lister`) whose probes
//! are probe-rs `FakeProbe`s.

use std::path::Path;
use std::time::Duration;

use probe_rs::flashing::{self, DownloadOptions, ElfLoader, FlashProgress};
use probe_rs::probe::list::{Accessibility, Lister, ProbeLister};
use probe_rs::probe::{DebugProbeInfo, DebugProbeSelector};

use super::listing::probes_of;
use probe_rs::semihosting::SemihostingCommand;
use probe_rs::{
    BreakpointCause, CoreType, HaltReason, MemoryInterface as _, Permissions, Session,
    VectorCatchCondition,
};

use super::access::{
    Answered, AttachOptions, CoreRegister, CoreStatus, HaltCause, ProbeAccess, ProbeError,
    ProbeInfo, Semihosting, TargetControl,
};
use super::progress::FlashEvent;
use crate::board::probe::registry;
use crate::board::WireProtocol;

/// How long a halt or a reset-and-halt may take.
const HALT_TIMEOUT: Duration = Duration::from_millis(500);

/// Debug probes through the probe-rs library.
pub struct ProbeRs {
    /// probe-rs's `Lister` is neither `Send` nor `Sync`: one is made per call, on the calling thread.
    make_lister: Box<dyn Fn() -> Lister + Send + Sync>,
}

impl std::fmt::Debug for ProbeRs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRs").finish_non_exhaustive()
    }
}

impl Default for ProbeRs {
    fn default() -> Self {
        Self::new()
    }
}

impl ProbeRs {
    /// Every probe probe-rs has a driver for.
    pub fn new() -> Self {
        Self {
            make_lister: Box::new(Lister::new),
        }
    }

    /// Probes from the listers `make` returns only (tests: listers of probe-rs `FakeProbe`s).
    pub fn with_lister(make: impl Fn() -> Box<dyn ProbeLister> + Send + Sync + 'static) -> Self {
        Self {
            make_lister: Box::new(move || Lister::with_lister(make())),
        }
    }
}

/// Why a probe did not open: busy (another program has it), or anything else.
fn open_error(probe: &ProbeInfo, e: &dyn std::error::Error) -> ProbeError {
    let message = chain(e);
    let lower = message.to_ascii_lowercase();
    if lower.contains("busy") || lower.contains("already in use") || lower.contains("claim") {
        ProbeError::Busy {
            probe: probe.to_string(),
            message,
        }
    } else {
        ProbeError::Open {
            probe: probe.to_string(),
            message,
        }
    }
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string().trim_end_matches('.').to_owned();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        let s_text = s_text.trim_end_matches('.');
        if !text.contains(s_text) {
            text.push_str(": ");
            text.push_str(s_text);
        }
        source = s.source();
    }
    text
}

impl ProbeAccess for ProbeRs {
    fn list(&self) -> Vec<ProbeInfo> {
        let listing: Vec<(DebugProbeInfo, bool)> = (self.make_lister)()
            .list_with_access(None)
            .into_iter()
            .map(|item| {
                let accessible = item.accessibility == Accessibility::Accessible;
                (item.info, accessible)
            })
            .collect();
        probes_of(&listing)
    }

    fn attach(
        &self,
        probe: &ProbeInfo,
        chip: &str,
        under_reset: bool,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        self.attach_with(
            probe,
            &AttachOptions {
                chip: chip.into(),
                under_reset,
                speed_khz: None,
                protocol: None,
                allow_erase_all: false,
            },
        )
    }

    fn attach_with(
        &self,
        probe: &ProbeInfo,
        options: &AttachOptions,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        let (chip, under_reset) = (options.chip.as_str(), options.under_reset);
        let target = registry()
            .get_target_by_name(chip)
            .map_err(|_| ProbeError::UnknownChip { chip: chip.into() })?;
        let selector = DebugProbeSelector {
            vendor_id: probe.id.vendor_id,
            product_id: probe.id.product_id,
            interface: probe.id.interface,
            serial_number: probe.id.serial.clone(),
        };
        let mut opened = (self.make_lister)()
            .open(selector)
            .map_err(|e| open_error(probe, &e))?;
        if let Some(protocol) = options.protocol {
            let protocol = match protocol {
                WireProtocol::Swd => probe_rs::probe::WireProtocol::Swd,
                WireProtocol::Jtag => probe_rs::probe::WireProtocol::Jtag,
            };
            opened
                .select_protocol(protocol)
                .map_err(|e| ProbeError::Open {
                    probe: probe.to_string(),
                    message: format!("cannot select {protocol:?} (probe.protocol): {}", chain(&e)),
                })?;
        }
        if let Some(khz) = options.speed_khz {
            let set = opened.set_speed(khz).map_err(|e| ProbeError::Open {
                probe: probe.to_string(),
                message: format!("cannot set {khz} kHz (probe.speed): {}", chain(&e)),
            })?;
            tracing::debug!(asked = khz, set, "probe speed in kHz");
        }
        let permissions = if options.allow_erase_all {
            Permissions::new().allow_erase_all()
        } else {
            Permissions::default()
        };
        let attached = if under_reset {
            opened.attach_under_reset_with_registry(chip, permissions, registry())
        } else {
            opened.attach_with_registry(chip, permissions, registry())
        };
        let session = attached.map_err(|e| match e {
            probe_rs::Error::ChipNotFound(_) => ProbeError::UnknownChip { chip: chip.into() },
            probe_rs::Error::MissingPermissions(_) => ProbeError::Locked {
                chip: chip.into(),
                message: chain(&e),
            },
            e => ProbeError::Attach {
                chip: chip.into(),
                under_reset,
                message: chain(&e),
            },
        })?;
        let core = target.default_core().core_type;
        Ok(Box::new(RsTarget {
            session,
            pending: None,
            fault_status: matches!(
                core,
                CoreType::Armv7m | CoreType::Armv7em | CoreType::Armv8m
            ),
        }))
    }
}

/// A probe-rs session on core 0.
struct RsTarget {
    session: Session,
    /// The semihosting request the core is halted on, as probe-rs decoded it.
    pending: Option<SemihostingCommand>,
    fault_status: bool,
}

/// Debug Exception and Monitor Control Register.
const DEMCR: u64 = 0xE000_EDFC;
/// DEMCR's vector catches of the faults other than HardFault (ARMv7-M, ARMv8-M): VC_MMERR,
/// VC_NOCPERR, VC_CHKERR, VC_STATERR, VC_BUSERR, VC_INTERR.
const DEMCR_FAULT_CATCHES: u32 = 0b11_1111 << 4;

/// Semihosting operation numbers, for requests probe-rs decodes into their own variants.
fn operation_of(command: &SemihostingCommand) -> u32 {
    match command {
        SemihostingCommand::Open(_) => 0x01,
        SemihostingCommand::Close(_) => 0x02,
        SemihostingCommand::WriteConsole(_) => 0x04,
        SemihostingCommand::Write(_) => 0x05,
        SemihostingCommand::Read(_) => 0x06,
        SemihostingCommand::Seek(_) => 0x0a,
        SemihostingCommand::FileLength(_) => 0x0c,
        SemihostingCommand::Remove(_) => 0x0e,
        SemihostingCommand::Rename(_) => 0x0f,
        SemihostingCommand::Time(_) => 0x11,
        SemihostingCommand::Errno(_) => 0x13,
        SemihostingCommand::GetCommandLine(_) => 0x15,
        SemihostingCommand::ExitSuccess | SemihostingCommand::ExitError(_) => 0x18,
        SemihostingCommand::Unknown(details) => details.operation,
    }
}

/// Our view of a semihosting request probe-rs decoded.
fn semihosting_of(command: &SemihostingCommand) -> Semihosting {
    match command {
        SemihostingCommand::ExitSuccess => Semihosting::Exit {
            code: 0,
            detail: "success".into(),
        },
        SemihostingCommand::ExitError(details) => Semihosting::Exit {
            code: Semihosting::exit_code(false, details.exit_status),
            detail: details.to_string(),
        },
        SemihostingCommand::GetCommandLine(_) => Semihosting::CommandLine,
        other => Semihosting::Other {
            operation: operation_of(other),
        },
    }
}

/// File handles `:tt` opens as: stdout for mode `w`, stderr for mode `a`.
const STDOUT: u32 = 1;
const STDERR: u32 = 2;

fn core_error(action: &'static str) -> impl Fn(probe_rs::Error) -> ProbeError {
    move |e| ProbeError::Core {
        action,
        message: chain(&e),
    }
}

impl RsTarget {
    fn core(&mut self, action: &'static str) -> Result<probe_rs::Core<'_>, ProbeError> {
        self.session.core(0).map_err(core_error(action))
    }
}

impl TargetControl for RsTarget {
    fn flash(
        &mut self,
        elf: &Path,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<(), ProbeError> {
        let mut options = DownloadOptions::default();
        options.verify = true;
        options.progress = FlashProgress::new(|event| {
            if let Some(event) = FlashEvent::from_probe_rs(&event) {
                progress(event);
            }
        });
        let loader = ElfLoader(flashing::ElfOptions::default());
        flashing::download_file_with_options(&mut self.session, elf, loader, options).map_err(|e| {
            ProbeError::Flash {
                elf: elf.into(),
                message: chain(&e),
            }
        })
    }

    fn reset_and_run(&mut self) -> Result<(), ProbeError> {
        let fault_status = self.fault_status;
        self.pending = None;
        let mut core = self.core("reset the core")?;
        core.reset_and_halt(HALT_TIMEOUT)
            .map_err(core_error("reset and halt the core"))?;
        core.enable_vector_catch(VectorCatchCondition::HardFault)
            .map_err(core_error("arm the HardFault vector catch"))?;
        // As `probe-rs run --catch-reset`: a watchdog or a reset on panic halts the core
        // instead of starting the firmware again.
        core.enable_vector_catch(VectorCatchCondition::CoreReset)
            .map_err(core_error("arm the reset vector catch"))?;
        if fault_status {
            let demcr = core.read_word_32(DEMCR).map_err(core_error("read DEMCR"))?;
            core.write_word_32(DEMCR, demcr | DEMCR_FAULT_CATCHES)
                .map_err(core_error("arm the fault vector catches"))?;
        }
        core.run().map_err(core_error("run the core"))
    }

    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        let status = self
            .core("read the core status")?
            .status()
            .map_err(core_error("read the core status"))?;
        Ok(match status {
            probe_rs::CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(
                command,
            ))) => {
                self.pending = Some(command);
                CoreStatus::Halted(HaltCause::Semihosting(semihosting_of(&command)))
            }
            probe_rs::CoreStatus::Halted(HaltReason::Breakpoint(_)) => {
                CoreStatus::Halted(HaltCause::Breakpoint)
            }
            probe_rs::CoreStatus::Halted(HaltReason::Exception) => {
                CoreStatus::Halted(HaltCause::Exception)
            }
            probe_rs::CoreStatus::Halted(other) => {
                CoreStatus::Halted(HaltCause::Other(format!("{other:?}")))
            }
            probe_rs::CoreStatus::LockedUp => CoreStatus::LockedUp,
            probe_rs::CoreStatus::Running
            | probe_rs::CoreStatus::Sleeping
            | probe_rs::CoreStatus::Unknown => CoreStatus::Running,
        })
    }

    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        let mut core = self.core("read a core register")?;
        let regs = core.registers();
        let reg = match register {
            CoreRegister::R0 => Some(regs.core_register(0)),
            CoreRegister::R(n) if n < 13 => Some(regs.core_register(usize::from(n))),
            CoreRegister::R(_) => None,
            CoreRegister::Sp => Some(core.stack_pointer()),
            CoreRegister::Lr => Some(core.return_address()),
            CoreRegister::Pc => Some(core.program_counter()),
            CoreRegister::Xpsr => regs.psr(),
            CoreRegister::Msp => regs.msp(),
            CoreRegister::Psp => regs.psp(),
        };
        let reg = reg.ok_or(ProbeError::Core {
            action: "read a core register",
            message: format!("this core has no {register:?} register"),
        })?;
        core.read_core_reg::<u32>(reg.id())
            .map_err(core_error("read a core register"))
    }

    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        self.core("read target memory")?
            .read_word_32(u64::from(address))
            .map_err(core_error("read target memory"))
    }

    fn read_bytes(&mut self, address: u32, len: usize) -> Result<Vec<u8>, ProbeError> {
        let mut bytes = vec![0; len];
        self.core("read target memory")?
            .read(u64::from(address), &mut bytes)
            .map_err(core_error("read target memory"))?;
        Ok(bytes)
    }

    fn write_word(&mut self, address: u32, value: u32) -> Result<(), ProbeError> {
        self.core("write target memory")?
            .write_word_32(u64::from(address), value)
            .map_err(core_error("write target memory"))
    }

    fn halt(&mut self) -> Result<(), ProbeError> {
        let mut core = self.core("halt the core")?;
        if core.core_halted().map_err(core_error("halt the core"))? {
            return Ok(());
        }
        core.halt(HALT_TIMEOUT)
            .map(drop)
            .map_err(core_error("halt the core"))
    }

    fn answer_semihosting(&mut self, command_line: &str) -> Result<Answered, ProbeError> {
        let Some(command) = self.pending.take() else {
            return Ok(Answered::default());
        };
        let answer = core_error("answer a semihosting request");
        let mut core = self.core("answer a semihosting request")?;
        let mut answered = Answered::default();
        // probe-rs has already written -1 (failure) as the status of the requests that
        // have one: a request left alone here fails on the target, as under `probe-rs run`.
        match command {
            SemihostingCommand::GetCommandLine(request) => request
                .write_command_line_to_target(&mut core, command_line)
                .map_err(answer)?,
            SemihostingCommand::WriteConsole(request) => {
                answered.output = Some(request.read(&mut core).map_err(answer)?);
            }
            SemihostingCommand::Open(request) => {
                let handle = match (
                    request.path(&mut core).map_err(&answer)?.as_str(),
                    request.mode().as_bytes()[0],
                ) {
                    (":tt", b'w') => std::num::NonZeroU32::new(STDOUT),
                    (":tt", b'a') => std::num::NonZeroU32::new(STDERR),
                    (path, _) => {
                        tracing::warn!(
                            "the target asked to open {path:?} through semihosting; refused"
                        );
                        None
                    }
                };
                if let Some(handle) = handle {
                    request
                        .respond_with_handle(&mut core, handle)
                        .map_err(answer)?;
                }
            }
            SemihostingCommand::Write(request)
                if matches!(request.file_handle(), STDOUT | STDERR) =>
            {
                let bytes = request.read(&mut core).map_err(&answer)?;
                answered.output = Some(String::from_utf8_lossy(&bytes).into_owned());
                request.write_status(&mut core, 0).map_err(answer)?;
            }
            SemihostingCommand::Close(request)
                if matches!(request.file_handle(), STDOUT | STDERR) =>
            {
                request.success(&mut core).map_err(answer)?;
            }
            SemihostingCommand::Time(request) => {
                request.write_current_time(&mut core).map_err(answer)?;
            }
            other => {
                tracing::warn!(
                    "the target asked for semihosting operation {:#x}, which the runner does not \
                     support; it fails on the target",
                    operation_of(&other)
                );
            }
        }
        Ok(answered)
    }

    fn resume(&mut self) -> Result<(), ProbeError> {
        self.pending = None;
        self.core("resume the core")?
            .run()
            .map_err(core_error("resume the core"))
    }

    fn has_fault_status(&self) -> bool {
        self.fault_status
    }
}

#[cfg(test)]
mod tests {
    use probe_rs::semihosting::{ExitErrorDetails, SemihostingCommand};

    use super::{semihosting_of, Semihosting};

    fn code_of(command: SemihostingCommand) -> i32 {
        match semihosting_of(&command) {
            Semihosting::Exit { code, .. } => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn semihosting_exits_give_the_status_qemu_exits_with() {
        assert_eq!(code_of(SemihostingCommand::ExitSuccess), 0);
        // cortex-m-semihosting's `debug::exit(EXIT_FAILURE)`, `semihosting::process::abort()`.
        let failure = ExitErrorDetails {
            reason: 0x20023,
            exit_status: None,
            subcode: None,
        };
        assert_eq!(code_of(SemihostingCommand::ExitError(failure)), 1);
        // SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit and a status.
        let status = ExitErrorDetails {
            reason: 0x20026,
            exit_status: Some(3),
            subcode: None,
        };
        assert_eq!(code_of(SemihostingCommand::ExitError(status)), 3);
    }
}
