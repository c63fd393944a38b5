//! Tables: a named ordered index from keys to records.
//!
//! A [`Table`] is a cheap handle (clone it freely); rows are read and
//! written through a [`super::Transaction`]. [`Table::load`] inserts
//! committed rows outside any transaction, for the loader.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::index::{Index, InsertOutcome};
use super::record::Record;
use super::tid::Tid;

/// Bounds on key types.
pub trait Key: Ord + Clone + Send + Sync + 'static {}
impl<K: Ord + Clone + Send + Sync + 'static> Key for K {}

/// Bounds on row types.
pub trait Row: Send + Sync + 'static {}
impl<V: Send + Sync + 'static> Row for V {}

static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(0);

/// Errors of non-transactional loading.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    /// The key was already present in the table.
    #[error("duplicate key loaded into table {0}")]
    Duplicate(&'static str),
}

/// A table: an ordered index of records.
pub struct Table<K, V> {
    inner: Arc<TableInner<K, V>>,
}

struct TableInner<K, V> {
    id: u64,
    name: &'static str,
    index: Index<K, Arc<Record<V>>>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Table {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Key, V: Row> Table<K, V> {
    /// An empty table.
    pub fn new(name: &'static str) -> Table<K, V> {
        Table {
            inner: Arc::new(TableInner {
                id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed),
                name,
                index: Index::new(),
            }),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    pub(crate) fn index(&self) -> &Index<K, Arc<Record<V>>> {
        &self.inner.index
    }

    /// Inserts a committed row outside any transaction (bulk loading, before
    /// transactions run on this table).
    pub fn load(&self, key: K, row: V) -> Result<(), LoadError> {
        match self
            .inner
            .index
            .insert_with(key, || Arc::new(Record::committed(row, Tid::default())))
        {
            InsertOutcome::Inserted(..) => Ok(()),
            InsertOutcome::Existing(_) => Err(LoadError::Duplicate(self.inner.name)),
        }
    }
}
