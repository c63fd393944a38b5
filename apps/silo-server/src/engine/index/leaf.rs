//! Leaves of the ordered index: an immutable sorted snapshot behind an
//! atomically swapped pointer, plus a [`NodeVersion`].
//!
//! Readers never lock: they take the version (waiting while it is odd),
//! load the snapshot, and check the version again, so the snapshot they
//! hold is exactly the one that version names. Writers lock the version,
//! build a new snapshot (copy-on-write), publish it and unlock with the
//! version advanced. Leaves are never merged or freed while the tree lives,
//! and each snapshot carries its exclusive upper fence key and a link to
//! its right sibling (B-link style), so a reader that arrives at a leaf
//! through an outdated inner node walks right until the key is in range.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::version::NodeVersion;

/// One immutable state of a leaf.
pub(crate) struct LeafSnapshot<K, T> {
    /// Sorted, unique keys with their values.
    pub(crate) entries: Vec<(K, T)>,
    /// Exclusive upper bound of the keys this leaf holds; `None` is +∞.
    pub(crate) high: Option<K>,
    /// The right sibling, which holds the keys from `high` on.
    pub(crate) next: Option<Arc<Leaf<K, T>>>,
}

impl<K: Ord, T> LeafSnapshot<K, T> {
    /// Whether `key` is below this leaf's upper fence.
    pub(crate) fn covers(&self, key: &K) -> bool {
        self.high.as_ref().is_none_or(|high| key < high)
    }
}

/// A leaf of the tree.
pub(crate) struct Leaf<K, T> {
    pub(crate) version: Arc<NodeVersion>,
    pub(crate) snapshot: ArcSwap<LeafSnapshot<K, T>>,
}

/// A snapshot together with the version it was published under.
pub(crate) struct Observed<K, T> {
    pub(crate) version: u64,
    pub(crate) snapshot: Arc<LeafSnapshot<K, T>>,
}

impl<K: Ord + Clone, T: Clone> Leaf<K, T> {
    pub(crate) fn new(snapshot: LeafSnapshot<K, T>) -> Leaf<K, T> {
        Leaf {
            version: Arc::new(NodeVersion::default()),
            snapshot: ArcSwap::from_pointee(snapshot),
        }
    }

    /// A consistent (version, snapshot) pair.
    pub(crate) fn observe(&self) -> Observed<K, T> {
        loop {
            let version = self.version.stable();
            let snapshot = self.snapshot.load_full();
            if self.version.current() == version {
                return Observed { version, snapshot };
            }
        }
    }
}
