//! UART0 drained from its TX interrupt (feature `irq-drain`): the log queue
//! leaves through the PL011's TXIM interrupt (IRQ 5) instead of a polled loop.
//!
//! [`link`] is the transport's link: its `on_commit` hook enables TXIM and
//! pends IRQ 5, so the first frame starts the drain (a PL011 raises its TX
//! interrupt only when the FIFO level falls through the trigger level, and
//! QEMU's model only on a write to UARTDR: enabling TXIM alone would not).
//! [`on_interrupt`], called from the firmware's handler of IRQ 5, moves
//! what the TX FIFO takes with [`Drain::write_with`], and masks TXIM again
//! once the queue is empty. [`start`] enables IRQ 5 in the NVIC; [`pause`] and
//! [`resume`] mask and unmask it (to let the queue fill on purpose).
//!
//! The polled `uart_write` stays the link's blocking write: [`hil_transport::flush`]
//! and the `block` policy go through it, through the same consumer as the
//! interrupt, so bytes never leave out of order.

use core::sync::atomic::{AtomicPtr, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use hil_transport::{Drain, Link};

use super::uart0;
use crate::mmio::Register;

/// The interrupt number of UART0 on the LM3S6965.
pub const IRQ: u16 = 5;

// SAFETY: UARTIFLS (interrupt FIFO level select) of UART0, base 0x4000_C000.
const IFLS: Register = unsafe { Register::at(0x4000_C034) };
// SAFETY: UARTIMSC (interrupt mask set/clear) of UART0, base 0x4000_C000.
const IMSC: Register = unsafe { Register::at(0x4000_C038) };
// SAFETY: UARTICR (interrupt clear) of UART0, base 0x4000_C000.
const ICR: Register = unsafe { Register::at(0x4000_C044) };
/// IMSC/RIS/MIS/ICR: the transmit interrupt.
const INT_TX: u32 = 1 << 5;
/// IFLS: TX interrupt when the TX FIFO is at most 1/8 full (TXIFLSEL = 0).
const IFLS_TX_EIGHTH: u32 = 0b000;
/// IFLS: the bits of TXIFLSEL.
const IFLS_TX_MASK: u32 = 0b111;

/// UART0's interrupt, for the NVIC.
#[derive(Clone, Copy)]
struct Uart0;

// SAFETY: 5 is UART0's interrupt number on the LM3S6965.
unsafe impl InterruptNumber for Uart0 {
    fn number(self) -> u16 {
        IRQ
    }
}

/// The drain handle, once [`start`] has run.
static DRAIN: AtomicPtr<Drain> = AtomicPtr::new(core::ptr::null_mut());

/// The transport's link for an interrupt drain: blocking write `uart_write`,
/// `on_commit` kicks the TX interrupt.
pub fn link() -> Link {
    Link {
        write: super::uart_write,
        on_commit: Some(kick),
        wait_transfer: None,
    }
}

/// `on_commit`: bytes entered the queue; let the TX interrupt move them.
fn kick() {
    IMSC.set_bits(INT_TX);
    NVIC::pend(Uart0);
}

/// Hands `drain` to the interrupt handler, sets the TX FIFO level and enables
/// IRQ 5: from now on the queue drains by interrupt. Returns the handle (for
/// the polled throttle [`Drain::drain_chunk_to_sink`], and the like).
pub fn start(drain: Drain) -> &'static Drain {
    let drain = drain.into_static();
    DRAIN.store((drain as *const Drain).cast_mut(), Ordering::Release);
    IFLS.write((IFLS.read() & !IFLS_TX_MASK) | IFLS_TX_EIGHTH);
    // SAFETY: the handler of IRQ 5 only touches the queue through the
    // transport's consumer, which is safe from any context.
    unsafe { NVIC::unmask(Uart0) };
    if hil_transport::queued() > 0 {
        kick();
    }
    drain
}

/// Masks IRQ 5: the queue fills (and overflows) until [`resume`].
pub fn pause() {
    NVIC::mask(Uart0);
}

/// Unmasks IRQ 5 (after [`pause`]) and kicks the drain.
pub fn resume() {
    // SAFETY: as in `start`.
    unsafe { NVIC::unmask(Uart0) };
    critical_section::with(|_| kick());
}

/// The body of UART0's interrupt handler: moves what the TX FIFO takes, and
/// masks TXIM once the queue is empty (the next commit enables it again).
pub fn on_interrupt() {
    let drain = DRAIN.load(Ordering::Acquire);
    // SAFETY: set by `start` from a `&'static Drain`, or still null.
    if let Some(drain) = unsafe { drain.as_ref() } {
        drain.write_with(|bytes| {
            let mut taken = 0;
            for &byte in bytes {
                if uart0::FR.read() & uart0::FR_TXFF != 0 {
                    break;
                }
                uart0::DR.write(u32::from(byte));
                taken += 1;
            }
            taken
        });
    }
    // No commit can come between the check and the mask: a later one enables TXIM again.
    critical_section::with(|_| {
        if drain.is_null() || hil_transport::queued() == 0 {
            IMSC.write(IMSC.read() & !INT_TX);
            ICR.write(INT_TX);
        }
    });
}
