//! The TPC-C consistency conditions 1-4 (§3.3.2.1-§3.3.2.4), checked in
//! one read-only transaction per warehouse.

use std::ops::Bound;

use crate::engine::Transaction;

use super::keys::{self, DISTRICTS_PER_WAREHOUSE, DistrictId, WarehouseId};
use super::schema::Tpcc;
use super::txn::TxnError;

/// A violated consistency condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsistencyError {
    /// Condition 1: W_YTD = sum(D_YTD).
    #[error(
        "condition 1, warehouse {warehouse}: W_YTD {warehouse_ytd} != sum(D_YTD) {district_ytd}"
    )]
    WarehouseYtd {
        /// W_ID.
        warehouse: WarehouseId,
        /// W_YTD.
        warehouse_ytd: i64,
        /// sum(D_YTD).
        district_ytd: i64,
    },
    /// Condition 2: D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID).
    #[error(
        "condition 2, district ({warehouse}, {district}): D_NEXT_O_ID - 1 = {next_minus_one}, max(O_ID) = {max_order}, max(NO_O_ID) = {max_new_order:?}"
    )]
    NextOrder {
        /// W_ID.
        warehouse: WarehouseId,
        /// D_ID.
        district: DistrictId,
        /// D_NEXT_O_ID - 1.
        next_minus_one: u32,
        /// max(O_ID).
        max_order: u32,
        /// max(NO_O_ID), if any.
        max_new_order: Option<u32>,
    },
    /// Condition 3: max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW-ORDER).
    #[error("condition 3, district ({warehouse}, {district}): NO_O_ID span {span} != {count} rows")]
    NewOrderSpan {
        /// W_ID.
        warehouse: WarehouseId,
        /// D_ID.
        district: DistrictId,
        /// max - min + 1.
        span: u32,
        /// Rows in NEW-ORDER.
        count: u32,
    },
    /// Condition 4: sum(O_OL_CNT) = count(ORDER-LINE).
    #[error(
        "condition 4, district ({warehouse}, {district}): sum(O_OL_CNT) {line_counts} != {lines} order lines"
    )]
    LineCount {
        /// W_ID.
        warehouse: WarehouseId,
        /// D_ID.
        district: DistrictId,
        /// sum(O_OL_CNT).
        line_counts: u64,
        /// Rows in ORDER-LINE.
        lines: u64,
    },
    /// The checking transaction failed.
    #[error("consistency check transaction failed: {0}")]
    Txn(#[from] TxnError),
}

/// Checks conditions 1-4 for every warehouse and district.
pub fn check_consistency(tpcc: &Tpcc) -> Result<(), ConsistencyError> {
    for w in 1..=tpcc.scale.warehouses {
        let mut txn = tpcc.db.begin();
        check_warehouse(tpcc, &mut txn, w)?;
        txn.commit().map_err(TxnError::from)?;
    }
    Ok(())
}

fn check_warehouse(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    w: WarehouseId,
) -> Result<(), ConsistencyError> {
    let t = &tpcc.tables;
    let warehouse = super::txn::read(txn, &t.warehouse, &u64::from(w))?;
    let mut district_ytd = 0;
    for d in 1..=DISTRICTS_PER_WAREHOUSE {
        let district = super::txn::read(txn, &t.district, &keys::district(w, d))?;
        district_ytd += district.ytd;
        let all = |o| Bound::Included(keys::order(w, d, o));
        let orders = scan_all(txn, &t.order, all(0), all(u32::MAX))?;
        let new_orders = scan_all(txn, &t.new_order, all(0), all(u32::MAX))?;
        let max_order = orders.last().map_or(0, |(k, _)| keys::order_id_of(*k));
        let max_new_order = new_orders.last().map(|(k, _)| keys::order_id_of(*k));
        let next_minus_one = district.next_order - 1;
        if next_minus_one != max_order || max_new_order.is_some_and(|m| m != max_order) {
            return Err(ConsistencyError::NextOrder {
                warehouse: w,
                district: d,
                next_minus_one,
                max_order,
                max_new_order,
            });
        }
        if let (Some((first, _)), Some((last, _))) = (new_orders.first(), new_orders.last()) {
            let span = keys::order_id_of(*last) - keys::order_id_of(*first) + 1;
            let count = new_orders.len() as u32;
            if span != count {
                return Err(ConsistencyError::NewOrderSpan {
                    warehouse: w,
                    district: d,
                    span,
                    count,
                });
            }
        }
        let line_counts: u64 = orders.iter().map(|(_, o)| u64::from(o.line_count)).sum();
        let line_bound = |o| Bound::Included(keys::order_line(w, d, o, 0));
        let lines = scan_all(txn, &t.order_line, line_bound(0), line_bound(u32::MAX))?.len() as u64;
        if line_counts != lines {
            return Err(ConsistencyError::LineCount {
                warehouse: w,
                district: d,
                line_counts,
                lines,
            });
        }
    }
    if warehouse.ytd != district_ytd {
        return Err(ConsistencyError::WarehouseYtd {
            warehouse: w,
            warehouse_ytd: warehouse.ytd,
            district_ytd,
        });
    }
    Ok(())
}

type Rows<V> = Vec<(u64, std::sync::Arc<V>)>;

fn scan_all<V: crate::engine::Row>(
    txn: &mut Transaction<'_>,
    table: &crate::engine::Table<u64, V>,
    lower: Bound<u64>,
    upper: Bound<u64>,
) -> Result<Rows<V>, TxnError> {
    Ok(txn.scan(table, lower.as_ref(), upper.as_ref(), usize::MAX)?)
}
