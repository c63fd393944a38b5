//! A concurrent ordered index: a B+-tree with optimistic, version-validated
//! reads and phantom-safe scans, after Silo's use of Masstree (SOSP'13
//! §4.6).
//!
//! How the transaction layer uses it: point reads call [`Index::get`] and,
//! when the key is missing, keep the returned [`LeafObservation`] in the
//! transaction's node set; scans call [`Index::scan`], which reports every
//! leaf it visited with the version it read; commit-time inserts call
//! [`Index::insert_with`], whose [`StructureChange`] lets the transaction
//! tell its own inserts from concurrent ones. At commit, a node set entry
//! whose version moved means a key was inserted into or removed from the
//! range the transaction read: a phantom, so the transaction aborts.
//!
//! Design (same properties as Masstree's, simpler mechanism): leaves are
//! copy-on-write snapshots with a version word (see [`leaf`]); inner levels
//! are immutable and replaced along one path per split (see [`inner`]).
//! Readers take no lock and write no shared memory other than reference
//! counts. Memory is reclaimed by reference counting (`arc-swap`), so no
//! `unsafe` is needed. Leaves never merge: a removal leaves a smaller leaf.

mod inner;
mod leaf;
mod version;

#[cfg(test)]
mod tests;

use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use inner::Inner;
use leaf::{Leaf, LeafSnapshot, Observed};
pub use version::NodeVersion;

/// Maximum number of keys in a leaf before it splits.
const LEAF_CAPACITY: usize = 32;

/// A locked leaf, the version it was locked from, and its snapshot.
type Locked<K, T> = (Arc<Leaf<K, T>>, u64, Arc<LeafSnapshot<K, T>>);

/// A leaf's version as a reader saw it.
#[derive(Clone, Debug)]
pub struct LeafObservation {
    /// The leaf's version word.
    pub node: Arc<NodeVersion>,
    /// The (even) version observed.
    pub version: u64,
}

/// What an insert did to the tree's structure.
#[derive(Clone, Debug)]
pub struct StructureChange {
    /// The leaf that received the key.
    pub node: Arc<NodeVersion>,
    /// Its version just before the insert.
    pub before: u64,
    /// Its version just after.
    pub after: u64,
    /// The new right sibling, if the insert split the leaf, with its
    /// initial version.
    pub split: Option<LeafObservation>,
}

/// Result of [`Index::get`].
#[derive(Debug)]
pub enum Lookup<T> {
    /// The key's value.
    Found(T),
    /// The key is absent from the leaf observed at this version.
    Missing(LeafObservation),
}

/// Result of [`Index::insert_with`].
#[derive(Debug)]
pub enum InsertOutcome<T> {
    /// The key was already present; nothing changed.
    Existing(T),
    /// The key was inserted with the new value.
    Inserted(T, StructureChange),
}

/// A concurrent ordered map from `K` to `T` (`T` is a cheap handle, an
/// `Arc` in the database).
pub struct Index<K, T> {
    root: ArcSwap<Inner<K, T>>,
    split_lock: Mutex<()>,
}

impl<K: Ord + Clone, T: Clone> Default for Index<K, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, T: Clone> Index<K, T> {
    /// An empty index.
    pub fn new() -> Index<K, T> {
        let leaf = Arc::new(Leaf::new(LeafSnapshot {
            entries: Vec::new(),
            high: None,
            next: None,
        }));
        Index {
            root: ArcSwap::from_pointee(Inner::over(leaf)),
            split_lock: Mutex::new(()),
        }
    }

    fn descend(&self, key: &K) -> Arc<Leaf<K, T>> {
        Arc::clone(self.root.load().leaf_for(key))
    }

    /// The leaf covering `key` now, with a consistent snapshot of it.
    fn locate(&self, key: &K) -> (Arc<Leaf<K, T>>, Observed<K, T>) {
        let mut leaf = self.descend(key);
        loop {
            let observed = leaf.observe();
            match &observed.snapshot.next {
                Some(next) if !observed.snapshot.covers(key) => leaf = Arc::clone(next),
                _ => return (leaf, observed),
            }
        }
    }

    /// Locks the leaf covering `key`; returns it, its pre-lock version and
    /// its snapshot.
    fn lock_covering(&self, key: &K) -> Locked<K, T> {
        let mut leaf = self.descend(key);
        loop {
            let before = leaf.version.lock();
            let snapshot = leaf.snapshot.load_full();
            match &snapshot.next {
                Some(next) if !snapshot.covers(key) => {
                    let next = Arc::clone(next);
                    leaf.version.unlock_unchanged(before);
                    leaf = next;
                }
                _ => return (leaf, before, snapshot),
            }
        }
    }

    /// The value under `key`, or the version of the leaf that was searched
    /// (the proof of absence a transaction keeps when the key is missing).
    ///
    /// The common case touches no reference count: the root and the leaf
    /// snapshot are borrowed through `arc-swap` guards, so concurrent
    /// readers of a hot leaf write no shared cache line.
    pub fn get(&self, key: &K) -> Lookup<T> {
        let root = self.root.load();
        let leaf = root.leaf_for(key);
        let version = leaf.version.stable();
        let snapshot = leaf.snapshot.load();
        if leaf.version.current() == version && snapshot.covers(key) {
            return Self::search(&snapshot, key, || LeafObservation {
                node: Arc::clone(&leaf.version),
                version,
            });
        }
        let (leaf, observed) = self.locate(key);
        Self::search(&observed.snapshot, key, || LeafObservation {
            node: Arc::clone(&leaf.version),
            version: observed.version,
        })
    }

    fn search(
        snapshot: &LeafSnapshot<K, T>,
        key: &K,
        proof: impl FnOnce() -> LeafObservation,
    ) -> Lookup<T> {
        match snapshot.entries.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Lookup::Found(snapshot.entries[i].1.clone()),
            Err(_) => Lookup::Missing(proof()),
        }
    }

    /// The value under `key`, if any.
    pub fn find(&self, key: &K) -> Option<T> {
        match self.get(key) {
            Lookup::Found(value) => Some(value),
            Lookup::Missing(_) => None,
        }
    }

    /// Inserts `make()` under `key` unless the key is present.
    pub fn insert_with(&self, key: K, make: impl FnOnce() -> T) -> InsertOutcome<T> {
        let (leaf, before, snapshot) = self.lock_covering(&key);
        let position = match snapshot.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => {
                let existing = snapshot.entries[i].1.clone();
                leaf.version.unlock_unchanged(before);
                return InsertOutcome::Existing(existing);
            }
            Err(i) => i,
        };
        let value = make();
        let mut entries = Vec::with_capacity(snapshot.entries.len() + 1);
        entries.extend_from_slice(&snapshot.entries[..position]);
        entries.push((key, value.clone()));
        entries.extend_from_slice(&snapshot.entries[position..]);
        let split = if entries.len() <= LEAF_CAPACITY {
            leaf.snapshot.store(Arc::new(LeafSnapshot {
                entries,
                high: snapshot.high.clone(),
                next: snapshot.next.clone(),
            }));
            None
        } else {
            Some(self.split(&leaf, &snapshot, entries))
        };
        let after = leaf.version.unlock_changed(before);
        let change = StructureChange {
            node: Arc::clone(&leaf.version),
            before,
            after,
            split,
        };
        InsertOutcome::Inserted(value, change)
    }

    /// Splits the locked `leaf` whose new contents are `entries`: the upper
    /// half moves to a new right sibling, then the separator is installed
    /// in the inner levels. Between the two, readers reach the upper half
    /// through the sibling link.
    #[cold]
    fn split(
        &self,
        leaf: &Leaf<K, T>,
        snapshot: &LeafSnapshot<K, T>,
        mut entries: Vec<(K, T)>,
    ) -> LeafObservation {
        let upper = entries.split_off(entries.len() / 2);
        let separator = upper[0].0.clone();
        let right = Arc::new(Leaf::new(LeafSnapshot {
            entries: upper,
            high: snapshot.high.clone(),
            next: snapshot.next.clone(),
        }));
        leaf.snapshot.store(Arc::new(LeafSnapshot {
            entries,
            high: Some(separator.clone()),
            next: Some(Arc::clone(&right)),
        }));
        let _guard = self
            .split_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let new_root = self
            .root
            .load()
            .with_separator(separator, Arc::clone(&right));
        self.root.store(Arc::new(new_root));
        LeafObservation {
            version: right.version.current(),
            node: Arc::clone(&right.version),
        }
    }

    /// Removes `key` if it is present and `condition` holds for its value;
    /// returns whether it was removed.
    pub fn remove_if(&self, key: &K, condition: impl FnOnce(&T) -> bool) -> bool {
        let (leaf, before, snapshot) = self.lock_covering(key);
        match snapshot.entries.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) if condition(&snapshot.entries[i].1) => {
                let mut entries = snapshot.entries.clone();
                entries.remove(i);
                leaf.snapshot.store(Arc::new(LeafSnapshot {
                    entries,
                    high: snapshot.high.clone(),
                    next: snapshot.next.clone(),
                }));
                leaf.version.unlock_changed(before);
                true
            }
            _ => {
                leaf.version.unlock_unchanged(before);
                false
            }
        }
    }

    /// Visits the entries with keys in `(lower, upper)` in ascending order
    /// until `visit` returns `false`. Every leaf read is reported to
    /// `observe` with the version its entries were read under, before its
    /// entries are visited.
    pub fn scan(
        &self,
        lower: Bound<&K>,
        upper: Bound<&K>,
        mut observe: impl FnMut(LeafObservation),
        mut visit: impl FnMut(&K, &T) -> bool,
    ) {
        let mut leaf = match lower {
            Bound::Included(key) | Bound::Excluded(key) => self.descend(key),
            Bound::Unbounded => Arc::clone(self.root.load().first_leaf()),
        };
        loop {
            let observed = leaf.observe();
            observe(LeafObservation {
                node: Arc::clone(&leaf.version),
                version: observed.version,
            });
            let entries = &observed.snapshot.entries;
            let start = entries.partition_point(|(k, _)| match lower {
                Bound::Included(low) => k < low,
                Bound::Excluded(low) => k <= low,
                Bound::Unbounded => false,
            });
            for (key, value) in &entries[start..] {
                if !below_upper(key, upper) || !visit(key, value) {
                    return;
                }
            }
            match (&observed.snapshot.high, &observed.snapshot.next) {
                (Some(high), Some(next)) if below_upper(high, upper) => leaf = Arc::clone(next),
                _ => return,
            }
        }
    }
}

fn below_upper<K: Ord>(key: &K, upper: Bound<&K>) -> bool {
    match upper {
        Bound::Included(high) => key <= high,
        Bound::Excluded(high) => key < high,
        Bound::Unbounded => true,
    }
}
