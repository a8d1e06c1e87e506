//! Byte sources a run reads from: a serial tty (serialport), a Unix socket or a FIFO.
//!
//! Reads are blocking with a short timeout, so a reader thread can notice when
//! it is told to stop; the runner moves the bytes to async code over a channel.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
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

/// The read end of a FIFO, e.g. the `.out` half of QEMU's `-chardev pipe` (lossless, no tty layer).
///
/// Opened non-blocking and waited on with `poll`; once every writer has
/// closed it (QEMU exited) and the buffer is empty, a read gives end of file:
/// [`ReadOutcome::Closed`]. Bytes in the pipe buffer outlive their writer, so
/// nothing the UART wrote before QEMU exited is lost. Open it only once the
/// writer has it open (for QEMU: once its gdbstub answers), or the first read
/// sees end of file.
///
/// QEMU writes one byte per system call. A reader waiting in `poll` is woken
/// for each: a wake-up per byte for the emulator, two system calls per byte for
/// the reader, and the emulated link ran at half the speed of QEMU's stdout.
/// So after a read that found fewer bytes than the buffer holds (the reader has
/// caught up) the next one waits [`PIPE_CAUGHT_UP_PAUSE`] first: the bytes
/// gather in the pipe buffer (64 KiB, 64 MB/s at that pace) while nobody
/// waits on it, and one read takes them all.
pub struct PipeSource {
    file: File,
    name: String,
    caught_up: bool,
}

/// How long a [`PipeSource`] lets bytes gather after it has caught up with the writer.
pub const PIPE_CAUGHT_UP_PAUSE: Duration = Duration::from_millis(1);

impl PipeSource {
    /// Open the FIFO at `path` for reading.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        Ok(Self {
            file,
            name: path.display().to_string(),
            caught_up: false,
        })
    }

    /// Read the pipe `fd` (made non-blocking here), named `name` in messages.
    pub fn from_fd(fd: std::os::fd::OwnedFd, name: String) -> io::Result<Self> {
        let file = File::from(fd);
        // SAFETY: F_GETFL/F_SETFL on a file descriptor this function owns.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        if flags < 0
            || unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            file,
            name,
            caught_up: false,
        })
    }

    /// Make a FIFO at `path` (mode 0600).
    pub fn make_fifo(path: &Path) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Wait up to [`READ_TIMEOUT`] for the pipe to be readable (bytes or end of file).
    fn wait_readable(&self) -> io::Result<bool> {
        let mut fd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = READ_TIMEOUT.as_millis() as libc::c_int;
        // SAFETY: one valid pollfd, its count is 1.
        match unsafe { libc::poll(&mut fd, 1, ms) } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
            0 => Ok(false),
            _ => Ok(true),
        }
    }
}

impl ByteSource for PipeSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if std::mem::take(&mut self.caught_up) {
            std::thread::sleep(PIPE_CAUGHT_UP_PAUSE);
        }
        if !self.wait_readable()? {
            return Ok(ReadOutcome::Idle);
        }
        match self.file.read(buf) {
            Ok(0) => Ok(ReadOutcome::Closed),
            Ok(n) => {
                self.caught_up = n < buf.len();
                Ok(ReadOutcome::Data(n))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(ReadOutcome::Idle)
            }
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        format!("pipe {}", self.name)
    }
}

#[cfg(test)]
mod tests {
    //! The FIFO source: every byte in order, and few reads when the writer trickles.

    use super::*;
    use std::io::Write;
    use std::time::Instant;

    #[test]
    fn a_pipe_written_a_byte_at_a_time_is_read_in_batches_a_pause_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uart.out");
        PipeSource::make_fifo(&path).unwrap();
        // The writer opens it read-write, as QEMU does, so the reader's open never waits.
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut source = PipeSource::open(&path).unwrap();
        let sent: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let to_send = sent.clone();
        let started = Instant::now();
        let writing = std::thread::spawn(move || {
            for byte in to_send {
                writer.write_all(&[byte]).unwrap();
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(10) {}
            }
            writer
        });
        let (mut got, mut reads) = (Vec::new(), 0u32);
        let mut buf = [0u8; 1 << 16];
        while got.len() < sent.len() {
            match source.read_some(&mut buf).unwrap() {
                ReadOutcome::Data(n) => {
                    got.extend_from_slice(&buf[..n]);
                    reads += 1;
                }
                ReadOutcome::Idle => {}
                ReadOutcome::Closed => panic!("closed while the writer holds it"),
            }
        }
        let elapsed = started.elapsed();
        drop(writing.join().unwrap());
        assert_eq!(got, sent, "every byte, in order");
        // Each read that caught up is followed by a pause before the next one.
        let most = elapsed.as_micros() / PIPE_CAUGHT_UP_PAUSE.as_micros() + 2;
        assert!(
            u128::from(reads) <= most,
            "{reads} reads in {elapsed:?}: more than one per {PIPE_CAUGHT_UP_PAUSE:?}"
        );
    }
}
