//! [`RxBurst`]: the zero-copy view of a burst of received frames.
//!
//! A backend fills a burst with slices of its own memory (ring slots, buffer
//! pool) and a release hook; the user reads the frames through the burst
//! only (the accessors tie each view to the borrow of the burst, so no view
//! survives it), and dropping the burst runs the hook, which hands the slots
//! back to the producer in one step.

use std::mem::MaybeUninit;

use super::MAX_BURST;

/// The backend hook run when an [`RxBurst`] is dropped: returns the burst's
/// slots to the ring or pool. Leaking a burst (`mem::forget`) only delays the
/// release (to the next burst's, in the shm backend); it is never unsound,
/// because the views borrow the burst.
pub trait RxRelease {
    /// Releases every frame of the burst that is being dropped.
    fn release(&mut self);
}

/// Up to [`MAX_BURST`] received frames, borrowed in place from the queue.
pub struct RxBurst<'a> {
    /// The first `len` entries are initialised (left uninitialised beyond,
    /// so an empty poll does not write 1 KiB).
    frames: [MaybeUninit<&'a [u8]>; MAX_BURST],
    len: usize,
    release: Option<&'a mut dyn RxRelease>,
}

impl<'a> RxBurst<'a> {
    /// An empty burst whose drop runs `release` (for backends).
    pub fn new(release: Option<&'a mut dyn RxRelease>) -> Self {
        Self {
            frames: [const { MaybeUninit::uninit() }; MAX_BURST],
            len: 0,
            release,
        }
    }

    /// Sets the hook run on drop (for backends that fill the burst first).
    pub fn set_release(&mut self, release: &'a mut dyn RxRelease) {
        self.release = Some(release);
    }

    /// Appends a frame (for backends); false when the burst is full.
    pub fn push(&mut self, frame: &'a [u8]) -> bool {
        match self.frames.get_mut(self.len) {
            Some(slot) => {
                slot.write(frame);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Number of frames in the burst.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the burst holds no frame.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The filled entries, each view shortened to the borrow of `self`.
    fn filled(&self) -> &[&[u8]] {
        let filled = &self.frames[..self.len];
        // SAFETY: `push` initialised the first `len` entries and nothing
        // de-initialises them; `MaybeUninit<T>` has the layout of `T`, and
        // shortening `&'a [u8]` to the borrow of `self` is a covariant
        // narrowing.
        unsafe { &*(filled as *const [MaybeUninit<&'a [u8]>] as *const [&[u8]]) }
    }

    /// Frame `index`, if present, borrowed for as long as the burst is.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.filled().get(index).copied()
    }

    /// The frames in arrival order (per sending queue).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.filled().iter().copied()
    }
}

impl<'b> IntoIterator for &'b RxBurst<'_> {
    type Item = &'b [u8];
    type IntoIter = std::iter::Copied<std::slice::Iter<'b, &'b [u8]>>;

    fn into_iter(self) -> Self::IntoIter {
        self.filled().iter().copied()
    }
}

impl Drop for RxBurst<'_> {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release.release();
        }
    }
}

impl std::fmt::Debug for RxBurst<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxBurst").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct CountReleases(usize);

    impl RxRelease for CountReleases {
        fn release(&mut self) {
            self.0 += 1;
        }
    }

    #[test]
    fn holds_at_most_max_burst_frames_and_releases_once_on_drop() {
        let data = [7u8; 3];
        let mut counter = CountReleases(0);
        {
            let mut burst = RxBurst::new(Some(&mut counter));
            for _ in 0..MAX_BURST {
                assert!(burst.push(&data));
            }
            assert!(!burst.push(&data));
            assert_eq!(burst.len(), MAX_BURST);
            assert_eq!(burst.iter().count(), MAX_BURST);
            assert_eq!(
                (&burst).into_iter().map(<[u8]>::len).sum::<usize>(),
                3 * MAX_BURST
            );
            assert_eq!(burst.get(0), Some(&data[..]));
            assert_eq!(burst.get(MAX_BURST), None);
        }
        assert_eq!(counter.0, 1);
    }
}
