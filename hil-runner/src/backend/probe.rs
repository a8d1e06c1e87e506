//! Probe backend: real boards through a debug probe (probe-rs), their log read from a serial port.
//!
//! [`ProbeBackend::start`] does, in this order: list the probes and pick the
//! board's (nothing slow happens before, so a missing probe is reported at
//! once); open the serial port (before the reset, so no early byte is lost;
//! a native USB port that is not there yet is opened when it appears);
//! attach to the chip (under reset when the board file says so); flash the
//! ELF with progress bars (erase, program, verify); reset, arm the HardFault
//! catch, run. A watcher thread then polls the core: a halt on a breakpoint
//! or a HardFault ends the test ([`TargetEnd::Halted`], [`TargetEnd::Fault`]);
//! [`Backend::stop`] halts a core still running. Bytes before the boot marker
//! are discarded and counted ([`BootGate`]).

pub mod access;
pub mod progress;
pub mod real;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

pub use access::{
    CoreRegister, CoreStatus, FaultCause, FaultRegisters, HaltCause, ProbeAccess, ProbeError,
    ProbeInfo, TargetControl,
};
use progress::FlashBars;

use super::{Backend, BackendError, TargetEnd};
use crate::board::{Board, ProbeBoard, UsbId};
use crate::boot_gate::BootGate;
use crate::serial_port::{self, PortSource, SerialRoots};
use crate::source::ByteSource;

/// Where Linux lists USB devices; without it no probe can be attached.
const USB_DEVICES: &str = "/sys/bus/usb/devices";

/// How often the watcher asks the probe for the core's status.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The probe matching `selector` (or the only one attached), or why there is not exactly one.
pub fn select_probe(
    probes: &[ProbeInfo],
    selector: Option<&UsbId>,
    board: &Board,
    chip: &str,
) -> Result<ProbeInfo, BackendError> {
    let looked_for = match selector {
        Some(id) => format!("probe {id} (probe.selector)"),
        None => "any probe".to_owned(),
    };
    let matching: Vec<&ProbeInfo> = probes
        .iter()
        .filter(|p| {
            selector
                .is_none_or(|s| s.matches(p.id.vendor_id, p.id.product_id, p.id.serial.as_deref()))
        })
        .collect();
    let list = |ps: &mut dyn Iterator<Item = &ProbeInfo>| {
        let names: Vec<String> = ps.map(ToString::to_string).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    match matching.as_slice() {
        [one] if one.accessible => Ok((*one).clone()),
        [one] => Err(BackendError::ProbePermission {
            probe: one.to_string(),
        }),
        [] => Err(BackendError::NoProbe {
            looked_for,
            board: board.name.clone(),
            chip: chip.to_owned(),
            attached: list(&mut probes.iter()),
        }),
        several => Err(BackendError::SeveralProbes {
            count: several.len(),
            looked_for,
            board: board.name.clone(),
            path: board.path.display().to_string(),
            probes: list(&mut several.iter().copied()),
        }),
    }
}

/// The watcher thread and how it reports.
struct Watcher {
    stop: Arc<AtomicBool>,
    ended: Option<oneshot::Receiver<TargetEnd>>,
    thread: Option<tokio::task::JoinHandle<()>>,
}

/// Runs firmware on a real board through a debug probe.
pub struct ProbeBackend {
    board: Board,
    probe: ProbeBoard,
    access: Arc<dyn ProbeAccess>,
    roots: SerialRoots,
    boot_index: Option<u16>,
    reappear: Duration,
    discarded: Arc<AtomicU64>,
    watcher: Option<Watcher>,
    bars: Option<Box<dyn Fn() -> FlashBars + Send + Sync>>,
}

impl ProbeBackend {
    /// A backend for `board` (whose kind is `probe`) through probe-rs.
    ///
    /// `boot_index` is the firmware's boot marker string index: bytes before
    /// its frame are discarded and counted (`None`: nothing is discarded).
    pub fn new(board: &Board, probe: &ProbeBoard, boot_index: Option<u16>) -> Self {
        Self::with_access(board, probe, boot_index, Arc::new(real::ProbeRs::new()))
    }

    /// A backend that reaches probes through `access` (tests: doubles, or probe-rs's FakeProbe).
    pub fn with_access(
        board: &Board,
        probe: &ProbeBoard,
        boot_index: Option<u16>,
        access: Arc<dyn ProbeAccess>,
    ) -> Self {
        Self {
            board: board.clone(),
            probe: probe.clone(),
            access,
            roots: SerialRoots::default(),
            boot_index,
            reappear: serial_port::REAPPEAR_TIMEOUT,
            discarded: Arc::new(AtomicU64::new(0)),
            watcher: None,
            bars: None,
        }
    }

    /// Look for serial ports under `roots` instead of `/sys` and `/dev` (tests).
    pub fn with_serial_roots(mut self, roots: SerialRoots) -> Self {
        self.roots = roots;
        self
    }

    /// How long a native USB port may stay away after the reset.
    pub fn with_reappear_timeout(mut self, timeout: Duration) -> Self {
        self.reappear = timeout;
        self
    }

    /// Make the flash progress bars with `make` (tests: hidden bars).
    pub fn with_progress(mut self, make: impl Fn() -> FlashBars + Send + Sync + 'static) -> Self {
        self.bars = Some(Box::new(make));
        self
    }

    fn probe_error(&self, source: ProbeError) -> BackendError {
        BackendError::Probe {
            board: self.board.name.clone(),
            chip: self.probe.chip.clone(),
            source,
        }
    }

    fn serial_error(&self, e: impl ToString) -> BackendError {
        BackendError::Serial {
            what: format!(
                "the serial port of board {} ({})",
                self.board.name, self.probe.serial.port
            ),
            message: e.to_string(),
        }
    }

    /// Attach, flash, reset and run, on a blocking thread; a probe-rs panic becomes an error.
    async fn bring_up(
        &self,
        probe: ProbeInfo,
        elf: &Path,
    ) -> Result<Box<dyn TargetControl>, BackendError> {
        let access = self.access.clone();
        let (chip, under_reset) = (self.probe.chip.clone(), self.probe.connect_under_reset);
        let elf: PathBuf = elf.into();
        let bars = self
            .bars
            .as_ref()
            .map_or_else(FlashBars::stderr, |make| make());
        let task = tokio::task::spawn_blocking(move || {
            let mut bars = bars;
            let mut ctl = access.attach(&probe, &chip, under_reset)?;
            tracing::info!(%probe, %chip, "attached; flashing {}", elf.display());
            let flashed = ctl.flash(&elf, &mut |event| bars.event(event));
            eprintln!("hil: flash {} to {chip}: {}", elf.display(), bars.summary());
            flashed?;
            ctl.reset_and_run()?;
            Ok(ctl)
        });
        match task.await {
            Ok(result) => result.map_err(|e| self.probe_error(e)),
            Err(join) => Err(self.probe_error(ProbeError::Panicked {
                action: "attaching, flashing and starting the target",
                message: panic_message(join),
            })),
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "(no message)".into()),
        Err(e) => e.to_string(),
    }
}

/// Poll the core until it halts, faults, or the backend is told to stop (then halt it).
fn watch(
    mut ctl: Box<dyn TargetControl>,
    stop: Arc<AtomicBool>,
    ended: oneshot::Sender<TargetEnd>,
) {
    let end = loop {
        if stop.load(Ordering::Relaxed) {
            if let Err(e) = ctl.halt() {
                tracing::warn!("cannot halt the core at the end of the test: {e}");
            }
            return;
        }
        let status = ctl.status();
        match status.and_then(|s| access::target_end(ctl.as_mut(), &s)) {
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Ok(Some(end)) => break end,
            Err(e) => {
                break TargetEnd::Killed {
                    detail: format!("lost the target through the debug probe: {e}"),
                }
            }
        }
    };
    tracing::debug!(%end, "target ended");
    let _ = ended.send(end);
    // Keep the session (and the halted core) until the runner stops the backend.
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL_INTERVAL);
    }
}

impl Backend for ProbeBackend {
    async fn start(&mut self, elf: &Path) -> Result<Box<dyn ByteSource>, BackendError> {
        let access = self.access.clone();
        let probes = tokio::task::spawn_blocking(move || access.list())
            .await
            .map_err(|e| {
                self.probe_error(ProbeError::Panicked {
                    action: "listing debug probes",
                    message: panic_message(e),
                })
            })?;
        let selected = select_probe(
            &probes,
            self.probe.selector.as_ref(),
            &self.board,
            &self.probe.chip,
        );
        let chosen = match selected {
            Err(BackendError::NoProbe {
                looked_for,
                board,
                chip,
                attached,
            }) if !Path::new(USB_DEVICES).is_dir() => Err(BackendError::NoProbe {
                looked_for,
                board,
                chip,
                attached: format!(
                    "{attached} (this machine has no USB bus: {USB_DEVICES} is missing)"
                ),
            }),
            other => other,
        }?;
        tracing::debug!(probe = %chosen, "debug probe selected");

        let serial = self.probe.serial.clone();
        let roots = self.roots.clone();
        let opened = tokio::task::spawn_blocking(move || {
            serial_port::open(&serial.port, serial.baud, &roots)
        })
        .await
        .expect("serial open task panicked");
        let port = match opened {
            Ok(port) => Some(port),
            // The target's own USB port appears only once its firmware runs.
            Err(e) if self.probe.serial.native_usb => {
                tracing::debug!("native USB port not there before the reset: {e}");
                None
            }
            Err(e) => return Err(self.serial_error(e)),
        };

        let ctl = self.bring_up(chosen, elf).await?;
        let source = PortSource::new(
            self.probe.serial.port.clone(),
            self.probe.serial.baud,
            self.roots.clone(),
            self.probe.serial.native_usb,
            port,
        )
        .with_reappear_timeout(self.reappear);

        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = oneshot::channel();
        let thread = {
            let stop = stop.clone();
            tokio::task::spawn_blocking(move || watch(ctl, stop, tx))
        };
        self.watcher = Some(Watcher {
            stop,
            ended: Some(rx),
            thread: Some(thread),
        });
        Ok(match self.boot_index {
            Some(index) => {
                let gate = BootGate::new(source, index);
                self.discarded = gate.discarded();
                Box::new(gate)
            }
            None => Box::new(source),
        })
    }

    async fn ended(&mut self) -> TargetEnd {
        let Some(rx) = self.watcher.as_mut().and_then(|w| w.ended.as_mut()) else {
            return std::future::pending().await;
        };
        let end = rx.await;
        if let Some(w) = self.watcher.as_mut() {
            w.ended = None;
        }
        // The watcher drops its sender unsent when stopped (nobody waits then) or when it panicked.
        end.unwrap_or_else(|_| TargetEnd::Killed {
            detail: "watching the core through the debug probe failed: probe-rs panicked".into(),
        })
    }

    async fn stop(&mut self) {
        if let Some(w) = self.watcher.as_mut() {
            w.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = w.thread.take() {
                let _ = thread.await;
            }
        }
    }

    fn discarded_before_boot(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}
