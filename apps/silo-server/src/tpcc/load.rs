//! The initial population (TPC-C §4.3.3.1) for W warehouses.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::engine::LoadError;

use super::keys::{self, CustomerNameKey, DISTRICTS_PER_WAREHOUSE, DistrictId, WarehouseId};
use super::random::{
    NurandConstants, alpha_string, data_with_original, last_name, numeric_string, nurand, zip,
};
use super::rows::{
    Address, Customer, District, History, Item, NewOrder, Order, OrderLine, Stock, Warehouse,
};
use super::schema::{Scale, Tpcc};

/// Seconds since the Unix epoch (TPC-C dates).
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn address(rng: &mut StdRng) -> Address {
    Address {
        street_1: alpha_string(rng, 10, 20).into(),
        street_2: alpha_string(rng, 10, 20).into(),
        city: alpha_string(rng, 10, 20).into(),
        state: alpha_string(rng, 2, 2).into(),
        zip: zip(rng).into(),
    }
}

impl Tpcc {
    /// Loads the population for `scale` with a seeded generator.
    pub fn load(scale: Scale, seed: u64) -> Result<Tpcc, LoadError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let load_constants = NurandConstants::random(&mut rng);
        let tpcc = Tpcc::empty(scale, NurandConstants::for_run(load_constants, &mut rng));
        tpcc.load_items(&mut rng)?;
        for w in 1..=scale.warehouses {
            tpcc.load_warehouse(w, &mut rng, load_constants)?;
        }
        Ok(tpcc)
    }

    fn load_items(&self, rng: &mut StdRng) -> Result<(), LoadError> {
        for i in 1..=self.scale.items {
            let item = Item {
                image: rng.random_range(1..=10_000),
                name: alpha_string(rng, 14, 24).into(),
                price: rng.random_range(100..=10_000),
                data: data_with_original(rng).into(),
            };
            self.tables.item.load(u64::from(i), item)?;
        }
        Ok(())
    }

    fn load_warehouse(
        &self,
        w: WarehouseId,
        rng: &mut StdRng,
        constants: NurandConstants,
    ) -> Result<(), LoadError> {
        let warehouse = Warehouse {
            name: alpha_string(rng, 6, 10).into(),
            address: Arc::new(address(rng)),
            tax: rng.random_range(0..=2000),
            ytd: 30_000_000,
        };
        self.tables.warehouse.load(u64::from(w), warehouse)?;
        for i in 1..=self.scale.items {
            let stock = Stock {
                quantity: rng.random_range(10..=100),
                dist: Arc::new(std::array::from_fn(|_| alpha_string(rng, 24, 24).into())),
                ytd: 0,
                order_count: 0,
                remote_count: 0,
                data: data_with_original(rng).into(),
            };
            self.tables.stock.load(keys::stock(w, i), stock)?;
        }
        for d in 1..=DISTRICTS_PER_WAREHOUSE {
            self.load_district(w, d, rng, constants)?;
        }
        Ok(())
    }

    fn load_district(
        &self,
        w: WarehouseId,
        d: DistrictId,
        rng: &mut StdRng,
        constants: NurandConstants,
    ) -> Result<(), LoadError> {
        let customers = self.scale.customers_per_district;
        let district = District {
            name: alpha_string(rng, 6, 10).into(),
            address: Arc::new(address(rng)),
            tax: rng.random_range(0..=2000),
            ytd: 3_000_000,
            next_order: customers + 1,
        };
        self.tables.district.load(keys::district(w, d), district)?;
        let since = now();
        for c in 1..=customers {
            // §4.3.3.1: the first 1,000 customers take the 1,000 names in
            // order; the rest draw NURand(255, 0, 999).
            let name_number = if c <= 1000 {
                c - 1
            } else {
                nurand(rng, 255, constants.last_name, 0, 999)
            };
            let customer = Customer {
                first: alpha_string(rng, 8, 16).into(),
                middle: "OE".into(),
                last: last_name(name_number).into(),
                address: Arc::new(address(rng)),
                phone: numeric_string(rng, 16, 16).into(),
                since,
                bad_credit: rng.random_ratio(1, 10),
                credit_limit: 5_000_000,
                discount: rng.random_range(0..=5000),
                balance: -1000,
                ytd_payment: 1000,
                payment_count: 1,
                delivery_count: 0,
                data: alpha_string(rng, 300, 500).into(),
            };
            let name_key = CustomerNameKey {
                district: keys::district(w, d),
                last: keys::padded(&customer.last),
                first: keys::padded(&customer.first),
                customer: c,
            };
            self.tables.customer_by_name.load(name_key, c)?;
            self.tables
                .customer
                .load(keys::customer(w, d, c), customer)?;
            let history = History {
                customer: (w, d, c),
                district: (w, d),
                date: since,
                amount: 1000,
                data: alpha_string(rng, 12, 24).into(),
            };
            let sequence = self.history_sequence.fetch_add(1, Ordering::Relaxed);
            self.tables.history.load(sequence, history)?;
        }
        let mut order_customers: Vec<u32> = (1..=customers).collect();
        order_customers.shuffle(rng);
        for (index, customer) in order_customers.into_iter().enumerate() {
            self.load_order(w, d, index as u32 + 1, customer, rng, since)?;
        }
        Ok(())
    }

    fn load_order(
        &self,
        w: WarehouseId,
        d: DistrictId,
        o: u32,
        customer: u32,
        rng: &mut StdRng,
        since: u64,
    ) -> Result<(), LoadError> {
        let delivered = o < self.scale.first_new_order();
        let line_count = rng.random_range(5..=15u8);
        let order = Order {
            customer,
            entry_date: since,
            carrier: delivered.then(|| rng.random_range(1..=10)),
            line_count,
            all_local: true,
        };
        self.tables.order.load(keys::order(w, d, o), order)?;
        self.tables
            .order_by_customer
            .load(keys::order_by_customer(w, d, customer, o), ())?;
        if !delivered {
            self.tables.new_order.load(keys::order(w, d, o), NewOrder)?;
        }
        for number in 1..=line_count {
            let line = OrderLine {
                item: rng.random_range(1..=self.scale.items),
                supply_warehouse: w,
                delivery_date: delivered.then_some(since),
                quantity: 5,
                amount: if delivered {
                    0
                } else {
                    rng.random_range(1..=999_999)
                },
                dist_info: alpha_string(rng, 24, 24).into(),
            };
            self.tables
                .order_line
                .load(keys::order_line(w, d, o, number), line)?;
        }
        Ok(())
    }
}
