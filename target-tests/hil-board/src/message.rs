//! A fixed-size text buffer for failure messages, filled with `core::fmt::Write`.

use core::fmt;

/// Capacity of a panic message in bytes; longer messages are cut.
pub const PANIC_MESSAGE_LEN: usize = 192;

/// Text of at most `N` bytes; what does not fit is cut at a character boundary.
pub struct Message<const N: usize = PANIC_MESSAGE_LEN> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Message<N> {
    /// An empty message.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in, so this cannot fail.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for Message<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for Message<N> {
    /// Appends `text`, or as much of it as fits; reports an error once full,
    /// which ends the formatting.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let free = N - self.len;
        let mut take = text.len().min(free);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        if take == text.len() {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}
