//! Memory-mapped peripheral registers, for the board modules.

use core::ptr;

/// One 32-bit memory-mapped register.
#[derive(Clone, Copy)]
pub(crate) struct Register {
    address: usize,
}

impl Register {
    /// The register at `address`.
    ///
    /// # Safety
    ///
    /// `address` must be a 4-byte aligned, always accessible 32-bit peripheral
    /// register of the selected chip, which no Rust object overlaps, and
    /// whose reads and writes have no effect that breaks memory safety.
    pub(crate) const unsafe fn at(address: usize) -> Self {
        Self { address }
    }

    /// Reads the register.
    #[inline]
    pub(crate) fn read(self) -> u32 {
        // SAFETY: `at`'s contract: an aligned, accessible peripheral register.
        unsafe { ptr::read_volatile(self.address as *const u32) }
    }

    /// Writes the register.
    #[inline]
    pub(crate) fn write(self, value: u32) {
        // SAFETY: `at`'s contract: an aligned, accessible peripheral register
        // that no Rust object overlaps.
        unsafe { ptr::write_volatile(self.address as *mut u32, value) }
    }

    /// Sets `bits` in the register (read, modify, write).
    #[inline]
    #[cfg_attr(
        not(any(feature = "lm3s6965evb", feature = "netduinoplus2")),
        allow(dead_code)
    )]
    pub(crate) fn set_bits(self, bits: u32) {
        self.write(self.read() | bits);
    }
}
