//! RTT up-channel 0 as the serial link (feature `rtt`): for boards whose log is read over RTT.
//!
//! The control block is laid out as defmt-rtt lays it out: the symbol
//! `_SEGGER_RTT`, the id `"SEGGER RTT"`, one up channel named `defmt` with a
//! [`SIZE`]-byte ring buffer, no down channel. The transport's frames go
//! into it unchanged (rzcobs, each ended by a zero byte), so the host reads
//! the same bytes it would read from a UART, from the same logger, with the
//! same loss accounting.
//!
//! [`write`] waits while the ring buffer is full, whatever mode the host set:
//! the host (hil-runner, `probe-rs run`) reads it through the debug probe, so
//! no byte is lost to a full buffer; without a host the firmware stops at the
//! first full buffer, as a UART with flow control would.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

/// Bytes of the ring buffer (defmt-rtt's default).
pub const SIZE: usize = 1024;
/// The mode the channel starts in, as defmt-rtt's (the host sets "block if full" when it attaches).
const MODE_NON_BLOCKING_TRIM: u32 = 1;

/// An up channel's descriptor, as the host reads it.
#[repr(C)]
struct Channel {
    name: *const u8,
    buffer: *mut u8,
    size: u32,
    /// Written by the target.
    write: AtomicU32,
    /// Written by the host.
    read: AtomicU32,
    /// The mode, written by the host.
    flags: AtomicU32,
}

/// The control block.
#[repr(C)]
struct Header {
    id: [u8; 16],
    max_up_channels: u32,
    max_down_channels: u32,
    up: Channel,
}

// SAFETY: the pointers are to statics that live for the whole program; the
// offsets are atomics, and the buffer is written only by `write`, inside a
// critical section, in the part the host does not read until the write
// offset moves past it.
unsafe impl Sync for Header {}

/// The ring buffer.
struct Buffer(UnsafeCell<[u8; SIZE]>);

// SAFETY: as for `Header`: only `write` writes it, in a critical section.
unsafe impl Sync for Buffer {}

static BUFFER: Buffer = Buffer(UnsafeCell::new([0; SIZE]));
static NAME: [u8; 6] = *b"defmt\0";

/// The control block the host looks for, by symbol or by its id.
#[no_mangle]
static _SEGGER_RTT: Header = Header {
    id: *b"SEGGER RTT\0\0\0\0\0\0",
    max_up_channels: 1,
    max_down_channels: 0,
    up: Channel {
        name: NAME.as_ptr(),
        buffer: BUFFER.0.get().cast::<u8>(),
        size: SIZE as u32,
        write: AtomicU32::new(0),
        read: AtomicU32::new(0),
        flags: AtomicU32::new(MODE_NON_BLOCKING_TRIM),
    },
};

/// Bytes free in the ring buffer (one slot stays empty: equal offsets mean empty).
fn free(read: usize, write: usize) -> usize {
    if read > write {
        read - write - 1
    } else {
        SIZE - write + read - 1
    }
}

/// Writes `bytes` into up-channel 0, waiting for the host to read while it is full.
pub fn write(bytes: &[u8]) {
    critical_section::with(|_| {
        let channel = &_SEGGER_RTT.up;
        let mut rest = bytes;
        while !rest.is_empty() {
            let read = channel.read.load(Ordering::Acquire) as usize;
            let write = channel.write.load(Ordering::Relaxed) as usize;
            // The host reads the buffer through the debug port, interrupts masked or not.
            let n = rest.len().min(free(read, write)).min(SIZE - write);
            if n == 0 {
                continue;
            }
            // SAFETY: `write + n <= SIZE`, so the copy stays inside the buffer, and
            // those bytes are free: the host reads none of them until the store below.
            unsafe {
                ptr::copy_nonoverlapping(rest.as_ptr(), BUFFER.0.get().cast::<u8>().add(write), n);
            }
            channel
                .write
                .store(((write + n) % SIZE) as u32, Ordering::Release);
            rest = &rest[n..];
        }
    });
}
