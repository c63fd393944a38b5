//! A fixed-capacity byte ring: the send buffer (unacknowledged then unsent
//! bytes) and the receive buffer (in-order unread bytes, with out-of-order
//! bytes parked in the free space after them). Its storage is allocated once
//! per connection (or taken from the pool) and never grows.

/// Byte ring of fixed capacity.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    storage: Vec<u8>,
    head: usize,
    len: usize,
}

impl Ring {
    /// A ring over `storage` (its length is the capacity; contents ignored).
    pub(crate) fn with_storage(storage: Vec<u8>) -> Ring {
        Ring {
            storage,
            head: 0,
            len: 0,
        }
    }

    /// Gives the storage back (for the pool).
    pub(crate) fn into_storage(self) -> Vec<u8> {
        self.storage
    }

    pub(crate) fn capacity(&self) -> usize {
        self.storage.len()
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

    /// Copies `data` into the free space starting `offset` bytes after the
    /// end of the stored bytes, without making it part of them; returns how
    /// many bytes fitted.
    pub(crate) fn write_beyond(&mut self, offset: usize, data: &[u8]) -> usize {
        let room = self.free().saturating_sub(offset);
        let count = data.len().min(room);
        let mut done = 0;
        while done < count {
            let at = self.index(self.len + offset + done);
            let chunk = (count - done).min(self.capacity() - at);
            self.storage[at..at + chunk].copy_from_slice(&data[done..done + chunk]);
            done += chunk;
        }
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
        let mut done = 0;
        while done < count {
            let at = self.index(offset + done);
            let chunk = (count - done).min(self.capacity() - at);
            out[done..done + chunk].copy_from_slice(&self.storage[at..at + chunk]);
            done += chunk;
        }
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
    /// cache lines and pages instead of sweeping the whole buffer (at 10k
    /// connections every fresh line is a cache and TLB miss). Only for a
    /// ring with no bytes parked beyond its end (see `discard`).
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
        let count = count.min(self.free());
        let mut out = vec![0; count];
        let mut done = 0;
        while done < count {
            let at = self.index(self.len + done);
            let chunk = (count - done).min(self.capacity() - at);
            out[done..done + chunk].copy_from_slice(&self.storage[at..at + chunk]);
            done += chunk;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn wraps_and_parks_bytes_beyond_the_end() {
        let mut ring = Ring::with_storage(vec![0; 8]);
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
        let mut ring = Ring::with_storage(vec![0; 8]);
        ring.push(b"abc");
        ring.rewind_if_empty();
        ring.discard(2);
        ring.rewind_if_empty();
        assert_eq!(ring.to_vec(), b"c", "a ring holding bytes keeps its head");
        ring.discard(1);
        ring.rewind_if_empty();
        ring.push(b"wxyz");
        assert_eq!(&ring.storage[..4], b"wxyz", "reused from the first byte");
        assert_eq!(ring.to_vec(), b"wxyz");
    }
}
