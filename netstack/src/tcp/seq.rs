//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293
//! section 3.4, "Sequence Numbers").

use core::cmp::Ordering;
use core::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// A sequence number with wrapping arithmetic and ordering: `a < b` when
/// `b` is less than 2^31 ahead of `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Seq(pub u32);

impl Seq {
    /// The larger of two sequence numbers in wrapping order.
    pub fn max(self, other: Seq) -> Seq {
        if self < other { other } else { self }
    }

    /// The smaller of two sequence numbers in wrapping order.
    pub fn min(self, other: Seq) -> Seq {
        if self < other { self } else { other }
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Seq {
    // Not a total order over all u32 values; consistent for numbers within
    // 2^31 of each other, which is all TCP ever compares.
    fn cmp(&self, other: &Seq) -> Ordering {
        (self.0.wrapping_sub(other.0) as i32).cmp(&0)
    }
}

impl Add<usize> for Seq {
    type Output = Seq;
    fn add(self, rhs: usize) -> Seq {
        Seq(self.0.wrapping_add(rhs as u32))
    }
}

impl Sub<usize> for Seq {
    type Output = Seq;
    fn sub(self, rhs: usize) -> Seq {
        Seq(self.0.wrapping_sub(rhs as u32))
    }
}

impl Sub for Seq {
    type Output = usize;
    /// Distance from `rhs` to `self`; callers guarantee `rhs <= self`
    /// (a negative distance saturates to 0).
    fn sub(self, rhs: Seq) -> usize {
        let diff = self.0.wrapping_sub(rhs.0) as i32;
        diff.max(0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Seq;

    #[test]
    fn compares_across_wrap() {
        let near_end = Seq(u32::MAX - 5);
        let wrapped = near_end + 10;
        assert_eq!(wrapped, Seq(4));
        assert!(near_end < wrapped);
        assert_eq!(wrapped - near_end, 10);
        assert_eq!(near_end - wrapped, 0, "negative distance saturates");
        assert_eq!(near_end.max(wrapped), wrapped);
        assert_eq!(near_end.min(wrapped), near_end);
        assert_eq!(wrapped - 10, near_end);
    }
}
