//! The database handle and transactions.
//!
//! ```
//! use silo_server::engine::{Db, Table};
//! let db = Db::new();
//! let accounts: Table<u32, i64> = Table::new("accounts");
//! let mut txn = db.begin();
//! txn.put(&accounts, 1, 100);
//! txn.commit().unwrap();
//! let mut txn = db.begin();
//! assert_eq!(txn.get(&accounts, &1).unwrap().as_deref(), Some(&100));
//! ```
//!
//! A transaction reads through the indexes optimistically (recording what
//! it saw), buffers its writes, and runs Silo's commit protocol in
//! [`Transaction::commit`]. Dropping a transaction without committing
//! aborts it; nothing is locked before commit.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use super::commit::{Abort, NodeSet, ReadSet, commit};
use super::epoch::{DEFAULT_EPOCH_PERIOD, EpochClock};
use super::index::Lookup;
use super::record::Versioned;
use super::table::{Key, Row, Table};
use super::tid::{ABSENT, LATEST, Tid};
use super::write_set::{TableWrites, TypedWrites};

/// The database: the epoch clock shared by all transactions. Tables are
/// independent handles ([`Table`]) used with any transaction of a `Db`.
pub struct Db {
    epoch: EpochClock,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    /// A database with Silo's 40 ms epochs.
    pub fn new() -> Db {
        Db::with_epoch_period(DEFAULT_EPOCH_PERIOD)
    }

    /// A database whose epoch advances every `period`.
    pub fn with_epoch_period(period: Duration) -> Db {
        Db {
            epoch: EpochClock::start(period),
        }
    }

    /// The current global epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch.current()
    }

    /// Starts a transaction.
    pub fn begin(&self) -> Transaction<'_> {
        Transaction {
            db: self,
            reads: ReadSet::default(),
            nodes: NodeSet::default(),
            writes: Vec::new(),
        }
    }
}

/// One serializable transaction.
pub struct Transaction<'db> {
    db: &'db Db,
    reads: ReadSet,
    nodes: NodeSet,
    writes: Vec<Box<dyn TableWrites>>,
}

impl Transaction<'_> {
    fn pending<K: Key, V: Row>(&self, table: &Table<K, V>) -> Option<&TypedWrites<K, V>> {
        self.writes
            .iter()
            .find(|w| w.table_id() == table.id())
            .and_then(|w| w.as_any().downcast_ref())
    }

    fn pending_mut<K: Key, V: Row>(&mut self, table: &Table<K, V>) -> &mut TypedWrites<K, V> {
        let position = self.writes.iter().position(|w| w.table_id() == table.id());
        let position = position.unwrap_or_else(|| {
            self.writes.push(Box::new(TypedWrites::new(table.clone())));
            self.writes.len() - 1
        });
        self.writes[position]
            .as_any_mut()
            .downcast_mut()
            .expect("a table id always names the same key and row types")
    }

    /// The row under `key`, seeing this transaction's own writes.
    pub fn get<K: Key, V: Row>(
        &mut self,
        table: &Table<K, V>,
        key: &K,
    ) -> Result<Option<Arc<V>>, Abort> {
        if let Some(pending) = self.pending(table).and_then(|p| p.entries.get(key)) {
            return Ok(pending.row.clone());
        }
        loop {
            let record = match table.index().get(key) {
                Lookup::Found(record) => record,
                Lookup::Missing(searched) => {
                    self.nodes.push(searched);
                    return Ok(None);
                }
            };
            let (word, row) = record.read();
            if word & LATEST == 0 {
                // Unlinked after we found it: search again.
                continue;
            }
            self.reads.push(record as Arc<dyn Versioned>, word);
            return Ok(if word & ABSENT == 0 { row } else { None });
        }
    }

    /// Up to `limit` rows with keys in `(lower, upper)`, ascending, seeing
    /// this transaction's own writes. The leaves visited join the node set,
    /// so a concurrent insert into the range aborts this transaction.
    pub fn scan<K: Key, V: Row>(
        &mut self,
        table: &Table<K, V>,
        lower: Bound<&K>,
        upper: Bound<&K>,
        limit: usize,
    ) -> Result<Vec<(K, Arc<V>)>, Abort> {
        let own: Vec<(K, Option<Arc<V>>)> = self
            .pending(table)
            .map(|p| {
                p.entries
                    .range::<K, _>((lower, upper))
                    .map(|(k, w)| (k.clone(), w.row.clone()))
                    .collect()
            })
            .unwrap_or_default();
        // Own deletes can hide at most `own.len()` committed rows.
        let wanted = limit.saturating_add(own.len());
        let mut rows = Vec::new();
        let (reads, nodes) = (&mut self.reads, &mut self.nodes);
        table.index().scan(
            lower,
            upper,
            |leaf| nodes.push(leaf),
            |key, record| {
                let (word, row) = record.read();
                reads.push(Arc::clone(record) as Arc<dyn Versioned>, word);
                if let (0, Some(row)) = (word & ABSENT, row) {
                    rows.push((key.clone(), row));
                }
                rows.len() < wanted
            },
        );
        if !own.is_empty() {
            let mut merged: std::collections::BTreeMap<K, Arc<V>> = rows.into_iter().collect();
            for (key, row) in own {
                match row {
                    Some(row) => merged.insert(key, row),
                    None => merged.remove(&key),
                };
            }
            rows = merged.into_iter().collect();
        }
        rows.truncate(limit);
        Ok(rows)
    }

    /// Writes `row` under `key` (insert or overwrite) at commit.
    pub fn put<K: Key, V: Row>(&mut self, table: &Table<K, V>, key: K, row: V) {
        self.pending_mut(table).write(key, Some(Arc::new(row)));
    }

    /// Deletes `key` at commit (nothing if it is absent then).
    pub fn delete<K: Key, V: Row>(&mut self, table: &Table<K, V>, key: K) {
        self.pending_mut(table).write(key, None);
    }

    /// Runs Silo's commit protocol; on success returns the commit TID.
    pub fn commit(mut self) -> Result<Tid, Abort> {
        let db = self.db;
        commit(&self.reads, &mut self.nodes, &mut self.writes, || {
            db.epoch()
        })
    }
}
