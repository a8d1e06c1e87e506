//! defmt-rtt firmware on an emulated board: RTT up-channel 0 read through the gdbstub.
//!
//! QEMU has no debug probe, but its gdbstub reads and writes memory while the
//! core is halted. So the core watch interrupts the core every [`RTT_POLL`]
//! (and reads the channel at every other stop too: a breakpoint, a trapped
//! semihosting call, the exit, a fault, the runner's halt), reads what the
//! firmware wrote since the last read, hands the space back (the read offset)
//! and resumes. The control block is found at the ELF's `_SEGGER_RTT`; once
//! found, the channel is put in blocking mode (`BlockIfFull`, as `probe-rs run`
//! does for defmt), so the firmware waits for the runner instead of losing
//! frames. The layout and its checks are the probe backend's
//! ([`crate::backend::probe::rtt`]); only the memory access differs.

use std::io;
use std::sync::mpsc;
use std::time::Duration;

use object::elf::PT_LOAD;
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSection};

use super::gdb::Gdb;
use crate::backend::probe::rtt::{UpChannel, BLOCK_LEN, HEADER_LEN, MODE_BLOCK_IF_FULL, MODE_MASK};
use crate::source::{ByteSource, ReadOutcome, READ_TIMEOUT};

/// How often the running core is halted to read the channel.
pub const RTT_POLL: Duration = Duration::from_millis(2);

/// Where the flags word of up channel 0 of the control block at `control_block` is
/// loaded from, and its bytes with the mode set to block when full.
///
/// The block is an initialised static: cortex-m-rt copies it from its load address
/// (in flash) before `main`. Written there before the core runs, the channel
/// blocks from the firmware's first frame, whatever the host's load; set at the
/// first read instead, a firmware that logs more than the buffer holds before it
/// loses frames (seen: 3 KiB with two QEMUs at once on 2 cores).
pub fn blocking_flags_at_load(elf: &[u8], control_block: u32) -> Option<(u32, [u8; 4])> {
    let flags_at = u64::from(control_block.checked_add(HEADER_LEN + 20)?);
    let file = ElfFile32::<Endianness>::parse(elf).ok()?;
    let section = file
        .sections()
        .find(|s| s.address() <= flags_at && flags_at + 4 <= s.address() + s.size())?;
    let in_file = section.file_range()?.0 + (flags_at - section.address());
    let at = usize::try_from(in_file).ok()?;
    let flags = u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?);
    let endian = file.endian();
    let segment = file
        .elf_header()
        .program_headers(endian, elf)
        .ok()?
        .iter()
        .find(|ph| {
            let (start, size) = (
                u64::from(ph.p_offset(endian)),
                u64::from(ph.p_filesz(endian)),
            );
            ph.p_type(endian) == PT_LOAD && start <= in_file && in_file + 4 <= start + size
        })?;
    let load = u64::from(segment.p_paddr(endian)) + in_file - u64::from(segment.p_offset(endian));
    let flags = (flags & !MODE_MASK) | MODE_BLOCK_IF_FULL;
    Some((u32::try_from(load).ok()?, flags.to_le_bytes()))
}

/// The channel of one run, as the core watch reads it.
pub struct RttWatch {
    /// The control block's address (`_SEGGER_RTT`).
    address: u32,
    channel: Option<UpChannel>,
    to_source: mpsc::Sender<Vec<u8>>,
}

impl RttWatch {
    /// A watch of the control block at `address` and the source its bytes go to.
    pub fn new(address: u32) -> (Self, RttSource) {
        let (to_source, from_watch) = mpsc::channel();
        let watch = Self {
            address,
            channel: None,
            to_source,
        };
        let source = RttSource {
            from_watch,
            pending: Vec::new(),
            name: format!("RTT up channel 0 at {address:#010x}, through QEMU's gdbstub"),
        };
        (watch, source)
    }

    /// Read what the halted core wrote since the last read into the source; the first
    /// time the control block is there, put its channel in blocking mode.
    pub async fn read(&mut self, gdb: &mut Gdb) -> io::Result<()> {
        let channel = match &self.channel {
            Some(channel) => channel,
            None => {
                let block = gdb.read_memory(self.address, BLOCK_LEN as u32).await?;
                let Ok((channel, _)) = UpChannel::parse(self.address, &block) else {
                    // Not initialised yet (the firmware's statics): looked for at the next stop.
                    return Ok(());
                };
                let flags = gdb.read_word(channel.descriptor + 20).await?;
                let (at, flags) = channel.blocking_flags(flags);
                gdb.write_memory(at, &flags.to_le_bytes()).await?;
                tracing::debug!(block = self.address, "RTT channel found, blocking mode set");
                self.channel.insert(channel)
            }
        };
        let offsets = gdb.read_memory(channel.descriptor + 12, 8).await?;
        let (pieces, write) = channel.pending(&offsets).map_err(io::Error::other)?;
        if pieces.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for (at, len) in pieces {
            bytes.extend(gdb.read_memory_chunked(at, len as usize).await?);
        }
        gdb.write_memory(channel.descriptor + 16, &write.to_le_bytes())
            .await?;
        // The source gone: the run is over, nothing to deliver to.
        let _ = self.to_source.send(bytes);
        Ok(())
    }
}

/// The bytes of the channel, as the core watch reads them; closed when the watch ends.
pub struct RttSource {
    from_watch: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    name: String,
}

impl ByteSource for RttSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if self.pending.is_empty() {
            match self.from_watch.recv_timeout(READ_TIMEOUT) {
                Ok(bytes) => self.pending = bytes,
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(ReadOutcome::Idle),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(ReadOutcome::Closed),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(ReadOutcome::Data(n))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    //! The source: every byte the watch sent, in order, then closed.

    use super::*;

    #[test]
    fn the_source_gives_every_byte_in_order_then_closes_when_the_watch_ends() {
        let (watch, mut source) = RttWatch::new(0x2000_0000);
        watch.to_source.send(b"abc".to_vec()).unwrap();
        watch.to_source.send(b"defg".to_vec()).unwrap();
        drop(watch);
        let mut got = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match source.read_some(&mut buf).unwrap() {
                ReadOutcome::Data(n) => got.extend_from_slice(&buf[..n]),
                ReadOutcome::Idle => panic!("idle with the watch gone"),
                ReadOutcome::Closed => break,
            }
        }
        assert_eq!(got, b"abcdefg");
    }
}
