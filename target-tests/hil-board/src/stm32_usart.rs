//! The USART register block of the STM32F4 family (STM32F401's USART2 on the
//! Nucleo-F401RE, STM32F405's USART1 on the emulated Netduino Plus 2): the
//! registers the boards' serial drivers and the interrupt drain use.

#[cfg(feature = "irq-drain")]
pub mod irq_drain;

use crate::mmio::Register;

/// SR: transmit data register empty.
pub(crate) const SR_TXE: u32 = 1 << 7;
/// CR1: USART enabled, transmitter enabled.
#[cfg_attr(not(feature = "netduinoplus2"), allow(dead_code))]
pub(crate) const CR1_UE_TE: u32 = (1 << 13) | (1 << 3);
/// CR1: interrupt while the transmit data register is empty (TXEIE).
#[cfg_attr(not(feature = "irq-drain"), allow(dead_code))]
pub(crate) const CR1_TXEIE: u32 = 1 << 7;

/// One USART: its register block and its interrupt number.
#[derive(Clone, Copy)]
pub(crate) struct Usart {
    base: usize,
    /// The USART's interrupt number (its position in the vector table after the 16 exceptions).
    #[cfg_attr(not(feature = "irq-drain"), allow(dead_code))]
    pub(crate) irq: u16,
}

impl Usart {
    /// The USART whose register block starts at `base`, interrupt `irq`.
    ///
    /// # Safety
    ///
    /// `base` must be the base address of an STM32F4 USART register block of
    /// the selected chip (always accessible once its clock is on), and `irq`
    /// its interrupt number.
    pub(crate) const unsafe fn at(base: usize, irq: u16) -> Self {
        Self { base, irq }
    }

    fn register(self, offset: usize) -> Register {
        // SAFETY: `at`'s contract: `base` is a USART register block, and
        // SR, DR, BRR and CR1 (offsets 0x0, 0x4, 0x8, 0xC) are 32-bit registers in it.
        unsafe { Register::at(self.base + offset) }
    }

    /// USART_SR (status).
    pub(crate) fn sr(self) -> Register {
        self.register(0x0)
    }

    /// USART_DR (data).
    pub(crate) fn dr(self) -> Register {
        self.register(0x4)
    }

    /// USART_BRR (baud rate).
    #[cfg_attr(not(feature = "netduinoplus2"), allow(dead_code))]
    pub(crate) fn brr(self) -> Register {
        self.register(0x8)
    }

    /// USART_CR1 (control 1).
    #[cfg_attr(
        not(any(feature = "netduinoplus2", feature = "irq-drain")),
        allow(dead_code)
    )]
    pub(crate) fn cr1(self) -> Register {
        self.register(0xC)
    }

    /// Writes `byte` if the transmit data register is empty; `false` (and
    /// nothing written) while it is full.
    pub(crate) fn try_write(self, byte: u8) -> bool {
        if self.sr().read() & SR_TXE == 0 {
            return false;
        }
        self.dr().write(u32::from(byte));
        true
    }
}
