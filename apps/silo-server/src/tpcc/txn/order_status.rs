//! Order-Status (TPC-C §2.6.2), read-only.

use std::ops::Bound;

use crate::engine::Transaction;
use crate::tpcc::input::OrderStatusInput;
use crate::tpcc::keys;
use crate::tpcc::schema::Tpcc;

use super::{TxnError, find_customer, order_lines, read};

pub(super) fn run(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    input: &OrderStatusInput,
) -> Result<i64, TxnError> {
    let t = &tpcc.tables;
    let (w, d) = (input.warehouse, input.district);
    let c = find_customer(tpcc, txn, w, d, &input.customer)?;
    read(txn, &t.customer, &keys::customer(w, d, c))?;
    let orders = txn.scan(
        &t.order_by_customer,
        Bound::Included(&keys::order_by_customer(w, d, c, 0)),
        Bound::Included(&keys::order_by_customer(w, d, c, u32::MAX)),
        usize::MAX,
    )?;
    let Some((last, _)) = orders.last() else {
        return Err(TxnError::Missing { table: "order" });
    };
    let order_id = *last as u32;
    read(txn, &t.order, &keys::order(w, d, order_id))?;
    let lines = order_lines(tpcc, txn, w, d, order_id)?;
    Ok(lines.len() as i64)
}
