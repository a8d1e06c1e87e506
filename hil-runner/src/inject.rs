//! A fault-injecting link for tests: a byte source that flips, drops, inserts, stalls and closes at chosen offsets.
//!
//! [`FaultySource`] sits between the backend's byte source (QEMU's UART, a
//! board's serial port) and the runner's reader: everything the runner sees
//! went through it. A [`FaultPlan`] (`hil-runner run --inject PLAN`, hidden;
//! [`RunOptions::inject`](crate::runner::RunOptions::inject)) names the faults
//! by their offset in the upstream stream, the bytes as the target sent them:
//!
//! ```text
//! flip@1200:0x04     XOR byte 1200 with 0x04
//! drop@5000+3        drop bytes 5000, 5001, 5002
//! noise@8000+16      insert 16 bytes of noise (noise_bytes(8000, 16)) before byte 8000
//! stall@9000:2s      stop reading for 2 s before byte 9000 (the target's writes back up)
//! close@20000        close the link before byte 20000 (the upstream source is dropped)
//! ```
//!
//! Faults are comma-separated, in increasing offset order, and may not
//! overlap. A read never crosses the next fault's offset, so the faults land
//! exactly where they are planned, whatever the chunking. The upstream bytes
//! (every byte read from the target, before any fault) are written to a
//! second capture, the *clean* capture, so a test can predict what the faults
//! did from the same run.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::source::{ByteSource, ReadOutcome, READ_TIMEOUT};

/// What one fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// XOR the byte at the offset with this mask.
    Flip(u8),
    /// Drop this many bytes from the offset on.
    Drop(u64),
    /// Insert this many bytes of [`noise_bytes`] before the byte at the offset.
    Noise(u64),
    /// Stop reading for this long before the byte at the offset.
    Stall(Duration),
    /// Close the link before the byte at the offset.
    Close,
}

/// One fault at an offset of the upstream stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Offset in the upstream (clean) stream.
    pub at: u64,
    /// What happens there.
    pub kind: FaultKind,
}

impl Fault {
    /// The upstream bytes this fault consumes (only a drop consumes any without delivering them).
    fn upstream_len(&self) -> u64 {
        match self.kind {
            FaultKind::Flip(_) => 1,
            FaultKind::Drop(n) => n,
            _ => 0,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FaultKind::Flip(mask) => write!(f, "flip@{}:{mask:#04x}", self.at),
            FaultKind::Drop(n) => write!(f, "drop@{}+{n}", self.at),
            FaultKind::Noise(n) => write!(f, "noise@{}+{n}", self.at),
            FaultKind::Stall(d) => write!(f, "stall@{}:{}ms", self.at, d.as_millis()),
            FaultKind::Close => write!(f, "close@{}", self.at),
        }
    }
}

/// A fault plan that cannot be used: the message names the fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault plan: `{fault}`: {reason}")]
pub struct PlanError {
    /// The fault as written.
    pub fault: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Faults in increasing offset order, none overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

impl FaultPlan {
    /// A plan of `faults`, checked: in increasing offset order, none overlapping, none empty.
    pub fn new(faults: Vec<Fault>) -> Result<Self, PlanError> {
        let mut end = 0u64;
        for (i, fault) in faults.iter().enumerate() {
            let bad = |reason: &str| PlanError {
                fault: fault.to_string(),
                reason: reason.to_owned(),
            };
            match fault.kind {
                FaultKind::Flip(0) => return Err(bad("a zero mask flips nothing")),
                FaultKind::Drop(0) | FaultKind::Noise(0) => {
                    return Err(bad("the length must be at least 1"))
                }
                _ => {}
            }
            if i > 0 && fault.at < end {
                return Err(bad(&format!(
                    "starts before the previous fault ends (byte {end}): faults go in increasing offset order and may not overlap"
                )));
            }
            if i + 1 < faults.len() && fault.kind == FaultKind::Close {
                return Err(bad("nothing can follow a close"));
            }
            end = fault.at + fault.upstream_len();
        }
        Ok(Self { faults })
    }

    /// The faults, in offset order.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }
}

impl FromStr for FaultPlan {
    type Err = PlanError;

    /// `kind@offset[...]`, comma-separated: see the [module docs](self).
    fn from_str(s: &str) -> Result<Self, PlanError> {
        let faults = s
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(parse_fault)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(faults)
    }
}

fn parse_fault(text: &str) -> Result<Fault, PlanError> {
    let bad = |reason: &str| PlanError {
        fault: text.to_owned(),
        reason: reason.to_owned(),
    };
    let (kind, rest) = text
        .split_once('@')
        .ok_or_else(|| bad("expected KIND@OFFSET (flip, drop, noise, stall, close)"))?;
    let split = |sep: char| {
        rest.split_once(sep)
            .ok_or_else(|| bad(&format!("expected {kind}@OFFSET{sep}...")))
    };
    let offset = |s: &str| {
        s.parse::<u64>()
            .map_err(|e| bad(&format!("offset `{s}`: {e}")))
    };
    let (at, kind) = match kind {
        "flip" => {
            let (at, mask) = split(':')?;
            let mask = match mask.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16),
                None => mask.parse::<u8>(),
            }
            .map_err(|e| bad(&format!("mask `{mask}`: {e}")))?;
            (offset(at)?, FaultKind::Flip(mask))
        }
        "drop" | "noise" => {
            let (at, len) = split('+')?;
            let len = len
                .parse::<u64>()
                .map_err(|e| bad(&format!("length `{len}`: {e}")))?;
            let kind = if kind == "drop" {
                FaultKind::Drop(len)
            } else {
                FaultKind::Noise(len)
            };
            (offset(at)?, kind)
        }
        "stall" => {
            let (at, duration) = split(':')?;
            (
                offset(at)?,
                FaultKind::Stall(parse_duration(duration).ok_or_else(|| {
                    bad(&format!("duration `{duration}`: expected e.g. 2s or 500ms"))
                })?),
            )
        }
        "close" => (offset(rest)?, FaultKind::Close),
        _ => return Err(bad("unknown fault kind (flip, drop, noise, stall, close)")),
    };
    Ok(Fault { at, kind })
}

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The noise a `noise@at+len` fault inserts: xorshift32 seeded with `at`, the low byte of each step.
pub fn noise_bytes(at: u64, len: u64) -> Vec<u8> {
    let mut state = (at as u32) ^ 0x9e37_79b9;
    if state == 0 {
        state = 1;
    }
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Where the clean capture of a run with `capture` goes: `CAPTURE.clean`.
pub fn clean_capture_path(capture: &Path) -> PathBuf {
    let mut name = capture.as_os_str().to_owned();
    name.push(".clean");
    PathBuf::from(name)
}

/// `source` with `plan`'s faults applied, if there is a plan; its clean capture goes next to `capture`.
pub fn wrap(
    source: Box<dyn ByteSource>,
    plan: Option<&FaultPlan>,
    capture: &Path,
) -> Box<dyn ByteSource> {
    match plan {
        Some(plan) => Box::new(FaultySource::new(
            source,
            plan,
            &clean_capture_path(capture),
        )),
        None => source,
    }
}

/// A byte source that applies a [`FaultPlan`] to the bytes of another.
pub struct FaultySource {
    upstream: Option<Box<dyn ByteSource>>,
    faults: Vec<Fault>,
    /// Index of the next fault not yet begun.
    next: usize,
    /// Upstream bytes read so far.
    offset: u64,
    /// Upstream bytes still to drop.
    dropping: u64,
    /// Bytes ready to hand out (noise).
    pending: Vec<u8>,
    stall_until: Option<Instant>,
    /// The clean capture, or why it could not be created (the first read reports it).
    clean: Result<BufWriter<File>, String>,
    name: String,
}

impl FaultySource {
    /// Apply `plan` to `upstream`; its bytes, before any fault, are written to `clean`.
    ///
    /// A clean capture that cannot be created fails the first read, naming the file.
    pub fn new(upstream: Box<dyn ByteSource>, plan: &FaultPlan, clean: &Path) -> Self {
        let name = format!("{} (faults injected)", upstream.describe());
        let clean = File::create(clean)
            .map(BufWriter::new)
            .map_err(|e| format!("cannot create clean capture {}: {e}", clean.display()));
        Self {
            upstream: Some(upstream),
            faults: plan.faults.clone(),
            next: 0,
            offset: 0,
            dropping: 0,
            pending: Vec::new(),
            stall_until: None,
            clean,
            name,
        }
    }

    /// Begin every fault due at the current offset. Returns false once the link is closed.
    fn begin_due(&mut self) -> bool {
        while let Some(fault) = self.faults.get(self.next).copied() {
            if fault.at != self.offset || self.dropping > 0 {
                break;
            }
            match fault.kind {
                // Applied to the byte when it is read.
                FaultKind::Flip(_) => break,
                FaultKind::Drop(n) => self.dropping = n,
                FaultKind::Noise(n) => self.pending.extend(noise_bytes(fault.at, n)),
                FaultKind::Stall(d) => self.stall_until = Some(Instant::now() + d),
                FaultKind::Close => {
                    self.upstream = None;
                    if let Ok(clean) = &mut self.clean {
                        let _ = clean.flush();
                    }
                }
            }
            self.next += 1;
        }
        self.upstream.is_some()
    }

    /// Upstream bytes that may be read before the next fault is due.
    fn read_limit(&self, buf_len: usize) -> usize {
        let until_next = match self.faults.get(self.next) {
            Some(f) if self.dropping == 0 && f.at == self.offset => 1,
            Some(f) => f.at - self.offset,
            None => u64::MAX,
        };
        let limit = if self.dropping > 0 {
            self.dropping
        } else {
            until_next
        };
        usize::try_from(limit).map_or(buf_len, |l| l.min(buf_len))
    }
}

impl ByteSource for FaultySource {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<ReadOutcome> {
        if let Some(until) = self.stall_until {
            let now = Instant::now();
            if now < until {
                std::thread::sleep((until - now).min(READ_TIMEOUT));
                return Ok(ReadOutcome::Idle);
            }
            self.stall_until = None;
        }
        let open = self.begin_due();
        if !self.pending.is_empty() {
            let n = self.pending.len().min(buf.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            return Ok(ReadOutcome::Data(n));
        }
        if self.stall_until.is_some() {
            return Ok(ReadOutcome::Idle);
        }
        let limit = self.read_limit(buf.len());
        let Some(upstream) = self.upstream.as_mut().filter(|_| open) else {
            return Ok(ReadOutcome::Closed);
        };
        let n = match upstream.read_some(&mut buf[..limit])? {
            ReadOutcome::Data(n) => n,
            other => return Ok(other),
        };
        match &mut self.clean {
            Ok(clean) => clean.write_all(&buf[..n])?,
            Err(e) => return Err(io::Error::other(e.clone())),
        }
        let start = self.offset;
        self.offset += n as u64;
        if self.dropping > 0 {
            self.dropping -= n as u64;
            return Ok(ReadOutcome::Idle);
        }
        if let Some(Fault {
            at,
            kind: FaultKind::Flip(mask),
        }) = self.faults.get(self.next).copied()
        {
            if at == start {
                buf[0] ^= mask;
                self.next += 1;
            }
        }
        Ok(ReadOutcome::Data(n))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

impl Drop for FaultySource {
    fn drop(&mut self) {
        if let Ok(clean) = &mut self.clean {
            let _ = clean.flush();
        }
    }
}

#[cfg(test)]
mod tests;
