//! The connection table: a slab of blocks addressed by generation-checked
//! [`ConnId`]s, an O(1) 4-tuple demultiplexing map, and the pool of
//! per-connection buffers (allocated once, reused by later connections).

use std::net::SocketAddrV4;

use super::assembler::Assembler;
use super::ring::Ring;
use super::tcb::Tcb;
use crate::event::ConnId;
use crate::fast_hash::FastMap;

/// Demultiplexing key: the remote address and port and our port (our
/// address is the stack's own).
pub(crate) fn key(local_port: u16, remote: SocketAddrV4) -> u64 {
    u64::from(u32::from(*remote.ip())) << 32
        | u64::from(remote.port()) << 16
        | u64::from(local_port)
}

/// A zeroed buffer whose pages are all touched now, at connection set-up,
/// so the data path never takes a first-touch page fault.
fn committed(len: usize) -> Vec<u8> {
    const PAGE: usize = 4096;
    let mut buffer = vec![0u8; len];
    for at in (0..len).step_by(PAGE) {
        // black_box: the store must happen although it writes a zero.
        buffer[at] = std::hint::black_box(0);
    }
    buffer
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    /// The block itself, inline: reaching it from a handle is one
    /// dependent load fewer than through a box.
    tcb: Option<Tcb>,
}

/// Slab, map and buffer pool.
#[derive(Debug)]
pub(crate) struct ConnTable {
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    map: FastMap<u64, u32>,
    rx_pool: Vec<Vec<u8>>,
    tx_pool: Vec<Vec<u8>>,
    rx_size: usize,
    tx_size: usize,
    capacity: usize,
}

impl ConnTable {
    pub(crate) fn new(capacity: usize, rx_size: usize, tx_size: usize) -> ConnTable {
        ConnTable {
            // Reserved up front (touched only as connections open), so the
            // inline blocks never move.
            slots: Vec::with_capacity(capacity.min(65_536)),
            free_slots: Vec::new(),
            map: FastMap::with_capacity_and_hasher(capacity, Default::default()),
            rx_pool: Vec::new(),
            tx_pool: Vec::new(),
            rx_size,
            tx_size,
            capacity,
        }
    }

    /// Connections in the table.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// Fresh receive and send rings from the pool.
    pub(crate) fn buffers(&mut self) -> (Ring, Ring) {
        let rx = self
            .rx_pool
            .pop()
            .unwrap_or_else(|| committed(Ring::heap_len(self.rx_size)));
        let tx = self
            .tx_pool
            .pop()
            .unwrap_or_else(|| committed(Ring::heap_len(self.tx_size)));
        (
            Ring::with_storage(self.rx_size, rx),
            Ring::with_storage(self.tx_size, tx),
        )
    }

    /// Returns a block's rings to the pool.
    pub(crate) fn recycle(&mut self, rx: Ring, tx: Ring) {
        // Rings of other sizes (a TIME-WAIT block's empty ones) are dropped.
        if rx.capacity() == self.rx_size {
            self.rx_pool.push(rx.into_storage());
        }
        if tx.capacity() == self.tx_size {
            self.tx_pool.push(tx.into_storage());
        }
    }

    pub(crate) fn lookup(&self, key: u64) -> Option<ConnId> {
        let slot = *self.map.get(&key)?;
        Some(ConnId {
            slot,
            generation: self.slots[slot as usize].generation,
        })
    }

    /// Inserts a block under `key`; None when full or the key is taken (the
    /// block's buffers then go back to the pool).
    pub(crate) fn insert(&mut self, key: u64, mut tcb: Tcb) -> Option<ConnId> {
        if self.is_full() || self.map.contains_key(&key) {
            let (rx, tx) = (std::mem::take(&mut tcb.rx), std::mem::take(&mut tcb.tx));
            self.recycle(rx, tx);
            return None;
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    tcb: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.tcb = Some(tcb);
        self.map.insert(key, slot);
        Some(ConnId {
            slot,
            generation: entry.generation,
        })
    }

    /// Moves a block to a new key (CRAB redirect).
    pub(crate) fn rekey(&mut self, old: u64, new: u64) -> bool {
        if self.map.contains_key(&new) {
            return false;
        }
        match self.map.remove(&old) {
            Some(slot) => {
                self.map.insert(new, slot);
                true
            }
            None => false,
        }
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<&Tcb> {
        let slot = self.slots.get(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.tcb.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut Tcb> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.tcb.as_mut()
    }

    /// Removes a block (its handle becomes stale) and recycles its buffers.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<Tcb> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let mut tcb = slot.tcb.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(id.slot);
        self.map.remove(&key(tcb.local.port(), tcb.remote));
        let rx = std::mem::take(&mut tcb.rx);
        let tx = std::mem::take(&mut tcb.tx);
        self.recycle(rx, tx);
        Some(tcb)
    }

    /// Bytes held by the table's own structures per slot in use (slab slot
    /// with its inline block, whose rings hold the first bytes of the
    /// buffers, the block's reassembly ranges, map entry), excluding the
    /// buffers' heap parts.
    pub(crate) fn overhead_per_connection() -> usize {
        size_of::<Slot>() + Assembler::heap_bytes() + size_of::<(u64, u32)>() + size_of::<u64>()
    }
}
