//! The CMSDK APB UART of Arm's MPS2 and MPS3 FPGA images (QEMU's `cmsdk-apb-uart`).

use crate::mmio::Register;

/// DATA: the byte to send.
const DATA: usize = 0x00;
/// STATE: bit 0 is "transmit buffer full".
const STATE: usize = 0x04;
/// CTRL: bit 0 enables the transmitter.
const CTRL: usize = 0x08;
/// BAUDDIV: the clock divisor, at least 16.
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const CTRL_TX_ENABLE: u32 = 1 << 0;

/// One CMSDK UART.
#[derive(Clone, Copy)]
pub(crate) struct CmsdkUart {
    base: usize,
}

impl CmsdkUart {
    /// The UART whose registers start at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the base address of a CMSDK APB UART of the selected
    /// chip that this crate alone drives.
    pub(crate) const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    fn register(self, offset: usize) -> Register {
        // SAFETY: `at`'s contract: a CMSDK UART, whose registers are at these offsets.
        unsafe { Register::at(self.base + offset) }
    }

    /// Sets the baud rate divisor from the peripheral clock and enables the transmitter.
    pub(crate) fn init(self, clock_hz: u32, baud: u32) {
        self.register(BAUDDIV).write((clock_hz / baud).max(16));
        self.register(CTRL).write(CTRL_TX_ENABLE);
    }

    /// Writes `bytes`, waiting while the transmit buffer is full.
    pub(crate) fn write(self, bytes: &[u8]) {
        let state = self.register(STATE);
        let data = self.register(DATA);
        for &byte in bytes {
            while state.read() & STATE_TX_FULL != 0 {}
            data.write(u32::from(byte));
        }
    }
}
