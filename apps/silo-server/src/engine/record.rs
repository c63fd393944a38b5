//! Records: one row version in place, guarded by its TID word (Silo §4.2).
//!
//! A record is found through an index and then read optimistically: take
//! the TID word (waiting while it is locked), load the row, check the word
//! again. Committing writers lock the word, replace the row and publish a
//! new TID in the same store that unlocks it. Rows are immutable `Arc`s
//! swapped atomically, so a reader racing with a writer holds either the
//! old or the new row, never a torn one.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::tid::{ABSENT, LATEST, Tid, TidWord};

/// One record of a table.
pub(crate) struct Record<V> {
    pub(crate) word: TidWord,
    row: ArcSwapOption<V>,
}

/// Type-erased access to a record's TID word, for the read and write sets
/// that mix records of every table.
pub(crate) trait Versioned: Send + Sync {
    fn word(&self) -> &TidWord;
}

impl<V: Send + Sync> Versioned for Record<V> {
    fn word(&self) -> &TidWord {
        &self.word
    }
}

impl<V> Record<V> {
    /// The locked, absent record an insert puts into the index at commit.
    pub(crate) fn placeholder() -> Record<V> {
        Record {
            word: TidWord::new_locked_placeholder(),
            row: ArcSwapOption::empty(),
        }
    }

    /// A committed, present record (bulk loading).
    pub(crate) fn committed(row: V, tid: Tid) -> Record<V> {
        let record = Record::placeholder();
        record.row.store(Some(Arc::new(row)));
        record.word.unlock_with(tid, LATEST);
        record
    }

    /// A consistent (TID word, row) pair.
    pub(crate) fn read(&self) -> (u64, Option<Arc<V>>) {
        loop {
            let word = self.word.stable();
            let row = self.row.load_full();
            if self.word.load() == word {
                return (word, row);
            }
        }
    }

    /// Installs `row` (`None` deletes) with `tid` and unlocks. The caller
    /// holds the lock.
    pub(crate) fn install(&self, row: Option<Arc<V>>, tid: Tid) {
        let status = if row.is_some() {
            LATEST
        } else {
            LATEST | ABSENT
        };
        self.row.store(row);
        self.word.unlock_with(tid, status);
    }
}

/// Whether two record handles are the same record (the global lock order
/// and "locked by us" checks use record addresses, as Silo does).
pub(crate) fn address(record: &Arc<dyn Versioned>) -> usize {
    Arc::as_ptr(record).cast::<()>() as usize
}
