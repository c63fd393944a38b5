//! Row types of the nine TPC-C tables (TPC-C §1.3), money in cents and
//! rates in basis points of a percent (1/10,000). Fields that never change
//! after loading are shared between versions of a row.

use std::sync::Arc;

use super::keys::{CustomerId, DistrictId, ItemId, OrderId, WarehouseId};

/// An immutable string shared between row versions: updating a row copies
/// its other fields, and text fields are copied by reference count rather
/// than reallocated (Silo stores rows inline; this is the equivalent cost).
pub type Text = Arc<str>;

/// WAREHOUSE.
#[derive(Clone, Debug)]
pub struct Warehouse {
    /// W_NAME.
    pub name: Text,
    /// W_STREET_1, W_STREET_2, W_CITY, W_STATE, W_ZIP.
    pub address: Arc<Address>,
    /// W_TAX in 1/10,000.
    pub tax: u32,
    /// W_YTD in cents.
    pub ytd: i64,
}

/// The address fields shared by several tables.
#[derive(Clone, Debug)]
pub struct Address {
    /// STREET_1.
    pub street_1: Text,
    /// STREET_2.
    pub street_2: Text,
    /// CITY.
    pub city: Text,
    /// STATE.
    pub state: Text,
    /// ZIP.
    pub zip: Text,
}

/// DISTRICT.
#[derive(Clone, Debug)]
pub struct District {
    /// D_NAME.
    pub name: Text,
    /// D_STREET_1 ... D_ZIP.
    pub address: Arc<Address>,
    /// D_TAX in 1/10,000.
    pub tax: u32,
    /// D_YTD in cents.
    pub ytd: i64,
    /// D_NEXT_O_ID.
    pub next_order: OrderId,
}

/// CUSTOMER.
#[derive(Clone, Debug)]
pub struct Customer {
    /// C_FIRST.
    pub first: Text,
    /// C_MIDDLE.
    pub middle: Text,
    /// C_LAST.
    pub last: Text,
    /// C_STREET_1 ... C_ZIP.
    pub address: Arc<Address>,
    /// C_PHONE.
    pub phone: Text,
    /// C_SINCE (seconds since the Unix epoch).
    pub since: u64,
    /// C_CREDIT: true for "BC" (bad credit), false for "GC".
    pub bad_credit: bool,
    /// C_CREDIT_LIM in cents.
    pub credit_limit: i64,
    /// C_DISCOUNT in 1/10,000.
    pub discount: u32,
    /// C_BALANCE in cents.
    pub balance: i64,
    /// C_YTD_PAYMENT in cents.
    pub ytd_payment: i64,
    /// C_PAYMENT_CNT.
    pub payment_count: u32,
    /// C_DELIVERY_CNT.
    pub delivery_count: u32,
    /// C_DATA.
    pub data: Text,
}

/// HISTORY.
#[derive(Clone, Debug)]
pub struct History {
    /// H_C_ID, H_C_D_ID, H_C_W_ID.
    pub customer: (WarehouseId, DistrictId, CustomerId),
    /// H_W_ID, H_D_ID.
    pub district: (WarehouseId, DistrictId),
    /// H_DATE.
    pub date: u64,
    /// H_AMOUNT in cents.
    pub amount: i64,
    /// H_DATA.
    pub data: Text,
}

/// NEW-ORDER (the key says everything).
#[derive(Clone, Copy, Debug)]
pub struct NewOrder;

/// ORDER.
#[derive(Clone, Debug)]
pub struct Order {
    /// O_C_ID.
    pub customer: CustomerId,
    /// O_ENTRY_D.
    pub entry_date: u64,
    /// O_CARRIER_ID, `None` until delivered.
    pub carrier: Option<u8>,
    /// O_OL_CNT.
    pub line_count: u8,
    /// O_ALL_LOCAL.
    pub all_local: bool,
}

/// ORDER-LINE.
#[derive(Clone, Debug)]
pub struct OrderLine {
    /// OL_I_ID.
    pub item: ItemId,
    /// OL_SUPPLY_W_ID.
    pub supply_warehouse: WarehouseId,
    /// OL_DELIVERY_D, `None` until delivered.
    pub delivery_date: Option<u64>,
    /// OL_QUANTITY.
    pub quantity: u32,
    /// OL_AMOUNT in cents.
    pub amount: i64,
    /// OL_DIST_INFO.
    pub dist_info: Text,
}

/// ITEM.
#[derive(Clone, Debug)]
pub struct Item {
    /// I_IM_ID.
    pub image: u32,
    /// I_NAME.
    pub name: Text,
    /// I_PRICE in cents.
    pub price: i64,
    /// I_DATA.
    pub data: Text,
}

/// STOCK.
#[derive(Clone, Debug)]
pub struct Stock {
    /// S_QUANTITY.
    pub quantity: i32,
    /// S_DIST_01 ... S_DIST_10.
    pub dist: Arc<[Text; 10]>,
    /// S_YTD.
    pub ytd: u64,
    /// S_ORDER_CNT.
    pub order_count: u32,
    /// S_REMOTE_CNT.
    pub remote_count: u32,
    /// S_DATA.
    pub data: Text,
}
