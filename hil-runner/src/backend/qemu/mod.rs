//! QEMU backend: `qemu-system-arm` started halted, its UART read through a pty (serialport) or a socket.
//!
//! QEMU starts with `-S` (halted) and its monitor on stdio. The runner opens
//! the UART first, then sends `cont`, so no byte is written before a reader
//! exists. A pty is the same serial path a real board uses; the socket
//! chardev is lossless and faster.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use super::{Backend, BackendError, TargetEnd};
use crate::board::QemuBoard;
use crate::source::{ByteSource, SerialSource, SocketSource};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-arm";

/// How long QEMU may take to come up and offer its UART.
const STARTUP: Duration = Duration::from_secs(10);

/// How long to let QEMU notice that the pty has a reader before the CPU runs.
///
/// QEMU's pty backend checks for a reader once a second (char-pty.c's
/// reconnect timer). Until it has seen one, a write that finds the pty
/// buffer full is dropped, so a slow reader (a loaded machine) loses bytes
/// from the first second of the run. Waiting for one timer period first
/// makes the pty path lossless.
const PTY_CONNECT_POLL: Duration = Duration::from_millis(1100);

/// How QEMU's UART reaches the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum QemuSerial {
    /// A pseudo-terminal read through serialport: the real-board serial path.
    #[default]
    Pty,
    /// A Unix socket chardev: lossless, no tty layer.
    Socket,
}

/// Runs firmware in QEMU.
pub struct QemuBackend {
    board: QemuBoard,
    serial: QemuSerial,
    extra_args: Vec<String>,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    socket: Option<PathBuf>,
    stderr: Option<tokio::task::JoinHandle<String>>,
}

impl QemuBackend {
    /// A backend for `board`, with extra QEMU arguments (e.g. `-icount shift=0`).
    pub fn new(board: QemuBoard, serial: QemuSerial, extra_args: Vec<String>) -> Self {
        Self {
            board,
            serial,
            extra_args,
            child: None,
            stdin: None,
            socket: None,
            stderr: None,
        }
    }

    fn command(&self, elf: &Path) -> Command {
        let mut cmd = Command::new(QEMU);
        cmd.args(["-machine", &self.board.machine]);
        if let Some(cpu) = &self.board.cpu {
            cmd.args(["-cpu", cpu]);
        }
        cmd.args(["-display", "none", "-monitor", "stdio", "-S"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-kernel")
            .arg(elf);
        match &self.socket {
            Some(path) => {
                let chardev = format!(
                    "socket,id=hilserial,path={},server=on,wait=on",
                    path.display()
                );
                cmd.args(["-chardev", &chardev, "-serial", "chardev:hilserial"]);
            }
            None => {
                cmd.args(["-serial", "pty"]);
            }
        }
        cmd.args(&self.board.args).args(&self.extra_args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
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

    async fn open_source(
        &mut self,
        stdout: tokio::process::ChildStdout,
    ) -> Result<Box<dyn ByteSource>, BackendError> {
        let mut lines = BufReader::new(stdout);
        let source: Box<dyn ByteSource> = if let Some(path) = self.socket.clone() {
            let deadline = tokio::time::Instant::now() + STARTUP;
            loop {
                match SocketSource::connect(&path) {
                    Ok(s) => break Box::new(s),
                    Err(_) if tokio::time::Instant::now() < deadline && self.running() => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => {
                        return Err(self
                            .fail(&format!("no UART socket at {}: {e}", path.display()))
                            .await)
                    }
                }
            }
        } else {
            let pty = match tokio::time::timeout(STARTUP, pty_path(&mut lines)).await {
                Ok(Some(pty)) => pty,
                _ => return Err(self.fail("QEMU did not offer its UART pty").await),
            };
            let opened = tokio::task::spawn_blocking(move || {
                SerialSource::open(&pty, 115_200).map_err(|e| (pty, e))
            })
            .await
            .expect("serial open task panicked");
            match opened {
                Ok(s) => {
                    tokio::time::sleep(PTY_CONNECT_POLL).await;
                    Box::new(s)
                }
                Err((pty, e)) => {
                    self.stop().await;
                    return Err(BackendError::Serial {
                        what: pty,
                        message: e.to_string(),
                    });
                }
            }
        };
        // The monitor keeps talking on stdout: drain it so QEMU never blocks on it.
        tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink).await;
        });
        Ok(source)
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// Read monitor output until QEMU names the pty of `serial0`.
async fn pty_path(lines: &mut BufReader<tokio::process::ChildStdout>) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if let Some(rest) = line.split("char device redirected to ").nth(1) {
            return rest.split_whitespace().next().map(str::to_owned);
        }
    }
}

impl Backend for QemuBackend {
    async fn start(&mut self, elf: &Path) -> Result<Box<dyn ByteSource>, BackendError> {
        if self.serial == QemuSerial::Socket {
            let name = format!("hil-qemu-{}-{}.sock", std::process::id(), unique());
            self.socket = Some(std::env::temp_dir().join(name));
        }
        let mut child = match self.command(elf).spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BackendError::QemuMissing)
            }
            Err(e) => {
                return Err(BackendError::Qemu {
                    message: format!("cannot start {QEMU}: {e}"),
                })
            }
        };
        tracing::debug!(pid = child.id(), machine = %self.board.machine, "QEMU started halted");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        self.stdin = child.stdin.take();
        self.child = Some(child);
        self.stderr = Some(tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        }));
        let source = self.open_source(stdout).await?;
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        if let Err(e) = stdin.write_all(b"cont\n").await {
            return Err(self
                .fail(&format!("cannot resume the halted CPU: {e}"))
                .await);
        }
        tracing::debug!(source = %source.describe(), "UART open, CPU resumed");
        Ok(source)
    }

    async fn ended(&mut self) -> TargetEnd {
        let Some(child) = self.child.as_mut() else {
            return std::future::pending().await;
        };
        let status = child.wait().await;
        self.child = None;
        match status {
            Ok(status) => match status.code() {
                Some(code) => TargetEnd::Exited { code },
                None => TargetEnd::Killed {
                    detail: format!("QEMU {status}"),
                },
            },
            Err(e) => TargetEnd::Killed {
                detail: format!("cannot wait for QEMU: {e}"),
            },
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        if let Some(path) = self.socket.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
