//! Test doubles for the probe backend: a scripted chip, a probe access that hands it out, a pty port.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hil_runner::backend::probe::progress::{FlashBars, FlashEvent, FlashOperation};
use hil_runner::backend::probe::{
    CoreRegister, CoreStatus, ProbeAccess, ProbeBackend, ProbeError, ProbeInfo, TargetControl,
};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, BoardKind, ProbeBoard};

/// What the doubles were asked to do, in order.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A chip whose core goes through `statuses` (the last one stays).
pub struct Scripted {
    pub statuses: VecDeque<CoreStatus>,
    pub registers: HashMap<CoreRegister, u32>,
    pub memory: HashMap<u32, u32>,
    pub fault_status: bool,
    pub flash_fails: bool,
    /// `status` panics, as probe-rs may deep inside a driver.
    pub status_panics: bool,
    pub log: Log,
}

impl Scripted {
    pub fn new(statuses: &[CoreStatus]) -> Self {
        Self {
            statuses: statuses.iter().cloned().collect(),
            registers: HashMap::new(),
            memory: HashMap::new(),
            fault_status: true,
            flash_fails: false,
            status_panics: false,
            log: Log::default(),
        }
    }
}

impl TargetControl for Scripted {
    fn flash(
        &mut self,
        elf: &Path,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<(), ProbeError> {
        self.log.lock().unwrap().push("flash".into());
        progress(FlashEvent::Planned {
            operation: FlashOperation::Erase,
            total: Some(16384),
        });
        progress(FlashEvent::Started(FlashOperation::Erase));
        if self.flash_fails {
            progress(FlashEvent::Failed(FlashOperation::Erase));
            return Err(ProbeError::Flash {
                elf: elf.into(),
                message: "erase timed out".into(),
            });
        }
        progress(FlashEvent::Progress {
            operation: FlashOperation::Erase,
            bytes: 16384,
        });
        progress(FlashEvent::Finished(FlashOperation::Erase));
        Ok(())
    }
    fn reset_and_run(&mut self) -> Result<(), ProbeError> {
        self.log.lock().unwrap().push("reset_and_run".into());
        Ok(())
    }
    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        assert!(!self.status_panics, "scripted panic in status");
        if self.statuses.len() > 1 {
            return Ok(self.statuses.pop_front().unwrap());
        }
        Ok(self
            .statuses
            .front()
            .cloned()
            .unwrap_or(CoreStatus::Running))
    }
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        Ok(self.registers.get(&register).copied().unwrap_or(0))
    }
    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        Ok(self.memory.get(&address).copied().unwrap_or(0))
    }
    fn halt(&mut self) -> Result<(), ProbeError> {
        self.log.lock().unwrap().push("halt".into());
        Ok(())
    }
    fn has_fault_status(&self) -> bool {
        self.fault_status
    }
}

/// Probes that `list` shows; `attach` hands out the scripted chip once.
pub struct Double {
    pub probes: Vec<ProbeInfo>,
    pub target: Mutex<Option<Scripted>>,
    pub log: Log,
}

impl Double {
    pub fn new(probes: &[&str], target: Scripted) -> Arc<Self> {
        let log = target.log.clone();
        Arc::new(Self {
            probes: probes
                .iter()
                .map(|id| ProbeInfo {
                    identifier: "Double".into(),
                    id: id.parse().unwrap(),
                    accessible: true,
                })
                .collect(),
            target: Mutex::new(Some(target)),
            log,
        })
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl ProbeAccess for Double {
    fn list(&self) -> Vec<ProbeInfo> {
        self.probes.clone()
    }
    fn attach(
        &self,
        probe: &ProbeInfo,
        chip: &str,
        under_reset: bool,
    ) -> Result<Box<dyn TargetControl>, ProbeError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("attach {} {chip} reset={under_reset}", probe.id));
        Ok(Box::new(
            self.target.lock().unwrap().take().expect("attached once"),
        ))
    }
}

/// The `[probe]` settings of a probe board.
pub fn probe_of(board: &Board) -> ProbeBoard {
    match &board.kind {
        BoardKind::Probe(p) => p.clone(),
        other => panic!("{other:?}"),
    }
}

/// A pty standing in for the board's UART: the master end, and a link to the slave in `dir`.
pub fn pty(dir: &Path) -> (serialport::TTYPort, PathBuf) {
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let link = dir.join("ttyBOARD");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(serialport::SerialPort::name(&slave).unwrap(), &link).unwrap();
    (master, link)
}

/// A backend over `access` with hidden progress bars.
pub fn backend(board: &Board, access: Arc<dyn ProbeAccess>, boot: Option<u16>) -> ProbeBackend {
    ProbeBackend::with_access(board, &probe_of(board), boot, access)
        .with_progress(|| FlashBars::new(indicatif::ProgressDrawTarget::hidden()))
}

/// How the run ended, if it did within `secs`.
pub async fn ended_within(b: &mut ProbeBackend, secs: u64) -> Option<TargetEnd> {
    tokio::time::timeout(Duration::from_secs(secs), b.ended())
        .await
        .ok()
}
