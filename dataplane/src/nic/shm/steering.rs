//! Receive steering of one shm switch port: the exact-match override table
//! and the RSS indirection table, both in shared memory.
//!
//! The switch picks a frame's RX queue at the destination port as follows:
//! 1. an override for the frame's 4-tuple, if any (migration moves a flow,
//!    CRAB pins a connection);
//! 2. else `indirection[toeplitz(4-tuple) % 128]` (RSS, Microsoft's
//!    "RSS hashing functions");
//! 3. else (not IPv4 TCP/UDP, e.g. ARP) queue 0.
//!
//! Indirection entries are single atomic words (a frame sees the old or the
//! new queue). The override table is an open-addressing hash table
//! (linear probing, backward-shift deletion) under a seqlock: writers, from
//! any thread or process, serialise on a spin flag in shared memory and
//! bump the sequence around their change; the per-packet lookup never
//! blocks, it retries if a write overlapped it, and is skipped entirely
//! while the table is empty. A writer that dies inside its few-instruction
//! critical section would leave the table locked (not handled).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use super::layout::{Mapping, OVERRIDE_CAPACITY, OverrideEntry, OverrideTable, PortBlock};
use crate::nic::rss::MICROSOFT;
use crate::nic::{FlowSteering, FourTuple, INDIRECTION_ENTRIES, SteeringError};

/// Most overrides a port holds (3/4 of the table, so probes stay short).
pub const MAX_OVERRIDES: usize = OVERRIDE_CAPACITY / 4 * 3;

/// The RX queue of `port` for a frame with `flow` (see the module docs).
pub(super) fn select_queue(port: &PortBlock, flow: Option<&FourTuple>) -> usize {
    let Some(flow) = flow else { return 0 };
    let queues = port.queues.load(Ordering::Relaxed) as usize;
    let queue = lookup_override(&port.overrides, flow).unwrap_or_else(|| {
        let hash = MICROSOFT.hash_flow(flow) as usize;
        port.indirection[hash % INDIRECTION_ENTRIES].load(Ordering::Relaxed) as usize
    });
    if queue < queues { queue } else { 0 }
}

/// Resets a freshly claimed port's tables: indirection spread round-robin
/// over `queues`, no override.
pub(super) fn reset(port: &PortBlock, queues: usize) {
    for (index, entry) in port.indirection.iter().enumerate() {
        entry.store((index % queues) as u32, Ordering::Relaxed);
    }
    write_locked(&port.overrides, |table| {
        for entry in &table.entries {
            entry.queue_plus_one.store(0, Ordering::Relaxed);
        }
        table.len.store(0, Ordering::Relaxed);
    });
}

fn home_slot(flow: &FourTuple) -> usize {
    let key = u64::from(flow.src_ip.to_bits()) << 32 | u64::from(flow.dst_ip.to_bits());
    let key = key ^ u64::from(ports_word(flow)).rotate_left(17);
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize % OVERRIDE_CAPACITY
}

fn ports_word(flow: &FourTuple) -> u32 {
    u32::from(flow.src_port) << 16 | u32::from(flow.dst_port)
}

fn holds(entry: &OverrideEntry, flow: &FourTuple) -> bool {
    entry.src_ip.load(Ordering::Relaxed) == flow.src_ip.to_bits()
        && entry.dst_ip.load(Ordering::Relaxed) == flow.dst_ip.to_bits()
        && entry.ports.load(Ordering::Relaxed) == ports_word(flow)
}

/// Linear probe for `flow`: the slot holding it, or the empty slot ending
/// its probe sequence.
fn probe(table: &OverrideTable, flow: &FourTuple) -> Result<usize, usize> {
    let mut slot = home_slot(flow);
    for _ in 0..OVERRIDE_CAPACITY {
        let entry = &table.entries[slot];
        if entry.queue_plus_one.load(Ordering::Relaxed) == 0 {
            return Err(slot);
        }
        if holds(entry, flow) {
            return Ok(slot);
        }
        slot = (slot + 1) % OVERRIDE_CAPACITY;
    }
    // Unreachable while the table keeps free slots (MAX_OVERRIDES); a torn
    // read under the seqlock is retried by the caller.
    Err(OVERRIDE_CAPACITY)
}

/// Seqlock read of the override of `flow`.
fn lookup_override(table: &OverrideTable, flow: &FourTuple) -> Option<usize> {
    if table.len.load(Ordering::Acquire) == 0 {
        return None;
    }
    loop {
        let before = table.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let found = probe(table, flow)
            .ok()
            .map(|slot| table.entries[slot].queue_plus_one.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        if table.seq.load(Ordering::Relaxed) == before {
            return found.map(|queue_plus_one| queue_plus_one as usize - 1);
        }
    }
}

/// Runs `change` as the only writer, with the sequence odd meanwhile.
fn write_locked<T>(table: &OverrideTable, change: impl FnOnce(&OverrideTable) -> T) -> T {
    while table
        .writer
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    let seq = table.seq.load(Ordering::Relaxed);
    table.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    let result = change(table);
    table.seq.store(seq.wrapping_add(2), Ordering::Release);
    table.writer.store(0, Ordering::Release);
    result
}

fn store_entry(entry: &OverrideEntry, src_ip: u32, dst_ip: u32, ports: u32, queue_plus_one: u32) {
    entry.src_ip.store(src_ip, Ordering::Relaxed);
    entry.dst_ip.store(dst_ip, Ordering::Relaxed);
    entry.ports.store(ports, Ordering::Relaxed);
    entry
        .queue_plus_one
        .store(queue_plus_one, Ordering::Relaxed);
}

fn load_flow(entry: &OverrideEntry) -> FourTuple {
    let ports = entry.ports.load(Ordering::Relaxed);
    FourTuple {
        src_ip: entry.src_ip.load(Ordering::Relaxed).into(),
        dst_ip: entry.dst_ip.load(Ordering::Relaxed).into(),
        src_port: (ports >> 16) as u16,
        dst_port: ports as u16,
    }
}

/// Removes the entry at `hole` and shifts later members of its probe run
/// back so every remaining key stays reachable (Knuth 6.4, algorithm R).
fn remove_at(table: &OverrideTable, mut hole: usize) {
    let mut next = (hole + 1) % OVERRIDE_CAPACITY;
    loop {
        let entry = &table.entries[next];
        let queue_plus_one = entry.queue_plus_one.load(Ordering::Relaxed);
        if queue_plus_one == 0 {
            break;
        }
        let home = home_slot(&load_flow(entry));
        // The entry may fill the hole unless its home lies cyclically in
        // (hole, next].
        let stays = if hole <= next {
            hole < home && home <= next
        } else {
            hole < home || home <= next
        };
        if !stays {
            let target = &table.entries[hole];
            store_entry(
                target,
                entry.src_ip.load(Ordering::Relaxed),
                entry.dst_ip.load(Ordering::Relaxed),
                entry.ports.load(Ordering::Relaxed),
                queue_plus_one,
            );
            hole = next;
        }
        next = (next + 1) % OVERRIDE_CAPACITY;
    }
    table.entries[hole]
        .queue_plus_one
        .store(0, Ordering::Relaxed);
}

/// The steering control of one port of a shm switch; cloneable, usable from
/// any thread, and equivalent to a handle of the same port in another
/// process.
#[derive(Clone)]
pub struct ShmSteering {
    mapping: Arc<Mapping>,
    port: usize,
}

impl ShmSteering {
    pub(super) fn new(mapping: Arc<Mapping>, port: usize) -> Self {
        Self { mapping, port }
    }

    /// The switch port this handle steers.
    pub fn port_index(&self) -> usize {
        self.port
    }

    fn block(&self) -> &PortBlock {
        self.mapping.port(self.port)
    }

    fn check_queue(&self, queue: usize) -> Result<(), SteeringError> {
        let queues = self.queue_count();
        if queue < queues {
            Ok(())
        } else {
            Err(SteeringError::NoSuchQueue { queue, queues })
        }
    }

    fn entry(&self, index: usize) -> Result<&AtomicU32, SteeringError> {
        self.block()
            .indirection
            .get(index)
            .ok_or(SteeringError::NoSuchEntry { index })
    }
}

impl FlowSteering for ShmSteering {
    fn queue_count(&self) -> usize {
        self.block().queues.load(Ordering::Acquire) as usize
    }

    fn set_override(&self, flow: FourTuple, queue: usize) -> Result<(), SteeringError> {
        self.check_queue(queue)?;
        let table = &self.block().overrides;
        write_locked(table, |table| match probe(table, &flow) {
            Ok(slot) => {
                table.entries[slot]
                    .queue_plus_one
                    .store(queue as u32 + 1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) if table.len.load(Ordering::Relaxed) as usize >= MAX_OVERRIDES => {
                Err(SteeringError::OverridesFull {
                    capacity: MAX_OVERRIDES,
                })
            }
            Err(slot) => {
                store_entry(
                    &table.entries[slot],
                    flow.src_ip.to_bits(),
                    flow.dst_ip.to_bits(),
                    ports_word(&flow),
                    queue as u32 + 1,
                );
                table.len.fetch_add(1, Ordering::Release);
                Ok(())
            }
        })
    }

    fn clear_override(&self, flow: FourTuple) -> bool {
        write_locked(&self.block().overrides, |table| match probe(table, &flow) {
            Ok(slot) => {
                remove_at(table, slot);
                table.len.fetch_sub(1, Ordering::Release);
                true
            }
            Err(_) => false,
        })
    }

    fn override_for(&self, flow: FourTuple) -> Option<usize> {
        lookup_override(&self.block().overrides, &flow)
    }

    fn set_indirection(&self, index: usize, queue: usize) -> Result<(), SteeringError> {
        self.check_queue(queue)?;
        self.entry(index)?.store(queue as u32, Ordering::Relaxed);
        Ok(())
    }

    fn indirection(&self, index: usize) -> Result<usize, SteeringError> {
        Ok(self.entry(index)?.load(Ordering::Relaxed) as usize)
    }

    fn queue_for(&self, flow: FourTuple) -> usize {
        select_queue(self.block(), Some(&flow))
    }
}
