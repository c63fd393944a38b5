//! Out-of-order reassembly bookkeeping (RFC 9293 section 3.10.7.4, "seventh,
//! process the segment text": segments beyond RCV.NXT are kept). The bytes
//! themselves are parked in the receive ring after the in-order data; this
//! tracks which ranges, relative to RCV.NXT, have arrived.

use serde::{Deserialize, Serialize};

/// Most disjoint out-of-order ranges tracked; a segment that would need
/// more is dropped (the peer retransmits it).
pub(crate) const MAX_RANGES: usize = 8;

/// Received ranges `[start, end)` as offsets from RCV.NXT, sorted, disjoint
/// and not adjacent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembler {
    ranges: Vec<(u32, u32)>,
}

impl Assembler {
    /// An empty assembler with room for [`MAX_RANGES`] (allocated once).
    pub(crate) fn new() -> Assembler {
        Assembler {
            ranges: Vec::with_capacity(MAX_RANGES + 1),
        }
    }

    /// Heap bytes of one assembler's range list.
    pub(crate) const fn heap_bytes() -> usize {
        (MAX_RANGES + 1) * size_of::<(u32, u32)>()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges held (offsets from RCV.NXT).
    pub(crate) fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// End of the furthest range (0 when empty).
    pub(crate) fn extent(&self) -> u32 {
        self.ranges.last().map_or(0, |r| r.1)
    }

    /// Records bytes `[start, start + len)`; false when that would need more
    /// than [`MAX_RANGES`] ranges (nothing recorded).
    pub(crate) fn add(&mut self, start: u32, len: u32) -> bool {
        if len == 0 {
            return true;
        }
        let (mut start, mut end) = (start, start + len);
        let first = self.ranges.partition_point(|r| r.1 < start);
        let mut last = first;
        while last < self.ranges.len() && self.ranges[last].0 <= end {
            start = start.min(self.ranges[last].0);
            end = end.max(self.ranges[last].1);
            last += 1;
        }
        if first == last && self.ranges.len() >= MAX_RANGES {
            return false;
        }
        self.ranges.drain(first..last);
        self.ranges.insert(first, (start, end));
        true
    }

    /// RCV.NXT moved forward by `count` in-order bytes: returns how many
    /// further bytes are now contiguous (already parked) and rebases the rest.
    pub(crate) fn advance(&mut self, count: u32) -> u32 {
        let mut extra = 0;
        if let Some(&(start, end)) = self.ranges.first()
            && start <= count
        {
            extra = end.saturating_sub(count);
            self.ranges.remove(0);
        }
        let shift = count + extra;
        self.ranges.retain_mut(|r| {
            r.0 = r.0.saturating_sub(shift);
            r.1 = r.1.saturating_sub(shift);
            r.1 > 0
        });
        extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_releases_contiguous_bytes() {
        let mut asm = Assembler::new();
        assert!(asm.add(10, 5));
        assert!(asm.add(20, 5));
        assert!(asm.add(15, 5), "fills the gap between the two");
        assert_eq!(asm.ranges(), &[(10, 25)]);
        assert_eq!(asm.advance(4), 0, "hole 4..10 remains");
        assert_eq!(asm.ranges(), &[(6, 21)]);
        assert_eq!(asm.advance(6), 15);
        assert!(asm.is_empty());
    }

    #[test]
    fn bounded_number_of_holes() {
        let mut asm = Assembler::new();
        for i in 0..MAX_RANGES as u32 {
            assert!(asm.add(i * 10 + 5, 1));
        }
        assert!(!asm.add(200, 1), "a new range beyond the limit");
        assert!(asm.add(6, 3), "extending an existing range still works");
        assert_eq!(asm.extent(), 76);
        assert_eq!(asm.advance(5), 4);
        assert_eq!(asm.ranges()[0], (6, 7));
    }
}
