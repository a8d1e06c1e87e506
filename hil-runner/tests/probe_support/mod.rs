//! Shared by the probe_* tests: board fixtures, tiny ELF images, fake byte sources, fake probe listers.
#![allow(dead_code)]

pub mod doubles;

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hil_runner::board::Board;
use hil_runner::source::{ByteSource, ReadOutcome};
use probe_rs::integration::FakeProbe;
use probe_rs::probe::list::{ProbeListItem, ProbeLister};
use probe_rs::probe::{
    DebugProbe, DebugProbeError, DebugProbeInfo, DebugProbeSelector, Probe, ProbeCreationError,
    ProbeFactory,
};

/// A probe board file like the repository's nucleo-f401re.toml.
pub const NUCLEO: &str = r#"
name = "nucleo-f401re"
description = "test copy"
kind = "probe"
target = "thumbv7em-none-eabihf"
feature = "nucleo-f401re"
memory = "nucleo-f401re.memory.x"

[probe]
chip = "STM32F401RETx"
connect_under_reset = false

[serial]
port = "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*"
baud = 115200
"#;

/// Its memory layout.
pub const NUCLEO_MEMORY: &str = "MEMORY\n{\n  FLASH : ORIGIN = 0x08000000, LENGTH = 512K\n  RAM : ORIGIN = 0x20000000, LENGTH = 96K\n}\n";

/// Write `toml` as `dir/NAME.toml` and `memory` as `dir/NAME.memory.x`; returns the toml path.
pub fn board_file(dir: &Path, name: &str, toml: &str, memory: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    std::fs::write(dir.join(format!("{name}.memory.x")), memory).unwrap();
    path
}

/// The nucleo fixture, loaded.
pub fn nucleo(dir: &Path) -> Board {
    Board::load(&board_file(dir, "nucleo-f401re", NUCLEO, NUCLEO_MEMORY)).unwrap()
}

/// The nucleo fixture with `serial.port` replaced by `port`.
pub fn nucleo_with_port(dir: &Path, port: &Path) -> Board {
    let toml = NUCLEO.replace(
        "/dev/serial/by-id/usb-STMicroelectronics_STM32_STLink_*",
        port.to_str().unwrap(),
    );
    Board::load(&board_file(dir, "nucleo-f401re", &toml, NUCLEO_MEMORY)).unwrap()
}

/// A minimal 32-bit little-endian ARM ELF: one PT_LOAD segment (with one section) per
/// `(virtual address, load address, bytes)`.
pub fn tiny_elf(segments: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let n = segments.len() as u32;
    let ph_off = 52u32;
    let mut data_off = ph_off + 32 * n;
    let mut out = Vec::new();
    let mut shstrtab = b"\0.shstrtab\0".to_vec();
    let mut name_offsets = Vec::new();
    for i in 0..segments.len() {
        name_offsets.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(format!(".sec{i}\0").as_bytes());
    }
    let data_len: u32 = segments.iter().map(|s| s.2.len() as u32).sum();
    let shstr_off = data_off + data_len;
    let sh_off = (shstr_off + shstrtab.len() as u32 + 3) & !3;
    let w16 = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
    let w32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]);
    out.extend_from_slice(&[0; 8]);
    w16(&mut out, 2); // ET_EXEC
    w16(&mut out, 40); // EM_ARM
    w32(&mut out, 1);
    w32(&mut out, segments.first().map_or(0, |s| s.0) | 1); // entry
    w32(&mut out, ph_off);
    w32(&mut out, sh_off);
    w32(&mut out, 0x0500_0200); // EABI5, soft float
    w16(&mut out, 52);
    w16(&mut out, 32);
    w16(&mut out, n as u16);
    w16(&mut out, 40);
    w16(&mut out, n as u16 + 2);
    w16(&mut out, 1); // .shstrtab
    let mut offsets = Vec::new();
    for (vaddr, paddr, bytes) in segments {
        offsets.push(data_off);
        for v in [
            1,
            data_off,
            *vaddr,
            *paddr,
            bytes.len() as u32,
            bytes.len() as u32,
            5,
            4,
        ] {
            w32(&mut out, v);
        }
        data_off += bytes.len() as u32;
    }
    for (_, _, bytes) in segments {
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&shstrtab);
    out.resize(sh_off as usize, 0);
    out.extend_from_slice(&[0; 40]); // null section
    let section = |out: &mut Vec<u8>, fields: [u32; 10]| fields.iter().for_each(|v| w32(out, *v));
    section(
        &mut out,
        [1, 3, 0, 0, shstr_off, shstrtab.len() as u32, 0, 0, 1, 0],
    );
    for (i, (vaddr, _, bytes)) in segments.iter().enumerate() {
        let fields = [
            name_offsets[i],
            1,
            6,
            *vaddr,
            offsets[i],
            bytes.len() as u32,
            0,
            0,
            4,
            0,
        ];
        section(&mut out, fields);
    }
    out
}

/// Write a tiny ELF to `dir/name`.
pub fn write_elf(dir: &Path, name: &str, segments: &[(u32, u32, &[u8])]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, tiny_elf(segments)).unwrap();
    path
}

/// A byte source that hands out scripted reads.
#[derive(Clone, Default)]
pub struct ScriptedSource(
    pub Arc<Mutex<VecDeque<io::Result<ReadOutcome>>>>,
    pub Arc<Mutex<VecDeque<Vec<u8>>>>,
);

impl ScriptedSource {
    /// A source that yields `chunks` in order, then `Closed`.
    pub fn chunks(chunks: &[&[u8]]) -> Self {
        let s = Self::default();
        for c in chunks {
            s.1.lock().unwrap().push_back(c.to_vec());
        }
        s
    }
}

impl ByteSource for ScriptedSource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if let Some(r) = self.0.lock().unwrap().pop_front() {
            return r;
        }
        let mut chunks = self.1.lock().unwrap();
        match chunks.pop_front() {
            Some(mut chunk) => {
                if chunk.len() > buf.len() {
                    chunks.push_front(chunk.split_off(buf.len()));
                }
                buf[..chunk.len()].copy_from_slice(&chunk);
                Ok(ReadOutcome::Data(chunk.len()))
            }
            None => Ok(ReadOutcome::Closed),
        }
    }

    fn describe(&self) -> String {
        "scripted".into()
    }
}

/// Read everything a source yields until it closes (Idle is skipped).
pub fn drain(source: &mut dyn ByteSource) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match source.read_some(&mut buf).unwrap() {
            ReadOutcome::Data(n) => out.extend_from_slice(&buf[..n]),
            ReadOutcome::Idle => {}
            ReadOutcome::Closed => return out,
        }
    }
}

/// The probe-rs factory behind [`FakeLister`]'s probes.
#[derive(Debug)]
pub struct FakeFactory;

impl std::fmt::Display for FakeFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake")
    }
}

impl ProbeFactory for FakeFactory {
    fn open(&self, _: &DebugProbeSelector) -> Result<Box<dyn DebugProbe>, DebugProbeError> {
        Ok(Box::new(FakeProbe::with_mocked_core()))
    }

    fn list_probes(&self) -> Vec<ProbeListItem> {
        Vec::new()
    }
}

static FACTORY: FakeFactory = FakeFactory;

/// A probe-rs `ProbeLister` whose probes are `FakeProbe`s with a mocked Cortex-M core.
#[derive(Debug, Clone)]
pub struct FakeLister {
    /// `(vid, pid, serial)` of the probes it lists.
    pub probes: Vec<(u16, u16, Option<String>)>,
    /// Makes the probe that `open` returns.
    pub make: fn() -> FakeProbe,
}

impl FakeLister {
    /// One ST-LINK-like probe.
    pub fn one() -> Self {
        Self {
            probes: vec![(0x0483, 0x374b, Some("066DFF".into()))],
            make: FakeProbe::with_mocked_core,
        }
    }
}

impl ProbeLister for FakeLister {
    fn open(&self, selector: &DebugProbeSelector) -> Result<Probe, DebugProbeError> {
        let found = self.probes.iter().any(|(vid, pid, serial)| {
            *vid == selector.vendor_id
                && *pid == selector.product_id
                && (selector.serial_number.is_none() || selector.serial_number == *serial)
        });
        if found {
            Ok((self.make)().into_probe())
        } else {
            Err(DebugProbeError::ProbeCouldNotBeCreated(
                ProbeCreationError::NotFound,
            ))
        }
    }

    fn list_with_access(&self, _: Option<&DebugProbeSelector>) -> Vec<ProbeListItem> {
        self.probes
            .iter()
            .map(|(vid, pid, serial)| {
                ProbeListItem::accessible(DebugProbeInfo::new(
                    "Fake ST-LINK",
                    *vid,
                    *pid,
                    serial.clone(),
                    &FACTORY,
                    None,
                    false,
                ))
            })
            .collect()
    }
}
