//! A minimal async client of the GDB remote serial protocol, for QEMU's gdbstub.
//!
//! Packets are `$payload#checksum`; QEMU acknowledges each packet it receives
//! with `+` and does not offer `QStartNoAckMode` (7.2), so the client skips
//! acks it reads and acks every packet it receives (system-mode QEMU does not
//! wait for them). Only what the backend needs is here: `?`, `g`, `G`, `m`, `M`, `Z0`,
//! `z0`, `c`, `s`, the interrupt byte and the stop replies.
//!
//! What QEMU 7.2 answers, for an M-profile CPU:
//!
//! - `p` gets an empty (unsupported) reply until the client has read
//!   `target.xml`; `g` always works. Without the XML, `g` has the legacy
//!   layout: r0..r15, eight 12-byte FPA registers, `fps`, then xPSR (regnum
//!   0x19); after it, r0..r15 and xPSR. Either way xPSR is the last word.
//! - The XML's `system-registers.xml` feature is empty: MSP and PSP cannot be
//!   read (r13 is the SP of the current mode, MSP in handler mode).
//! - Stop replies: `T05thread:01;` for a breakpoint, `W00`/`W01` when the guest
//!   exits through semihosting, then QEMU exits.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The most bytes one `m` request asks for (QEMU 7.2's packets hold 4096 hex digits).
pub const READ_PIECE: u32 = 1024;

/// How a `c` ended, as the stop reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `T`/`S`: the target stopped with this signal (5: a breakpoint; 2: an interrupt).
    Signal(u8),
    /// `W`: the target exited with this status.
    Exited(u8),
    /// `X`: the target was terminated by this signal.
    Terminated(u8),
}

/// The core registers `g` returns: r0..r15 and xPSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRegisters {
    /// r0..r12, sp, lr, pc.
    pub r: [u32; 16],
    /// xPSR.
    pub xpsr: u32,
}

/// A connection to a gdbstub.
pub struct Gdb {
    stream: UnixStream,
    buf: Vec<u8>,
}

fn protocol(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The gdbstub answered a request with an error (`Exx`): the connection is still good.
#[derive(Debug, thiserror::Error)]
#[error("gdbstub refused `{request}`: {reply}")]
pub struct Refused {
    /// The request.
    pub request: String,
    /// Its error reply.
    pub reply: String,
}

/// Whether `e` is a [`Refused`] request (e.g. a read of memory the machine does not map).
pub fn is_refusal(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Refused>())
}

impl Gdb {
    /// Connect to the gdbstub listening at `path`, retrying until `timeout` (QEMU creates it as it starts).
    pub async fn connect(path: &Path, timeout: Duration) -> io::Result<Self> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match UnixStream::connect(path).await {
                Ok(stream) => {
                    return Ok(Self {
                        stream,
                        buf: Vec::with_capacity(1024),
                    })
                }
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }

    async fn send(&mut self, payload: &str) -> io::Result<()> {
        let sum = payload.bytes().fold(0u8, |s, b| s.wrapping_add(b));
        let packet = format!("${payload}#{sum:02x}");
        self.stream.write_all(packet.as_bytes()).await
    }

    /// The next packet's payload (escapes undone); acks it.
    async fn packet(&mut self) -> io::Result<String> {
        loop {
            if let Some((payload, used)) = parse_packet(&self.buf)? {
                self.buf.drain(..used);
                self.stream.write_all(b"+").await?;
                return Ok(payload);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "gdbstub closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send `payload` and return the reply; an `Exx` reply is an error.
    pub async fn request(&mut self, payload: &str) -> io::Result<String> {
        self.send(payload).await?;
        let reply = self.packet().await?;
        if reply.len() == 3 && reply.starts_with('E') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Refused {
                    request: payload.to_owned(),
                    reply,
                },
            ));
        }
        Ok(reply)
    }

    /// Why the target is stopped now (`?`).
    pub async fn status(&mut self) -> io::Result<Stop> {
        self.send("?").await?;
        let reply = self.packet().await?;
        parse_stop(&reply)
    }

    /// r0..r15 and xPSR (`g`).
    pub async fn core_registers(&mut self) -> io::Result<CoreRegisters> {
        let reply = self.request("g").await?;
        let bytes = hex_bytes(&reply)?;
        if bytes.len() < 17 * 4 {
            return Err(protocol(format!("short `g` reply: {reply}")));
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let mut r = [0u32; 16];
        for (n, reg) in r.iter_mut().enumerate() {
            *reg = word(n * 4);
        }
        Ok(CoreRegisters {
            r,
            xpsr: word(bytes.len() - 4),
        })
    }

    /// `len` bytes of target memory at `address` (`m`).
    pub async fn read_memory(&mut self, address: u32, len: u32) -> io::Result<Vec<u8>> {
        let reply = self.request(&format!("m{address:x},{len:x}")).await?;
        let bytes = hex_bytes(&reply)?;
        if bytes.len() != len as usize {
            return Err(protocol(format!(
                "`m{address:x},{len:x}` returned {} bytes",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Write `bytes` to target memory at `address` (`M`; QEMU writes ROM too and drops the
    /// translated code of what it overwrites).
    pub async fn write_memory(&mut self, address: u32, bytes: &[u8]) -> io::Result<()> {
        let reply = self
            .request(&format!("M{address:x},{:x}:{}", bytes.len(), to_hex(bytes)))
            .await?;
        if reply != "OK" {
            return Err(protocol(format!(
                "gdbstub did not write {} bytes at {address:#x}: `{reply}`",
                bytes.len()
            )));
        }
        Ok(())
    }

    /// Set the program counter: `g`, then `G` with r15 replaced (QEMU 7.2 answers `P`
    /// only after the client has read `target.xml`).
    pub async fn set_pc(&mut self, pc: u32) -> io::Result<()> {
        let mut all = self.request("g").await?;
        let at = 15 * 8;
        if all.len() < at + 8 {
            return Err(protocol(format!("short `g` reply: {all}")));
        }
        all.replace_range(at..at + 8, &to_hex(&pc.to_le_bytes()));
        let reply = self.request(&format!("G{all}")).await?;
        if reply != "OK" {
            return Err(protocol(format!("gdbstub did not set pc: `{reply}`")));
        }
        Ok(())
    }

    /// The little-endian word at `address`.
    pub async fn read_word(&mut self, address: u32) -> io::Result<u32> {
        let bytes = self.read_memory(address, 4).await?;
        Ok(u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")))
    }

    /// `len` bytes at `address`, in requests of at most [`READ_PIECE`] bytes.
    pub async fn read_memory_in_pieces(&mut self, address: u32, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            let n = (len - bytes.len()).min(READ_PIECE as usize) as u32;
            let at = address.wrapping_add(bytes.len() as u32);
            bytes.extend(self.read_memory(at, n).await?);
        }
        Ok(bytes)
    }

    /// Insert a breakpoint at `address` (`Z0`, Thumb: kind 2).
    pub async fn insert_breakpoint(&mut self, address: u32) -> io::Result<()> {
        let reply = self.request(&format!("Z0,{address:x},2")).await?;
        if reply != "OK" {
            return Err(protocol(format!(
                "gdbstub did not set a breakpoint at {address:#x}: `{reply}`"
            )));
        }
        Ok(())
    }

    /// Remove the breakpoint at `address` (`z0`).
    pub async fn remove_breakpoint(&mut self, address: u32) -> io::Result<()> {
        self.request(&format!("z0,{address:x},2")).await.map(drop)
    }

    /// Execute one instruction (`s`); the stop reply follows ([`Gdb::wait_stop`]).
    pub async fn step(&mut self) -> io::Result<()> {
        self.send("s").await
    }

    /// Memory of any length, in reads of at most 1 KiB (QEMU's packet size bounds one reply).
    pub async fn read_memory_chunked(&mut self, address: u32, len: usize) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            let n = (len - bytes.len()).min(1024) as u32;
            let at = address.wrapping_add(bytes.len() as u32);
            bytes.extend(self.read_memory(at, n).await?);
        }
        Ok(bytes)
    }

    /// Resume the target (`c`); the stop reply comes later ([`Gdb::wait_stop`]).
    pub async fn resume(&mut self) -> io::Result<()> {
        self.send("c").await
    }

    /// Stop a running target (the interrupt byte); a stop reply follows.
    pub async fn interrupt(&mut self) -> io::Result<()> {
        self.stream.write_all(&[0x03]).await
    }

    /// Wait for the stop reply of a resumed target (console output packets are skipped).
    pub async fn wait_stop(&mut self) -> io::Result<Stop> {
        loop {
            let reply = self.packet().await?;
            if reply.starts_with('O') && reply != "OK" {
                continue;
            }
            return parse_stop(&reply);
        }
    }
}

/// One packet at the start of `buf` (acks and noise before `$` skipped): its payload and the bytes it used.
fn parse_packet(buf: &[u8]) -> io::Result<Option<(String, usize)>> {
    let Some(start) = buf.iter().position(|&b| b == b'$') else {
        return Ok(None);
    };
    let mut payload = Vec::new();
    let mut sum = 0u8;
    let mut i = start + 1;
    while i < buf.len() {
        match buf[i] {
            b'#' => {
                let Some(check) = buf.get(i + 1..i + 3) else {
                    return Ok(None);
                };
                let check = std::str::from_utf8(check)
                    .ok()
                    .and_then(|c| u8::from_str_radix(c, 16).ok());
                if check != Some(sum) {
                    return Err(protocol(format!(
                        "bad checksum in gdbstub packet {:?}",
                        String::from_utf8_lossy(&buf[start..i + 3])
                    )));
                }
                return Ok(Some((
                    String::from_utf8_lossy(&payload).into_owned(),
                    i + 3,
                )));
            }
            b'}' => {
                let Some(&escaped) = buf.get(i + 1) else {
                    return Ok(None);
                };
                sum = sum.wrapping_add(b'}').wrapping_add(escaped);
                payload.push(escaped ^ 0x20);
                i += 2;
            }
            b => {
                sum = sum.wrapping_add(b);
                payload.push(b);
                i += 1;
            }
        }
    }
    Ok(None)
}

fn parse_stop(reply: &str) -> io::Result<Stop> {
    let code = || {
        reply
            .get(1..3)
            .and_then(|c| u8::from_str_radix(c, 16).ok())
            .ok_or_else(|| protocol(format!("bad stop reply `{reply}`")))
    };
    match reply.as_bytes().first() {
        Some(b'T' | b'S') => Ok(Stop::Signal(code()?)),
        Some(b'W') => Ok(Stop::Exited(code()?)),
        Some(b'X') => Ok(Stop::Terminated(code()?)),
        _ => Err(protocol(format!("unexpected gdbstub reply `{reply}`"))),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_bytes(text: &str) -> io::Result<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return Err(protocol(format!("odd-length hex `{text}`")));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|_| protocol(format!("not hex: `{text}`")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_parsed_past_acks_with_escapes_and_checked() {
        let (p, used) = parse_packet(b"+$OK#9a+").unwrap().unwrap();
        assert_eq!((p.as_str(), used), ("OK", 7));
        // `}` escapes the next byte: `}]` is 0x5d ^ 0x20 = `}`.
        let (p, _) = parse_packet(b"$a}]#3b").unwrap().unwrap();
        assert_eq!(p, "a}");
        assert!(parse_packet(b"$OK#9").unwrap().is_none());
        assert!(parse_packet(b"$OK#00").is_err());
    }

    #[test]
    fn stop_replies() {
        assert_eq!(parse_stop("T05thread:01;").unwrap(), Stop::Signal(5));
        assert_eq!(parse_stop("S02").unwrap(), Stop::Signal(2));
        assert_eq!(parse_stop("W01").unwrap(), Stop::Exited(1));
        assert_eq!(parse_stop("W00;process:1").unwrap(), Stop::Exited(0));
        assert_eq!(parse_stop("X06").unwrap(), Stop::Terminated(6));
        assert!(parse_stop("OK").is_err());
    }
}
