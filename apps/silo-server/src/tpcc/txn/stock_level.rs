//! Stock-Level (TPC-C §2.8.2), read-only: distinct items of the last 20
//! orders of a district whose stock is below the threshold.

use std::collections::BTreeSet;
use std::ops::Bound;

use crate::engine::Transaction;
use crate::tpcc::input::StockLevelInput;
use crate::tpcc::keys;
use crate::tpcc::schema::Tpcc;

use super::{TxnError, read};

/// How many recent orders are examined.
const RECENT_ORDERS: u32 = 20;

pub(super) fn run(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    input: &StockLevelInput,
) -> Result<i64, TxnError> {
    let t = &tpcc.tables;
    let (w, d) = (input.warehouse, input.district);
    let district = read(txn, &t.district, &keys::district(w, d))?;
    let first = district.next_order.saturating_sub(RECENT_ORDERS);
    let lines = txn.scan(
        &t.order_line,
        Bound::Included(&keys::order_line(w, d, first, 0)),
        Bound::Excluded(&keys::order_line(w, d, district.next_order, 0)),
        usize::MAX,
    )?;
    let items: BTreeSet<u32> = lines.iter().map(|(_, line)| line.item).collect();
    let mut low = 0;
    for item in items {
        let stock = read(txn, &t.stock, &keys::stock(w, item))?;
        if stock.quantity < input.threshold as i32 {
            low += 1;
        }
    }
    Ok(low)
}
