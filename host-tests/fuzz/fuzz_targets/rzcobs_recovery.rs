//! Fuzz target: corrupted rzcobs streams of the ordering ELF's own frames must recover (host-tests::recovery).
//!
//! The ELF comes from `$HIL_FUZZ_ELF`, else the ordering suite built for the
//! default board (`cargo run --release -p hil-runner -- test --only ordering`).
#![no_main]

use std::sync::OnceLock;

use hil_runner::firmware::Firmware;
use host_tests::recovery::{check, Case, Corruption, FrameSpec};
use libfuzzer_sys::fuzz_target;

fn firmware() -> &'static Firmware {
    static FIRMWARE: OnceLock<Firmware> = OnceLock::new();
    FIRMWARE.get_or_init(|| {
        let path = std::env::var_os("HIL_FUZZ_ELF")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                hil_runner::build::firmware_dir().join("target/hil-suites/lm3s6965evb/ordering")
            });
        Firmware::load(&path)
            .unwrap_or_else(|e| panic!("{e} (set HIL_FUZZ_ELF or build the ordering suite)"))
    })
}

/// Reads a case from the fuzzer's bytes: a header, then frames and corruptions.
fn case(data: &[u8]) -> Option<Case> {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let u32_ = |next: &mut dyn FnMut() -> Option<u8>| -> Option<u32> {
        Some(u32::from_le_bytes([next()?, next()?, next()?, next()?]))
    };
    let frames_n = usize::from(next()? % 40) + 1;
    let corruptions_n = usize::from(next()? % 8);
    let chunk = usize::from(next()?) + 1;
    let mut frames = Vec::new();
    for _ in 0..frames_n {
        frames.push(FrameSpec {
            kind: next()?,
            a: u32_(&mut next)?,
            b: u32_(&mut next)?,
        });
    }
    let mut corruptions = Vec::new();
    for _ in 0..corruptions_n {
        let at = u32_(&mut next)? as usize;
        corruptions.push(match next()? % 5 {
            0 => Corruption::Truncate {
                at,
                len: next()? % 40 + 1,
            },
            1 => Corruption::LoseDelimiter { at },
            2 => {
                let mut garbage = [0u8; 8];
                for b in &mut garbage {
                    *b = next()?;
                }
                Corruption::Insert {
                    at,
                    bytes: garbage,
                    len: next()?,
                }
            }
            3 => Corruption::FlipBit { at, bit: next()? },
            _ => Corruption::SwapChunks {
                a: at,
                b: u32_(&mut next)? as usize,
                len: next()? % 64 + 1,
            },
        });
    }
    Some(Case {
        frames,
        corruptions,
        chunk,
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some(case) = case(data) {
        if let Err(broken) = check(firmware(), &case) {
            panic!("{broken}\n{case:?}");
        }
    }
});
