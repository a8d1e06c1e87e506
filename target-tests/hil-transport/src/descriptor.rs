//! Where the log queue lives, for a debugger: [`HIL_TRANSPORT_QUEUE`], and the queue parts it points to.
//!
//! When the core stops (a fault, a breakpoint, a timeout) the frames still in
//! the queue have not left over the serial link. `hil-runner` reads them out
//! of target RAM instead: the descriptor static [`HIL_TRANSPORT_QUEUE`] (found
//! by its symbol in the ELF) gives the address of the queue's storage, its
//! capacity and the addresses of its indices.
//!
//! bbqueue keeps its indices in private fields whose layout Rust does not fix,
//! so the queue is a [`bbqueue::BBQueue`] over two parts of this module whose
//! layout is fixed: [`QueueStorage`] (the bytes, one static array) and
//! [`QueueCoord`] (bbqueue's critical-section coordination, the same algorithm
//! as `bbqueue::traits::coordination::cs::CsCoord`, its state in one
//! `#[repr(C)]` static). The layout (version 1, little-endian 32-bit words):
//!
//! | offset | field |
//! | ---: | --- |
//! | 0 | magic `HILQUEUE` (8 bytes) |
//! | 8 | layout version (1) |
//! | 12 | capacity in bytes |
//! | 16 | address of the storage |
//! | 20 | address of `write` (next byte written) |
//! | 24 | address of `read` (next byte read) |
//! | 28 | address of `last` (end of the readable bytes while the queue is wrapped) |
//! | 32 | address of `reserve` (end of a write grant in progress) |
//! | 36 | address of `read_in_progress` (a byte: a read grant is out) |
//! | 40 | address of `write_in_progress` (a byte) |
//! | 44 | address of the bytes-committed counter (`u32`, wrapping) |
//! | 48 | address of the bytes-released counter (`u32`, wrapping) |

use core::cell::UnsafeCell;
use core::cmp::min;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use bbqueue::traits::coordination::{Coord, ReadGrantError, WriteGrantError};
use bbqueue::traits::storage::Storage;
use const_init::ConstInit;

use crate::QUEUE_SIZE;

/// Layout version of [`QueueDescriptor`].
pub const DESCRIPTOR_VERSION: u32 = 1;

/// Where a debugger finds the log queue (see the module docs for the layout).
#[repr(C)]
pub struct QueueDescriptor {
    /// `HILQUEUE`.
    pub magic: [u8; 8],
    /// [`DESCRIPTOR_VERSION`].
    pub version: u32,
    /// Bytes of storage ([`QUEUE_SIZE`]).
    pub capacity: u32,
    /// The storage.
    pub storage: *const u8,
    /// Index of the next byte written.
    pub write: *const AtomicUsize,
    /// Index of the next byte read.
    pub read: *const AtomicUsize,
    /// End of the readable bytes before the wrap, while the queue is wrapped (`write < read`).
    pub last: *const AtomicUsize,
    /// End of the write grant in progress.
    pub reserve: *const AtomicUsize,
    /// A read grant is out: its bytes may be on their way to the link.
    pub read_in_progress: *const AtomicBool,
    /// A write grant is out: its bytes are not in the queue yet.
    pub write_in_progress: *const AtomicBool,
    /// Bytes that ever entered the queue (wrapping).
    pub committed: *const AtomicU32,
    /// Bytes that ever left it (wrapping).
    pub released: *const AtomicU32,
}

// SAFETY: the descriptor holds addresses only; the firmware never dereferences
// them through it (they are for a debugger reading a halted core).
unsafe impl Sync for QueueDescriptor {}

/// The log queue's descriptor, for `hil-runner` (kept by the linker: `init` reads it).
#[no_mangle]
#[used]
pub static HIL_TRANSPORT_QUEUE: QueueDescriptor = QueueDescriptor {
    magic: *b"HILQUEUE",
    version: DESCRIPTOR_VERSION,
    capacity: QUEUE_SIZE as u32,
    storage: BUFFER.0.get() as *const u8,
    write: &INDICES.write,
    read: &INDICES.read,
    last: &INDICES.last,
    reserve: &INDICES.reserve,
    read_in_progress: &INDICES.read_in_progress,
    write_in_progress: &INDICES.write_in_progress,
    committed: &crate::queue::STATE.committed,
    released: &crate::queue::STATE.released,
};

/// Keeps [`HIL_TRANSPORT_QUEUE`] in the image: a linker that collects
/// unreferenced sections would drop a static nothing reads.
pub(crate) fn keep() {
    core::hint::black_box(core::ptr::addr_of!(HIL_TRANSPORT_QUEUE));
}

/// The queue's bytes.
struct Buffer(UnsafeCell<[u8; QUEUE_SIZE]>);

// SAFETY: bbqueue's grants give each byte to one side at a time.
unsafe impl Sync for Buffer {}

static BUFFER: Buffer = Buffer(UnsafeCell::new([0; QUEUE_SIZE]));

/// The queue's storage: [`BUFFER`], at an address the descriptor names.
pub(crate) struct QueueStorage;

impl ConstInit for QueueStorage {
    const INIT: Self = QueueStorage;
}

// Always the same pointer and length (the trait's contract); the buffer
// belongs to the one queue that uses this storage (`queue::QUEUE`).
impl Storage for QueueStorage {
    unsafe fn ptr_len(&self) -> (NonNull<u8>, usize) {
        let ptr = BUFFER.0.get().cast::<u8>();
        // SAFETY: the address of a static is never null.
        (unsafe { NonNull::new_unchecked(ptr) }, QUEUE_SIZE)
    }
}

/// The coordination state, at addresses the descriptor names.
#[repr(C)]
struct Indices {
    write: AtomicUsize,
    read: AtomicUsize,
    last: AtomicUsize,
    reserve: AtomicUsize,
    read_in_progress: AtomicBool,
    write_in_progress: AtomicBool,
}

static INDICES: Indices = Indices {
    write: AtomicUsize::new(0),
    read: AtomicUsize::new(0),
    last: AtomicUsize::new(0),
    reserve: AtomicUsize::new(0),
    read_in_progress: AtomicBool::new(false),
    write_in_progress: AtomicBool::new(false),
};

/// bbqueue's critical-section coordination (`CsCoord` of bbqueue 0.7, the
/// same algorithm) over [`INDICES`]. One queue uses it: `queue::QUEUE`.
pub(crate) struct QueueCoord;

impl ConstInit for QueueCoord {
    const INIT: Self = QueueCoord;
}

// SAFETY: the algorithm is bbqueue 0.7's `CsCoord`, unchanged: every grant
// and release runs inside a critical section, and grants never overlap.
unsafe impl Coord for QueueCoord {
    fn reset(&self) {
        let s = &INDICES;
        s.write.store(0, Ordering::Release);
        s.read.store(0, Ordering::Release);
        s.reserve.store(0, Ordering::Release);
        s.last.store(0, Ordering::Release);
    }

    fn grant_max_remaining(
        &self,
        capacity: usize,
        mut sz: usize,
    ) -> Result<(usize, usize), WriteGrantError> {
        let s = &INDICES;
        critical_section::with(|_| {
            if s.write_in_progress.load(Ordering::Relaxed) {
                return Err(WriteGrantError::GrantInProgress);
            }
            s.write_in_progress.store(true, Ordering::Relaxed);
            let write = s.write.load(Ordering::Relaxed);
            let read = s.read.load(Ordering::Relaxed);
            let start = if write < read {
                let remain = read - write - 1;
                if remain == 0 {
                    s.write_in_progress.store(false, Ordering::Relaxed);
                    return Err(WriteGrantError::InsufficientSize);
                }
                sz = min(remain, sz);
                write
            } else if write != capacity {
                sz = min(capacity - write, sz);
                write
            } else if read > 1 {
                // Going inverted: write must never equal read then.
                sz = min(read - 1, sz);
                0
            } else {
                s.write_in_progress.store(false, Ordering::Relaxed);
                return Err(WriteGrantError::InsufficientSize);
            };
            s.reserve.store(start + sz, Ordering::Relaxed);
            Ok((start, sz))
        })
    }

    fn grant_exact(&self, capacity: usize, sz: usize) -> Result<usize, WriteGrantError> {
        let s = &INDICES;
        critical_section::with(|_| {
            if s.write_in_progress.load(Ordering::Relaxed) {
                return Err(WriteGrantError::GrantInProgress);
            }
            s.write_in_progress.store(true, Ordering::Relaxed);
            let write = s.write.load(Ordering::Relaxed);
            let read = s.read.load(Ordering::Relaxed);
            let start = if write < read {
                if write + sz < read {
                    write
                } else {
                    s.write_in_progress.store(false, Ordering::Relaxed);
                    return Err(WriteGrantError::InsufficientSize);
                }
            } else if write + sz <= capacity {
                write
            } else if sz < read {
                // Going inverted: write must never equal read then.
                0
            } else {
                s.write_in_progress.store(false, Ordering::Relaxed);
                return Err(WriteGrantError::InsufficientSize);
            };
            s.reserve.store(start + sz, Ordering::Relaxed);
            Ok(start)
        })
    }

    fn read(&self) -> Result<(usize, usize), ReadGrantError> {
        let s = &INDICES;
        critical_section::with(|_| {
            if s.read_in_progress.load(Ordering::Relaxed) {
                return Err(ReadGrantError::GrantInProgress);
            }
            s.read_in_progress.store(true, Ordering::Relaxed);
            let write = s.write.load(Ordering::Relaxed);
            let last = s.last.load(Ordering::Relaxed);
            let mut read = s.read.load(Ordering::Relaxed);
            if read == last && write < read {
                // The bytes up to `last` are read: go on at the start.
                read = 0;
                s.read.store(0, Ordering::Relaxed);
            }
            let end = if write < read { last } else { write };
            let sz = end - read;
            if sz == 0 {
                s.read_in_progress.store(false, Ordering::Relaxed);
                return Err(ReadGrantError::Empty);
            }
            Ok((read, sz))
        })
    }

    fn commit_inner(&self, capacity: usize, grant_len: usize, used: usize) {
        let s = &INDICES;
        critical_section::with(|_| {
            if !s.write_in_progress.load(Ordering::Relaxed) {
                return;
            }
            let used = min(grant_len, used);
            let write = s.write.load(Ordering::Relaxed);
            let new_write = s.reserve.load(Ordering::Relaxed) - (grant_len - used);
            s.reserve.store(new_write, Ordering::Relaxed);
            let last = s.last.load(Ordering::Relaxed);
            if new_write < write && write != capacity {
                // Wrapped, skipping the bytes from `write` to the end: hold the line there.
                s.last.store(write, Ordering::Relaxed);
            } else if new_write > last {
                // Past the old artificial end: the whole ring is readable again.
                s.last.store(capacity, Ordering::Relaxed);
            }
            // `write` after `last`, or a reader could invert early.
            s.write.store(new_write, Ordering::Relaxed);
            s.write_in_progress.store(false, Ordering::Relaxed);
        })
    }

    fn release_inner(&self, used: usize) {
        let s = &INDICES;
        critical_section::with(|_| {
            if !s.read_in_progress.load(Ordering::Acquire) {
                return;
            }
            let read = s.read.load(Ordering::Relaxed);
            s.read.store(read + used, Ordering::Relaxed);
            s.read_in_progress.store(false, Ordering::Relaxed);
        })
    }
}
