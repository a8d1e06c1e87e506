//! The staging buffer: one encoded frame, collected byte by byte before it enters the queue.

/// One encoded frame under construction, at most `N` bytes.
///
/// The rzcobs encoder hands over its output one byte at a time; collecting the
/// frame here lets the logger put it into the queue with a single grant, and
/// lets it drop a frame that grew longer than `N` bytes as a whole.
pub(crate) struct Staging<const N: usize> {
    bytes: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> Staging<N> {
    /// An empty staging buffer.
    pub(crate) const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Forgets the staged frame: the next frame starts here.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Appends encoded bytes; once they do not fit, the frame is marked as too long.
    #[inline]
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        let end = self.len + bytes.len();
        match self.bytes.get_mut(self.len..end) {
            Some(free) => {
                free.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflowed = true,
        }
    }

    /// Bytes staged so far (of a frame too long, the ones that fitted).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The staged frame, or `None` when it was longer than `N` bytes.
    #[inline]
    pub(crate) fn frame(&self) -> Option<&[u8]> {
        if self.overflowed {
            None
        } else {
            Some(&self.bytes[..self.len])
        }
    }
}

#[cfg(test)]
mod tests {
    //! Host tests of the staging buffer.

    use super::Staging;

    #[test]
    fn collects_bytes_in_order() {
        let mut staging = Staging::<8>::new();
        for byte in [1, 2, 3] {
            staging.push(&[byte]);
        }
        staging.push(&[4, 5]);
        assert_eq!(staging.frame(), Some(&[1, 2, 3, 4, 5][..]));
    }

    #[test]
    fn a_frame_of_exactly_n_bytes_fits() {
        let mut staging = Staging::<4>::new();
        staging.push(&[9; 4]);
        assert_eq!(staging.frame(), Some(&[9; 4][..]));
    }

    #[test]
    fn a_longer_frame_is_rejected_whole() {
        let mut staging = Staging::<4>::new();
        staging.push(&[1, 2, 3]);
        staging.push(&[4, 5]);
        // A later byte that would fit again must not revive the frame.
        staging.push(&[6]);
        assert_eq!(staging.frame(), None);
    }

    #[test]
    fn clear_starts_a_new_frame() {
        let mut staging = Staging::<2>::new();
        staging.push(&[1, 2, 3]);
        staging.clear();
        staging.push(&[7]);
        assert_eq!(staging.frame(), Some(&[7][..]));
    }
}
