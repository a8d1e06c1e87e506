//! The transport's queue at the stop, through the gdbstub: read at the HardFault breakpoint, at a halt, and just before a semihosting exit.
//!
//! A semihosting exit ends QEMU, and its RAM with it, as soon as the `bkpt
//! 0xab` executes; with a gdb client attached QEMU 7.2 still services the call
//! itself (`target=native`) and only reports `Wxx`. So every `bkpt 0xab` of the
//! ELF's code gets a gdbstub breakpoint: the core stops before the call, the
//! queue is read if `r0` is an exit (`SYS_EXIT`, `SYS_EXIT_EXTENDED`), and the
//! call is stepped over (breakpoint removed, one step, breakpoint back).

use std::io;

use object::{Object, ObjectSection, SectionKind};

use super::gdb::Gdb;
use crate::recover::{ImageSlot, QueueImage, QueueLayout, RecoverError};

/// `SYS_EXIT` and `SYS_EXIT_EXTENDED`: the semihosting calls that end QEMU.
const EXIT_CALLS: [u32; 2] = [0x18, 0x20];
/// Most `bkpt 0xab` sites watched (an ELF with more is not a semihosting user we know).
const MAX_SITES: usize = 64;

/// What the core watch needs to read the queue when the core stops.
#[derive(Clone, Default)]
pub struct QueueWatch {
    /// The ELF's queue descriptor (none: not hil-transport, nothing read).
    pub layout: Option<QueueLayout>,
    /// Addresses of the ELF's `bkpt 0xab` instructions.
    pub semihosting: Vec<u32>,
    /// The image read at the stop.
    pub slot: ImageSlot,
}

impl QueueWatch {
    /// The watch for `elf`: its descriptor and its semihosting call sites.
    pub fn of_elf(elf: &[u8]) -> Self {
        let layout = QueueLayout::from_elf(elf).unwrap_or_else(|e| {
            tracing::warn!("no queue recovery: {e}");
            None
        });
        Self {
            semihosting: if layout.is_some() {
                semihosting_sites(elf)
            } else {
                Vec::new()
            },
            layout,
            slot: ImageSlot::default(),
        }
    }

    /// Read the queue of the halted core into the slot (nothing without a descriptor).
    pub async fn read(&self, gdb: &mut Gdb) {
        let Some(layout) = self.layout else {
            return;
        };
        let image = read_image(gdb, &layout).await;
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(image);
    }

    /// Set a breakpoint on each semihosting call site.
    pub async fn arm(&self, gdb: &mut Gdb) -> io::Result<()> {
        for &site in &self.semihosting {
            gdb.insert_breakpoint(site).await?;
        }
        Ok(())
    }

    /// The core stopped at `pc` with `r0`: if that is a semihosting call site,
    /// read the queue when the call is an exit, step over the call and
    /// resume; true when it was one (the caller waits for the next stop).
    pub async fn at_semihosting(&self, gdb: &mut Gdb, pc: u32, r0: u32) -> io::Result<bool> {
        if !self.semihosting.contains(&pc) {
            return Ok(false);
        }
        if EXIT_CALLS.contains(&r0) {
            self.read(gdb).await;
            // QEMU exits in the call: nothing to step back to.
            gdb.remove_breakpoint(pc).await?;
            gdb.resume().await?;
            return Ok(true);
        }
        gdb.remove_breakpoint(pc).await?;
        gdb.step().await?;
        gdb.wait_stop().await?;
        gdb.insert_breakpoint(pc).await?;
        gdb.resume().await?;
        Ok(true)
    }
}

/// The queue of the halted core, through `m` packets.
async fn read_image(gdb: &mut Gdb, layout: &QueueLayout) -> Result<QueueImage, RecoverError> {
    let mut fetched = Vec::new();
    for (address, len) in layout.ranges() {
        let bytes = gdb
            .read_memory_chunked(address, len)
            .await
            .map_err(|e| RecoverError::Read(format!("{len} bytes at {address:#010x}: {e}")))?;
        fetched.push(((address, len), bytes));
    }
    QueueImage::from_reads(layout, |address, len| {
        fetched
            .iter()
            .find(|(range, _)| *range == (address, len))
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| RecoverError::Read(format!("{address:#010x} was not fetched")))
    })
}

/// Addresses of the Thumb instruction `bkpt 0xab` (`0xbeab`) in the ELF's code sections.
pub fn semihosting_sites(elf: &[u8]) -> Vec<u32> {
    let Ok(file) = object::File::parse(elf) else {
        return Vec::new();
    };
    let mut sites = Vec::new();
    for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
        let Ok(data) = section.data() else { continue };
        for (i, half) in data.chunks_exact(2).enumerate() {
            if half == [0xab, 0xbe] {
                sites.push(section.address() as u32 + 2 * i as u32);
            }
        }
    }
    sites.truncate(MAX_SITES);
    sites
}
