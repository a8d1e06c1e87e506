//! RTT up-channel 0 in target memory: finding the control block and reading its ring buffer.
//!
//! The layout is SEGGER's, as defmt-rtt (and rtt-target) lay it out: a
//! control block `_SEGGER_RTT` of a 16-byte id `"SEGGER RTT"`, the numbers
//! of up and down channels (`u32` each), then the up channels' descriptors,
//! 24 bytes each: name, buffer, size, write offset (the target's), read
//! offset (the host's), flags (the low two bits: the mode). defmt-rtt writes
//! the same rzcobs frames as a serial logger, each ended by a zero byte, so
//! the bytes read here feed the same framer as a serial port's.
//!
//! Everything goes through [`TargetControl`]'s memory access, so the same
//! code reads a real chip through probe-rs and a double's fake memory.

use std::ops::Range;
use std::path::Path;

use super::{ProbeError, TargetControl};

/// The control block's id.
pub const CONTROL_BLOCK_ID: [u8; 16] = *b"SEGGER RTT\0\0\0\0\0\0";
/// The symbol defmt-rtt gives the control block.
pub const CONTROL_BLOCK_SYMBOL: &str = "_SEGGER_RTT";
/// Bytes before the first up channel's descriptor: the id and the two channel counts.
pub const HEADER_LEN: u32 = 24;
/// Bytes of one channel descriptor.
pub const DESCRIPTOR_LEN: u32 = 24;
/// The mode bits of a channel's flags.
pub const MODE_MASK: u32 = 0b11;
/// The mode in which the target waits for the host to read rather than lose bytes
/// (`BlockIfFull`; defmt-rtt's "host connected"), as `probe-rs run` sets for a defmt channel.
pub const MODE_BLOCK_IF_FULL: u32 = 2;
/// Bytes read per piece when RAM is scanned for the id.
const SCAN_CHUNK: u32 = 4096;
/// More up channels than this is not a control block but bytes that happen to spell the id.
const MAX_UP_CHANNELS: u32 = 255;

/// Where the control block is looked for: at the ELF's `_SEGGER_RTT`, else anywhere in RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttLocation {
    /// The address of `_SEGGER_RTT`, if the ELF has the symbol.
    pub symbol: Option<u32>,
    /// The chip's RAM, scanned when there is no symbol.
    pub ram: Vec<Range<u32>>,
}

impl RttLocation {
    /// For `elf` on `chip` (a probe-rs chip name): the symbol from the ELF, RAM from the chip's memory map.
    pub fn of(elf: &Path, chip: &str) -> Self {
        let ram = crate::board::probe::chip_target(chip)
            .map(|target| {
                target
                    .memory_map
                    .iter()
                    .filter_map(|region| match region {
                        probe_rs::config::MemoryRegion::Ram(ram) => Some(ram.range.clone()),
                        _ => None,
                    })
                    .filter_map(|r| Some(u32::try_from(r.start).ok()?..u32::try_from(r.end).ok()?))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            symbol: std::fs::read(elf).ok().and_then(|b| symbol_address(&b)),
            ram,
        }
    }

    /// Where it is looked for, for messages.
    pub fn describe(&self) -> String {
        match self.symbol {
            Some(at) => format!("at {CONTROL_BLOCK_SYMBOL} ({at:#010x})"),
            None => {
                let ram: Vec<String> = self
                    .ram
                    .iter()
                    .map(|r| format!("{:#010x}..{:#010x}", r.start, r.end))
                    .collect();
                format!(
                    "in RAM {} (the ELF has no {CONTROL_BLOCK_SYMBOL} symbol)",
                    if ram.is_empty() {
                        "(none known for the chip)".to_owned()
                    } else {
                        ram.join(", ")
                    }
                )
            }
        }
    }
}

/// The address of `_SEGGER_RTT` in an ELF's bytes.
pub fn symbol_address(elf: &[u8]) -> Option<u32> {
    use object::{Object as _, ObjectSymbol as _};
    let file = object::File::parse(elf).ok()?;
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok(CONTROL_BLOCK_SYMBOL))?;
    u32::try_from(symbol.address()).ok()
}

/// Overwrite the control block's id at `address`, so that a block left in RAM by the
/// firmware that ran before is not taken for this run's (RAM survives a reset; the
/// firmware writes the id again when it initialises its statics).
pub fn clear_id(ctl: &mut dyn TargetControl, address: u32) -> Result<(), ProbeError> {
    (0..4).try_for_each(|i| ctl.write_word(address + 4 * i, 0))
}

/// Up-channel 0 of a control block found in target memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpChannel {
    /// Address of the control block.
    pub control_block: u32,
    /// Address of the channel's descriptor.
    pub descriptor: u32,
    /// Address of its ring buffer.
    pub buffer: u32,
    /// Size of its ring buffer.
    pub size: u32,
    /// Its name (defmt-rtt: `defmt`), if readable.
    pub name: String,
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Find the control block: `Ok(Err(why))` when it is not there (yet), an error when memory
/// cannot be read.
pub fn find(
    ctl: &mut dyn TargetControl,
    location: &RttLocation,
) -> Result<Result<UpChannel, String>, ProbeError> {
    let address = match location.symbol {
        Some(at) => at,
        None => match scan(ctl, &location.ram)? {
            Some(at) => at,
            None => return Ok(Err("no control block id in RAM".into())),
        },
    };
    let block = ctl.read_bytes(address, BLOCK_LEN)?;
    let (mut channel, name_at) = match UpChannel::parse(address, &block) {
        Ok(parsed) => parsed,
        Err(why) => return Ok(Err(why)),
    };
    if name_at != 0 {
        let raw = ctl.read_bytes(name_at, 32).unwrap_or_default();
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        channel.name = String::from_utf8_lossy(&raw[..end]).into_owned();
    }
    Ok(Ok(channel))
}

/// Bytes of the control block up to the end of up channel 0's descriptor.
pub const BLOCK_LEN: usize = (HEADER_LEN + DESCRIPTOR_LEN) as usize;

/// The first address in `ram` that holds the control block id.
fn scan(ctl: &mut dyn TargetControl, ram: &[Range<u32>]) -> Result<Option<u32>, ProbeError> {
    let overlap = CONTROL_BLOCK_ID.len() as u32 - 1;
    for range in ram {
        let mut at = range.start;
        while at < range.end {
            let len = (range.end - at).min(SCAN_CHUNK + overlap);
            let bytes = ctl.read_bytes(at, len as usize)?;
            // The block is a static of `u32`s: word-aligned.
            let hit = bytes
                .windows(CONTROL_BLOCK_ID.len())
                .enumerate()
                .find(|(i, w)| (at + *i as u32).is_multiple_of(4) && *w == CONTROL_BLOCK_ID);
            if let Some((i, _)) = hit {
                return Ok(Some(at + i as u32));
            }
            at = at.saturating_add(SCAN_CHUNK);
        }
    }
    Ok(None)
}

impl UpChannel {
    /// Up channel 0 of the control block whose first [`BLOCK_LEN`] bytes, at `address`, are
    /// `block` (its name left empty), and the address of its name; why not, when it is not one.
    pub fn parse(address: u32, block: &[u8]) -> Result<(Self, u32), String> {
        if block.len() < BLOCK_LEN || block[..16] != CONTROL_BLOCK_ID {
            return Err(format!(
                "no control block id at {address:#010x} (the firmware has not initialised it)"
            ));
        }
        let up_channels = word(block, 16);
        if up_channels == 0 || up_channels > MAX_UP_CHANNELS {
            return Err(format!(
                "the control block at {address:#010x} has {up_channels} up channels"
            ));
        }
        let d = HEADER_LEN as usize;
        let (name_at, buffer, size) = (word(block, d), word(block, d + 4), word(block, d + 8));
        let (write, read) = (word(block, d + 12), word(block, d + 16));
        if buffer == 0 || size == 0 || write >= size || read >= size {
            return Err(format!(
                "up channel 0 of the control block at {address:#010x} is not a ring buffer \
                 (buffer {buffer:#010x}, size {size}, write offset {write}, read offset {read})"
            ));
        }
        let channel = Self {
            control_block: address,
            descriptor: address + HEADER_LEN,
            buffer,
            size,
            name: String::new(),
        };
        Ok((channel, name_at))
    }

    /// The address of the channel's flags and its `flags` with the mode set to block when full.
    pub fn blocking_flags(&self, flags: u32) -> (u32, u32) {
        (
            self.descriptor + 20,
            (flags & !MODE_MASK) | MODE_BLOCK_IF_FULL,
        )
    }

    /// Where the bytes written since the last read are, given the 8 bytes of the write and
    /// read offsets (`(address, len)`, two pieces when the write offset has wrapped), and the
    /// read offset that hands them back; why not, when the offsets make no sense.
    pub fn pending(&self, offsets: &[u8]) -> Result<(Vec<(u32, u32)>, u32), String> {
        let (write, read) = (word(offsets, 0), word(offsets, 4));
        if write >= self.size || read >= self.size {
            return Err(format!(
                "write offset {write} or read offset {read} is outside its buffer of {} bytes \
                 (the firmware overwrote its control block?)",
                self.size
            ));
        }
        let pieces = if write >= read {
            vec![(self.buffer + read, write - read)]
        } else {
            vec![(self.buffer + read, self.size - read), (self.buffer, write)]
        };
        Ok((pieces.into_iter().filter(|p| p.1 > 0).collect(), write))
    }

    fn error(&self, message: String) -> ProbeError {
        ProbeError::RttChannel {
            descriptor: self.descriptor,
            message,
        }
    }

    /// Make the target wait for the host when the buffer is full instead of losing bytes.
    pub fn set_blocking(&self, ctl: &mut dyn TargetControl) -> Result<(), ProbeError> {
        let flags = word(&ctl.read_bytes(self.descriptor + 20, 4)?, 0);
        let (at, flags) = self.blocking_flags(flags);
        ctl.write_word(at, flags)
    }

    /// Append what the target has written since the last read to `out` (both halves when
    /// the write offset has wrapped around) and hand the space back; returns how many bytes.
    pub fn read(
        &self,
        ctl: &mut dyn TargetControl,
        out: &mut Vec<u8>,
    ) -> Result<usize, ProbeError> {
        let offsets = ctl.read_bytes(self.descriptor + 12, 8)?;
        let (pieces, write) = self.pending(&offsets).map_err(|m| self.error(m))?;
        if pieces.is_empty() {
            return Ok(0);
        }
        let before = out.len();
        for (at, len) in pieces {
            out.extend(ctl.read_bytes(at, len as usize)?);
        }
        ctl.write_word(self.descriptor + 16, write)?;
        Ok(out.len() - before)
    }
}
