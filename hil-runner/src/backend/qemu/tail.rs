//! QEMU's UART through its pty, completed from the chardev's log when QEMU goes away.
//!
//! When QEMU exits it closes the pty master; Linux then hangs the slave up
//! and throws away what the reader had not read yet, so the last bytes the
//! firmware wrote before a semihosting exit are lost however fast the runner
//! reads, and the read fails (serialport: "Broken pipe"; or EIO). QEMU's
//! chardev `logfile=` records every byte the UART wrote. This source reads the
//! pty while it works; when it hangs up (or fails) it serves the bytes of the
//! log beyond those the pty delivered, until QEMU has exited and the log has
//! no more, and then reports [`ReadOutcome::Closed`]: no byte is lost and the
//! end is never an error.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::source::{ByteSource, ReadOutcome, SerialSource, READ_TIMEOUT};

/// The pty, with the chardev log to finish from.
pub struct LoggedPty {
    pty: SerialSource,
    /// The chardev log, opened before the CPU ran (QEMU truncated it at start).
    log: File,
    /// Bytes handed out so far: the log's bytes before this offset.
    delivered: u64,
    /// Whether the pty has hung up: bytes now come from the log.
    tailing: bool,
    /// Set once the QEMU process has exited: the log is complete.
    qemu_gone: Arc<AtomicBool>,
}

impl LoggedPty {
    /// Read `pty`, finishing from `log` once it hangs up; `qemu_gone` says when the log is complete.
    pub fn new(pty: SerialSource, log: File, qemu_gone: Arc<AtomicBool>) -> Self {
        Self {
            pty,
            log,
            delivered: 0,
            tailing: false,
            qemu_gone,
        }
    }

    fn read_log(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        // Read whether QEMU was gone before reading: a log read after it is complete.
        let gone = self.qemu_gone.load(Ordering::Acquire);
        let n = self.log.read(buf)?;
        if n > 0 {
            self.delivered += n as u64;
            return Ok(ReadOutcome::Data(n));
        }
        if gone {
            return Ok(ReadOutcome::Closed);
        }
        std::thread::sleep(READ_TIMEOUT);
        Ok(ReadOutcome::Idle)
    }

    fn start_tailing(&mut self, why: &str) -> io::Result<()> {
        tracing::debug!(
            delivered = self.delivered,
            why,
            "UART pty hung up: finishing from the chardev log"
        );
        self.log.seek(SeekFrom::Start(self.delivered))?;
        self.tailing = true;
        Ok(())
    }
}

impl ByteSource for LoggedPty {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if self.tailing {
            return self.read_log(buf);
        }
        match self.pty.read_some(buf) {
            Ok(ReadOutcome::Data(n)) => {
                self.delivered += n as u64;
                Ok(ReadOutcome::Data(n))
            }
            // QEMU gone but no hang-up seen (yet): the log has the rest.
            Ok(ReadOutcome::Idle) if self.qemu_gone.load(Ordering::Acquire) => {
                self.start_tailing("QEMU exited")?;
                self.read_log(buf)
            }
            Ok(ReadOutcome::Idle) => Ok(ReadOutcome::Idle),
            Ok(ReadOutcome::Closed) => {
                self.start_tailing("end of file or EIO")?;
                self.read_log(buf)
            }
            Err(e) => {
                self.start_tailing(&e.to_string())?;
                self.read_log(buf)
            }
        }
    }

    fn describe(&self) -> String {
        self.pty.describe()
    }
}
