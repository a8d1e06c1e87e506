//! [`ProbeAccess`] and [`TargetControl`] over the probe-rs library (blocking: call from a blocking thread).
//!
//! Listing goes through a probe-rs [`Lister`]: the default one sees every
//! probe driver; tests inject their own (`Lister::with_lister`) whose probes
//! are probe-rs `FakeProbe`s.

use std::path::Path;
use std::time::Duration;

use probe_rs::flashing::{self, DownloadOptions, ElfLoader, FlashProgress};
use probe_rs::probe::list::{Accessibility, Lister, ProbeLister};
use probe_rs::probe::DebugProbeSelector;
use probe_rs::{CoreType, HaltReason, Permissions, Session, VectorCatchCondition};

use super::access::{
    CoreRegister, CoreStatus, HaltCause, ProbeAccess, ProbeError, ProbeInfo, TargetControl,
};
use super::progress::FlashEvent;
use crate::board::probe::registry;
use crate::board::UsbId;

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
        (self.make_lister)()
            .list_with_access(None)
            .into_iter()
            .map(|item| ProbeInfo {
                identifier: item.info.identifier.clone(),
                id: UsbId {
                    vendor_id: item.info.vendor_id,
                    product_id: item.info.product_id,
                    serial: item.info.serial_number.clone(),
                },
                accessible: item.accessibility == Accessibility::Accessible,
            })
            .collect()
    }

    fn attach(
        &self,
        probe: &ProbeInfo,
        chip: &str,
        under_reset: bool,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        let target = registry()
            .get_target_by_name(chip)
            .map_err(|_| ProbeError::UnknownChip { chip: chip.into() })?;
        let selector = DebugProbeSelector {
            vendor_id: probe.id.vendor_id,
            product_id: probe.id.product_id,
            interface: None,
            serial_number: probe.id.serial.clone(),
        };
        let opened = (self.make_lister)()
            .open(selector)
            .map_err(|e| ProbeError::Open {
                probe: probe.to_string(),
                message: chain(&e),
            })?;
        let attached = if under_reset {
            opened.attach_under_reset_with_registry(chip, Permissions::default(), registry())
        } else {
            opened.attach_with_registry(chip, Permissions::default(), registry())
        };
        let session = attached.map_err(|e| match e {
            probe_rs::Error::ChipNotFound(_) => ProbeError::UnknownChip { chip: chip.into() },
            e => ProbeError::Attach {
                chip: chip.into(),
                under_reset,
                message: chain(&e),
            },
        })?;
        let core = target.default_core().core_type;
        Ok(Box::new(RsTarget {
            session,
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
    fault_status: bool,
}

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
        let mut core = self.core("reset the core")?;
        core.reset_and_halt(HALT_TIMEOUT)
            .map_err(core_error("reset and halt the core"))?;
        core.enable_vector_catch(VectorCatchCondition::HardFault)
            .map_err(core_error("arm the HardFault vector catch"))?;
        core.run().map_err(core_error("run the core"))
    }

    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        let status = self
            .core("read the core status")?
            .status()
            .map_err(core_error("read the core status"))?;
        Ok(match status {
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
        use probe_rs::MemoryInterface as _;
        self.core("read target memory")?
            .read_word_32(u64::from(address))
            .map_err(core_error("read target memory"))
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

    fn has_fault_status(&self) -> bool {
        self.fault_status
    }
}
