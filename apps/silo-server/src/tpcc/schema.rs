//! The TPC-C database: the nine tables of §1.3 plus two secondary indexes
//! (customers by last name, §2.5.2.2; orders by customer, for
//! Order-Status §2.6.2.2), and the population parameters.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::engine::{Db, Table};

use super::keys::{
    CustomerId, CustomerNameKey, DISTRICTS_PER_WAREHOUSE, DistrictId, ItemId, WarehouseId,
};
use super::random::NurandConstants;
use super::rows::{
    Customer, District, History, Item, NewOrder, Order, OrderLine, Stock, Warehouse,
};

/// Population parameters. The spec's values are the default; tests scale
/// items and customers down to load fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Number of warehouses W.
    pub warehouses: WarehouseId,
    /// Rows in ITEM (spec: 100,000).
    pub items: ItemId,
    /// Customers (and initial orders) per district (spec: 3,000).
    pub customers_per_district: CustomerId,
}

impl Scale {
    /// The spec's population for `warehouses` warehouses.
    pub fn spec(warehouses: WarehouseId) -> Scale {
        Scale {
            warehouses,
            items: 100_000,
            customers_per_district: 3_000,
        }
    }

    /// The first initial order that is still undelivered (spec: 2101 of
    /// 3000, i.e. the last 900 orders are in NEW-ORDER).
    pub fn first_new_order(&self) -> u32 {
        self.customers_per_district - self.customers_per_district * 900 / 3000 + 1
    }

    /// The number of distinct last names in a district (spec: 1,000; fewer
    /// when customers are scaled below 1,000).
    pub fn last_names(&self) -> u32 {
        self.customers_per_district.min(1000)
    }
}

/// The TPC-C tables.
pub struct Tables {
    /// WAREHOUSE by W_ID.
    pub warehouse: Table<u64, Warehouse>,
    /// DISTRICT by (W_ID, D_ID).
    pub district: Table<u64, District>,
    /// CUSTOMER by (W_ID, D_ID, C_ID).
    pub customer: Table<u64, Customer>,
    /// Secondary index: (W_ID, D_ID, C_LAST, C_FIRST, C_ID) → C_ID.
    pub customer_by_name: Table<CustomerNameKey, CustomerId>,
    /// HISTORY by a unique sequence number (it has no primary key).
    pub history: Table<u64, History>,
    /// NEW-ORDER by (W_ID, D_ID, O_ID).
    pub new_order: Table<u64, NewOrder>,
    /// ORDER by (W_ID, D_ID, O_ID).
    pub order: Table<u64, Order>,
    /// Secondary index: (W_ID, D_ID, C_ID, O_ID).
    pub order_by_customer: Table<u64, ()>,
    /// ORDER-LINE by (W_ID, D_ID, O_ID, OL_NUMBER).
    pub order_line: Table<u64, OrderLine>,
    /// ITEM by I_ID.
    pub item: Table<u64, Item>,
    /// STOCK by (W_ID, I_ID).
    pub stock: Table<u64, Stock>,
}

impl Tables {
    fn new() -> Tables {
        Tables {
            warehouse: Table::new("warehouse"),
            district: Table::new("district"),
            customer: Table::new("customer"),
            customer_by_name: Table::new("customer_by_name"),
            history: Table::new("history"),
            new_order: Table::new("new_order"),
            order: Table::new("order"),
            order_by_customer: Table::new("order_by_customer"),
            order_line: Table::new("order_line"),
            item: Table::new("item"),
            stock: Table::new("stock"),
        }
    }
}

/// A loaded TPC-C database.
pub struct Tpcc {
    /// The engine.
    pub db: Db,
    /// The tables.
    pub tables: Tables,
    /// The population.
    pub scale: Scale,
    /// NURand constants for generating transaction inputs.
    pub constants: NurandConstants,
    /// Next HISTORY key.
    pub(crate) history_sequence: AtomicU64,
    /// Per district, an order id below which NEW-ORDER is known to be empty
    /// forever (see [`Tpcc::oldest_new_order_hint`]).
    delivered_below: Vec<AtomicU32>,
}

impl Tpcc {
    pub(crate) fn empty(scale: Scale, constants: NurandConstants) -> Tpcc {
        Tpcc {
            db: Db::new(),
            tables: Tables::new(),
            scale,
            constants,
            history_sequence: AtomicU64::new(0),
            delivered_below: (0..scale.warehouses as usize * usize::from(DISTRICTS_PER_WAREHOUSE))
                .map(|_| AtomicU32::new(0))
                .collect(),
        }
    }

    fn district_slot(&self, w: WarehouseId, d: DistrictId) -> Option<&AtomicU32> {
        let index = (w as usize).checked_sub(1)? * usize::from(DISTRICTS_PER_WAREHOUSE)
            + usize::from(d).checked_sub(1)?;
        self.delivered_below.get(index)
    }

    /// Where Delivery starts its scan of a district's NEW-ORDER rows (as
    /// Silo's TPC-C does): every order id below it is known deleted.
    /// Deleted rows leave empty leaves behind (leaves never merge), so
    /// scanning from order 0 would walk a growing run of empty leaves.
    ///
    /// Sound because order ids are never reused: ids come from
    /// D_NEXT_O_ID, which only grows, and a New-Order that took id `o`
    /// commits before any later id exists. So when a scan saw `o` as the
    /// smallest row, no row below `o` can ever appear again, whether or not
    /// the scanning transaction commits.
    pub(crate) fn oldest_new_order_hint(&self, w: WarehouseId, d: DistrictId) -> u32 {
        self.district_slot(w, d)
            .map_or(0, |slot| slot.load(Ordering::Relaxed))
    }

    /// Records that `o` was the smallest NEW-ORDER row a scan saw.
    pub(crate) fn saw_oldest_new_order(&self, w: WarehouseId, d: DistrictId, o: u32) {
        if let Some(slot) = self.district_slot(w, d) {
            slot.fetch_max(o, Ordering::Relaxed);
        }
    }
}
