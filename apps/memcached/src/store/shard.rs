//! One lock stripe of the store: a hash index over a slab of nodes that are
//! threaded on an intrusive doubly linked LRU list (head = most recently
//! used, tail = the eviction candidate).
//!
//! A shard knows nothing of locks, time sources or the global memory budget:
//! the [`super::Store`] locks it, passes the validity rule of the moment
//! ([`Validity`]) and does the accounting with the sizes returned here.

use std::collections::HashMap;
use std::sync::Arc;

use super::counters::{Counter, Counters};
use super::expiry::{Expiry, UnixTime};

const NIL: u32 = u32::MAX;

/// A stored value and its metadata.
#[derive(Clone, Debug)]
pub struct Item {
    /// Opaque client flags.
    pub flags: u32,
    /// When the item expires.
    pub expiry: Expiry,
    /// The CAS unique id, fresh on every modification.
    pub cas: u64,
    /// When the item was last stored (flush_all with a delay compares it).
    pub stored_at: UnixTime,
    /// The value bytes (without memcached's trailing CRLF).
    pub value: Arc<[u8]>,
}

/// Bytes an item takes, by memcached's own formula (`item_make_header` plus
/// the 8-byte CAS): 48-byte header, key and its NUL, suffix flags when
/// non-zero, value and its CRLF, CAS.
pub fn footprint(key_len: usize, flags: u32, value_len: usize) -> usize {
    48 + 8 + key_len + 1 + if flags == 0 { 0 } else { 4 } + value_len + 2
}

/// What makes an item invisible at a given moment: its expiry or a flush.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    /// The current time.
    pub now: UnixTime,
    /// Items stored at or before this time are flushed, once it has passed
    /// (0: no delayed flush).
    pub oldest_live: UnixTime,
    /// Items with a CAS id below this one are flushed (immediate flush_all).
    pub oldest_cas: u64,
}

/// Why an item could not be returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No item under this key.
    Absent,
    /// The item had expired (it is now removed).
    Expired,
    /// The item had been flushed (it is now removed).
    Flushed,
}

impl Validity {
    fn check(&self, item: &Item) -> Result<(), Miss> {
        if self.oldest_live != 0
            && self.oldest_live <= self.now
            && item.stored_at <= self.oldest_live
            || item.cas < self.oldest_cas
        {
            Err(Miss::Flushed)
        } else if item.expiry.is_expired(self.now) {
            Err(Miss::Expired)
        } else {
            Ok(())
        }
    }
}

struct Node {
    key: Arc<[u8]>,
    item: Item,
    stamp: u64,
    prev: u32,
    next: u32,
}

/// A stripe of the hash table with its LRU list and counters.
#[derive(Default)]
pub struct Shard {
    index: HashMap<Arc<[u8]>, u32>,
    nodes: Vec<Option<Node>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    bytes: usize,
    /// The statistics counted under this shard's lock.
    pub counters: Counters,
}

impl Shard {
    /// An empty shard.
    pub fn new() -> Self {
        Shard {
            head: NIL,
            tail: NIL,
            ..Default::default()
        }
    }

    /// Number of items linked (live or not yet reclaimed).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The access stamp of the least recently used item (`u64::MAX` when
    /// empty): the store compares shards by it to pick an eviction victim.
    pub fn tail_stamp(&self) -> u64 {
        match self.tail {
            NIL => u64::MAX,
            tail => self.node(tail).stamp,
        }
    }

    /// Bytes used by the linked items.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn node(&self, slot: u32) -> &Node {
        self.nodes[slot as usize]
            .as_ref()
            .expect("linked slot holds a node")
    }

    fn node_mut(&mut self, slot: u32) -> &mut Node {
        self.nodes[slot as usize]
            .as_mut()
            .expect("linked slot holds a node")
    }

    fn detach(&mut self, slot: u32) {
        let (prev, next) = {
            let n = self.node(slot);
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.node_mut(p).next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.node_mut(n).prev = prev,
        }
    }

    fn attach_front(&mut self, slot: u32) {
        let old_head = self.head;
        {
            let n = self.node_mut(slot);
            n.prev = NIL;
            n.next = old_head;
        }
        match old_head {
            NIL => self.tail = slot,
            h => self.node_mut(h).prev = slot,
        }
        self.head = slot;
    }

    /// Finds the live item under `key` and marks it most recently used.
    /// An expired or flushed item found on the way is removed (lazy expiry);
    /// the bytes it freed are returned with the miss. `stamp` orders
    /// accesses across shards.
    pub fn lookup(
        &mut self,
        key: &[u8],
        validity: &Validity,
        stamp: u64,
    ) -> Result<&mut Item, (Miss, usize)> {
        let slot = *self.index.get(key).ok_or((Miss::Absent, 0))?;
        if let Err(miss) = validity.check(&self.node(slot).item) {
            let freed = self.remove_slot(slot);
            self.counters.bump(Counter::Reclaimed);
            return Err((miss, freed));
        }
        if self.head != slot {
            self.detach(slot);
            self.attach_front(slot);
        }
        let node = self.node_mut(slot);
        node.stamp = stamp;
        Ok(&mut node.item)
    }

    /// Links `item` under `key` as most recently used, replacing any item
    /// already there. Returns the bytes of the replaced item (0 if none).
    /// `new_item` counts it in `total_items` (memcached does not count an
    /// increment rewritten in place).
    pub fn insert(&mut self, key: &[u8], item: Item, stamp: u64, new_item: bool) -> usize {
        let freed = match self.index.get(key) {
            Some(&slot) => self.remove_slot(slot),
            None => 0,
        };
        self.bytes += footprint(key.len(), item.flags, item.value.len());
        let key: Arc<[u8]> = Arc::from(key);
        let node = Node {
            key: Arc::clone(&key),
            item,
            stamp,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = Some(node);
                slot
            }
            None => {
                self.nodes.push(Some(node));
                (self.nodes.len() - 1) as u32
            }
        };
        self.index.insert(key, slot);
        self.attach_front(slot);
        if new_item {
            self.counters.bump(Counter::TotalItems);
        }
        freed
    }

    /// Unlinks the item under `key`, returning the bytes freed (0 if none).
    pub fn remove(&mut self, key: &[u8]) -> usize {
        match self.index.get(key) {
            Some(&slot) => self.remove_slot(slot),
            None => 0,
        }
    }

    fn remove_slot(&mut self, slot: u32) -> usize {
        self.detach(slot);
        let node = self.nodes[slot as usize]
            .take()
            .expect("linked slot holds a node");
        self.index.remove(&node.key);
        self.free.push(slot);
        let freed = footprint(node.key.len(), node.item.flags, node.item.value.len());
        self.bytes -= freed;
        freed
    }

    /// Removes the least recently used item unless its CAS id is `keep`
    /// (the item a store just linked). Counts an eviction, or a reclaim when
    /// the item was no longer valid anyway. Returns the bytes freed.
    pub fn evict_one(&mut self, keep: u64, validity: &Validity) -> Option<usize> {
        let tail = self.tail;
        if tail == NIL || self.node(tail).item.cas == keep {
            return None;
        }
        let counter = match validity.check(&self.node(tail).item) {
            Ok(()) => Counter::Evictions,
            Err(_) => Counter::Reclaimed,
        };
        self.counters.bump(counter);
        Some(self.remove_slot(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALWAYS: Validity = Validity {
        now: 100,
        oldest_live: 0,
        oldest_cas: 0,
    };

    fn item(cas: u64) -> Item {
        Item {
            flags: 0,
            expiry: Expiry::Never,
            cas,
            stored_at: 1,
            value: Arc::from(&b"v"[..]),
        }
    }

    #[test]
    fn lru_order_follows_use() {
        let mut shard = Shard::new();
        for (i, key) in [b"a", b"b", b"c"].iter().enumerate() {
            shard.insert(*key, item(i as u64 + 1), i as u64, true);
        }
        assert!(shard.lookup(b"a", &ALWAYS, 9).is_ok());
        let one = footprint(1, 0, 1);
        assert_eq!(shard.evict_one(0, &ALWAYS), Some(one));
        assert_eq!(
            shard.lookup(b"b", &ALWAYS, 9).map(|_| ()),
            Err((Miss::Absent, 0))
        );
        assert_eq!(shard.evict_one(0, &ALWAYS), Some(one));
        assert!(shard.lookup(b"c", &ALWAYS, 9).is_err());
        assert_eq!(shard.tail_stamp(), 9);
        assert_eq!(
            shard.evict_one(1, &ALWAYS),
            None,
            "the kept item is not evicted"
        );
        assert_eq!(shard.counters.get(Counter::Evictions), 2);
        assert_eq!(shard.len(), 1);
        assert_eq!(shard.bytes(), one);
    }

    #[test]
    fn expired_and_flushed_items_are_removed_on_lookup() {
        let mut shard = Shard::new();
        shard.insert(
            b"e",
            Item {
                expiry: Expiry::At(50),
                ..item(5)
            },
            1,
            true,
        );
        shard.insert(b"f", item(6), 1, true);
        let flushed = Validity {
            oldest_cas: 7,
            ..ALWAYS
        };
        assert_eq!(
            shard.lookup(b"e", &flushed, 9).map(|_| ()),
            Err((Miss::Flushed, footprint(1, 0, 1)))
        );
        assert_eq!(shard.lookup(b"f", &ALWAYS, 9).map(|i| i.cas), Ok(6));
        shard.insert(
            b"e",
            Item {
                expiry: Expiry::At(50),
                ..item(8)
            },
            1,
            true,
        );
        assert_eq!(
            shard.lookup(b"e", &ALWAYS, 9).map(|_| ()),
            Err((Miss::Expired, footprint(1, 0, 1)))
        );
        assert_eq!(shard.len(), 1);
        assert_eq!(shard.counters.get(Counter::Reclaimed), 2);
    }

    #[test]
    fn replace_and_reuse_slots() {
        let mut shard = Shard::new();
        assert_eq!(shard.insert(b"k", item(1), 1, true), 0);
        assert_eq!(shard.insert(b"k", item(2), 1, true), footprint(1, 0, 1));
        assert_eq!(shard.remove(b"k"), footprint(1, 0, 1));
        assert_eq!(shard.remove(b"k"), 0);
        shard.insert(b"x", item(3), 1, true);
        assert_eq!(shard.nodes.len(), 1, "freed slots are reused");
    }
}
