//! `boards --check` beyond parsing: a board against its chip and against the firmware built for it.
//!
//! For every board: its `memory.x` parses and has `FLASH` and `RAM`, and each
//! firmware image built for it loads only into the layout's non-RAM regions.
//! For probe boards also: the chip is in probe-rs's built-in registry
//! (`probe.chip`), each `memory.x` region lies inside the chip's memory map
//! (`FLASH` in flash, `RAM` in RAM: `memory`), the target triple fits the
//! chip's core (`target`), and every image loads only into the chip's flash.
//! Each problem is a [`BoardError::Field`] naming the board file and field.

use std::ops::Range;
use std::path::{Path, PathBuf};

use object::elf::PT_LOAD;
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSection};
use probe_rs::config::MemoryRegion as ChipRegion;
use probe_rs::CoreType;

use super::memory_x::{MemoryLayout, MemoryRegion};
use super::{probe, Board, BoardError, BoardKind};

mod elf_fit;
mod logger;

/// Whether a firmware ELF can run on a board, checked before a run starts: an
/// ARM ELF, for a core the board has, loading only into its memory layout.
pub use elf_fit::check as firmware_fits;
/// Whether a firmware's defmt logger writes where the board reads its log (defmt-rtt
/// and defmt-semihosting write nothing to a UART).
pub use logger::{check as logger_fits, off_uart_logger, OffUartLogger};

/// The Rust target triples that generate code for a core type (none: not a Cortex-M).
pub fn triples_for(core: CoreType) -> &'static [&'static str] {
    match core {
        CoreType::Armv6m => &["thumbv6m-none-eabi"],
        CoreType::Armv7m => &["thumbv7m-none-eabi"],
        CoreType::Armv7em => &["thumbv7em-none-eabi", "thumbv7em-none-eabihf"],
        CoreType::Armv8m => &[
            "thumbv8m.main-none-eabi",
            "thumbv8m.main-none-eabihf",
            "thumbv8m.base-none-eabi",
        ],
        _ => &[],
    }
}

/// Every problem found with `board` and the firmware `images` built for it.
pub fn verify(board: &Board, images: &[PathBuf]) -> Vec<BoardError> {
    let field = |field: &'static str, message: String| BoardError::Field {
        path: board.path.clone(),
        field,
        message,
    };
    let memory_x = &board.memory;
    let layout = match board
        .memory
        .text()
        .map_err(|e| e.to_string())
        .and_then(|text| MemoryLayout::parse(&text).map_err(|e| e.to_string()))
    {
        Ok(layout) => layout,
        Err(e) => return vec![field("memory", format!("{memory_x}: {e}"))],
    };
    let mut problems: Vec<BoardError> = ["FLASH", "RAM"]
        .into_iter()
        .filter(|name| layout.region(name).is_none())
        .map(|name| field("memory", format!("{memory_x} has no {name} region")))
        .collect();
    let chip = match &board.kind {
        BoardKind::Probe(p) => match probe::chip_target(&p.chip) {
            Ok(target) => Some(target),
            Err(message) => {
                problems.push(field("probe.chip", message));
                None
            }
        },
        BoardKind::Qemu(_) => None,
    };
    if let Some(chip) = &chip {
        for region in &layout.regions {
            if let Some(message) = region_outside_chip(region, chip) {
                problems.push(field("memory", format!("{memory_x}: {message}")));
            }
        }
        let core = chip.default_core().core_type;
        let triples = triples_for(core);
        if !triples.contains(&board.target.as_str()) {
            let wanted = if triples.is_empty() {
                "none: the harness runs Cortex-M chips only".to_owned()
            } else {
                triples.join(" or ")
            };
            problems.push(field(
                "target",
                format!(
                    "{:?} does not generate code for {} ({core:?} core); use {wanted}",
                    board.target, chip.name
                ),
            ));
        }
    }
    for elf in images {
        for (name, message) in image_problems(elf, &layout, chip.as_ref()) {
            problems.push(field(
                name,
                format!("firmware {}: {message}", elf.display()),
            ));
        }
    }
    problems
}

fn hex_range(r: &Range<u64>) -> String {
    format!("{:#010x}..{:#010x}", r.start, r.end)
}

fn within(inner: &Range<u64>, outer: &Range<u64>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn chip_regions<'a>(
    chip: &'a probe_rs::Target,
    pick: fn(&ChipRegion) -> bool,
) -> impl Iterator<Item = Range<u64>> + 'a {
    chip.memory_map
        .iter()
        .filter(move |r| pick(r))
        .map(|r| r.address_range())
}

fn describe(chip: &probe_rs::Target, pick: fn(&ChipRegion) -> bool) -> String {
    let ranges: Vec<String> = chip_regions(chip, pick).map(|r| hex_range(&r)).collect();
    ranges.join(", ")
}

/// Why a `memory.x` region does not fit the chip's memory map, if it does not.
fn region_outside_chip(region: &MemoryRegion, chip: &probe_rs::Target) -> Option<String> {
    let (kind, pick): (&str, fn(&ChipRegion) -> bool) = match region.name.as_str() {
        "FLASH" => ("flash", ChipRegion::is_nvm),
        "RAM" => ("RAM", ChipRegion::is_ram),
        _ => ("memory", |_| true),
    };
    let range = region.range();
    if chip_regions(chip, pick).any(|r| within(&range, &r)) {
        return None;
    }
    Some(format!(
        "{} {} ({} KiB) is not inside the {kind} of {} ({})",
        region.name,
        hex_range(&range),
        region.length / 1024,
        chip.name,
        describe(chip, pick)
    ))
}

/// Problems of one image: loads outside the layout's non-RAM regions or the chip's flash.
fn image_problems(
    elf: &Path,
    layout: &MemoryLayout,
    chip: Option<&probe_rs::Target>,
) -> Vec<(&'static str, String)> {
    let segments = match load_segments(elf) {
        Ok(segments) => segments,
        Err(message) => return vec![("memory", message)],
    };
    let mut problems = Vec::new();
    for (range, sections) in segments {
        let what = format!(
            "{} bytes at {} ({sections})",
            range.end - range.start,
            hex_range(&range)
        );
        let in_region = layout.regions.iter().find(|r| within(&range, &r.range()));
        match in_region {
            Some(r) if r.name == "RAM" => problems.push((
                "memory",
                format!("loads {what} into RAM; a flashed image must load only into flash"),
            )),
            Some(_) => {}
            None => problems.push((
                "memory",
                format!("loads {what} outside every region of the memory layout"),
            )),
        }
        if let Some(chip) = chip {
            if chip_regions(chip, ChipRegion::is_ram).any(|r| within(&range, &r)) {
                problems.push((
                    "probe.chip",
                    format!(
                        "loads {what} into the RAM of {}; nothing flashed may load into RAM",
                        chip.name
                    ),
                ));
            } else if !chip_regions(chip, ChipRegion::is_nvm).any(|r| within(&range, &r)) {
                problems.push((
                    "probe.chip",
                    format!(
                        "loads {what} outside the flash of {} ({})",
                        chip.name,
                        describe(chip, ChipRegion::is_nvm)
                    ),
                ));
            }
        }
    }
    problems
}

/// The load address ranges of an ELF's loadable segments that carry bytes, with their section names.
pub fn load_segments(elf: &Path) -> Result<Vec<(Range<u64>, String)>, String> {
    let data = std::fs::read(elf).map_err(|e| format!("cannot read: {e}"))?;
    let file = ElfFile32::<Endianness>::parse(&*data)
        .map_err(|e| format!("not a 32-bit ELF image: {e}"))?;
    let endian = file.endian();
    let headers = file
        .elf_header()
        .program_headers(endian, &*data)
        .map_err(|e| format!("bad program headers: {e}"))?;
    let mut segments = Vec::new();
    for ph in headers {
        let size = u64::from(ph.p_filesz(endian));
        if ph.p_type(endian) != PT_LOAD || size == 0 {
            continue;
        }
        let offset = u64::from(ph.p_offset(endian));
        let start = u64::from(ph.p_paddr(endian));
        let names: Vec<&str> = file
            .sections()
            .filter(|s| {
                s.file_range()
                    .is_some_and(|(o, n)| n > 0 && o >= offset && o + n <= offset + size)
            })
            .filter_map(|s| s.name().ok())
            .collect();
        let names = if names.is_empty() {
            "no section".to_owned()
        } else {
            names.join(", ")
        };
        segments.push((start..start + size, names));
    }
    Ok(segments)
}

/// Where the firmware workspace's cargo puts its images (`$CARGO_TARGET_DIR`, else `target-tests/target`).
pub fn firmware_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::build::firmware_dir().join("target"))
}

/// Suite images already built for `board`: `release/NAME` whose dep-info names `boards/BOARD.toml`.
///
/// Boards that share a target triple share `release/`; the dep-info file
/// (`release/NAME.d`) tells which board the image was last built for.
pub fn built_images(board: &Board) -> Vec<PathBuf> {
    images_in(
        &firmware_target_dir().join(&board.target).join("release"),
        board,
    )
}

/// The images in `release` (a cargo profile directory) built for `board`, by their dep-info.
pub fn images_in(release: &Path, board: &Board) -> Vec<PathBuf> {
    let wanted = format!("/boards/{}.toml", board.name);
    let Ok(entries) = std::fs::read_dir(release) else {
        return Vec::new();
    };
    let mut images: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "d"))
        .filter_map(|dep_info| {
            let image = dep_info.with_extension("");
            let text = std::fs::read_to_string(&dep_info).ok()?;
            let built_for_board = text.split_whitespace().any(|dep| dep.ends_with(&wanted));
            (built_for_board && image.is_file() && image.extension().is_none()).then_some(image)
        })
        .collect();
    images.sort();
    images
}

/// The board-file field QEMU refused when it would not start, if its message says which:
/// `qemu.machine` (unsupported machine type), `qemu.cpu` (unknown CPU model) or `qemu.args`
/// (an option of the board's that QEMU does not have). Bad input, not an infrastructure fault.
pub fn qemu_rejected(board: &Board, qemu_message: &str) -> Option<BoardError> {
    let BoardKind::Qemu(q) = &board.kind else {
        return None;
    };
    let field = |field: &'static str, message: String| BoardError::Field {
        path: board.path.clone(),
        field,
        message,
    };
    if qemu_message.contains("unsupported machine type") {
        return Some(field(
            "qemu.machine",
            format!(
                "QEMU has no machine {:?} (`{} -machine help` lists them)",
                q.machine,
                crate::backend::qemu::QEMU
            ),
        ));
    }
    if let Some(cpu) = q
        .cpu
        .as_ref()
        .filter(|_| qemu_message.contains("unable to find CPU model"))
    {
        return Some(field(
            "qemu.cpu",
            format!(
                "QEMU has no CPU model {cpu:?} (`{} -machine {} -cpu help` lists them)",
                crate::backend::qemu::QEMU,
                q.machine
            ),
        ));
    }
    let refused = q
        .args
        .iter()
        .find(|a| a.starts_with('-') && qemu_message.contains(&format!("{a}: invalid option")))?;
    Some(field(
        "qemu.args",
        format!("QEMU has no option {refused:?}: {}", qemu_message.trim()),
    ))
}
