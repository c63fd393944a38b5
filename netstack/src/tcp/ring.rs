//! A fixed-capacity byte ring: the send buffer (unacknowledged then unsent
//! bytes) and the receive buffer (in-order unread bytes, with out-of-order
//! bytes parked in the free space after them). Its storage is allocated once
//! per connection (or taken from the pool) and never grows.

/// Bytes at the start of every ring kept inside the ring itself (so inside
/// the connection's block): an emptied ring rewinds there, so a connection
/// exchanging short messages touches memory next to its block, on the same
/// page, instead of a separate heap buffer's page (at 10k connections each
/// such page is a TLB miss and each line a cache miss).
pub(crate) const INLINE: usize = 128;

/// Byte ring of fixed capacity: positions below `inline_len` are in
/// `inline`, the rest in `storage`.
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct Ring {
    storage: Vec<u8>,
    head: usize,
    len: usize,
    inline_len: usize,
    /// Last, so the header and the first inline bytes share a cache line.
    inline: [u8; INLINE],
}

impl Default for Ring {
    /// A ring of capacity zero.
    fn default() -> Ring {
        Ring::with_storage(0, Vec::new())
    }
}

impl Ring {
    /// Bytes of the heap storage a ring of `capacity` needs (the first
    /// [`INLINE`] bytes are in the ring itself).
    pub(crate) fn heap_len(capacity: usize) -> usize {
        capacity - capacity.min(INLINE)
    }

    /// A ring of `capacity` bytes over heap `storage` of
    /// [`Ring::heap_len`]`(capacity)` bytes (contents ignored).
    pub(crate) fn with_storage(capacity: usize, storage: Vec<u8>) -> Ring {
        debug_assert_eq!(storage.len(), Ring::heap_len(capacity));
        Ring {
            inline: [0; INLINE],
            inline_len: capacity - storage.len(),
            storage,
            head: 0,
            len: 0,
        }
    }

    /// Gives the heap storage back (for the pool).
    pub(crate) fn into_storage(self) -> Vec<u8> {
        self.storage
    }

    pub(crate) fn capacity(&self) -> usize {
        self.inline_len + self.storage.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn free(&self) -> usize {
        self.capacity() - self.len
    }

    /// Physical index of logical offset `offset` (from the head).
    fn index(&self, offset: usize) -> usize {
        let cap = self.capacity();
        let at = self.head + offset;
        if at >= cap { at - cap } else { at }
    }

    /// The contiguous bytes from physical index `at` to the end of its part.
    fn part(&self, at: usize) -> &[u8] {
        match at.checked_sub(self.inline_len) {
            None => &self.inline[at..self.inline_len],
            Some(heap_at) => &self.storage[heap_at..],
        }
    }

    fn part_mut(&mut self, at: usize) -> &mut [u8] {
        match at.checked_sub(self.inline_len) {
            None => &mut self.inline[at..self.inline_len],
            Some(heap_at) => &mut self.storage[heap_at..],
        }
    }

    /// Copies `data` to the logical offset `offset` (which, with the data,
    /// must fit in the capacity).
    fn copy_in(&mut self, offset: usize, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let at = self.index(offset + done);
            let part = self.part_mut(at);
            let chunk = (data.len() - done).min(part.len());
            part[..chunk].copy_from_slice(&data[done..done + chunk]);
            done += chunk;
        }
    }

    /// Fills `out` from the logical offset `offset`.
    fn copy_out(&self, offset: usize, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let part = self.part(self.index(offset + done));
            let chunk = (out.len() - done).min(part.len());
            out[done..done + chunk].copy_from_slice(&part[..chunk]);
            done += chunk;
        }
    }

    /// Copies `data` into the free space starting `offset` bytes after the
    /// end of the stored bytes, without making it part of them; returns how
    /// many bytes fitted.
    pub(crate) fn write_beyond(&mut self, offset: usize, data: &[u8]) -> usize {
        let room = self.free().saturating_sub(offset);
        let count = data.len().min(room);
        self.copy_in(self.len + offset, &data[..count]);
        count
    }

    /// Makes the next `count` bytes of free space (already written with
    /// [`Ring::write_beyond`]) part of the stored bytes.
    pub(crate) fn commit(&mut self, count: usize) {
        debug_assert!(count <= self.free());
        self.len += count.min(self.free());
    }

    /// Appends as much of `data` as fits; returns the count.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let count = self.write_beyond(0, data);
        self.commit(count);
        count
    }

    /// Copies stored bytes from `offset` into `out` without consuming them;
    /// returns the count (bounded by what is stored).
    pub(crate) fn peek(&self, offset: usize, out: &mut [u8]) -> usize {
        let count = out.len().min(self.len.saturating_sub(offset));
        self.copy_out(offset, &mut out[..count]);
        count
    }

    /// Drops `count` bytes from the front.
    pub(crate) fn discard(&mut self, count: usize) {
        let count = count.min(self.len);
        self.head = self.index(count);
        self.len -= count;
        // `head` is not reset when empty: bytes parked beyond the end (out
        // of order) must keep their position.
    }

    /// Moves an empty ring's head back to the start of its storage, so a
    /// connection exchanging short messages keeps reusing the same few
    /// bytes (inline, next to its block) instead of sweeping the whole
    /// buffer (at 10k connections every fresh line is a cache and TLB
    /// miss). Only for a ring with no bytes parked beyond its end (see
    /// `discard`).
    pub(crate) fn rewind_if_empty(&mut self) {
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Copies and consumes up to `out.len()` bytes.
    pub(crate) fn pop(&mut self, out: &mut [u8]) -> usize {
        let count = self.peek(0, out);
        self.discard(count);
        count
    }

    /// The stored bytes, oldest first (for export).
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.len];
        self.peek(0, &mut out);
        out
    }

    /// `count` bytes of the free space right after the stored bytes (where
    /// out-of-order data is parked), for export.
    pub(crate) fn beyond_to_vec(&self, count: usize) -> Vec<u8> {
        let mut out = vec![0; count.min(self.free())];
        self.copy_out(self.len, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{INLINE, Ring};
    use std::collections::VecDeque;

    fn ring(capacity: usize) -> Ring {
        Ring::with_storage(capacity, vec![0; Ring::heap_len(capacity)])
    }

    #[test]
    fn wraps_and_parks_bytes_beyond_the_end() {
        let mut ring = ring(8);
        assert_eq!(ring.push(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(ring.pop(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(ring.push(b"ghijklmn"), 6, "only the free space is used");
        assert_eq!(ring.to_vec(), b"efghijkl");
        ring.discard(5);
        assert_eq!(ring.write_beyond(2, b"XYZW"), 3, "offset 2 of 5 free bytes");
        assert_eq!(ring.beyond_to_vec(5)[2..], *b"XYZ");
        assert_eq!(ring.write_beyond(0, b"PQ"), 2);
        ring.commit(5);
        assert_eq!(ring.to_vec(), b"jklPQXYZ");
        assert_eq!(ring.free(), 0);
        let mut peeked = [0u8; 3];
        assert_eq!(ring.peek(6, &mut peeked), 2);
        assert_eq!(&peeked[..2], b"YZ");
        ring.discard(8);
        assert_eq!(ring.write_beyond(3, b"late"), 4);
        assert_eq!(ring.write_beyond(0, b"abc"), 3);
        ring.commit(7);
        assert_eq!(
            ring.to_vec(),
            b"abclate",
            "parked bytes survive the ring emptying"
        );
    }

    #[test]
    fn an_emptied_ring_rewinds_to_the_start_of_its_storage() {
        let mut ring = ring(8);
        ring.push(b"abc");
        ring.rewind_if_empty();
        ring.discard(2);
        ring.rewind_if_empty();
        assert_eq!(ring.to_vec(), b"c", "a ring holding bytes keeps its head");
        ring.discard(1);
        ring.rewind_if_empty();
        ring.push(b"wxyz");
        assert_eq!(&ring.inline[..4], b"wxyz", "reused from the first byte");
        assert_eq!(ring.to_vec(), b"wxyz");
    }

    #[test]
    fn behaves_like_a_byte_queue_across_the_inline_and_heap_parts() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for capacity in [8, INLINE - 1, INLINE, INLINE + 1, INLINE + 300] {
            let mut ring = ring(capacity);
            let mut model = VecDeque::new();
            let mut byte = 0u8;
            for _ in 0..5_000 {
                match next(4) {
                    0 => {
                        let data: Vec<u8> = (0..next(capacity + 20))
                            .map(|_| {
                                byte = byte.wrapping_add(1);
                                byte
                            })
                            .collect();
                        let pushed = ring.push(&data);
                        assert_eq!(pushed, data.len().min(capacity - model.len()));
                        model.extend(&data[..pushed]);
                    }
                    1 => {
                        let mut out = vec![0; next(capacity + 20)];
                        let popped = ring.pop(&mut out);
                        let expected: Vec<u8> = model.drain(..popped.min(model.len())).collect();
                        assert_eq!(&out[..popped], &expected[..]);
                    }
                    2 => {
                        let offset = next(capacity + 1);
                        let mut out = vec![0; next(capacity + 1)];
                        let peeked = ring.peek(offset, &mut out);
                        let expected: Vec<u8> =
                            model.iter().skip(offset).take(out.len()).copied().collect();
                        assert_eq!(&out[..peeked], &expected[..]);
                    }
                    _ => ring.rewind_if_empty(),
                }
                assert_eq!(
                    (ring.len(), ring.free()),
                    (model.len(), capacity - model.len())
                );
            }
            assert_eq!(ring.to_vec(), model.iter().copied().collect::<Vec<_>>());
            assert_eq!(ring.clone().into_storage().len(), Ring::heap_len(capacity));
        }
    }
}
