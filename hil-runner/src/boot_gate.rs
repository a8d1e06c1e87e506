//! Drops the bytes a real serial port holds before the firmware's boot marker, and counts them.
//!
//! A USB-UART bridge can hold bytes from the firmware that ran before the
//! flash (or line noise from the reset). [`BootGate`] wraps a source and lets
//! nothing through until a frame that decodes to the boot marker arrives; it
//! then passes that frame and everything after it. The boot frame may follow
//! garbage without a `0x00` between them, so every suffix of a delimited run
//! is tried (rzcobs decodes back to front).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::markers::{Marker, MarkerKind};
use crate::rzcobs;
use crate::source::{ByteSource, ReadOutcome};

/// Longest boot frame looked for (index, board and test name: far below this).
const MAX_BOOT_FRAME: usize = 1024;

/// Passes bytes from the boot marker's frame on; counts what came before.
pub struct BootGate<S> {
    inner: S,
    boot_index: u16,
    /// Bytes since the last delimiter, while closed.
    run: Vec<u8>,
    /// Bytes to hand out before reading more (the boot frame and what followed it).
    release: Vec<u8>,
    released: usize,
    open: bool,
    discarded: Arc<AtomicU64>,
    scratch: Vec<u8>,
}

impl<S: ByteSource> BootGate<S> {
    /// Gate `inner` on the boot marker whose defmt string index is `boot_index`.
    pub fn new(inner: S, boot_index: u16) -> Self {
        Self {
            inner,
            boot_index,
            run: Vec::new(),
            release: Vec::new(),
            released: 0,
            open: false,
            discarded: Arc::new(AtomicU64::new(0)),
            scratch: Vec::new(),
        }
    }

    /// The count of bytes discarded so far (shared: it can be read while the gate is in use).
    pub fn discarded(&self) -> Arc<AtomicU64> {
        self.discarded.clone()
    }

    /// Whether the boot marker has arrived.
    pub fn is_open(&self) -> bool {
        self.open
    }

    fn discard(&self, n: usize) {
        self.discarded.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Whether `frame` (rzcobs, no delimiter) is the boot marker.
    fn is_boot(&mut self, frame: &[u8]) -> bool {
        if rzcobs::decode_into(frame, &mut self.scratch).is_err() {
            return false;
        }
        let Some((index, args)) = self.scratch.split_first_chunk::<2>() else {
            return false;
        };
        if u16::from_le_bytes(*index) != self.boot_index {
            return false;
        }
        matches!(
            Marker::read(MarkerKind::Boot, args),
            Some((_, used)) if args.len() - used < 7 && args[used..].iter().all(|&b| b == 0)
        )
    }

    /// Feed bytes while closed; on the boot frame, open and queue it with the rest of `data`.
    fn feed(&mut self, mut data: &[u8]) {
        while let Some(zero) = data.iter().position(|&b| b == 0) {
            let mut run = std::mem::take(&mut self.run);
            run.extend_from_slice(&data[..zero]);
            let first = run.len().saturating_sub(MAX_BOOT_FRAME);
            let start = (first..run.len()).find(|&s| self.is_boot(&run[s..]));
            if let Some(start) = start {
                self.discard(start);
                self.release = run.split_off(start);
                self.release.extend_from_slice(&data[zero..]);
                self.open = true;
                tracing::debug!(
                    discarded = self.discarded.load(Ordering::Relaxed),
                    "boot marker found"
                );
                return;
            }
            self.discard(run.len() + 1);
            run.clear();
            self.run = run;
            data = &data[zero + 1..];
        }
        self.run.extend_from_slice(data);
        if self.run.len() > 2 * MAX_BOOT_FRAME {
            let drop = self.run.len() - MAX_BOOT_FRAME;
            self.discard(drop);
            self.run.drain(..drop);
        }
    }
}

impl<S: ByteSource> ByteSource for BootGate<S> {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if self.released < self.release.len() {
            let n = buf.len().min(self.release.len() - self.released);
            buf[..n].copy_from_slice(&self.release[self.released..self.released + n]);
            self.released += n;
            return Ok(ReadOutcome::Data(n));
        }
        if self.open {
            return self.inner.read_some(buf);
        }
        match self.inner.read_some(buf)? {
            ReadOutcome::Data(n) => {
                let data = buf[..n].to_vec();
                self.feed(&data);
                if self.open {
                    return self.read_some(buf);
                }
                Ok(ReadOutcome::Idle)
            }
            other => Ok(other),
        }
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

impl<S> Drop for BootGate<S> {
    fn drop(&mut self) {
        // Bytes of an unfinished run never became a boot frame: they were discarded too.
        if !self.open {
            self.discarded
                .fetch_add(self.run.len() as u64, Ordering::Relaxed);
        }
    }
}
