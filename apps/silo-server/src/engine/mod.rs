//! The storage engine: ordered indexes, records with TID words, and Silo's
//! optimistic concurrency control with epoch-based TIDs (SOSP'13).
//!
//! Use: create a [`Db`] and [`Table`]s, run [`Transaction`]s from any
//! number of threads, retry on [`Abort`].

mod backoff;
mod commit;
pub mod epoch;
pub mod index;
mod record;
mod table;
pub mod tid;
mod txn;
mod write_set;

#[cfg(test)]
mod tests;

pub use commit::Abort;
pub use table::{Key, LoadError, Row, Table};
pub use tid::Tid;
pub use txn::{Db, Transaction};
