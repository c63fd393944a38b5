//! Node versions: the per-leaf counter that makes index reads optimistic
//! and scans phantom-safe (Silo, SOSP'13 §4.6; Masstree's node versions).
//!
//! A version is even while the node is unlocked and odd while a writer
//! holds it. Every structural change of a leaf (a key inserted or removed,
//! a split) advances it by two when the writer unlocks. A transaction
//! records `(node, version)` for every leaf it scanned or found a key
//! missing in (its *node set*) and aborts at commit if any of them changed:
//! that is how an insert into a scanned range is detected.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::backoff::wait_unlocked;

/// The version word of one leaf.
#[derive(Debug, Default)]
pub struct NodeVersion(AtomicU64);

impl NodeVersion {
    /// The current version, waiting while a writer holds the node.
    pub fn stable(&self) -> u64 {
        wait_unlocked(|| self.0.load(Ordering::SeqCst), |v| v & 1 != 0)
    }

    /// The current version, locked or not.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Locks the node; returns the version before locking.
    pub(crate) fn lock(&self) -> u64 {
        loop {
            let version = self.stable();
            if self
                .0
                .compare_exchange(version, version | 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return version;
            }
        }
    }

    /// Unlocks after changing the node; returns the new version.
    pub(crate) fn unlock_changed(&self, locked_from: u64) -> u64 {
        let next = locked_from + 2;
        self.0.store(next, Ordering::SeqCst);
        next
    }

    /// Unlocks a node that was not changed.
    pub(crate) fn unlock_unchanged(&self, locked_from: u64) {
        self.0.store(locked_from, Ordering::SeqCst);
    }
}
