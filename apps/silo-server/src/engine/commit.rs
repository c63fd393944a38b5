//! Silo's commit protocol (SOSP'13 §4.4, Figure 2) and the read and node
//! sets it validates.
//!
//! * Phase 1: lock every record in the write set in a global order (record
//!   address), then put locked placeholders in the indexes for new keys;
//!   read the global epoch (the serialization point).
//! * Phase 2: validate the read set (every record's TID word is unchanged
//!   and not locked by another transaction) and the node set (every leaf
//!   scanned, or searched for a missing key, has the version it had).
//! * Phase 3: choose the TID (larger than every TID read or overwritten and
//!   than this worker's last one, in the current epoch) and install every
//!   write with it, unlocking in the same store.
//!
//! Any failed check releases the locks and reports why in an [`Abort`].

use std::cell::Cell;
use std::sync::Arc;

use super::index::{LeafObservation, StructureChange};
use super::record::{Versioned, address};
use super::tid::{LATEST, LOCK, Tid};
use super::write_set::TableWrites;

/// Why a transaction did not commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Abort {
    /// A record read by the transaction was overwritten or is locked by
    /// another committing transaction.
    #[error("a record read by the transaction changed before commit")]
    ReadChanged,
    /// A leaf scanned or searched by the transaction changed: a key was
    /// inserted into or removed from a range it read (a phantom).
    #[error("a key range read by the transaction changed before commit (phantom)")]
    Phantom,
    /// A record to insert or delete is being committed by another
    /// transaction right now.
    #[error("a record written by the transaction is locked by another transaction")]
    Locked,
    /// A record written by the transaction was removed from its table.
    #[error("a record written by the transaction was deleted and unlinked")]
    Unlinked,
    /// The transaction logic rolled back (e.g. TPC-C's invalid item).
    #[error("rolled back by the transaction logic")]
    Rollback,
}

/// Records read, with the TID word each was read under.
#[derive(Default)]
pub(crate) struct ReadSet(Vec<(Arc<dyn Versioned>, u64)>);

impl ReadSet {
    pub(crate) fn push(&mut self, record: Arc<dyn Versioned>, word: u64) {
        self.0.push((record, word));
    }

    /// Phase 2 for records; `ours` are the sorted addresses of the records
    /// this transaction holds locked. Raises `floor` to every TID read.
    fn validate(&self, ours: &[usize], floor: &mut Tid) -> Result<(), Abort> {
        for (record, observed) in &self.0 {
            let now = record.word().load();
            let locked_by_other = now & LOCK != 0 && ours.binary_search(&address(record)).is_err();
            if now & !LOCK != *observed || locked_by_other {
                return Err(Abort::ReadChanged);
            }
            *floor = (*floor).max(Tid::of_word(*observed));
        }
        Ok(())
    }
}

/// Leaves read, with the version each was read under.
#[derive(Default)]
pub(crate) struct NodeSet(Vec<LeafObservation>);

impl NodeSet {
    pub(crate) fn push(&mut self, observation: LeafObservation) {
        self.0.push(observation);
    }

    /// Accounts for this transaction's own insert (Silo §4.6): a leaf the
    /// transaction read that changed only by this insert keeps validating,
    /// and the sibling a split created joins the node set.
    pub(crate) fn absorb_own_insert(&mut self, change: &StructureChange) {
        let mut observed = false;
        for entry in &mut self.0 {
            if Arc::ptr_eq(&entry.node, &change.node) && entry.version == change.before {
                entry.version = change.after;
                observed = true;
            }
        }
        if let (true, Some(split)) = (observed, &change.split) {
            self.0.push(split.clone());
        }
    }

    /// Phase 2 for leaves.
    fn validate(&self) -> Result<(), Abort> {
        match self.0.iter().all(|o| o.node.current() == o.version) {
            true => Ok(()),
            false => Err(Abort::Phantom),
        }
    }
}

thread_local! {
    /// The last TID this worker thread committed (TIDs of one worker grow).
    static LAST_TID: Cell<Tid> = const { Cell::new(Tid::new(0, 0)) };
}

/// Records and placeholders held locked during a commit.
#[derive(Default)]
struct Held {
    locked: Vec<Arc<dyn Versioned>>,
    created: Vec<Arc<dyn Versioned>>,
}

impl Held {
    fn release(&self, writes: &[Box<dyn TableWrites>]) {
        for record in &self.locked {
            record.word().unlock();
        }
        for table in writes {
            table.discard_created();
        }
    }

    fn sorted_addresses(&self) -> Vec<usize> {
        let mut addresses: Vec<usize> = self
            .locked
            .iter()
            .chain(&self.created)
            .map(address)
            .collect();
        addresses.sort_unstable();
        addresses
    }
}

/// Runs the three phases over a transaction's sets; `epoch` reads the
/// global epoch.
pub(crate) fn commit(
    reads: &ReadSet,
    nodes: &mut NodeSet,
    writes: &mut [Box<dyn TableWrites>],
    epoch: impl FnOnce() -> u32,
) -> Result<Tid, Abort> {
    let mut floor = LAST_TID.with(Cell::get);
    let mut held = Held::default();
    let mut existing = Vec::new();
    for table in writes.iter() {
        table.existing_records(&mut existing);
    }
    existing.sort_unstable_by_key(address);
    for record in existing {
        let before = record.word().lock();
        held.locked.push(record);
        if before & LATEST == 0 {
            held.release(writes);
            return Err(Abort::Unlinked);
        }
        floor = floor.max(Tid::of_word(before));
    }
    for table in writes.iter_mut() {
        let step = table.lock_inserts(&mut held.locked, &mut held.created, nodes, &mut floor);
        if let Err(abort) = step {
            held.release(writes);
            return Err(abort);
        }
    }
    let epoch = epoch();
    let validated = reads
        .validate(&held.sorted_addresses(), &mut floor)
        .and_then(|()| nodes.validate());
    if let Err(abort) = validated {
        held.release(writes);
        return Err(abort);
    }
    let tid = Tid::next_after(floor, epoch);
    for table in writes.iter() {
        table.install(tid);
    }
    LAST_TID.with(|last| last.set(tid));
    for table in writes.iter() {
        table.unlink_deleted();
    }
    Ok(tid)
}
