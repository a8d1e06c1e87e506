//! The board's USART drained from its TXE interrupt (feature `irq-drain`):
//! the log queue leaves through the USART's transmit-data-register-empty
//! interrupt instead of a polled loop. One driver for the STM32F4 USART of
//! `nucleo-f401re` (USART2, IRQ 38) and of the emulated `netduinoplus2`
//! (USART1, IRQ 37).
//!
//! [`link`] is the transport's link: its `on_commit` hook sets TXEIE and
//! pends the interrupt in the NVIC. On silicon the interrupt is a level, TXE
//! and TXEIE: with the data register empty it is raised as soon as TXEIE is
//! set, and again after every byte the shift register takes; the pend only
//! makes it pending a little earlier. QEMU 7.2's model of this USART
//! (`hw/char/stm32f2xx_usart.c`) raises its interrupt for RXNE only (TXE/TC
//! interrupts came with QEMU 8.2), so on `netduinoplus2` the pend is what
//! starts each drain. [`on_interrupt`], called from the
//! firmware's handler of [`IRQ`], writes bytes while TXE says the data
//! register is empty (one or two on a real USART, everything on QEMU's,
//! whose TXE never clears) with [`Drain::write_with`], and clears TXEIE once
//! the queue is empty (else TXE would raise the interrupt forever). [`start`]
//! enables the interrupt in the NVIC; [`pause`] and [`resume`] mask and
//! unmask it (to let the queue fill on purpose).
//!
//! The board's polled `uart_write` stays the link's blocking write:
//! [`hil_transport::flush`] and the `block` policy go through it, through the
//! same consumer as the interrupt, so bytes never leave out of order.

use core::sync::atomic::{AtomicPtr, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use hil_transport::{Drain, Link};

use super::CR1_TXEIE;
use crate::board::USART;

/// The interrupt number of the board's USART (38: USART2 on the STM32F401; 37: USART1 on the STM32F405).
pub const IRQ: u16 = USART.irq;

/// The USART's interrupt, for the NVIC.
#[derive(Clone, Copy)]
struct UsartIrq;

// SAFETY: `IRQ` is the board's USART interrupt number, a valid external interrupt of its chip.
unsafe impl InterruptNumber for UsartIrq {
    fn number(self) -> u16 {
        IRQ
    }
}

/// The drain handle, once [`start`] has run.
static DRAIN: AtomicPtr<Drain> = AtomicPtr::new(core::ptr::null_mut());

/// The transport's link for an interrupt drain: blocking write `uart_write`,
/// `on_commit` sets TXEIE.
pub fn link() -> Link {
    Link {
        write: crate::board::uart_write,
        on_commit: Some(kick),
        wait_transfer: None,
    }
}

/// `on_commit`: bytes entered the queue; TXE (the data register is empty)
/// raises the interrupt as soon as TXEIE is set (the pend: for QEMU 7.2,
/// whose model never raises it for TXE).
fn kick() {
    USART.cr1().set_bits(CR1_TXEIE);
    NVIC::pend(UsartIrq);
}

/// Hands `drain` to the interrupt handler and enables the USART's interrupt
/// in the NVIC: from now on the queue drains by interrupt. Returns the handle
/// (for the polled throttle [`Drain::drain_chunk_to_sink`], and the like).
pub fn start(drain: Drain) -> &'static Drain {
    let drain = drain.into_static();
    DRAIN.store((drain as *const Drain).cast_mut(), Ordering::Release);
    // SAFETY: the handler only touches the queue through the transport's
    // consumer, which is safe from any context.
    unsafe { NVIC::unmask(UsartIrq) };
    if hil_transport::queued() > 0 {
        critical_section::with(|_| kick());
    }
    drain
}

/// Masks the USART's interrupt: the queue fills (and overflows) until [`resume`].
pub fn pause() {
    NVIC::mask(UsartIrq);
}

/// Unmasks the USART's interrupt (after [`pause`]) and kicks the drain.
pub fn resume() {
    // SAFETY: as in `start`.
    unsafe { NVIC::unmask(UsartIrq) };
    critical_section::with(|_| kick());
}

/// The body of the USART's interrupt handler: writes bytes while the data
/// register is empty, and clears TXEIE once the queue is empty (the next
/// commit sets it again).
pub fn on_interrupt() {
    let drain = DRAIN.load(Ordering::Acquire);
    // SAFETY: set by `start` from a `&'static Drain`, or still null.
    if let Some(drain) = unsafe { drain.as_ref() } {
        drain.write_with(|bytes| bytes.iter().take_while(|&&b| USART.try_write(b)).count());
    }
    // No commit can come between the check and the clear: a later one sets TXEIE again.
    critical_section::with(|_| {
        if drain.is_null() || hil_transport::queued() == 0 {
            let cr1 = USART.cr1();
            cr1.write(cr1.read() & !CR1_TXEIE);
        }
    });
}
