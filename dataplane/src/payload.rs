//! Byte buffers recycled through per-core pools, so that the steady-state
//! request path allocates nothing (thesis ch. 4.4: IX and ZygOS draw every
//! buffer from per-core pools).
//!
//! Received bytes travel from the home core, where they are copied out of
//! the stack, to whichever core runs the application; the bytes an
//! application sends travel back to the home core. A [`Payload`] remembers
//! the [`PayloadPool`] it came from and returns its buffer there when it is
//! dropped, on any core: the pool is a bounded lock-free queue, so a
//! buffer freed on another core neither takes a lock nor goes through the
//! allocator (which would take a malloc arena lock and, inside the vmx
//! guest, a futex exit when contended).
//!
//! ```
//! use dataplane::payload::PayloadPool;
//! let pool = PayloadPool::new(4);
//! let mut payload = pool.take();
//! payload.extend_from_slice(b"get k\r\n");
//! assert_eq!(&payload[..], b"get k\r\n");
//! drop(payload);
//! assert_eq!(pool.idle(), 1);
//! assert!(pool.take().is_empty(), "recycled buffers come back cleared");
//! ```

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

/// Capacity of a buffer the pool creates.
pub const FRESH_CAPACITY: usize = 2 * 1024;

/// Largest capacity a pool keeps: a buffer grown beyond it (a large value)
/// is freed, so the memory parked in a pool stays bounded.
pub const MAX_RETAINED_CAPACITY: usize = 16 * 1024;

/// A bounded pool of cleared byte buffers, shared by reference count.
#[derive(Clone)]
pub struct PayloadPool {
    idle: Arc<ArrayQueue<Vec<u8>>>,
}

impl PayloadPool {
    /// A pool that keeps at most `buffers` idle buffers (at least one).
    pub fn new(buffers: usize) -> Self {
        PayloadPool {
            idle: Arc::new(ArrayQueue::new(buffers.max(1))),
        }
    }

    /// An empty payload whose buffer returns to this pool when dropped.
    pub fn take(&self) -> Payload {
        let bytes = self
            .idle
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(FRESH_CAPACITY));
        Payload {
            bytes,
            home: Some(self.clone()),
        }
    }

    /// Buffers waiting to be reused.
    pub fn idle(&self) -> usize {
        self.idle.len()
    }

    fn give_back(&self, mut bytes: Vec<u8>) {
        if bytes.capacity() <= MAX_RETAINED_CAPACITY {
            bytes.clear();
            // A full pool frees the buffer: the bound is what matters.
            let _ = self.idle.push(bytes);
        }
    }
}

impl fmt::Debug for PayloadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadPool")
            .field("idle", &self.idle.len())
            .field("capacity", &self.idle.capacity())
            .finish()
    }
}

/// Bytes received from or sent to a connection; derefs to `[u8]`.
///
/// Built from a pool ([`PayloadPool::take`]) on the data path, or from a
/// `Vec` (`Payload::from`), which is simply freed when dropped.
#[derive(Default)]
pub struct Payload {
    bytes: Vec<u8>,
    home: Option<PayloadPool>,
}

impl Payload {
    /// Appends bytes.
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.give_back(std::mem::take(&mut self.bytes));
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload { bytes, home: None }
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Payload::from(bytes.to_vec())
    }
}

impl Clone for Payload {
    /// A copy of the bytes in a buffer of its own (not pooled).
    fn clone(&self) -> Self {
        Payload::from(self.bytes.clone())
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.bytes) {
            Ok(text) => write!(f, "Payload({text:?})"),
            Err(_) => write!(f, "Payload({:02x?})", self.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_return_to_their_own_pool_from_any_thread() {
        let pool = PayloadPool::new(8);
        let mut payload = pool.take();
        payload.extend_from_slice(&[1, 2, 3]);
        let address = payload.as_ptr();
        std::thread::spawn(move || drop(payload)).join().unwrap();
        assert_eq!(pool.idle(), 1);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), address, "the same buffer is reused");
    }

    #[test]
    fn the_pool_stays_bounded() {
        let pool = PayloadPool::new(2);
        let payloads: Vec<Payload> = (0..5).map(|_| pool.take()).collect();
        drop(payloads);
        assert_eq!(pool.idle(), 2);
        let mut huge = pool.take();
        huge.extend_from_slice(&vec![0; MAX_RETAINED_CAPACITY + 1]);
        let before = pool.idle();
        drop(huge);
        assert_eq!(pool.idle(), before, "an oversized buffer is freed");
    }

    #[test]
    fn unpooled_payloads_compare_and_clone_by_bytes() {
        let pool = PayloadPool::new(1);
        let mut pooled = pool.take();
        pooled.extend_from_slice(b"ab");
        assert_eq!(pooled, Payload::from(&b"ab"[..]));
        assert_eq!(pooled.clone(), pooled);
        assert_eq!(format!("{pooled:?}"), "Payload(\"ab\")");
        assert_eq!(format!("{:?}", Payload::from(vec![0xff])), "Payload([ff])");
    }
}
