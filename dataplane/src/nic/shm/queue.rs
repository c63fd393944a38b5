//! [`ShmQueue`]: one core's queue on a shm switch port, and its probe.
//!
//! Transmit takes a free buffer of the queue's own pool, lets the caller
//! build the frame in it, then switches it in the sender's context (no
//! switch thread): destination port by MAC (group addresses go to every
//! other port), RX queue by that port's steering tables, and one descriptor
//! per destination into the SPSC ring from this queue to that RX queue.
//! Receive collects descriptors from every ring into this queue and lends
//! the frames in place; dropping the burst releases them.
//!
//! Wake-ups of parked receivers: a receiver core about to block announces
//! its thread in its port's `sleepers` word for the queue, then looks for
//! frames (a `SeqCst` fence between); a sender publishes a burst, fences,
//! then reads the `sleepers` word of every queue it published to, and
//! interrupts a thread it finds there (taking the word, so once). One of
//! the two always sees the other's store. A busy receiver announces
//! nothing, so the sender's cost is one fence and one load per flush.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};

use super::classify::{FrameClass, classify};
use super::layout::{MAX_FRAME_LEN, Mapping, PORT_ACTIVE};
use super::port::PortLease;
use super::ring::{self, Consumer, Producer};
use super::{ShmNic, steering};
use crate::nic::{
    Capabilities, MAX_BURST, NicQueue, PendingFrames, QueueStats, RxBurst, RxProbe, RxRelease,
    Sleeper, TxError, Wakeup,
};
use crate::process::signal;

/// The owned handle of one queue of a shm NIC port (`Send`, `!Sync`).
pub struct ShmQueue {
    lease: Arc<PortLease>,
    queue: usize,
    tx: TxSide,
    rx: RxSide,
    stats: QueueStats,
    _not_sync: PhantomData<Cell<()>>,
}

/// A (port, queue) pair on the switch.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    port: usize,
    queue: usize,
}

struct TxSide {
    me: Endpoint,
    /// One producer per destination endpoint (`port * max_queues + queue`).
    outgoing: Vec<Producer>,
    /// Endpoints with unpublished descriptors.
    dirty: Vec<usize>,
    unpublished: usize,
    /// Free buffers of this queue's pool (a LIFO, so reuse stays cache-hot).
    free: Vec<u32>,
    /// Per buffer, how many rings still hold it (broadcast: several).
    refs: Vec<u8>,
    routes: Routes,
}

/// The active ports other than ours, refreshed when the switch's port
/// generation changes.
struct Routes {
    generation: u64,
    ports: Vec<(usize, u64)>,
}

struct RxSide {
    mapping: Arc<Mapping>,
    me: Endpoint,
    /// One consumer per source endpoint (`port * max_queues + queue`).
    incoming: Vec<Consumer>,
    /// Source endpoints with frames handed out and not yet released.
    touched: Vec<usize>,
    /// First source port polled next (rotates for fairness).
    next_port: usize,
}

impl ShmQueue {
    pub(super) fn new(lease: Arc<PortLease>, queue: usize) -> Self {
        let mapping = &lease.mapping;
        let layout = mapping.layout;
        let geometry = layout.geometry;
        let me = Endpoint {
            port: lease.index,
            queue,
        };
        let endpoints = geometry.max_ports * geometry.max_queues;
        let endpoint = |index: usize| Endpoint {
            port: index / geometry.max_queues,
            queue: index % geometry.max_queues,
        };
        let mut refs = vec![0u8; geometry.buffers_per_queue];
        let outgoing = (0..endpoints)
            .map(|index| {
                let to = endpoint(index);
                let (header, slots) =
                    mapping.ring(layout.ring_index(me.port, me.queue, to.port, to.queue));
                Producer::attach(header, slots, |buffer| {
                    if let Some(count) = refs.get_mut(buffer as usize) {
                        *count = count.saturating_add(1);
                    }
                })
            })
            .collect();
        let free = (0..geometry.buffers_per_queue as u32)
            .rev()
            .filter(|&buffer| refs[buffer as usize] == 0)
            .collect::<Vec<_>>();
        let mut free_list = Vec::with_capacity(geometry.buffers_per_queue);
        free_list.extend(free);
        let incoming = (0..endpoints)
            .map(|index| {
                let from = endpoint(index);
                Consumer::attach(
                    mapping
                        .ring(layout.ring_index(from.port, from.queue, me.port, me.queue))
                        .0,
                )
            })
            .collect();
        let rx = RxSide {
            mapping: Arc::clone(mapping),
            me,
            incoming,
            touched: Vec::with_capacity(endpoints),
            next_port: 0,
        };
        let tx = TxSide {
            me,
            outgoing,
            dirty: Vec::with_capacity(endpoints),
            unpublished: 0,
            free: free_list,
            refs,
            routes: Routes {
                generation: u64::MAX,
                ports: Vec::with_capacity(geometry.max_ports),
            },
        };
        Self {
            lease,
            queue,
            tx,
            rx,
            stats: QueueStats::default(),
            _not_sync: PhantomData,
        }
    }

    /// Free TX buffers right now (after reclaiming released ones).
    pub fn free_tx_buffers(&mut self) -> usize {
        self.tx.reclaim(&self.lease.mapping);
        self.tx.free.len()
    }
}

impl NicQueue for ShmQueue {
    fn queue_index(&self) -> usize {
        self.queue
    }

    fn capabilities(&self) -> Capabilities {
        ShmNic::capabilities()
    }

    fn rx_burst(&mut self, max: usize) -> RxBurst<'_> {
        let Self {
            lease, rx, stats, ..
        } = self;
        let mut burst = RxBurst::new(None);
        rx.collect(&lease.mapping, max.min(MAX_BURST), &mut burst, stats);
        stats.rx_frames += burst.len() as u64;
        burst.set_release(rx);
        burst
    }

    fn try_send_frame(
        &mut self,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<(), TxError> {
        if len > MAX_FRAME_LEN {
            self.stats.tx_too_long += 1;
            return Err(TxError::TooLong {
                len,
                max: MAX_FRAME_LEN,
            });
        }
        let mapping = &*self.lease.mapping;
        let Some(buffer) = self.tx.take_buffer(mapping) else {
            self.stats.tx_full += 1;
            return Err(TxError::Full);
        };
        let start = mapping.buffer(self.tx.me.port, self.tx.me.queue, buffer as usize);
        // SAFETY: `buffer` came from the free list: no ring holds a
        // descriptor of it (every consumer released it, ordering rule 4 of
        // the `ring` module), so this queue's core is its only user; it is
        // SLOT_SIZE >= MAX_FRAME_LEN >= len bytes inside the live mapping.
        let frame = unsafe { std::slice::from_raw_parts_mut(start, len) };
        fill(frame);
        let class = classify(frame);
        let destinations = self.tx.switch(mapping, buffer, len, class);
        if destinations == 0 {
            self.tx.free.push(buffer);
            self.stats.tx_dropped += 1;
        }
        self.stats.tx_frames += 1;
        if self.tx.unpublished >= MAX_BURST {
            self.tx.flush(mapping);
        }
        Ok(())
    }

    fn flush_tx(&mut self) {
        self.tx.flush(&self.lease.mapping);
    }

    fn rx_probe(&self) -> RxProbe {
        RxProbe::new(
            self.queue,
            Arc::new(ShmPending {
                mapping: Arc::clone(&self.lease.mapping),
                me: self.rx.me,
            }),
        )
    }

    fn stats(&self) -> QueueStats {
        self.stats
    }

    fn wakeup(&self) -> Option<Wakeup<'_>> {
        Some(Wakeup::Interrupt)
    }

    fn announce_sleeper(&self, sleeper: Option<Sleeper>) {
        let word = sleeper.map_or(0, |s| u64::from(s.pid) << 32 | u64::from(s.tid));
        let me = self.rx.me;
        if let Some(slot) = self.lease.mapping.port(me.port).sleepers.get(me.queue) {
            slot.store(word, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
    }
}

impl Drop for ShmQueue {
    fn drop(&mut self) {
        self.tx.flush(&self.lease.mapping);
    }
}

impl TxSide {
    fn take_buffer(&mut self, mapping: &Mapping) -> Option<u32> {
        if let Some(buffer) = self.free.pop() {
            return Some(buffer);
        }
        self.reclaim(mapping);
        self.free.pop()
    }

    /// Returns to the free list the buffers every ring has released.
    fn reclaim(&mut self, mapping: &Mapping) {
        let layout = mapping.layout;
        let max_queues = layout.geometry.max_queues;
        let Self {
            me,
            outgoing,
            free,
            refs,
            ..
        } = self;
        for (index, producer) in outgoing.iter_mut().enumerate() {
            let ring_index =
                layout.ring_index(me.port, me.queue, index / max_queues, index % max_queues);
            let (header, slots) = mapping.ring(ring_index);
            producer.reclaim(header, slots, |buffer| {
                if let Some(count) = refs.get_mut(buffer as usize).filter(|count| **count > 0) {
                    *count -= 1;
                    if *count == 0 {
                        free.push(buffer);
                    }
                }
            });
        }
    }

    /// Queues one descriptor of `buffer` to every destination of the frame;
    /// returns the number of destinations.
    fn switch(
        &mut self,
        mapping: &Mapping,
        buffer: u32,
        len: usize,
        class: Option<FrameClass>,
    ) -> u8 {
        let Some(class) = class else { return 0 };
        self.routes.refresh(mapping, self.me.port);
        let descriptor = ring::encode(buffer, len as u32);
        let mut destinations = 0u8;
        for &(port, mac) in &self.routes.ports {
            if !class.to_all && mac != class.dst_mac {
                continue;
            }
            let queue = steering::select_queue(mapping.port(port), class.flow.as_ref());
            let index = port * mapping.layout.geometry.max_queues + queue;
            let producer = &mut self.outgoing[index];
            if !producer.has_unpublished() {
                self.dirty.push(index);
            }
            let ring_index = mapping
                .layout
                .ring_index(self.me.port, self.me.queue, port, queue);
            producer.push(mapping.ring(ring_index).1, descriptor);
            destinations += 1;
            if !class.to_all {
                break;
            }
        }
        self.refs[buffer as usize] = destinations;
        self.unpublished += usize::from(destinations);
        destinations
    }

    /// Publishes every written descriptor, then takes back released buffers
    /// while they are still hot in cache.
    fn flush(&mut self, mapping: &Mapping) {
        let max_queues = mapping.layout.geometry.max_queues;
        for &index in &self.dirty {
            let ring_index = mapping.layout.ring_index(
                self.me.port,
                self.me.queue,
                index / max_queues,
                index % max_queues,
            );
            self.outgoing[index].publish(mapping.ring(ring_index).0);
        }
        if !self.dirty.is_empty() {
            fence(Ordering::SeqCst);
        }
        for index in self.dirty.drain(..) {
            wake_sleeper(mapping, index / max_queues, index % max_queues);
        }
        self.unpublished = 0;
        self.reclaim(mapping);
    }
}

impl Routes {
    fn refresh(&mut self, mapping: &Mapping, me: usize) {
        let generation = mapping.header().generation.load(Ordering::Acquire);
        if generation == self.generation {
            return;
        }
        self.generation = generation;
        self.ports.clear();
        for (port, block) in mapping.ports() {
            if port != me && block.state.load(Ordering::Acquire) == PORT_ACTIVE {
                self.ports.push((port, block.mac.load(Ordering::Relaxed)));
            }
        }
    }
}

impl RxSide {
    /// Moves up to `max` frames from the rings into `burst`.
    fn collect<'a>(
        &mut self,
        mapping: &'a Mapping,
        max: usize,
        burst: &mut RxBurst<'a>,
        stats: &mut QueueStats,
    ) {
        let geometry = mapping.layout.geometry;
        let me = self.me;
        for offset in 0..geometry.max_ports {
            let port = (self.next_port + offset) % geometry.max_ports;
            if port == me.port {
                continue;
            }
            let queues = (mapping.port(port).queues.load(Ordering::Acquire) as usize)
                .min(geometry.max_queues);
            for queue in 0..queues {
                let wanted = max - burst.len();
                if wanted == 0 {
                    break;
                }
                let index = port * geometry.max_queues + queue;
                let consumer = &mut self.incoming[index];
                let had_unreleased = consumer.has_unreleased();
                let (header, slots) =
                    mapping.ring(mapping.layout.ring_index(port, queue, me.port, me.queue));
                consumer.take(header, slots, wanted, |descriptor| {
                    let (buffer, len) = ring::decode(descriptor);
                    if buffer as usize >= geometry.buffers_per_queue || len as usize > MAX_FRAME_LEN
                    {
                        stats.rx_dropped += 1;
                        return;
                    }
                    let start = mapping.buffer(port, queue, buffer as usize);
                    // SAFETY: the descriptor was published with a release
                    // store of `tail` that `take` acquired, so the frame's
                    // bytes are complete and visible; its producer does not
                    // touch the buffer until we release it, which happens
                    // when the burst (the only holder of this view, which
                    // cannot outlive it) is dropped. The slot lies inside
                    // the mapping, alive for 'a.
                    let frame =
                        unsafe { std::slice::from_raw_parts(start.cast_const(), len as usize) };
                    burst.push(frame);
                });
                if !had_unreleased && consumer.has_unreleased() {
                    self.touched.push(index);
                }
            }
        }
        self.next_port = (self.next_port + 1) % geometry.max_ports;
    }
}

impl RxRelease for RxSide {
    fn release(&mut self) {
        let layout = self.mapping.layout;
        let max_queues = layout.geometry.max_queues;
        for index in self.touched.drain(..) {
            let ring_index = layout.ring_index(
                index / max_queues,
                index % max_queues,
                self.me.port,
                self.me.queue,
            );
            self.incoming[index].release(self.mapping.ring(ring_index).0);
        }
    }
}

/// Interrupts the thread parked on `queue` of `port`, if one is announced
/// (module docs). A thread that exited while parked without withdrawing
/// (killed) leaves a stale word: tgkill then fails (ESRCH) unless both its
/// process and thread ids were reused by one thread, and that thread's
/// process runs our handler or dies of the signal. Ports are reset when
/// claimed.
fn wake_sleeper(mapping: &Mapping, port: usize, queue: usize) {
    let Some(slot) = mapping.port(port).sleepers.get(queue) else {
        return;
    };
    if slot.load(Ordering::SeqCst) == 0 {
        return;
    }
    let word = slot.swap(0, Ordering::SeqCst);
    if word != 0 {
        signal::wake(Sleeper {
            pid: (word >> 32) as u32,
            tid: word as u32,
        });
    }
}

/// The probe of one shm RX queue.
struct ShmPending {
    mapping: Arc<Mapping>,
    me: Endpoint,
}

impl PendingFrames for ShmPending {
    /// Counts frames of a burst being processed (not yet released) too.
    fn has_pending(&self) -> bool {
        let geometry = self.mapping.layout.geometry;
        self.mapping.ports().any(|(port, block)| {
            let queues = (block.queues.load(Ordering::Acquire) as usize).min(geometry.max_queues);
            port != self.me.port
                && (0..queues).any(|queue| {
                    let index =
                        self.mapping
                            .layout
                            .ring_index(port, queue, self.me.port, self.me.queue);
                    ring::holds_frames(self.mapping.ring(index).0)
                })
        })
    }

    /// Senders wake a parked receiver themselves.
    fn needs_wakeup(&self) -> bool {
        false
    }
}
