//! The single-producer/single-consumer descriptor rings of the shm NIC.
//!
//! One ring exists per (sending port and queue, receiving port and queue):
//! the sending queue's core is its only producer and the receiving queue's
//! core its only consumer, in whatever process they live. A descriptor
//! names a frame buffer of the sender's pool and the frame length; the
//! frame itself is never copied (the receiver reads it in place).
//!
//! `tail` and `head` are free-running `u32` counts (positions are taken
//! modulo the capacity, a power of two). The ring capacity equals the
//! number of buffers of the sending queue and every unreclaimed descriptor
//! of a ring holds a distinct buffer, so a sender that owns a free buffer
//! always finds a free descriptor slot: back-pressure is "no free buffer".
//!
//! # Memory ordering (Lamport's SPSC queue with release/acquire indices)
//!
//! 1. The producer writes frame bytes and descriptors (plain / `Relaxed`),
//!    then publishes a whole burst with one `tail.store(Release)`.
//! 2. The consumer loads `tail` with `Acquire` before reading descriptors
//!    and frames: everything written before the publishing store is
//!    visible.
//! 3. The consumer releases a burst with one `head.store(Release)` after it
//!    has finished reading those frames.
//! 4. The producer loads `head` with `Acquire` before reusing the buffers
//!    of released descriptors, so the consumer's reads happen before the
//!    producer's next writes into them.
//!
//! Each index is written by one side only, so no read-modify-write, lock or
//! syscall is needed per packet. The same holds across processes: the
//! atomics are lock-free and address-free, the mapping is shared memory.

use std::sync::atomic::{AtomicU64, Ordering};

use super::layout::RingHeader;

/// Packs a buffer index and a frame length into a descriptor.
pub(super) fn encode(buffer: u32, len: u32) -> u64 {
    u64::from(len) << 32 | u64::from(buffer)
}

/// Unpacks a descriptor into (buffer index, frame length).
pub(super) fn decode(descriptor: u64) -> (u32, u32) {
    (descriptor as u32, (descriptor >> 32) as u32)
}

/// Sender-side state of one ring (local to the sending core).
#[derive(Debug)]
pub(super) struct Producer {
    /// Descriptors written (published or not).
    tail: u32,
    /// Descriptors made visible to the consumer.
    published: u32,
    /// Descriptors whose buffers were handed back to the free list.
    reclaimed: u32,
}

impl Producer {
    /// Takes over the producer side of a ring as it is in shared memory.
    /// The descriptors still in it (left by a previous owner of the port)
    /// are reported through `in_flight` so their buffers stay reserved.
    pub fn attach(
        header: &RingHeader,
        slots: &[AtomicU64],
        mut in_flight: impl FnMut(u32),
    ) -> Self {
        let tail = header.tail.load(Ordering::Acquire);
        let head = header.head.load(Ordering::Acquire);
        let pending = tail.wrapping_sub(head).min(slots.len() as u32);
        let reclaimed = tail.wrapping_sub(pending);
        for offset in 0..pending {
            let position = reclaimed.wrapping_add(offset);
            in_flight(decode(slots[slot(slots, position)].load(Ordering::Relaxed)).0);
        }
        Self {
            tail,
            published: tail,
            reclaimed,
        }
    }

    /// Whether descriptors were written since the last publish.
    pub fn has_unpublished(&self) -> bool {
        self.tail != self.published
    }

    /// Writes one descriptor (invisible until [`publish`](Self::publish)).
    /// The caller guarantees a free slot (it holds a free buffer).
    pub fn push(&mut self, slots: &[AtomicU64], descriptor: u64) {
        debug_assert!(self.tail.wrapping_sub(self.reclaimed) < slots.len() as u32);
        slots[slot(slots, self.tail)].store(descriptor, Ordering::Relaxed);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes every written descriptor visible (ordering rule 1).
    pub fn publish(&mut self, header: &RingHeader) {
        header.tail.store(self.tail, Ordering::Release);
        self.published = self.tail;
    }

    /// Hands the buffers of descriptors the consumer released to `free`
    /// (ordering rule 4); returns how many descriptors were reclaimed.
    pub fn reclaim(
        &mut self,
        header: &RingHeader,
        slots: &[AtomicU64],
        mut free: impl FnMut(u32),
    ) -> u32 {
        if self.reclaimed == self.published {
            return 0;
        }
        let head = header.head.load(Ordering::Acquire);
        // A consumer never releases past what was published; clamp anyway so
        // a corrupted head cannot make us free buffers twice.
        let released = head
            .wrapping_sub(self.reclaimed)
            .min(self.published.wrapping_sub(self.reclaimed));
        for _ in 0..released {
            free(decode(slots[slot(slots, self.reclaimed)].load(Ordering::Relaxed)).0);
            self.reclaimed = self.reclaimed.wrapping_add(1);
        }
        released
    }
}

/// Receiver-side state of one ring (local to the receiving core).
#[derive(Debug)]
pub(super) struct Consumer {
    /// Descriptors released to the producer.
    head: u32,
    /// Descriptors handed out in the current burst (`read - head` of them).
    read: u32,
    /// Last `tail` seen, to avoid touching the producer's line when the
    /// ring is known to hold more.
    tail_seen: u32,
}

impl Consumer {
    /// Takes over the consumer side of a ring, discarding whatever a
    /// previous owner of the port left unread in it.
    pub fn attach(header: &RingHeader) -> Self {
        let tail = discard_unread(header);
        Self {
            head: tail,
            read: tail,
            tail_seen: tail,
        }
    }

    /// Hands out up to `max` descriptors in order (ordering rule 2).
    pub fn take(
        &mut self,
        header: &RingHeader,
        slots: &[AtomicU64],
        max: usize,
        mut deliver: impl FnMut(u64),
    ) {
        let capacity = slots.len() as u32;
        if self.tail_seen == self.read {
            self.tail_seen = header.tail.load(Ordering::Acquire);
        }
        // A producer never runs more than `capacity` ahead of `head`; clamp
        // so a corrupted tail cannot make us read slots twice.
        let available = self
            .tail_seen
            .wrapping_sub(self.read)
            .min(capacity - self.read.wrapping_sub(self.head));
        for _ in 0..available.min(max as u32) {
            deliver(slots[slot(slots, self.read)].load(Ordering::Relaxed));
            self.read = self.read.wrapping_add(1);
        }
    }

    /// Whether descriptors were handed out since the last release.
    pub fn has_unreleased(&self) -> bool {
        self.read != self.head
    }

    /// Returns the descriptors handed out so far to the producer
    /// (ordering rule 3).
    pub fn release(&mut self, header: &RingHeader) {
        if self.read != self.head {
            header.head.store(self.read, Ordering::Release);
            self.head = self.read;
        }
    }
}

/// Releases everything published in a ring whose consumer is gone (only
/// while no consumer uses it); returns the new head.
pub(super) fn discard_unread(header: &RingHeader) -> u32 {
    let tail = header.tail.load(Ordering::Acquire);
    header.head.store(tail, Ordering::Release);
    tail
}

/// Whether a ring holds descriptors its consumer has not released yet
/// (for probes on other cores: a snapshot, never consuming anything).
pub(super) fn holds_frames(header: &RingHeader) -> bool {
    header.tail.load(Ordering::Acquire) != header.head.load(Ordering::Relaxed)
}

fn slot(slots: &[AtomicU64], position: u32) -> usize {
    position as usize & (slots.len() - 1)
}
