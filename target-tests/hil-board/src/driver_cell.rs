//! A static home for a board's serial driver, made by `init`, used by `uart_write`.

use core::cell::RefCell;

use critical_section::Mutex;

/// Holds one driver; empty until [`DriverCell::put`].
pub(crate) struct DriverCell<T> {
    driver: Mutex<RefCell<Option<T>>>,
}

impl<T> DriverCell<T> {
    /// An empty cell, for a `static`.
    pub(crate) const fn empty() -> Self {
        Self {
            driver: Mutex::new(RefCell::new(None)),
        }
    }

    /// Stores the driver (replacing one stored before).
    pub(crate) fn put(&self, driver: T) {
        critical_section::with(|cs| {
            self.driver.borrow(cs).replace(Some(driver));
        });
    }

    /// Runs `use_driver` on the driver inside a critical section.
    ///
    /// Returns `None`, without running it, before [`DriverCell::put`] or when
    /// the driver is already in use further up the stack: a panic or fault in
    /// the middle of a write whose handler flushes the log queue into the same
    /// driver. Those bytes are lost, rather than the handler panicking again.
    pub(crate) fn with<R>(&self, use_driver: impl FnOnce(&mut T) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let mut slot = self.driver.borrow(cs).try_borrow_mut().ok()?;
            slot.as_mut().map(use_driver)
        })
    }
}
