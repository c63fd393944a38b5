//! Primary keys of the TPC-C tables, packed into `u64`s so that key order
//! is the spec's composite-key order (warehouse, district, ...).
//!
//! Field widths cover the spec's ranges: 10 districts (4 bits), 3,000
//! customers per district (12 bits), order numbers (32 bits), 15 order
//! lines (4 bits), 100,000 items (20 bits), and up to 2^20 warehouses.

/// Warehouse number (1-based).
pub type WarehouseId = u32;
/// District number within a warehouse (1..=10).
pub type DistrictId = u8;
/// Customer number within a district (1-based).
pub type CustomerId = u32;
/// Order number within a district (1-based).
pub type OrderId = u32;
/// Item number (1-based).
pub type ItemId = u32;

/// Districts per warehouse (TPC-C §1.2).
pub const DISTRICTS_PER_WAREHOUSE: DistrictId = 10;

/// DISTRICT key.
pub fn district(w: WarehouseId, d: DistrictId) -> u64 {
    (u64::from(w) << 4) | u64::from(d)
}

/// CUSTOMER key.
pub fn customer(w: WarehouseId, d: DistrictId, c: CustomerId) -> u64 {
    (district(w, d) << 12) | u64::from(c)
}

/// ORDER and NEW-ORDER key.
pub fn order(w: WarehouseId, d: DistrictId, o: OrderId) -> u64 {
    (district(w, d) << 32) | u64::from(o)
}

/// The order number of an ORDER or NEW-ORDER key.
pub fn order_id_of(order_key: u64) -> OrderId {
    order_key as u32
}

/// ORDER-LINE key.
pub fn order_line(w: WarehouseId, d: DistrictId, o: OrderId, number: u8) -> u64 {
    (order(w, d, o) << 4) | u64::from(number)
}

/// Key of the index of orders by customer: (w, d, c, o).
pub fn order_by_customer(w: WarehouseId, d: DistrictId, c: CustomerId, o: OrderId) -> u64 {
    (customer(w, d, c) << 32) | u64::from(o)
}

/// STOCK key.
pub fn stock(w: WarehouseId, i: ItemId) -> u64 {
    (u64::from(w) << 20) | u64::from(i)
}

/// Key of the secondary index of customers by last name (TPC-C §2.5.2.2:
/// customers with the same last name are ordered by first name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerNameKey {
    /// (warehouse, district) as [`district`].
    pub district: u64,
    /// C_LAST, zero-padded.
    pub last: [u8; 16],
    /// C_FIRST, zero-padded.
    pub first: [u8; 16],
    /// C_ID, to make the key unique.
    pub customer: CustomerId,
}

/// A string as a fixed, zero-padded key field (longer strings are cut).
pub fn padded(text: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let bytes = text.as_bytes();
    let len = bytes.len().min(16);
    out[..len].copy_from_slice(&bytes[..len]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_their_tuples() {
        assert!(order(1, 10, 5) < order(2, 1, 1));
        assert!(order(1, 2, u32::MAX) < order(1, 3, 0));
        assert!(order_line(1, 1, 7, 15) < order_line(1, 1, 8, 1));
        assert!(customer(3, 10, 3000) < customer(4, 1, 1));
        assert_eq!(order_id_of(order(9, 4, 1234)), 1234);
        assert!(stock(1, 100_000) < stock(2, 1));
        assert!(order_by_customer(1, 1, 5, u32::MAX) < order_by_customer(1, 1, 6, 0));
    }
}
