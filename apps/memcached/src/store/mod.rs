//! The item store: a hash table striped over [`SHARDS`] independently locked
//! shards, shared by every core (any core may serve any connection, as
//! ZygOS steals connections between cores, thesis ch. 4.3).
//!
//! A request hashes its key to one shard and holds only that shard's lock,
//! so there is no global lock on the get path; the only shared atomics are
//! the CAS id counter and the byte count (touched by stores, not by gets).
//! Memory is bounded by `-m`: a store that takes the byte count over the
//! limit evicts least-recently-used items (a sampled segmented LRU: exact
//! within a shard; across shards the victim is the oldest of the tails of
//! [`EVICTION_SAMPLE`] shards, compared by access stamps that each shard
//! publishes in an atomic), locking one shard at a time.
//!
//! The store never reads a clock: every operation takes `now`, so tests
//! control expiry.
//!
//! ```
//! use memcached::store::{Store, StoreConfig, StoreMode, StoreOutcome};
//! let store = Store::new(StoreConfig::default());
//! let now = 1_700_000_000;
//! let put = store.store(StoreMode::Set, b"k", 0, 0, b"v", now);
//! assert_eq!(put.outcome, StoreOutcome::Stored);
//! assert_eq!(&store.get(b"k", now).unwrap().value[..], b"v");
//! ```

mod counters;
mod expiry;
mod numeric;
mod shard;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_utils::CachePadded;

pub use counters::{Counter, Counters};
pub use expiry::{Expiry, REALTIME_MAXDELTA, UnixTime};
pub use numeric::{parse_i32, parse_u64_prefix};
pub use shard::{Item, Miss, footprint};
use shard::{Shard, Validity};

/// Number of lock stripes.
pub const SHARDS: usize = 64;

/// Shards whose LRU tails are compared to pick one eviction victim.
pub const EVICTION_SAMPLE: usize = 8;

/// A shard, its lock, and the published stamp of its LRU tail.
struct Stripe {
    shard: Mutex<Shard>,
    tail_stamp: AtomicU64,
}

/// A locked shard; publishes the shard's tail stamp when released.
struct Locked<'a> {
    guard: MutexGuard<'a, Shard>,
    tail_stamp: &'a AtomicU64,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.tail_stamp
            .store(self.guard.tail_stamp(), Ordering::Relaxed);
    }
}

impl std::ops::Deref for Locked<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

/// Sizes and limits of a store.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// Memory limit for items in bytes (`-m`, default 64 MB).
    pub memory_limit: usize,
    /// Largest item in bytes, header included (`-I`, default 1 MB).
    pub item_size_max: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            memory_limit: 64 << 20,
            item_size_max: 1 << 20,
        }
    }
}

/// How a store request treats an existing item (protocol.txt "Storage
/// commands").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// Store unconditionally.
    Set,
    /// Store only if absent.
    Add,
    /// Store only if present.
    Replace,
    /// Add the data after the existing value (flags and expiry kept); a
    /// non-zero CAS id must match the item's (binary protocol).
    Append(u64),
    /// Add the data before the existing value, like [`StoreMode::Append`].
    Prepend(u64),
    /// Store only if the item's CAS id still equals this one.
    Cas(u64),
}

/// Result of a store request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Stored.
    Stored,
    /// The mode's condition did not hold.
    NotStored,
    /// CAS: the item was modified since it was read.
    Exists,
    /// CAS: no such item.
    NotFound,
    /// The item can never fit within the item size limit.
    TooLarge,
    /// Not enough evictable memory.
    NoMemory,
}

/// A store result with the CAS id of the item stored (0 if none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    /// What happened.
    pub outcome: StoreOutcome,
    /// The new item's CAS id.
    pub cas: u64,
}

/// Result of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Removed.
    Deleted,
    /// No such item.
    NotFound,
    /// The CAS id given did not match.
    Exists,
}

/// An increment or decrement request.
#[derive(Clone, Copy, Debug)]
pub struct Delta<'a> {
    /// The key.
    pub key: &'a [u8],
    /// Increment (wrapping at 2^64) or decrement (saturating at 0).
    pub increment: bool,
    /// The amount.
    pub amount: u64,
    /// Required CAS id (0: any).
    pub cas: u64,
    /// Binary protocol: value and expiry to create a missing item with.
    pub create: Option<(u64, i64)>,
}

/// Result of an increment or decrement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaOutcome {
    /// The new value and CAS id.
    Value(u64, u64),
    /// No such item.
    NotFound,
    /// The value is not a decimal number.
    NonNumeric,
    /// The CAS id given did not match.
    Exists,
    /// Creating the missing item failed.
    NotStored,
}

/// Global figures reported by `stats` next to the counters.
#[derive(Clone, Debug)]
pub struct StoreSnapshot {
    /// Sum of every shard's counters.
    pub counters: Counters,
    /// Items linked.
    pub curr_items: usize,
    /// Bytes used by items.
    pub bytes: usize,
    /// The memory limit.
    pub limit_maxbytes: usize,
    /// flush_all commands.
    pub cmd_flush: u64,
}

/// The shared item store.
pub struct Store {
    config: StoreConfig,
    stripes: Box<[CachePadded<Stripe>]>,
    hasher: RandomState,
    used: AtomicUsize,
    next_cas: AtomicU64,
    oldest_live: AtomicU32,
    oldest_cas: AtomicU64,
    eviction_cursor: AtomicUsize,
    cmd_flush: AtomicU64,
}

impl Store {
    /// An empty store.
    pub fn new(config: StoreConfig) -> Self {
        Store {
            config,
            stripes: (0..SHARDS)
                .map(|_| {
                    CachePadded::new(Stripe {
                        shard: Mutex::new(Shard::new()),
                        tail_stamp: AtomicU64::new(u64::MAX),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            used: AtomicUsize::new(0),
            next_cas: AtomicU64::new(1),
            oldest_live: AtomicU32::new(0),
            oldest_cas: AtomicU64::new(0),
            eviction_cursor: AtomicUsize::new(0),
            cmd_flush: AtomicU64::new(0),
        }
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// Whether an item of this shape fits the item size limit
    /// (memcached's `item_size_ok`).
    pub fn item_fits(&self, key_len: usize, flags: u32, value_len: usize) -> bool {
        footprint(key_len, flags, value_len) <= self.config.item_size_max
    }

    fn shard_index(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    fn lock(&self, index: usize) -> Locked<'_> {
        let stripe = &self.stripes[index];
        // A panic while holding a shard lock cannot leave the shard half
        // updated (no operation unwinds between its paired updates), so a
        // poisoned lock is still consistent.
        let guard = stripe
            .shard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Locked {
            guard,
            tail_stamp: &stripe.tail_stamp,
        }
    }

    /// The access stamp: the CAS counter, which only stores advance, so a
    /// get reads a shared line but never writes one.
    fn stamp(&self) -> u64 {
        self.next_cas.load(Ordering::Relaxed)
    }

    fn validity(&self, now: UnixTime) -> Validity {
        Validity {
            now,
            oldest_live: self.oldest_live.load(Ordering::Acquire),
            oldest_cas: self.oldest_cas.load(Ordering::Acquire),
        }
    }

    fn fresh_cas(&self) -> u64 {
        self.next_cas.fetch_add(1, Ordering::Relaxed)
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Looks up `key`, counting a get; the returned item shares the value.
    pub fn get(&self, key: &[u8], now: UnixTime) -> Option<Item> {
        let validity = self.validity(now);
        let mut shard = self.lock(self.shard_index(key));
        shard.counters.bump(Counter::CmdGet);
        match shard.lookup(key, &validity, self.stamp()) {
            Ok(item) => {
                let item = item.clone();
                shard.counters.bump(Counter::GetHits);
                Some(item)
            }
            Err((miss, freed)) => {
                shard.counters.bump(Counter::GetMisses);
                match miss {
                    Miss::Expired => shard.counters.bump(Counter::GetExpired),
                    Miss::Flushed => shard.counters.bump(Counter::GetFlushed),
                    Miss::Absent => {}
                }
                drop(shard);
                self.release(freed);
                None
            }
        }
    }

    /// Sets the expiry of `key` and returns the item (touch, gat), counting
    /// a touch.
    pub fn touch(&self, key: &[u8], exptime: i64, now: UnixTime) -> Option<Item> {
        let validity = self.validity(now);
        let mut shard = self.lock(self.shard_index(key));
        shard.counters.bump(Counter::CmdTouch);
        match shard.lookup(key, &validity, self.stamp()) {
            Ok(item) => {
                item.expiry = Expiry::from_exptime(exptime, now);
                let item = item.clone();
                shard.counters.bump(Counter::TouchHits);
                Some(item)
            }
            Err((_, freed)) => {
                shard.counters.bump(Counter::TouchMisses);
                drop(shard);
                self.release(freed);
                None
            }
        }
    }

    /// Stores `value` under `key` according to `mode`.
    pub fn store(
        &self,
        mode: StoreMode,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value: &[u8],
        now: UnixTime,
    ) -> Stored {
        let refused = |outcome| Stored { outcome, cas: 0 };
        if !self.item_fits(key.len(), flags, value.len()) {
            return refused(StoreOutcome::TooLarge);
        }
        let validity = self.validity(now);
        let index = self.shard_index(key);
        let mut shard = self.lock(index);
        shard.counters.bump(Counter::CmdSet);
        let (existing, freed) = match shard.lookup(key, &validity, self.stamp()) {
            Ok(item) => (Some(item.clone()), 0),
            Err((_, freed)) => (None, freed),
        };
        let mut item = Item {
            flags,
            expiry: Expiry::from_exptime(exptime, now),
            cas: 0,
            stored_at: now,
            value: Arc::from(value),
        };
        let outcome = match (mode, &existing) {
            (StoreMode::Add, Some(_))
            | (StoreMode::Replace | StoreMode::Append(_) | StoreMode::Prepend(_), None) => {
                StoreOutcome::NotStored
            }
            (StoreMode::Append(cas) | StoreMode::Prepend(cas), Some(old))
                if cas != 0 && old.cas != cas =>
            {
                StoreOutcome::Exists
            }
            (StoreMode::Cas(_), None) => {
                shard.counters.bump(Counter::CasMisses);
                StoreOutcome::NotFound
            }
            (StoreMode::Cas(cas), Some(old)) if old.cas != cas => {
                shard.counters.bump(Counter::CasBadval);
                StoreOutcome::Exists
            }
            (StoreMode::Append(_) | StoreMode::Prepend(_), Some(old)) => {
                let joined = if matches!(mode, StoreMode::Append(_)) {
                    [&old.value[..], &item.value[..]].concat()
                } else {
                    [&item.value[..], &old.value[..]].concat()
                };
                if self.item_fits(key.len(), old.flags, joined.len()) {
                    item = Item {
                        value: Arc::from(joined),
                        flags: old.flags,
                        expiry: old.expiry,
                        ..item
                    };
                    StoreOutcome::Stored
                } else {
                    StoreOutcome::NotStored
                }
            }
            (StoreMode::Cas(_), Some(_)) => {
                shard.counters.bump(Counter::CasHits);
                StoreOutcome::Stored
            }
            (StoreMode::Set | StoreMode::Add | StoreMode::Replace, _) => StoreOutcome::Stored,
        };
        if outcome != StoreOutcome::Stored {
            drop(shard);
            self.release(freed);
            return refused(outcome);
        }
        let size = footprint(key.len(), item.flags, item.value.len());
        if size > self.config.memory_limit {
            drop(shard);
            self.release(freed);
            return refused(StoreOutcome::NoMemory);
        }
        item.cas = self.fresh_cas();
        let cas = item.cas;
        let replaced = shard.insert(key, item, cas, true);
        drop(shard);
        self.used.fetch_add(size, Ordering::Relaxed);
        self.release(freed + replaced);
        self.evict_to_limit(cas, now);
        Stored {
            outcome: StoreOutcome::Stored,
            cas,
        }
    }

    /// Removes least recently used items until the byte count is within the
    /// limit: each round compares the tails of the next [`EVICTION_SAMPLE`]
    /// shards and evicts the oldest, locking only that shard. The item with
    /// CAS id `keep` (just stored) is spared.
    fn evict_to_limit(&self, keep: u64, now: UnixTime) {
        let validity = self.validity(now);
        let mut barren = 0;
        while self.used.load(Ordering::Relaxed) > self.config.memory_limit && barren < SHARDS {
            let start = self
                .eviction_cursor
                .fetch_add(EVICTION_SAMPLE, Ordering::Relaxed);
            let oldest = (start..start + EVICTION_SAMPLE)
                .map(|i| i % SHARDS)
                .map(|index| {
                    (
                        self.stripes[index].tail_stamp.load(Ordering::Relaxed),
                        index,
                    )
                })
                .filter(|&(stamp, _)| stamp != u64::MAX)
                .min();
            let freed = oldest.and_then(|(_, index)| self.lock(index).evict_one(keep, &validity));
            match freed {
                Some(bytes) => {
                    barren = 0;
                    self.release(bytes);
                }
                None => barren += EVICTION_SAMPLE,
            }
        }
    }

    /// Unlinks `key` without counting (a failed set must not leave the old
    /// value visible).
    pub fn unlink(&self, key: &[u8]) {
        let freed = self.lock(self.shard_index(key)).remove(key);
        self.release(freed);
    }

    /// Deletes `key` if present and (when `cas` is not 0) unchanged.
    pub fn delete(&self, key: &[u8], cas: u64, now: UnixTime) -> DeleteOutcome {
        let validity = self.validity(now);
        let mut shard = self.lock(self.shard_index(key));
        let (outcome, freed) = match shard.lookup(key, &validity, self.stamp()) {
            Ok(item) if cas != 0 && item.cas != cas => (DeleteOutcome::Exists, 0),
            Ok(_) => {
                shard.counters.bump(Counter::DeleteHits);
                (DeleteOutcome::Deleted, shard.remove(key))
            }
            Err((_, freed)) => {
                shard.counters.bump(Counter::DeleteMisses);
                (DeleteOutcome::NotFound, freed)
            }
        };
        drop(shard);
        self.release(freed);
        outcome
    }

    /// Increments or decrements a decimal value (memcached's `do_add_delta`:
    /// the new value is written over the old one, padded with spaces, when
    /// it is not longer).
    pub fn delta(&self, request: Delta<'_>, now: UnixTime) -> DeltaOutcome {
        let validity = self.validity(now);
        let mut shard = self.lock(self.shard_index(request.key));
        let (hit, miss) = if request.increment {
            (Counter::IncrHits, Counter::IncrMisses)
        } else {
            (Counter::DecrHits, Counter::DecrMisses)
        };
        let (old, freed) = match shard.lookup(request.key, &validity, self.stamp()) {
            Ok(item) => (item.clone(), 0),
            Err((_, freed)) => {
                shard.counters.bump(miss);
                drop(shard);
                self.release(freed);
                return match request.create {
                    None => DeltaOutcome::NotFound,
                    Some((initial, exptime)) => {
                        let text = initial.to_string();
                        match self.store(
                            StoreMode::Add,
                            request.key,
                            0,
                            exptime,
                            text.as_bytes(),
                            now,
                        ) {
                            Stored {
                                outcome: StoreOutcome::Stored,
                                cas,
                            } => DeltaOutcome::Value(initial, cas),
                            _ => DeltaOutcome::NotStored,
                        }
                    }
                };
            }
        };
        debug_assert_eq!(freed, 0);
        if request.cas != 0 && request.cas != old.cas {
            return DeltaOutcome::Exists;
        }
        let Some(current) = parse_u64_prefix(&old.value) else {
            return DeltaOutcome::NonNumeric;
        };
        shard.counters.bump(hit);
        let value = if request.increment {
            current.wrapping_add(request.amount)
        } else {
            current.saturating_sub(request.amount)
        };
        let mut text = value.to_string().into_bytes();
        let in_place = text.len() <= old.value.len();
        if in_place {
            text.resize(old.value.len(), b' ');
        }
        let size = footprint(request.key.len(), old.flags, text.len());
        let cas = self.fresh_cas();
        let item = Item {
            value: Arc::from(text),
            cas,
            ..old
        };
        let replaced = shard.insert(request.key, item, cas, !in_place);
        drop(shard);
        self.used.fetch_add(size, Ordering::Relaxed);
        self.release(replaced);
        self.evict_to_limit(cas, now);
        DeltaOutcome::Value(value, cas)
    }

    /// flush_all: invalidates every item now (`delay` ≤ 0) or every item
    /// stored up to the moment `delay` seconds from now (protocol.txt
    /// "flush_all"). Memory is taken back lazily.
    pub fn flush(&self, delay: i64, now: UnixTime) {
        self.cmd_flush.fetch_add(1, Ordering::Relaxed);
        if delay > 0 {
            let Expiry::At(at) = Expiry::from_exptime(delay, now) else {
                return;
            };
            self.oldest_live
                .store(at.saturating_sub(1), Ordering::Release);
        } else {
            self.oldest_live.store(0, Ordering::Release);
            self.oldest_cas.store(self.fresh_cas(), Ordering::Release);
        }
    }

    /// Sums the counters and sizes of every shard.
    pub fn snapshot(&self) -> StoreSnapshot {
        let mut counters = Counters::default();
        let (mut curr_items, mut bytes) = (0, 0);
        for index in 0..SHARDS {
            let shard = self.lock(index);
            counters.absorb(&shard.counters);
            curr_items += shard.len();
            bytes += shard.bytes();
        }
        StoreSnapshot {
            counters,
            curr_items,
            bytes,
            limit_maxbytes: self.config.memory_limit,
            cmd_flush: self.cmd_flush.load(Ordering::Relaxed),
        }
    }

    /// `stats reset`: zeroes every counter.
    pub fn reset_counters(&self) {
        for index in 0..SHARDS {
            self.lock(index).counters.reset();
        }
        self.cmd_flush.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
