//! QEMU's UART on the runner's side: the chardev it gets (a pipe on two FIFOs, a pty, a socket), the source that reads it, and QEMU's stdout as the source for defmt-semihosting firmware.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::{tail, LogPath, QemuBackend, QemuSerial, STARTUP};
use crate::backend::{Backend as _, BackendError};
use crate::source::{ByteSource, PipeSource, SerialSource, SocketSource};

/// How long to let QEMU notice that the pty has a reader before the CPU runs.
///
/// QEMU's pty backend checks for a reader once a second (char-pty.c's
/// reconnect timer). Until it has seen one, a write that finds the pty
/// buffer full is dropped, so a slow reader (a loaded machine) loses bytes
/// from the first second of the run. Waiting for one timer period first
/// makes the pty path lossless. The gdbstub is set up meanwhile.
const PTY_CONNECT_POLL: Duration = Duration::from_millis(1100);

/// Files of one QEMU run, removed at [`crate::backend::Backend::stop`].
#[derive(Debug, Default)]
pub(super) struct RunFiles {
    pub(super) gdb: Option<PathBuf>,
    pub(super) uart_socket: Option<PathBuf>,
    pub(super) uart_log: Option<PathBuf>,
    /// The pipe chardev's base path; the FIFOs are `BASE.in` and `BASE.out`.
    pub(super) uart_pipe: Option<PathBuf>,
}

impl RunFiles {
    pub(super) fn remove(&mut self) {
        let pipe = self.uart_pipe.take();
        let fifos = pipe
            .iter()
            .flat_map(|base| [fifo(base, "in"), fifo(base, "out")]);
        for path in [
            self.gdb.take(),
            self.uart_socket.take(),
            self.uart_log.take(),
        ]
        .into_iter()
        .flatten()
        .chain(fifos)
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One FIFO of a pipe chardev: `BASE.in` (to the UART) or `BASE.out` (from it).
fn fifo(base: &Path, end: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(end);
    PathBuf::from(name)
}

impl QemuBackend {
    /// The files of this run's UART: the FIFOs of a pipe, the socket's or the pty log's path.
    pub(super) fn prepare_uart(&mut self, tmp: &Path, id: &str) -> Result<(), BackendError> {
        match self.serial {
            _ if self.log != LogPath::Uart => {}
            QemuSerial::Socket => self.files.uart_socket = Some(tmp.join(format!("{id}.sock"))),
            QemuSerial::Pty => self.files.uart_log = Some(tmp.join(format!("{id}.uart.log"))),
            QemuSerial::Pipe => {
                let base = tmp.join(format!("{id}.uart"));
                self.files.uart_pipe = Some(base.clone());
                for end in ["in", "out"] {
                    let path = fifo(&base, end);
                    if let Err(e) = PipeSource::make_fifo(&path) {
                        self.files.remove();
                        return Err(BackendError::Serial {
                            what: path.display().to_string(),
                            message: format!("cannot make the UART FIFO: {e}"),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// QEMU's arguments for the UART: its chardev, or none for defmt-semihosting firmware.
    pub(super) fn uart_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.log != LogPath::Uart {
            args.extend(["-serial".into(), "null".into()]);
        }
        let chardev = match (&self.files.uart_socket, &self.files.uart_log) {
            _ if self.log != LogPath::Uart => None,
            _ if self.files.uart_pipe.is_some() => Some(format!(
                "pipe,id=hilserial,path={}",
                self.files.uart_pipe.as_ref().expect("checked").display()
            )),
            (Some(path), _) => Some(format!(
                "socket,id=hilserial,path={},server=on,wait=on",
                path.display()
            )),
            (None, Some(log)) => Some(format!(
                "pty,id=hilserial,logfile={},logappend=off",
                log.display()
            )),
            (None, None) => Some("pty,id=hilserial".to_owned()),
        };
        if let Some(chardev) = chardev {
            args.extend([
                "-chardev".into(),
                chardev,
                "-serial".into(),
                "chardev:hilserial".into(),
            ]);
        }
        args
    }

    /// Open the UART; returns the source and when the CPU may run (pty: after QEMU's reader poll).
    pub(super) async fn open_source(
        &mut self,
        stdout: tokio::process::ChildStdout,
    ) -> Result<(Box<dyn ByteSource>, tokio::time::Instant), BackendError> {
        let mut lines = BufReader::new(stdout);
        let now = tokio::time::Instant::now();
        let opened: (Box<dyn ByteSource>, _) = if let Some(path) = self.files.uart_socket.clone() {
            let deadline = now + STARTUP;
            loop {
                match SocketSource::connect(&path) {
                    Ok(s) => break (Box::new(s), now),
                    Err(_) if tokio::time::Instant::now() < deadline && self.alive() => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
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
            // QEMU created (and truncated) the log before it named the pty.
            let log = self.files.uart_log.clone().expect("pty runs have a log");
            let gone = self.qemu_gone.clone();
            let opened = tokio::task::spawn_blocking(move || {
                let port =
                    SerialSource::open(&pty, 115_200).map_err(|e| (pty.clone(), e.to_string()))?;
                let log = std::fs::File::open(&log)
                    .map_err(|e| (log.display().to_string(), e.to_string()))?;
                Ok::<_, (String, String)>(tail::LoggedPty::new(port, log, gone))
            })
            .await
            .expect("serial open task panicked");
            match opened {
                Ok(s) => (Box::new(s), tokio::time::Instant::now() + PTY_CONNECT_POLL),
                Err((what, message)) => {
                    self.stop().await;
                    return Err(BackendError::Serial { what, message });
                }
            }
        };
        drain(lines);
        Ok(opened)
    }

    /// Open the read end of the pipe chardev (QEMU has it open by now).
    pub(super) async fn open_pipe(
        &mut self,
        stdout: tokio::process::ChildStdout,
    ) -> Result<Box<dyn ByteSource>, BackendError> {
        let base = self.files.uart_pipe.clone().expect("pipe runs have a FIFO");
        let out = fifo(&base, "out");
        let source = match PipeSource::open(&out) {
            Ok(source) => source,
            Err(e) => {
                self.stop().await;
                return Err(BackendError::Serial {
                    what: out.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        drain(stdout);
        Ok(Box::new(source))
    }

    /// QEMU's stdout, where QEMU writes the semihosting console with blocking writes.
    pub(super) async fn open_console(
        &mut self,
        stdout: tokio::process::ChildStdout,
    ) -> Result<Box<dyn ByteSource>, BackendError> {
        match stdout
            .into_owned_fd()
            .and_then(|fd| PipeSource::from_fd(fd, "QEMU's semihosting console (stdout)".into()))
        {
            Ok(source) => Ok(Box::new(source)),
            Err(e) => Err(self.fail(&format!("cannot read QEMU's stdout: {e}")).await),
        }
    }
}

/// Read QEMU's stdout until it names the pty of the UART chardev.
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

/// Read QEMU's stdout (or what is left of it) to its end, so QEMU never blocks on it.
pub(super) fn drain(stdout: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut stdout = stdout;
        let _ = stdout.read_to_end(&mut Vec::new()).await;
    });
}
