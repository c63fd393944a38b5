//! Transaction inputs and their generation (TPC-C §2.4.1, §2.5.1, §2.6.1,
//! §2.7.1, §2.8.1, and the mix of §5.2.3).
//!
//! An input is everything a terminal sends for one transaction; the wire
//! protocol carries it in a request and [`super::execute`] runs it.

use rand::Rng;

use super::keys::{CustomerId, DISTRICTS_PER_WAREHOUSE, DistrictId, ItemId, WarehouseId};
use super::random::{NurandConstants, last_name, nurand};
use super::schema::Scale;

/// The five TPC-C transaction types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxnKind {
    /// New-Order (§2.4).
    NewOrder,
    /// Payment (§2.5).
    Payment,
    /// Order-Status (§2.6).
    OrderStatus,
    /// Delivery (§2.7).
    Delivery,
    /// Stock-Level (§2.8).
    StockLevel,
}

impl TxnKind {
    /// All kinds, in mix order.
    pub const ALL: [TxnKind; 5] = [
        TxnKind::NewOrder,
        TxnKind::Payment,
        TxnKind::OrderStatus,
        TxnKind::Delivery,
        TxnKind::StockLevel,
    ];

    /// The spec's name.
    pub fn name(self) -> &'static str {
        match self {
            TxnKind::NewOrder => "new-order",
            TxnKind::Payment => "payment",
            TxnKind::OrderStatus => "order-status",
            TxnKind::Delivery => "delivery",
            TxnKind::StockLevel => "stock-level",
        }
    }
}

/// How a terminal names a customer (§2.5.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerSelector {
    /// By C_ID.
    Id(CustomerId),
    /// By C_LAST (the middle customer by first name is chosen).
    LastName(String),
}

/// One ordered item of a New-Order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderLineInput {
    /// OL_I_ID (an unused id makes the transaction roll back).
    pub item: ItemId,
    /// OL_SUPPLY_W_ID.
    pub supply_warehouse: WarehouseId,
    /// OL_QUANTITY.
    pub quantity: u32,
}

/// New-Order input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrderInput {
    /// W_ID.
    pub warehouse: WarehouseId,
    /// D_ID.
    pub district: DistrictId,
    /// C_ID.
    pub customer: CustomerId,
    /// The 5 to 15 order lines.
    pub lines: Vec<OrderLineInput>,
}

/// Payment input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentInput {
    /// W_ID.
    pub warehouse: WarehouseId,
    /// D_ID.
    pub district: DistrictId,
    /// C_W_ID.
    pub customer_warehouse: WarehouseId,
    /// C_D_ID.
    pub customer_district: DistrictId,
    /// The customer.
    pub customer: CustomerSelector,
    /// H_AMOUNT in cents.
    pub amount: i64,
}

/// Order-Status input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderStatusInput {
    /// W_ID.
    pub warehouse: WarehouseId,
    /// D_ID.
    pub district: DistrictId,
    /// The customer.
    pub customer: CustomerSelector,
}

/// Delivery input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryInput {
    /// W_ID.
    pub warehouse: WarehouseId,
    /// O_CARRIER_ID.
    pub carrier: u8,
}

/// Stock-Level input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevelInput {
    /// W_ID.
    pub warehouse: WarehouseId,
    /// D_ID.
    pub district: DistrictId,
    /// The stock threshold.
    pub threshold: u32,
}

/// The input of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnInput {
    /// New-Order.
    NewOrder(NewOrderInput),
    /// Payment.
    Payment(PaymentInput),
    /// Order-Status.
    OrderStatus(OrderStatusInput),
    /// Delivery.
    Delivery(DeliveryInput),
    /// Stock-Level.
    StockLevel(StockLevelInput),
}

impl TxnInput {
    /// The transaction type.
    pub fn kind(&self) -> TxnKind {
        match self {
            TxnInput::NewOrder(_) => TxnKind::NewOrder,
            TxnInput::Payment(_) => TxnKind::Payment,
            TxnInput::OrderStatus(_) => TxnKind::OrderStatus,
            TxnInput::Delivery(_) => TxnKind::Delivery,
            TxnInput::StockLevel(_) => TxnKind::StockLevel,
        }
    }
}

/// Generates inputs with the spec's distributions for one population.
#[derive(Clone, Copy, Debug)]
pub struct InputGenerator {
    scale: Scale,
    constants: NurandConstants,
}

impl InputGenerator {
    /// A generator for `scale` with the run-time NURand constants.
    pub fn new(scale: Scale, constants: NurandConstants) -> InputGenerator {
        InputGenerator { scale, constants }
    }

    /// The next input of the mix for a terminal of warehouse `home`:
    /// New-Order 45%, Payment 43%, Order-Status, Delivery and Stock-Level
    /// 4% each.
    pub fn next(&self, rng: &mut impl Rng, home: WarehouseId) -> TxnInput {
        match rng.random_range(0..100) {
            0..45 => TxnInput::NewOrder(self.new_order(rng, home)),
            45..88 => TxnInput::Payment(self.payment(rng, home)),
            88..92 => TxnInput::OrderStatus(self.order_status(rng, home)),
            92..96 => TxnInput::Delivery(self.delivery(rng, home)),
            _ => TxnInput::StockLevel(self.stock_level(rng, home)),
        }
    }

    fn district(&self, rng: &mut impl Rng) -> DistrictId {
        rng.random_range(1..=DISTRICTS_PER_WAREHOUSE)
    }

    fn customer_id(&self, rng: &mut impl Rng) -> CustomerId {
        nurand(
            rng,
            1023,
            self.constants.customer,
            1,
            self.scale.customers_per_district,
        )
    }

    /// 60% by last name, 40% by id (§2.5.1.2, §2.6.1.2). With fewer than
    /// 1,000 customers per district, name numbers wrap to existing names.
    fn customer(&self, rng: &mut impl Rng) -> CustomerSelector {
        if rng.random_ratio(60, 100) {
            let number = nurand(rng, 255, self.constants.last_name, 0, 999);
            CustomerSelector::LastName(last_name(number % self.scale.last_names()))
        } else {
            CustomerSelector::Id(self.customer_id(rng))
        }
    }

    /// Another warehouse than `home`, uniformly (`home` if W = 1).
    fn remote(&self, rng: &mut impl Rng, home: WarehouseId) -> WarehouseId {
        if self.scale.warehouses == 1 {
            return home;
        }
        let other = rng.random_range(1..self.scale.warehouses);
        if other >= home { other + 1 } else { other }
    }

    /// §2.4.1: 5-15 lines, items by NURand(8191), 1% remote supply per
    /// line, quantity 1-10, and 1% of orders with an unused last item.
    pub fn new_order(&self, rng: &mut impl Rng, home: WarehouseId) -> NewOrderInput {
        let count = rng.random_range(5..=15);
        let rollback = rng.random_ratio(1, 100);
        let lines = (0..count)
            .map(|index| OrderLineInput {
                item: if rollback && index == count - 1 {
                    self.scale.items + 1
                } else {
                    nurand(rng, 8191, self.constants.item, 1, self.scale.items)
                },
                supply_warehouse: if rng.random_ratio(1, 100) {
                    self.remote(rng, home)
                } else {
                    home
                },
                quantity: rng.random_range(1..=10),
            })
            .collect();
        NewOrderInput {
            warehouse: home,
            district: self.district(rng),
            customer: self.customer_id(rng),
            lines,
        }
    }

    /// §2.5.1: 85% home customer, 15% a customer of a remote warehouse;
    /// amount 1.00-5,000.00.
    pub fn payment(&self, rng: &mut impl Rng, home: WarehouseId) -> PaymentInput {
        let district = self.district(rng);
        let (customer_warehouse, customer_district) = if rng.random_ratio(85, 100) {
            (home, district)
        } else {
            (self.remote(rng, home), self.district(rng))
        };
        PaymentInput {
            warehouse: home,
            district,
            customer_warehouse,
            customer_district,
            customer: self.customer(rng),
            amount: rng.random_range(100..=500_000),
        }
    }

    /// §2.6.1.
    pub fn order_status(&self, rng: &mut impl Rng, home: WarehouseId) -> OrderStatusInput {
        OrderStatusInput {
            warehouse: home,
            district: self.district(rng),
            customer: self.customer(rng),
        }
    }

    /// §2.7.1.
    pub fn delivery(&self, rng: &mut impl Rng, home: WarehouseId) -> DeliveryInput {
        DeliveryInput {
            warehouse: home,
            carrier: rng.random_range(1..=10),
        }
    }

    /// §2.8.1 (the district is the terminal's; drawn here).
    pub fn stock_level(&self, rng: &mut impl Rng, home: WarehouseId) -> StockLevelInput {
        StockLevelInput {
            warehouse: home,
            district: self.district(rng),
            threshold: rng.random_range(10..=20),
        }
    }
}
