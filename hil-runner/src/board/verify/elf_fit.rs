//! Whether a firmware ELF was built for a board: its ARM architecture (build attributes) and where it loads.
//!
//! Checked before a run starts, so an ELF for another core or another board's
//! memory map is bad input (exit status 2) that names the ELF, the board file
//! and what does not fit, instead of a target that never speaks until
//! `--timeout`.

use std::path::Path;

use object::{Object, ObjectSection};

use super::super::memory_x::MemoryLayout;
use super::super::{Board, BoardError};
use super::{hex_range, load_segments, within};

/// `Tag_CPU_arch` of the ARM build attributes.
const TAG_CPU_ARCH: u64 = 6;
/// `EM_ARM`.
const EM_ARM: u16 = 40;

/// The architecture an ELF's `Tag_CPU_arch` names, for messages.
fn arch_name(arch: u64) -> String {
    match arch {
        10 => "ARMv7-M".into(),
        11 => "ARMv6-M".into(),
        12 => "ARMv6S-M".into(),
        13 => "ARMv7E-M".into(),
        16 => "ARMv8-M baseline".into(),
        17 => "ARMv8-M mainline".into(),
        21 => "ARMv8.1-M mainline".into(),
        other => format!("ARM architecture {other} (not a Cortex-M)"),
    }
}

/// The `Tag_CPU_arch` values whose code the board's target (and core) runs.
fn arches_of(board: &Board) -> &'static [u64] {
    match board.target.as_str() {
        "thumbv6m-none-eabi" => &[11, 12],
        "thumbv7m-none-eabi" => &[10, 11, 12],
        "thumbv7em-none-eabi" | "thumbv7em-none-eabihf" => &[10, 11, 12, 13],
        _ if board.core == "cortex-m55" => &[10, 11, 12, 16, 17, 21],
        "thumbv8m.main-none-eabi" | "thumbv8m.main-none-eabihf" => &[10, 11, 12, 16, 17],
        _ => &[],
    }
}

/// A ULEB128 at `*at` in `data`.
fn uleb(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// `Tag_CPU_arch` from the `aeabi` file attributes of an `.ARM.attributes` section.
fn cpu_arch(section: &[u8]) -> Option<u64> {
    let (&version, mut rest) = section.split_first()?;
    if version != b'A' {
        return None;
    }
    while rest.len() >= 4 {
        let len = u32::from_le_bytes(rest[..4].try_into().ok()?) as usize;
        let (sub, next) = rest.split_at(len.clamp(4, rest.len()));
        rest = next;
        let body = &sub[4..];
        let vendor_end = body.iter().position(|&b| b == 0)?;
        if &body[..vendor_end] != b"aeabi" {
            continue;
        }
        let mut at = vendor_end + 1;
        // Sub-subsections: tag (1 = the whole file), length, attributes.
        while at + 5 <= body.len() {
            let tag = body[at];
            let len = u32::from_le_bytes(body[at + 1..at + 5].try_into().ok()?) as usize;
            let end = (at + len.max(5)).min(body.len());
            if tag == 1 {
                let mut a = at + 5;
                while a < end {
                    let attr = uleb(body, &mut a)?;
                    // Tags 4, 5, 67 and odd tags above 32 are strings; 32 is a number and a string.
                    let string = matches!(attr, 4 | 5 | 67) || (attr > 32 && attr % 2 == 1);
                    if attr == 32 {
                        uleb(body, &mut a)?;
                    }
                    if string || attr == 32 {
                        a += body[a..].iter().position(|&b| b == 0)? + 1;
                        continue;
                    }
                    let value = uleb(body, &mut a)?;
                    if attr == TAG_CPU_ARCH {
                        return Some(value);
                    }
                }
            }
            at = end;
        }
    }
    None
}

/// Why `elf` cannot run on `board`, if it cannot: not an ARM ELF, code for a core the
/// board does not have, or bytes loaded outside the board's memory layout.
pub fn check(board: &Board, elf: &Path) -> Result<(), BoardError> {
    let field = |field: &'static str, message: String| BoardError::Field {
        path: board.path.clone(),
        field,
        message: format!("firmware {}: {message}", elf.display()),
    };
    let data = std::fs::read(elf).map_err(|e| field("target", format!("cannot read: {e}")))?;
    let file = object::File::parse(&*data)
        .map_err(|e| field("target", format!("not an ELF image: {e}")))?;
    let machine = match &file {
        object::File::Elf32(f) => f.elf_header().e_machine.get(f.endian()),
        _ => 0,
    };
    if machine != EM_ARM || !file.is_little_endian() {
        return Err(field(
            "target",
            format!(
                "is not a 32-bit little-endian ARM ELF (machine {machine}); board {} runs {}",
                board.name, board.target
            ),
        ));
    }
    let arch = file
        .section_by_name(".ARM.attributes")
        .and_then(|s| s.data().ok())
        .and_then(cpu_arch);
    if let Some(arch) = arch {
        if !arches_of(board).contains(&arch) {
            return Err(field(
                "target",
                format!(
                    "is built for {} but board {} is a {} ({}): built for another core?",
                    arch_name(arch),
                    board.name,
                    board.core,
                    board.target
                ),
            ));
        }
    }
    let Ok(layout) = board
        .memory
        .text()
        .map_err(|e| e.to_string())
        .and_then(|t| MemoryLayout::parse(&t).map_err(|e| e.to_string()))
    else {
        // `boards --check` reports a layout that does not parse.
        return Ok(());
    };
    for (range, sections) in load_segments(elf).map_err(|m| field("memory", m))? {
        if !layout.regions.iter().any(|r| within(&range, &r.range())) {
            return Err(field(
                "memory",
                format!(
                    "loads {} bytes at {} ({sections}) outside board {}'s memory ({}): built for another board?",
                    range.end - range.start,
                    hex_range(&range),
                    board.name,
                    layout
                        .regions
                        .iter()
                        .map(|r| format!("{} {}", r.name, hex_range(&r.range())))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_arch_is_read_from_the_aeabi_file_attributes() {
        // 'A', section of 0x1d bytes, "aeabi", file tag, 0x13 bytes:
        // Tag_CPU_name "cortex-m3", Tag_CPU_arch 10, Tag_CPU_arch_profile 'M'.
        let mut s = vec![b'A'];
        let attrs: Vec<u8> = [&[5u8][..], b"cortex-m3\0", &[6, 10, 7, b'M']].concat();
        let file_len = 5 + attrs.len() as u32;
        let sec_len = 4 + 6 + file_len;
        s.extend_from_slice(&sec_len.to_le_bytes());
        s.extend_from_slice(b"aeabi\0");
        s.push(1);
        s.extend_from_slice(&file_len.to_le_bytes());
        s.extend_from_slice(&attrs);
        assert_eq!(cpu_arch(&s), Some(10));
        assert_eq!(cpu_arch(b"B"), None);
        assert_eq!(
            cpu_arch(&s[..12]),
            None,
            "a truncated section is no answer, not a panic"
        );
    }
}
