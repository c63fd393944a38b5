//! The write set of a transaction: buffered writes per table, and the
//! commit-time steps that need the table's key and row types.
//!
//! Writes are buffered until commit (Silo §4.4): each written key keeps the
//! record found at execution time, if any, and the new row (`None` deletes).
//! The commit protocol in [`super::commit`] drives the steps through the
//! type-erased [`TableWrites`] trait.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::commit::{Abort, NodeSet};
use super::index::InsertOutcome;
use super::record::{Record, Versioned};
use super::table::{Key, Row, Table};
use super::tid::{ABSENT, LATEST, Tid};

/// One buffered write.
pub(crate) struct PendingWrite<V> {
    /// The record this write lands on; `None` until commit for new keys.
    pub(crate) record: Option<Arc<Record<V>>>,
    /// The new row; `None` deletes.
    pub(crate) row: Option<Arc<V>>,
    /// Whether commit created the record (it is removed again on abort).
    created: bool,
}

/// The buffered writes to one table.
pub(crate) struct TypedWrites<K, V> {
    pub(crate) table: Table<K, V>,
    pub(crate) entries: BTreeMap<K, PendingWrite<V>>,
}

/// Commit steps over one table's writes.
pub(crate) trait TableWrites: Send {
    fn table_id(&self) -> u64;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Records found at execution time, to be locked in global order.
    fn existing_records(&self, out: &mut Vec<Arc<dyn Versioned>>);
    /// Phase 1, inserts: puts a locked placeholder into the index for each
    /// new key, or locks the record another transaction inserted meanwhile
    /// (without waiting, so this step cannot deadlock). Locked existing
    /// records go to `locked`, placeholders to `created`.
    fn lock_inserts(
        &mut self,
        locked: &mut Vec<Arc<dyn Versioned>>,
        created: &mut Vec<Arc<dyn Versioned>>,
        nodes: &mut NodeSet,
        floor: &mut Tid,
    ) -> Result<(), Abort>;
    /// Phase 3: installs every row with `tid` and unlocks.
    fn install(&self, tid: Tid);
    /// After an abort: unlinks the placeholders this transaction created.
    fn discard_created(&self);
    /// After commit: unlinks the records this transaction deleted.
    fn unlink_deleted(&self);
}

impl<K: Key, V: Row> TypedWrites<K, V> {
    pub(crate) fn new(table: Table<K, V>) -> TypedWrites<K, V> {
        TypedWrites {
            table,
            entries: BTreeMap::new(),
        }
    }

    /// Buffers a write of `row` (`None` deletes) under `key`.
    pub(crate) fn write(&mut self, key: K, row: Option<Arc<V>>) {
        match self.entries.entry(key) {
            std::collections::btree_map::Entry::Occupied(mut entry) => entry.get_mut().row = row,
            std::collections::btree_map::Entry::Vacant(entry) => {
                let record = self.table.index().find(entry.key());
                entry.insert(PendingWrite {
                    record,
                    row,
                    created: false,
                });
            }
        }
    }
}

/// Locks a record that some other transaction created or deleted, without
/// waiting.
fn try_lock_found(record: &Arc<dyn Versioned>, floor: &mut Tid) -> Result<(), Abort> {
    let before = record.word().try_lock().ok_or(Abort::Locked)?;
    if before & LATEST == 0 {
        record.word().unlock();
        return Err(Abort::Unlinked);
    }
    *floor = (*floor).max(Tid::of_word(before));
    Ok(())
}

impl<K: Key, V: Row> TableWrites for TypedWrites<K, V> {
    fn table_id(&self) -> u64 {
        self.table.id()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn existing_records(&self, out: &mut Vec<Arc<dyn Versioned>>) {
        for pending in self.entries.values() {
            if let Some(record) = &pending.record {
                out.push(Arc::clone(record) as Arc<dyn Versioned>);
            }
        }
    }

    fn lock_inserts(
        &mut self,
        locked: &mut Vec<Arc<dyn Versioned>>,
        created: &mut Vec<Arc<dyn Versioned>>,
        nodes: &mut NodeSet,
        floor: &mut Tid,
    ) -> Result<(), Abort> {
        let index = self.table.index();
        for (key, pending) in self.entries.iter_mut() {
            if pending.record.is_some() {
                continue;
            }
            let found = if pending.row.is_some() {
                match index.insert_with(key.clone(), || Arc::new(Record::placeholder())) {
                    InsertOutcome::Inserted(record, change) => {
                        nodes.absorb_own_insert(&change);
                        created.push(Arc::clone(&record) as Arc<dyn Versioned>);
                        pending.record = Some(record);
                        pending.created = true;
                        continue;
                    }
                    InsertOutcome::Existing(record) => record,
                }
            } else {
                match index.find(key) {
                    Some(record) => record,
                    None => continue,
                }
            };
            let erased = Arc::clone(&found) as Arc<dyn Versioned>;
            try_lock_found(&erased, floor)?;
            locked.push(erased);
            pending.record = Some(found);
        }
        Ok(())
    }

    fn install(&self, tid: Tid) {
        for pending in self.entries.values() {
            if let Some(record) = &pending.record {
                record.install(pending.row.clone(), tid);
            }
        }
    }

    fn discard_created(&self) {
        for (key, pending) in &self.entries {
            if let (true, Some(record)) = (pending.created, &pending.record) {
                self.table
                    .index()
                    .remove_if(key, |linked| Arc::ptr_eq(linked, record));
                record
                    .word
                    .unlock_with(Tid::of_word(record.word.load()), ABSENT);
            }
        }
    }

    fn unlink_deleted(&self) {
        for (key, pending) in &self.entries {
            let (None, Some(record)) = (&pending.row, &pending.record) else {
                continue;
            };
            // Someone holding the lock is about to overwrite the record:
            // it stays linked, as an absent record, which is harmless.
            let Some(before) = record.word.try_lock() else {
                continue;
            };
            if before & (ABSENT | LATEST) == ABSENT | LATEST {
                self.table
                    .index()
                    .remove_if(key, |linked| Arc::ptr_eq(linked, record));
                record.word.unlock_with(Tid::of_word(before), ABSENT);
            } else {
                record.word.unlock();
            }
        }
    }
}
