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
//! a semihosting exit ends it as [`TargetEnd::Exited`], as on QEMU; other
//! semihosting requests are answered (the command line, console output) and
//! the core resumes; [`Backend::stop`] halts a core still running. Bytes
//! before the boot marker are discarded and counted ([`BootGate`]).
//!
//! A board with `log = "rtt"` opens no serial port: its log is RTT up-channel
//! 0, read through the same session while the watcher watches the core
//! ([`rtt_source`]); every RTT byte is the run's, so nothing is discarded.
//!
//! **The board after a run.** The core is left halted: the session is not
//! closed but parked ([`Sessions`]) for the next run in this process, and
//! never closed at all, because closing a probe-rs session clears
//! `DHCSR.C_DEBUGEN`, which lets a halted core run again with no debugger
//! (its `bkpt` or semihosting call then faults). The next run, in this
//! process or another, attaches to the halted core and resets it.

pub mod access;
pub mod listing;
mod log_source;
pub mod progress;
pub mod real;
pub mod rtt;
pub mod rtt_source;
mod sessions;
mod trace;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use access::{
    Answered, AttachOptions, CoreRegister, CoreStatus, FaultCause, FaultRegisters, HaltCause,
    ProbeAccess, ProbeError, ProbeInfo, Semihosting, TargetControl,
};
use log_source::Log;
use progress::FlashBars;
use rtt::RttLocation;
pub use rtt_source::RTT_ATTACH_DEADLINE;
pub use sessions::Sessions;
use sessions::{image_digest, Parked};
use watch::{watch, Console};

use super::{Backend, BackendError, TargetEnd};
use crate::board::{Board, LogSource, ProbeBoard, UsbId};
use crate::serial_port::{self, SerialRoots};
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
    // A probe listed once per interface is one probe.
    let probes = &listing::merge_interfaces(probes.to_vec())[..];
    let matching: Vec<&ProbeInfo> = probes
        .iter()
        .filter(|p| selector.is_none_or(|s| s.matches_probe(&p.id, &p.interfaces)))
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
        // The interface the selector names is the one opened (none: probe-rs's choice).
        [one] if one.accessible => Ok(ProbeInfo {
            id: UsbId {
                interface: selector.and_then(|s| s.interface),
                ..one.id.clone()
            },
            ..(*one).clone()
        }),
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

/// The watcher thread and how it reports; the thread hands the session back when it stops.
struct Watcher {
    stop: Arc<AtomicBool>,
    ended: Option<oneshot::Receiver<TargetEnd>>,
    thread: Option<tokio::task::JoinHandle<Box<dyn TargetControl>>>,
    probe: ProbeInfo,
    flashed: Option<u64>,
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
    sessions: Arc<Sessions>,
    command_line: String,
    reuse_flashed: bool,
    output: Arc<Mutex<String>>,
    bring_up_deadline: Duration,
    /// The transport's queue, read by the watcher when the core stops.
    queue_image: crate::recover::ImageSlot,
    rtt_deadline: Duration,
}

/// The longest attach, flash and start may take before the run is an error (a wedged probe).
pub const BRING_UP_DEADLINE: Duration = Duration::from_secs(300);

impl ProbeBackend {
    /// A backend for `board` (whose kind is `probe`) through probe-rs.
    ///
    /// `boot_index` is the firmware's boot marker string index: bytes before
    /// its frame are discarded and counted (`None`: nothing is discarded).
    pub fn new(board: &Board, probe: &ProbeBoard, boot_index: Option<u16>) -> Self {
        Self::with_access(board, probe, boot_index, Arc::new(real::ProbeRs::new()))
            .with_sessions(Sessions::global())
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
            sessions: Arc::default(),
            command_line: String::new(),
            reuse_flashed: false,
            output: Arc::default(),
            bring_up_deadline: BRING_UP_DEADLINE,
            queue_image: Arc::default(),
            rtt_deadline: RTT_ATTACH_DEADLINE,
        }
    }

    /// How long an RTT control block is looked for (`log = "rtt"`; default [`RTT_ATTACH_DEADLINE`]).
    pub fn with_rtt_attach_deadline(mut self, deadline: Duration) -> Self {
        self.rtt_deadline = deadline;
        self
    }

    /// How long attach, flash and start may take (default [`BRING_UP_DEADLINE`]).
    pub fn with_bring_up_deadline(mut self, deadline: Duration) -> Self {
        self.bring_up_deadline = deadline;
        self
    }

    /// Keep sessions between runs in `sessions` (default: this backend's own; [`Self::new`]:
    /// the process's, [`Sessions::global`]).
    pub fn with_sessions(mut self, sessions: Arc<Sessions>) -> Self {
        self.sessions = sessions;
        self
    }

    /// The command line the target gets when it asks through semihosting (`SYS_GET_CMDLINE`):
    /// the arguments joined by spaces, as QEMU's `-semihosting-config arg=..` gives them.
    pub fn with_command_line(mut self, args: &[String]) -> Self {
        self.command_line = args.join(" ");
        self
    }

    /// Do not flash when the chip already holds this ELF, flashed through a session this
    /// process parked (an embedded-test suite: flashed for its first test, reset for the others).
    pub fn reuse_flashed(mut self, reuse: bool) -> Self {
        self.reuse_flashed = reuse;
        self
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

    /// Attach (or take the parked session), flash (unless the image is already there and
    /// reuse is asked for), reset and run, on a blocking thread; a probe-rs panic becomes an error.
    async fn bring_up(
        &self,
        probe: ProbeInfo,
        elf: &Path,
        rtt_block: Option<u32>,
    ) -> Result<(Box<dyn TargetControl>, Option<u64>), BackendError> {
        let access = self.access.clone();
        let options = access::AttachOptions::of(&self.probe);
        let chip = options.chip.clone();
        let elf: PathBuf = elf.into();
        let bars = self
            .bars
            .as_ref()
            .map_or_else(FlashBars::stderr, |make| make());
        let parked = self.sessions.take(&probe, &chip);
        let reuse = self.reuse_flashed;
        let task = tokio::task::spawn_blocking(move || {
            let mut bars = bars;
            let digest = image_digest(&elf);
            let (mut ctl, on_chip) = match parked {
                Some(parked) => {
                    tracing::debug!(%probe, %chip, "reusing the parked session");
                    (parked.ctl, parked.flashed)
                }
                None => (access.attach_with(&probe, &options)?, None),
            };
            if reuse && digest.is_some() && on_chip == digest {
                eprintln!(
                    "hil: flash {} to {chip}: already there (flashed for the previous test)",
                    elf.display()
                );
            } else {
                tracing::info!(%probe, %chip, "attached; flashing {}", elf.display());
                let flashed = ctl.flash(&elf, &mut |event| bars.event(event));
                eprintln!("hil: flash {} to {chip}: {}", elf.display(), bars.summary());
                flashed?;
            }
            if let Some(at) = rtt_block {
                // The block the last run left in RAM must not be read as this run's.
                if let Err(e) = rtt::clear_id(ctl.as_mut(), at) {
                    tracing::warn!("cannot clear the RTT control block id at {at:#010x}: {e}");
                }
            }
            ctl.reset_and_run()?;
            Ok((ctl, digest))
        });
        let Ok(joined) = tokio::time::timeout(self.bring_up_deadline, task).await else {
            // The blocking thread cannot be cancelled: it ends when probe-rs gives up.
            return Err(self.probe_error(ProbeError::Deadline {
                seconds: self.bring_up_deadline.as_secs(),
            }));
        };
        match joined {
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

        let log = match &self.probe.log {
            LogSource::Serial(serial) => Log::Port(serial.clone(), self.open_port(serial).await?),
            LogSource::Rtt => Log::Rtt(RttLocation::of(elf, &self.probe.chip)),
        };
        let rtt_block = match &log {
            Log::Rtt(location) => location.symbol,
            Log::Port(..) => None,
        };
        let (ctl, flashed) = self.bring_up(chosen.clone(), elf, rtt_block).await?;
        let (ctl, source, returned) = self.log_source(ctl, log);

        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = oneshot::channel();
        let thread = {
            let stop = stop.clone();
            let elf_bytes = std::fs::read(elf).unwrap_or_default();
            self.queue_image = Arc::default();
            let console = Console {
                command_line: self.command_line.clone(),
                output: self.output.clone(),
                elf: elf.to_path_buf(),
                queue: crate::recover::QueueLayout::from_elf(&elf_bytes).unwrap_or_else(|e| {
                    tracing::warn!("no queue recovery: {e}");
                    None
                }),
                image: self.queue_image.clone(),
            };
            tokio::task::spawn_blocking(move || {
                let ctl = watch(ctl, stop, tx, console);
                match returned {
                    // The RTT pump hands its session back when dropped.
                    Some(returned) => {
                        drop(ctl);
                        returned.take().expect("the pump returns its session")
                    }
                    None => ctl,
                }
            })
        };
        self.watcher = Some(Watcher {
            stop,
            ended: Some(rx),
            thread: Some(thread),
            probe: chosen,
            flashed,
        });
        Ok(source)
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
                // A watcher that panicked took its session down with it.
                if let Ok(ctl) = thread.await {
                    self.sessions.park(Parked {
                        probe: w.probe.clone(),
                        chip: self.probe.chip.clone(),
                        ctl,
                        flashed: w.flashed,
                    });
                }
            }
        }
    }

    fn target_output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn take_queue_image(
        &mut self,
    ) -> Option<Result<crate::recover::QueueImage, crate::recover::RecoverError>> {
        self.queue_image.lock().ok()?.take()
    }

    fn discarded_before_boot(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}
