//! The transport's queue at the stop, through the gdbstub: read at the HardFault breakpoint, at a halt, and just before a semihosting exit.
//!
//! A semihosting exit ends QEMU, and its RAM with it, as soon as the `bkpt
//! 0xab` executes; with a gdb client attached QEMU 7.2 still services the call
//! itself (`target=native`) and only reports `Wxx`. So every `bkpt 0xab` of the
//! ELF's code is trapped before the CPU runs, the way a debugger sets a
//! software breakpoint: it is overwritten with `bkpt #0`, which escalates to
//! HardFault, where the runner's breakpoint already waits. There the queue is
//! read if `r0` is an exit (`SYS_EXIT`, `SYS_EXIT_EXTENDED`), every site gets
//! its `bkpt 0xab` back, the fault status bits the trap set are cleared, and
//! the core returns from the exception through a `bx lr` of the ELF (the
//! handler's `lr` is still `EXC_RETURN`): the call runs where it was made.
//! After a call that is not an exit the sites fall back to gdbstub
//! breakpoints (stopped before the call, stepped over).
//!
//! Why not gdbstub breakpoints from the start: QEMU runs every 1 KiB page that
//! holds a breakpoint one instruction per translation block, and the sites sit
//! beside the hot code of a small image (the e2e bench firmware: its main loop,
//! UART drain and defmt writer): `hil-bench e2e` put the pipe link at 0.78x
//! defmt-semihosting with them and 1.50x with the traps, in one run each.

use std::io;
use std::sync::atomic::Ordering;

use object::{Object, ObjectSection, ObjectSymbol, SectionKind};

use super::gdb::{CoreRegisters, Gdb};
use crate::recover::{ImageSlot, QueueImage, QueueLayout, RecoverError};

/// `SYS_EXIT` and `SYS_EXIT_EXTENDED`: the semihosting calls that end QEMU.
const EXIT_CALLS: [u32; 2] = [0x18, 0x20];
/// `bkpt 0xab`, the semihosting call (Thumb, little-endian).
const SEMIHOSTING_CALL: [u8; 2] = [0xab, 0xbe];
/// `bkpt #0`, written over each call: it escalates to HardFault (no DebugMonitor).
const TRAP: [u8; 2] = [0x00, 0xbe];
/// `bx lr`: from a handler's first instruction, the return from the exception.
const BX_LR: [u8; 2] = [0x70, 0x47];
/// HardFault Status Register and its FORCED bit (write one to clear).
const HFSR: (u32, u32) = (0xE000_ED2C, 1 << 30);
/// Debug Fault Status Register and its BKPT bit (write one to clear).
const DFSR: (u32, u32) = (0xE000_ED30, 1 << 1);
/// Most `bkpt 0xab` sites watched (an ELF with more is not a semihosting user we know).
const MAX_SITES: usize = 64;

/// What the core watch needs to read the queue when the core stops.
#[derive(Clone, Default)]
pub struct QueueWatch {
    /// The ELF's queue descriptor (none: not hil-transport, nothing read).
    pub layout: Option<QueueLayout>,
    /// Addresses of the ELF's `bkpt 0xab` instructions.
    pub semihosting: Vec<u32>,
    /// A `bx lr` in the ELF's code: how a trapped core returns to the call.
    pub return_insn: Option<u32>,
    /// Whether the sites hold [`TRAP`] now (else gdbstub breakpoints, or nothing).
    pub trapped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The image read at the stop.
    pub slot: ImageSlot,
}

impl QueueWatch {
    /// The watch for `elf`: its descriptor and its semihosting call sites (watched when it
    /// has a queue, or when `watch_exit`: another log read at the stop before an exit).
    pub fn of_elf(elf: &[u8], watch_exit: bool) -> Self {
        let layout = QueueLayout::from_elf(elf).unwrap_or_else(|e| {
            tracing::warn!("no queue recovery: {e}");
            None
        });
        // Traps are written only where the ELF tells its code from its data; a stripped
        // ELF's possible sites get gdbstub breakpoints, which write nothing.
        let watched = layout.is_some() || watch_exit;
        let (semihosting, return_insn) = match (watched, thumb_instructions(elf)) {
            (false, _) => (Vec::new(), None),
            (true, Some(code)) => (semihosting_sites(&code), find_instruction(&code, BX_LR)),
            (true, None) => (semihosting_halfwords(elf), None),
        };
        Self {
            semihosting,
            return_insn,
            layout,
            trapped: Default::default(),
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

    /// Trap each semihosting call site (or, without a `bx lr` to return through or where
    /// the code cannot be written, set a gdbstub breakpoint on it).
    pub async fn arm(&self, gdb: &mut Gdb) -> io::Result<()> {
        if self.return_insn.is_some() && !self.semihosting.is_empty() {
            let mut written = 0;
            for &site in &self.semihosting {
                if let Err(e) = gdb.write_memory(site, &TRAP).await {
                    tracing::debug!(site, error = %e, "cannot trap a semihosting call");
                    break;
                }
                written += 1;
            }
            if written == self.semihosting.len() {
                self.trapped.store(true, Ordering::Relaxed);
                return Ok(());
            }
            // Only the sites trapped get their call back: the others were refused.
            self.untrap(gdb, &self.semihosting[..written]).await?;
        }
        self.set_breakpoints(gdb).await
    }

    async fn set_breakpoints(&self, gdb: &mut Gdb) -> io::Result<()> {
        for &site in &self.semihosting {
            gdb.insert_breakpoint(site).await?;
        }
        Ok(())
    }

    /// `sites` get their `bkpt 0xab` back.
    async fn untrap(&self, gdb: &mut Gdb, sites: &[u32]) -> io::Result<()> {
        for &site in sites {
            gdb.write_memory(site, &SEMIHOSTING_CALL).await?;
        }
        self.trapped.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// The core is at the HardFault breakpoint with `regs`: if a trapped call brought it
    /// there, read the queue when the call is an exit, put the calls back, return to the
    /// call and resume; true when it was one (the caller waits for the next stop).
    pub async fn at_trap(&self, gdb: &mut Gdb, regs: &CoreRegisters) -> io::Result<bool> {
        let Some(return_insn) = self.return_insn else {
            return Ok(false);
        };
        if !self.trapped.load(Ordering::Relaxed) || !self.is_trap(gdb, regs).await? {
            return Ok(false);
        }
        let exit = EXIT_CALLS.contains(&regs.r[0]);
        if exit {
            self.read(gdb).await;
        }
        self.untrap(gdb, &self.semihosting).await?;
        if !exit {
            self.set_breakpoints(gdb).await?;
        }
        for (register, bit) in [HFSR, DFSR] {
            // ARMv6-M has no HFSR: a refused clear changes nothing.
            let _ = gdb.write_memory(register, &bit.to_le_bytes()).await;
        }
        gdb.set_pc(return_insn).await?;
        gdb.resume().await?;
        Ok(true)
    }

    /// Whether the HardFault came from a [`TRAP`]: the stacked pc is a site (a frame on
    /// MSP), or, for a frame on PSP (which QEMU 7.2's gdbstub cannot read), DFSR says
    /// a `bkpt` ran.
    async fn is_trap(&self, gdb: &mut Gdb, regs: &CoreRegisters) -> io::Result<bool> {
        let on_psp = regs.r[14] & 0b100 != 0;
        if on_psp {
            return Ok(gdb.read_word(DFSR.0).await? & DFSR.1 != 0);
        }
        let Ok(pc) = gdb.read_word(regs.r[13].wrapping_add(24)).await else {
            return Ok(false);
        };
        Ok(self.semihosting.contains(&pc))
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

/// The ELF's Thumb instructions: where each starts and its first halfword.
///
/// Code is what the ARM mapping symbols mark: `$t` starts Thumb code, `$d` (a
/// literal pool, a jump table) and `$a` end it, up to the next mapping symbol
/// or the section's end. A 32-bit instruction is one entry, so neither its
/// second halfword nor a literal in a pool is taken for an instruction: a
/// `b.w` can end in `0xbeab`, and writing a trap there would break the branch.
/// `None` when the ELF has no mapping symbols (stripped): its code cannot be
/// told from its data.
pub fn thumb_instructions(elf: &[u8]) -> Option<Vec<(u32, [u8; 2])>> {
    let file = object::File::parse(elf).ok()?;
    let mut marks: Vec<(object::SectionIndex, u64, bool)> = file
        .symbols()
        .filter_map(|symbol| {
            let name = symbol.name().ok()?;
            let kind = name.strip_prefix('$')?.split('.').next()?;
            let thumb = match kind {
                "t" => true,
                "d" | "a" => false,
                _ => return None,
            };
            Some((symbol.section_index()?, symbol.address(), thumb))
        })
        .collect();
    if marks.is_empty() {
        return None;
    }
    marks.sort_by_key(|&(section, address, _)| (section.0, address));
    let mut instructions = Vec::new();
    for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
        let Ok(data) = section.data() else { continue };
        let here: Vec<_> = marks.iter().filter(|m| m.0 == section.index()).collect();
        for (i, &&(_, start, thumb)) in here.iter().enumerate() {
            let end = here
                .get(i + 1)
                .map_or(section.address() + data.len() as u64, |m| m.1);
            if !thumb {
                continue;
            }
            let mut at = start.saturating_sub(section.address()) as usize;
            let end = (end.saturating_sub(section.address()) as usize).min(data.len());
            while at + 2 <= end {
                let half = [data[at], data[at + 1]];
                instructions.push((section.address() as u32 + at as u32, half));
                // Bits 15..11 of 0b11101, 0b11110 or 0b11111: the first half of a 32-bit instruction.
                at += if half[1] >> 3 >= 0b11101 { 4 } else { 2 };
            }
        }
    }
    Some(instructions)
}

/// The first instruction in `code` that starts with `halfword`.
pub fn find_instruction(code: &[(u32, [u8; 2])], halfword: [u8; 2]) -> Option<u32> {
    code.iter().find(|(_, h)| *h == halfword).map(|&(a, _)| a)
}

/// Addresses of the Thumb instruction `bkpt 0xab` (`0xbeab`) in `code`.
pub fn semihosting_sites(code: &[(u32, [u8; 2])]) -> Vec<u32> {
    let mut sites: Vec<u32> = code
        .iter()
        .filter(|(_, h)| *h == SEMIHOSTING_CALL)
        .map(|&(a, _)| a)
        .collect();
    sites.truncate(MAX_SITES);
    sites
}

/// Every halfword-aligned `0xbeab` in the ELF's code sections: a stripped ELF's possible
/// sites, some perhaps data or the end of a longer instruction (breakpoints there are
/// harmless; traps are not).
fn semihosting_halfwords(elf: &[u8]) -> Vec<u32> {
    let Ok(file) = object::File::parse(elf) else {
        return Vec::new();
    };
    let mut sites = Vec::new();
    for section in file.sections().filter(|s| s.kind() == SectionKind::Text) {
        let Ok(data) = section.data() else { continue };
        for (i, half) in data.chunks_exact(2).enumerate() {
            if half == SEMIHOSTING_CALL {
                sites.push(section.address() as u32 + 2 * i as u32);
            }
        }
    }
    sites.truncate(MAX_SITES);
    sites
}

#[cfg(test)]
mod tests {
    //! Which halfwords of an ELF's code start instructions: the only places a trap may go.

    use super::*;
    use crate::test_elf::{elf, Section};

    const CODE: u32 = 0x400;

    /// `code` at [`CODE`] in `.text`, with the symbols `(name, address)`.
    fn image(code: &[u8], symbols: &[(&str, u32)]) -> Vec<u8> {
        let text = [Section {
            name: ".text",
            address: CODE,
            data: code,
        }];
        let symbols: Vec<_> = symbols.iter().map(|&(n, a)| (n, 1, a)).collect();
        elf(&text, &symbols)
    }

    #[test]
    fn a_call_is_a_site_only_where_an_instruction_starts() {
        // `b.w` (f000 beab: its second halfword is the encoding of `bkpt 0xab`),
        // then `bkpt 0xab`, then `bx lr`.
        let code = [0x00, 0xf0, 0xab, 0xbe, 0xab, 0xbe, 0x70, 0x47];
        let instructions = thumb_instructions(&image(&code, &[("$t", CODE)])).unwrap();
        assert_eq!(instructions.len(), 3);
        assert_eq!(semihosting_sites(&instructions), vec![CODE + 4]);
        assert_eq!(find_instruction(&instructions, BX_LR), Some(CODE + 6));
        // Stripped of its mapping symbols: both halfwords may be calls.
        assert_eq!(
            semihosting_halfwords(&image(&code, &[])),
            vec![CODE + 2, CODE + 4]
        );
    }

    #[test]
    fn an_instruction_is_32_bits_exactly_when_its_first_halfword_says_so() {
        // `pop.w {...}` (e8bd: bits 15..11 0b11101, the lowest 32-bit prefix) whose
        // register list reads beab, then `bkpt 0xab`.
        let code = [0xbd, 0xe8, 0xab, 0xbe, 0xab, 0xbe];
        let instructions = thumb_instructions(&image(&code, &[("$t", CODE)])).unwrap();
        assert_eq!(semihosting_sites(&instructions), vec![CODE + 4]);
        // `b .` (e7fe: 0b11100, the highest 16-bit one), then `bkpt 0xab`.
        let code = [0xfe, 0xe7, 0xab, 0xbe];
        let instructions = thumb_instructions(&image(&code, &[("$t", CODE)])).unwrap();
        assert_eq!(semihosting_sites(&instructions), vec![CODE + 2]);
    }

    #[test]
    fn a_literal_pool_is_data_and_holds_no_site() {
        // bkpt 0xab; bx lr; a pool word whose halves both read bkpt 0xab; bkpt 0xab.
        let code = [0xab, 0xbe, 0x70, 0x47, 0xab, 0xbe, 0xab, 0xbe, 0xab, 0xbe];
        // Listed out of address order, as a symbol table may have them.
        let marks = [("$t.2", CODE + 8), ("$d.1", CODE + 4), ("$t", CODE)];
        let instructions = thumb_instructions(&image(&code, &marks)).unwrap();
        assert_eq!(semihosting_sites(&instructions), vec![CODE, CODE + 8]);
        // A pool word whose halves read `bx lr`: not a place to return through.
        let code = [0x70, 0x47, 0x70, 0x47, 0x00, 0xbf, 0x70, 0x47];
        let marks = [("$d", CODE), ("$t", CODE + 4)];
        let instructions = thumb_instructions(&image(&code, &marks)).unwrap();
        assert_eq!(find_instruction(&instructions, BX_LR), Some(CODE + 6));
    }

    #[test]
    fn an_elf_without_mapping_symbols_has_no_known_instructions() {
        let code = [0xab, 0xbe, 0x70, 0x47];
        assert_eq!(thumb_instructions(&image(&code, &[("main", CODE)])), None);
        assert_eq!(thumb_instructions(b"not an elf"), None);
    }

    #[test]
    fn the_watch_of_an_elf_without_a_queue_watches_no_call() {
        let elf = image(&[0xab, 0xbe, 0x70, 0x47], &[("$t", CODE)]);
        let watch = QueueWatch::of_elf(&elf, false);
        assert!(watch.layout.is_none());
        assert!(watch.semihosting.is_empty() && watch.return_insn.is_none());
        // Asked to watch the exit all the same (defmt-rtt's channel): the call and its return.
        let watch = QueueWatch::of_elf(&elf, true);
        assert_eq!(
            (watch.semihosting, watch.return_insn),
            (vec![CODE], Some(CODE + 2))
        );
    }

    #[test]
    fn at_most_max_sites_are_watched() {
        let code = [0xab, 0xbe].repeat(MAX_SITES + 3);
        let instructions = thumb_instructions(&image(&code, &[("$t", CODE)])).unwrap();
        assert_eq!(semihosting_sites(&instructions).len(), MAX_SITES);
        assert_eq!(semihosting_halfwords(&image(&code, &[])).len(), MAX_SITES);
    }
}
