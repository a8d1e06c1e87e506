//! Byte sources a run reads from: a serial tty (serialport) or a Unix socket.
//!
//! Reads are blocking with a short timeout, so a reader thread can notice when
//! it is told to stop; the runner moves the bytes to async code over a channel.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long one read waits for bytes before reporting [`ReadOutcome::Idle`].
pub const READ_TIMEOUT: Duration = Duration::from_millis(20);

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// This many bytes were read into the buffer.
    Data(usize),
    /// Nothing arrived within [`READ_TIMEOUT`].
    Idle,
    /// The other end closed: no more bytes will come.
    Closed,
}

/// A stream of bytes from the target.
pub trait ByteSource: Send {
    /// Read what is there, waiting at most [`READ_TIMEOUT`].
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome>;
    /// What the source is, for messages (`/dev/pts/3`, `socket /tmp/x`).
    fn describe(&self) -> String;
}

/// A serial port opened through the serialport crate (a board's UART, or QEMU's pty).
pub struct SerialSource {
    port: serialport::TTYPort,
    name: String,
}

impl SerialSource {
    /// Open `path` at `baud` in raw mode.
    pub fn open(path: &str, baud: u32) -> serialport::Result<Self> {
        let port = serialport::new(path, baud)
            .timeout(READ_TIMEOUT)
            .open_native()?;
        Ok(Self {
            port,
            name: path.to_owned(),
        })
    }
}

impl ByteSource for SerialSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        match self.port.read(buf) {
            Ok(0) => Ok(ReadOutcome::Closed),
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(ReadOutcome::Idle),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::Idle),
            // A pty whose other side (QEMU) has gone away reads EIO.
            Err(e) if e.raw_os_error() == Some(5) => Ok(ReadOutcome::Closed),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        format!("serial port {}", self.name)
    }
}

/// A Unix socket, e.g. QEMU's `-chardev socket` (lossless).
pub struct SocketSource {
    stream: UnixStream,
    name: String,
}

impl SocketSource {
    /// Connect to `path`.
    pub fn connect(path: &Path) -> io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Self {
            stream,
            name: path.display().to_string(),
        })
    }
}

impl ByteSource for SocketSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        match self.stream.read(buf) {
            Ok(0) => Ok(ReadOutcome::Closed),
            Ok(n) => Ok(ReadOutcome::Data(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(ReadOutcome::Idle)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(ReadOutcome::Closed),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        format!("socket {}", self.name)
    }
}
