//! Test doubles for the probe backend: a scripted chip, a probe access that hands it out, a pty port.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hil_runner::backend::probe::progress::{FlashBars, FlashEvent, FlashOperation};
use hil_runner::backend::probe::{
    Answered, CoreRegister, CoreStatus, HaltCause, ProbeAccess, ProbeBackend, ProbeError,
    ProbeInfo, Semihosting, TargetControl,
};
use hil_runner::backend::{Backend, TargetEnd};
use hil_runner::board::{Board, BoardKind, ProbeBoard, UsbId};

/// What the doubles were asked to do, in order.
pub type Log = Arc<Mutex<Vec<String>>>;

/// A chip that behaves like a core under a debugger: it goes through `statuses` while it
/// runs (one per status poll; the last one stays), a halt stays until the host resumes or
/// resets it, registers can only be read while halted (probe-rs refuses otherwise), a
/// locked-up core is not halted until the host halts it, a semihosting call halts with its
/// operation in `r0`, and each reset starts the next script of `later_runs` (if any).
pub struct Scripted {
    pub statuses: VecDeque<CoreStatus>,
    /// The scripts of the runs after the second, third ... reset.
    pub later_runs: VecDeque<Vec<CoreStatus>>,
    pub registers: HashMap<CoreRegister, u32>,
    pub memory: HashMap<u32, u32>,
    pub fault_status: bool,
    pub flash_fails: bool,
    /// `status` panics, as probe-rs may deep inside a driver.
    pub status_panics: bool,
    /// Console output the semihosting requests carry, in order (`SYS_WRITE0` ...).
    pub console: VecDeque<String>,
    pub log: Log,
    /// The core's state now.
    pub now: CoreStatus,
    resets: usize,
    /// Firmware that logs through an RTT control block in `memory` (defmt-rtt's layout).
    pub rtt: Option<FakeRtt>,
}

/// An RTT control block the scripted firmware sets up in fake memory and writes its log
/// into, as defmt-rtt does: the block appears `appears_after` status polls after the
/// reset (the firmware's init), then each poll of the running core writes up to
/// `per_poll` bytes of `pending` into the ring buffer, only into space the host has
/// freed (blocking mode); the script's next status comes only once `pending` is written.
#[derive(Debug, Clone)]
pub struct FakeRtt {
    pub control_block: u32,
    pub buffer: u32,
    pub size: u32,
    pub pending: VecDeque<u8>,
    pub per_poll: usize,
    pub appears_after: usize,
    polls: usize,
    ready: bool,
}

impl FakeRtt {
    /// A block at `control_block` with a `size`-byte ring buffer right after it, that will write `log`.
    pub fn new(control_block: u32, size: u32, log: &[u8]) -> Self {
        Self {
            control_block,
            buffer: control_block + 0x100,
            size,
            pending: log.iter().copied().collect(),
            per_poll: size as usize,
            appears_after: 2,
            polls: 0,
            ready: false,
        }
    }

    /// The descriptor of up channel 0.
    pub fn descriptor(&self) -> u32 {
        self.control_block + 24
    }
}

/// Little-endian words of `bytes` (zero-padded) into `memory` from `address` (word-aligned).
pub fn poke(memory: &mut HashMap<u32, u32>, address: u32, bytes: &[u8]) {
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let mut word = [0; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        memory.insert(address + 4 * i as u32, u32::from_le_bytes(word));
    }
}

impl Scripted {
    /// The firmware's side of RTT on one poll of the running core; whether it still has
    /// log to write (the script waits for it).
    fn run_rtt(&mut self) -> bool {
        let Some(rtt) = self.rtt.as_mut() else {
            return false;
        };
        rtt.polls += 1;
        if !rtt.ready {
            if rtt.polls <= rtt.appears_after {
                return true;
            }
            let mut block = b"SEGGER RTT\0\0\0\0\0\0".to_vec();
            block.extend(
                [
                    1u32,
                    0,
                    rtt.control_block + 0xF0,
                    rtt.buffer,
                    rtt.size,
                    0,
                    0,
                    1,
                ]
                .iter()
                .flat_map(|w| w.to_le_bytes()),
            );
            poke(&mut self.memory, rtt.control_block, &block);
            poke(&mut self.memory, rtt.control_block + 0xF0, b"defmt\0");
            rtt.ready = true;
        }
        let d = rtt.descriptor();
        let mut write = self.memory.get(&(d + 12)).copied().unwrap_or(0);
        let read = self.memory.get(&(d + 16)).copied().unwrap_or(0);
        let mut budget = rtt.per_poll;
        while budget > 0 && !rtt.pending.is_empty() {
            let next = (write + 1) % rtt.size;
            if next == read {
                break; // full: wait for the host
            }
            let byte = rtt.pending.pop_front().unwrap();
            let at = rtt.buffer + write;
            let word = self.memory.entry(at & !3).or_insert(0);
            let shift = 8 * (at & 3);
            *word = (*word & !(0xFF << shift)) | (u32::from(byte) << shift);
            write = next;
            budget -= 1;
        }
        self.memory.insert(d + 12, write);
        !rtt.pending.is_empty()
    }
}

impl Scripted {
    pub fn new(statuses: &[CoreStatus]) -> Self {
        Self {
            statuses: statuses.iter().cloned().collect(),
            later_runs: VecDeque::new(),
            registers: HashMap::new(),
            memory: HashMap::new(),
            fault_status: true,
            flash_fails: false,
            status_panics: false,
            console: VecDeque::new(),
            log: Log::default(),
            now: CoreStatus::Running,
            resets: 0,
            rtt: None,
        }
    }

    fn push(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    fn halted(&self) -> bool {
        matches!(self.now, CoreStatus::Halted(_))
    }

    fn refuse(action: &'static str) -> ProbeError {
        ProbeError::Core {
            action,
            message: "the core is not halted".into(),
        }
    }
}

impl TargetControl for Scripted {
    fn flash(
        &mut self,
        elf: &Path,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<(), ProbeError> {
        self.push("flash".into());
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
        self.push("reset_and_run".into());
        if self.resets > 0 {
            if let Some(next) = self.later_runs.pop_front() {
                self.statuses = next.into();
            }
        }
        self.resets += 1;
        self.now = CoreStatus::Running;
        Ok(())
    }
    fn status(&mut self) -> Result<CoreStatus, ProbeError> {
        assert!(!self.status_panics, "scripted panic in status");
        if self.halted() {
            return Ok(self.now.clone());
        }
        if self.run_rtt() {
            self.now = CoreStatus::Running;
            return Ok(CoreStatus::Running);
        }
        let next = if self.statuses.len() > 1 {
            self.statuses.pop_front().unwrap()
        } else {
            self.statuses
                .front()
                .cloned()
                .unwrap_or(CoreStatus::Running)
        };
        // A semihosting call leaves its operation in r0, as on a real core.
        if let CoreStatus::Halted(HaltCause::Semihosting(request)) = &next {
            let operation = match request {
                Semihosting::Exit { .. } => 0x18,
                Semihosting::CommandLine => 0x15,
                Semihosting::Other { operation } => *operation,
            };
            self.registers.insert(CoreRegister::R0, operation);
        }
        self.now = next.clone();
        Ok(next)
    }
    fn read_register(&mut self, register: CoreRegister) -> Result<u32, ProbeError> {
        if !self.halted() {
            return Err(Self::refuse("read a core register"));
        }
        Ok(self.registers.get(&register).copied().unwrap_or(0))
    }
    fn read_word(&mut self, address: u32) -> Result<u32, ProbeError> {
        Ok(self.memory.get(&address).copied().unwrap_or(0))
    }
    fn write_word(&mut self, address: u32, value: u32) -> Result<(), ProbeError> {
        assert!(
            address.is_multiple_of(4),
            "unaligned word write at {address:#x}"
        );
        self.push(format!("write {address:#x} {value:#x}"));
        self.memory.insert(address, value);
        Ok(())
    }
    fn halt(&mut self) -> Result<(), ProbeError> {
        if !self.halted() {
            self.push("halt".into());
            self.now = CoreStatus::Halted(HaltCause::Other("Request".into()));
        }
        Ok(())
    }
    fn answer_semihosting(&mut self, command_line: &str) -> Result<Answered, ProbeError> {
        let CoreStatus::Halted(HaltCause::Semihosting(request)) = &self.now else {
            return Err(Self::refuse("answer a semihosting request"));
        };
        let mut answered = Answered::default();
        match request {
            Semihosting::CommandLine => self.push(format!("cmdline {command_line:?}")),
            Semihosting::Other { operation } => {
                self.push(format!("semihosting {operation:#x}"));
                // SYS_WRITEC, SYS_WRITE0, SYS_WRITE carry output.
                if matches!(operation, 0x03..=0x05) {
                    answered.output = self.console.pop_front();
                }
            }
            Semihosting::Exit { .. } => panic!("an exit is not answered"),
        }
        Ok(answered)
    }
    fn resume(&mut self) -> Result<(), ProbeError> {
        if !self.halted() {
            return Err(Self::refuse("resume the core"));
        }
        self.push("resume".into());
        self.now = CoreStatus::Running;
        Ok(())
    }
    fn has_fault_status(&self) -> bool {
        self.fault_status
    }
}

/// Probes that `list` shows; `attach` hands out the scripted chip once.
pub struct Double {
    pub probes: Vec<ProbeInfo>,
    /// How long `attach` takes (a wedged probe: longer than the bring-up deadline).
    pub attach_delay: Mutex<Duration>,
    pub target: Mutex<Option<Scripted>>,
    pub log: Log,
}

impl Double {
    pub fn new(probes: &[&str], target: Scripted) -> Arc<Self> {
        let log = target.log.clone();
        Arc::new(Self {
            probes: probes
                .iter()
                .map(|id| {
                    // `VID:PID-N:SERIAL`: the probe as probe-rs lists it on interface N.
                    let mut id: UsbId = id.parse().unwrap();
                    ProbeInfo {
                        identifier: "Double".into(),
                        interfaces: id.interface.take().into_iter().collect(),
                        id,
                        accessible: true,
                    }
                })
                .collect(),
            attach_delay: Mutex::new(Duration::ZERO),
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
        std::thread::sleep(*self.attach_delay.lock().unwrap());
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

/// A semihosting halt.
pub fn semihosting(request: Semihosting) -> CoreStatus {
    CoreStatus::Halted(HaltCause::Semihosting(request))
}

/// A semihosting exit with `code`.
pub fn exit(code: i32) -> CoreStatus {
    semihosting(Semihosting::Exit {
        code,
        detail: String::new(),
    })
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
