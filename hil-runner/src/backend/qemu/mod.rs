//! QEMU backend: `qemu-system-arm` started halted, watched through its gdbstub, its UART read through a pipe (default), a pty (serialport) or a socket.
//!
//! QEMU starts with `-S` (halted) and its gdbstub on a Unix socket. The
//! runner opens the UART first, connects to the gdbstub, sets a breakpoint
//! on the HardFault handler (vector 3 of the ELF's vector table; else the
//! word at VTOR + 12) and resumes the CPU through the gdbstub, so no byte is
//! written before a reader exists and no fault runs before the watch is
//! armed. The default UART path is a pipe chardev (`-chardev pipe` on two
//! FIFOs the runner makes): lossless, no tty layer, no reconnect timer, and
//! QEMU blocks on a full pipe rather than dropping bytes; the CPU runs as soon
//! as the gdbstub is armed. A pty (`--qemu-serial pty`) is the same serial
//! path a real board uses; the socket chardev is lossless too.
//!
//! How a run ends ([`Backend::ended`]):
//!
//! - the breakpoint is hit: the registers of the faulting context are read
//!   through the gdbstub by the code the probe backend uses
//!   ([`crate::backend::fault`]), QEMU is stopped, and the end is
//!   [`TargetEnd::Fault`] (HardFault) within milliseconds of the fault, before
//!   the firmware's own HardFault handler runs (the probe backend's vector
//!   catch does the same);
//! - QEMU aborts on a lockup (a fault it cannot escalate): [`TargetEnd::Fault`]
//!   (lockup) with the registers QEMU printed on stderr;
//! - the guest exits through semihosting: [`TargetEnd::Exited`] with QEMU's exit
//!   status (the gdbstub also says `Wxx` first).
//!
//! Why the gdbstub and not the monitor: the monitor cannot stop the CPU at an
//! instruction address, so it can only notice a fault by polling (`info
//! registers` every few ms), which costs time on every run, races with the
//! firmware's HardFault handler (which logs, flushes and exits before a poll
//! may see it) and still needs the memory reads for CFSR and the stacked
//! frame. A gdbstub breakpoint halts the core on the handler's first
//! instruction, in the state the probe backend reads on a real board, and
//! costs nothing while the firmware runs.
//!
//! The pty's last bytes: QEMU's chardev writes every UART byte to a log
//! (`logfile=`) as well; when QEMU exits and the pty hangs up, the source
//! serves the bytes of the log the pty had not delivered ([`tail`]).

pub mod gdb;
pub mod queue;
pub mod rtt;
pub mod tail;
mod uart;
pub mod watch;

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch as channel};

use self::gdb::Gdb;
use self::uart::RunFiles;
use super::{Backend, BackendError, TargetEnd};
use crate::board::QemuBoard;
use crate::source::ByteSource;

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-arm";

/// How long QEMU may take to come up and offer its UART and gdbstub.
const STARTUP: Duration = Duration::from_secs(10);

/// How QEMU's UART reaches the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum QemuSerial {
    /// A pipe chardev on FIFOs the runner makes: lossless, no tty layer, the fastest path.
    #[default]
    Pipe,
    /// A pseudo-terminal read through serialport: the real-board serial path (waits for QEMU's reader poll).
    Pty,
    /// A Unix socket chardev: lossless, no tty layer.
    Socket,
}

/// The monitor task of a running QEMU: it owns the process and the gdbstub connection.
struct Running {
    /// `Some` once the target ended by itself.
    end: channel::Receiver<Option<TargetEnd>>,
    /// Tells the monitor to kill QEMU.
    kill: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs firmware in QEMU.
pub struct QemuBackend {
    board: QemuBoard,
    serial: QemuSerial,
    extra_args: Vec<String>,
    /// QEMU while it starts (before the monitor task owns it).
    child: Option<Child>,
    pid: Option<u32>,
    running: Option<Running>,
    files: RunFiles,
    stderr: Option<tokio::task::JoinHandle<String>>,
    qemu_gone: Arc<AtomicBool>,
    startup: Option<Duration>,
    /// The transport's queue, read when the core stops ([`queue`]).
    queue: queue::QueueWatch,
    /// Where this run's log is read.
    log: LogPath,
}

/// Where a run's log is read: the UART, or, for a firmware whose logger writes elsewhere,
/// there (the UART then gets no chardev).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LogPath {
    /// The UART, through the chardev `--qemu-serial` names.
    #[default]
    Uart,
    /// defmt-semihosting: QEMU's semihosting console, its stdout.
    Console,
    /// defmt-rtt: the channel of the control block at `block`, through the gdbstub
    /// ([`rtt`]); `preset` is where its flags are loaded from and the flags that block
    /// when full ([`rtt::blocking_flags_at_load`]), written before the core runs.
    Rtt {
        block: u32,
        preset: Option<(u32, [u8; 4])>,
    },
}

impl LogPath {
    /// Where the log of `elf` (whose logger is `logger`) is read.
    fn of(elf: &[u8], logger: Option<crate::board::verify::OffUartLogger>) -> Self {
        use crate::board::verify::OffUartLogger;
        match logger {
            Some(OffUartLogger::DefmtSemihosting) => Self::Console,
            Some(OffUartLogger::DefmtRtt) => {
                match crate::backend::probe::rtt::symbol_address(elf) {
                    Some(block) => Self::Rtt {
                        block,
                        preset: rtt::blocking_flags_at_load(elf, block),
                    },
                    // Without the symbol the block is not found: the UART, as before.
                    None => Self::Uart,
                }
            }
            None => Self::Uart,
        }
    }
}

impl QemuBackend {
    /// A backend for `board`, with extra QEMU arguments (e.g. `-icount shift=0`).
    pub fn new(board: QemuBoard, serial: QemuSerial, extra_args: Vec<String>) -> Self {
        Self {
            board,
            serial,
            extra_args,
            child: None,
            pid: None,
            running: None,
            files: RunFiles::default(),
            stderr: None,
            qemu_gone: Arc::new(AtomicBool::new(false)),
            startup: None,
            queue: queue::QueueWatch::default(),
            log: LogPath::Uart,
        }
    }

    /// The QEMU process's id, once started.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The chardev log of the UART (pty path): every byte the UART wrote. Removed at [`Backend::stop`].
    pub fn uart_log(&self) -> Option<&Path> {
        self.files.uart_log.as_deref()
    }

    /// Time from spawning QEMU to its CPU running, of the last start.
    pub fn startup_time(&self) -> Option<Duration> {
        self.startup
    }

    fn command(&self, elf: &Path) -> Command {
        let mut cmd = Command::new(QEMU);
        cmd.args(["-machine", &self.board.machine]);
        if let Some(cpu) = &self.board.cpu {
            cmd.args(["-cpu", cpu]);
        }
        let gdb = self.files.gdb.as_ref().expect("gdb socket path set");
        cmd.args(["-display", "none", "-monitor", "none", "-S"])
            .arg("-gdb")
            .arg(format!("unix:{},server=on,wait=off", gdb.display()))
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-kernel")
            .arg(elf)
            .args(self.uart_args());
        cmd.args(&self.board.args).args(&self.extra_args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal reaches the runner only, which
            // stops QEMU itself (keeping the capture and writing the reports) and reaps it.
            .process_group(0);
        cmd
    }

    /// QEMU's stderr so far, for error messages.
    async fn stderr_text(&mut self) -> String {
        if let Some(child) = self.child.as_mut() {
            let _ = tokio::time::timeout(Duration::from_millis(500), child.wait()).await;
        }
        match self.stderr.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    async fn fail(&mut self, message: &str) -> BackendError {
        let stderr = self.stderr_text().await;
        self.stop().await;
        let stderr = stderr.trim();
        BackendError::Qemu {
            message: if stderr.is_empty() {
                message.to_owned()
            } else {
                format!("{message}: {stderr}")
            },
        }
    }

    fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Connect to the gdbstub and set the HardFault breakpoint; returns the client and the handler's address.
    async fn arm_watch(&mut self, elf: &Path) -> Result<(Gdb, u32), BackendError> {
        let path = self.files.gdb.clone().expect("gdb socket path set");
        let mut gdb = match Gdb::connect(&path, STARTUP).await {
            Ok(gdb) => gdb,
            Err(e) => {
                return Err(self
                    .fail(&format!("no gdbstub at {}: {e}", path.display()))
                    .await)
            }
        };
        let armed = async {
            gdb.status().await?;
            let hardfault = match watch::hardfault_vector_of_elf(elf) {
                Some(address) => address,
                None => watch::hardfault_vector_of_core(&mut gdb).await?,
            };
            gdb.insert_breakpoint(hardfault).await?;
            self.queue.arm(&mut gdb).await?;
            if let LogPath::Rtt {
                preset: Some((at, flags)),
                ..
            } = self.log
            {
                // Refused (a read-only load region): set at the channel's first read instead.
                if let Err(e) = gdb.write_memory(at, &flags).await {
                    tracing::debug!(at, error = %e, "cannot preset the RTT channel's mode");
                }
            }
            Ok::<_, std::io::Error>(hardfault)
        };
        // A QEMU that stops answering (SIGSTOP, wedged) is a fault, not a hang.
        let armed = match tokio::time::timeout(STARTUP, armed).await {
            Ok(armed) => armed,
            Err(_) => Err(std::io::Error::other(format!(
                "the gdbstub did not answer within {} s",
                STARTUP.as_secs()
            ))),
        };
        match armed {
            Ok(hardfault) => Ok((gdb, hardfault)),
            Err(e) => Err(self
                .fail(&format!(
                    "cannot set the HardFault breakpoint through the gdbstub: {e}"
                ))
                .await),
        }
    }
}

impl Backend for QemuBackend {
    async fn start(&mut self, elf: &Path) -> Result<Box<dyn ByteSource>, BackendError> {
        self.stop().await;
        let bytes = std::fs::read(elf).unwrap_or_default();
        let logger = crate::board::verify::off_uart_logger(&bytes);
        self.log = LogPath::of(&bytes, logger);
        // defmt-rtt's channel is read at the stop before a semihosting exit, as the queue is.
        self.queue = queue::QueueWatch::of_elf(&bytes, matches!(self.log, LogPath::Rtt { .. }));
        let id = format!("hil-qemu-{}-{}", std::process::id(), unique());
        let tmp = std::env::temp_dir();
        self.files.gdb = Some(tmp.join(format!("{id}.gdb.sock")));
        self.prepare_uart(&tmp, &id)?;
        self.qemu_gone = Arc::new(AtomicBool::new(false));
        let spawned = Instant::now();
        let mut child = match self.command(elf).spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.files.remove();
                return Err(BackendError::QemuMissing);
            }
            Err(e) => {
                self.files.remove();
                return Err(BackendError::Qemu {
                    message: format!("cannot start {QEMU}: {e}"),
                });
            }
        };
        self.pid = child.id();
        if let Some(pid) = self.pid {
            remember(pid);
        }
        tracing::debug!(pid = child.id(), machine = %self.board.machine, "QEMU started halted");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        self.child = Some(child);
        self.stderr = Some(tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        }));
        let mut rtt_watch = None;
        let (source, gdb, hardfault) = if let LogPath::Rtt { block, .. } = self.log {
            let (gdb, hardfault) = self.arm_watch(elf).await?;
            uart::drain(stdout);
            let (watch, source) = rtt::RttWatch::new(block);
            rtt_watch = Some(watch);
            (Box::new(source) as Box<dyn ByteSource>, gdb, hardfault)
        } else if self.log == LogPath::Console {
            let (gdb, hardfault) = self.arm_watch(elf).await?;
            let source = self.open_console(stdout).await?;
            (source, gdb, hardfault)
        } else if self.serial == QemuSerial::Pipe {
            // QEMU opened its FIFOs before it started the gdbstub: once that answers, a reader sees no false end of file.
            let (gdb, hardfault) = self.arm_watch(elf).await?;
            let source = self.open_pipe(stdout).await?;
            (source, gdb, hardfault)
        } else {
            // The UART first: with a socket chardev (wait=on) QEMU waits for it before it starts its gdbstub.
            let (source, run_at) = self.open_source(stdout).await?;
            let (gdb, hardfault) = self.arm_watch(elf).await?;
            tokio::time::sleep_until(run_at).await;
            (source, gdb, hardfault)
        };

        let child = self.child.take().expect("QEMU is running");
        let (end_tx, end_rx) = channel::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel();
        let stderr = self.stderr.take();
        let gone = self.qemu_gone.clone();
        let elf = elf.to_path_buf();
        let queue = self.queue.clone();
        let task = tokio::spawn(async move {
            let target = watch::Watched {
                hardfault,
                elf,
                queue,
                rtt: rtt_watch,
            };
            let watched = watch::monitor(child, gdb, target, stderr, kill_rx, gone);
            if let Some(end) = watched.await {
                let _ = end_tx.send(Some(end));
            }
        });
        self.running = Some(Running {
            end: end_rx,
            kill: Some(kill_tx),
            task,
        });
        self.startup = Some(spawned.elapsed());
        tracing::debug!(
            source = %source.describe(),
            hardfault = format_args!("{hardfault:#010x}"),
            startup_ms = spawned.elapsed().as_millis() as u64,
            "UART open, HardFault breakpoint set, CPU resumed"
        );
        Ok(source)
    }

    async fn ended(&mut self) -> TargetEnd {
        let Some(running) = self.running.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            if let Some(end) = running.end.borrow_and_update().clone() {
                return end;
            }
            if running.end.changed().await.is_err() {
                // Stopped by the runner: it did not end by itself.
                return std::future::pending().await;
            }
        }
    }

    async fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            if let Some(kill) = running.kill.take() {
                let _ = kill.send(());
            }
            let _ = running.task.await;
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
            if let Some(pid) = self.pid {
                forget(pid);
            }
        }
        self.qemu_gone.store(true, Ordering::Release);
        self.files.remove();
    }

    fn take_queue_image(
        &mut self,
    ) -> Option<Result<crate::recover::QueueImage, crate::recover::RecoverError>> {
        let mut slot = self.queue.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.take()
    }
}

/// The QEMU processes this runner started and has not reaped yet.
static LIVE: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn remember(pid: u32) {
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

/// QEMU `pid` has been reaped.
fn forget(pid: u32) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&p| p != pid);
}

/// Kill every QEMU this process started and has not reaped, for an exit that cannot wait
/// for the runs to stop them (a second SIGINT/SIGTERM).
pub fn kill_all() {
    for &pid in LIVE.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if let Ok(pid) = i32::try_from(pid) {
            // SAFETY: kill(2) takes plain integers; `pid` is a child this process has not
            // reaped, so the id cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
