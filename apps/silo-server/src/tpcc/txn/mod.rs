//! The five TPC-C transactions (§2.4-§2.8) on the Silo engine.
//!
//! [`run_once`] executes one attempt of a transaction and commits it;
//! [`run`] retries attempts that aborted on a conflict, as Silo's workers
//! do. The returned figure is a per-type summary of the result (see
//! [`run_once`]), used by clients and tests.

mod delivery;
mod new_order;
mod order_status;
mod payment;
mod stock_level;

use std::sync::Arc;

use crate::engine::{Abort, Key, Row, Table, Transaction};

use super::input::{CustomerSelector, TxnInput};
use super::keys::{self, CustomerId, CustomerNameKey, DistrictId, OrderId, WarehouseId};
use super::rows::OrderLine;
use super::schema::Tpcc;

/// Why a transaction attempt did not commit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// The engine aborted it (conflict) or the logic rolled it back.
    #[error(transparent)]
    Abort(#[from] Abort),
    /// A row the input refers to does not exist (an input outside the
    /// population, e.g. from a malformed request).
    #[error("no {table} row for the given input")]
    Missing {
        /// The table searched.
        table: &'static str,
    },
}

/// Reads a row that must exist.
pub(super) fn read<K: Key, V: Row>(
    txn: &mut Transaction<'_>,
    table: &Table<K, V>,
    key: &K,
) -> Result<Arc<V>, TxnError> {
    txn.get(table, key)?.ok_or(TxnError::Missing {
        table: table.name(),
    })
}

/// Finds a customer by id, or by last name taking the one at position
/// ceil(n/2) in first-name order (§2.5.2.2).
fn find_customer(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    w: WarehouseId,
    d: DistrictId,
    selector: &CustomerSelector,
) -> Result<CustomerId, TxnError> {
    let name = match selector {
        CustomerSelector::Id(id) => return Ok(*id),
        CustomerSelector::LastName(name) => keys::padded(name),
    };
    let bound = |first, customer| CustomerNameKey {
        district: keys::district(w, d),
        last: name,
        first,
        customer,
    };
    let (low, high) = (bound([0; 16], 0), bound([u8::MAX; 16], CustomerId::MAX));
    let matches = txn.scan(
        &tpcc.tables.customer_by_name,
        std::ops::Bound::Included(&low),
        std::ops::Bound::Included(&high),
        usize::MAX,
    )?;
    let middle = matches.len().div_ceil(2).checked_sub(1);
    middle
        .and_then(|i| matches.get(i))
        .map(|(_, id)| **id)
        .ok_or(TxnError::Missing {
            table: "customer_by_name",
        })
}

/// The lines of order `o` of district (`w`, `d`), by line number.
fn order_lines(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    w: WarehouseId,
    d: DistrictId,
    o: OrderId,
) -> Result<Vec<(u64, Arc<OrderLine>)>, TxnError> {
    let line = |number| std::ops::Bound::Included(keys::order_line(w, d, o, number));
    let (first, last) = (line(0), line(u8::MAX >> 4));
    Ok(txn.scan(
        &tpcc.tables.order_line,
        first.as_ref(),
        last.as_ref(),
        usize::MAX,
    )?)
}

/// Runs one attempt of `input` and commits it. The figure returned is:
/// New-Order, the order total in cents; Payment, the customer's new
/// balance; Order-Status, the number of lines of the last order; Delivery,
/// the number of districts with an order delivered; Stock-Level, the number
/// of low-stock items.
pub fn run_once(tpcc: &Tpcc, input: &TxnInput) -> Result<i64, TxnError> {
    let mut txn = tpcc.db.begin();
    let figure = match input {
        TxnInput::NewOrder(input) => new_order::run(tpcc, &mut txn, input)?,
        TxnInput::Payment(input) => payment::run(tpcc, &mut txn, input)?,
        TxnInput::OrderStatus(input) => order_status::run(tpcc, &mut txn, input)?,
        TxnInput::Delivery(input) => delivery::run(tpcc, &mut txn, input)?,
        TxnInput::StockLevel(input) => stock_level::run(tpcc, &mut txn, input)?,
    };
    txn.commit()?;
    Ok(figure)
}

/// The result of [`run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The committed figure, or why the transaction finally failed.
    pub result: Result<i64, TxnError>,
    /// Attempts that aborted on a conflict before the final one.
    pub retries: u32,
}

/// Runs `input` until it commits, rolls back, fails on a missing row, or
/// has aborted on conflicts `max_attempts` times.
pub fn run(tpcc: &Tpcc, input: &TxnInput, max_attempts: u32) -> Completed {
    let mut retries = 0;
    loop {
        let result = run_once(tpcc, input);
        let conflict = matches!(&result, Err(TxnError::Abort(abort)) if *abort != Abort::Rollback);
        if !conflict || retries + 1 >= max_attempts {
            return Completed { result, retries };
        }
        retries += 1;
    }
}
