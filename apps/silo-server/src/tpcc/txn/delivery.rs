//! Delivery (TPC-C §2.7.4): the oldest undelivered order of each of the
//! ten districts, as one transaction (as Silo runs it).

use std::ops::Bound;

use crate::engine::Transaction;
use crate::tpcc::input::DeliveryInput;
use crate::tpcc::keys::{self, DISTRICTS_PER_WAREHOUSE};
use crate::tpcc::load::now;
use crate::tpcc::rows::{Customer, Order, OrderLine};
use crate::tpcc::schema::Tpcc;

use super::{TxnError, order_lines, read};

pub(super) fn run(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    input: &DeliveryInput,
) -> Result<i64, TxnError> {
    let t = &tpcc.tables;
    let w = input.warehouse;
    let date = now();
    let mut delivered = 0;
    for d in 1..=DISTRICTS_PER_WAREHOUSE {
        let from = tpcc.oldest_new_order_hint(w, d);
        let oldest = txn.scan(
            &t.new_order,
            Bound::Included(&keys::order(w, d, from)),
            Bound::Included(&keys::order(w, d, u32::MAX)),
            1,
        )?;
        // §2.7.4.2: a district without undelivered orders is skipped.
        let Some((new_order_key, _)) = oldest.first() else {
            continue;
        };
        let order_id = keys::order_id_of(*new_order_key);
        tpcc.saw_oldest_new_order(w, d, order_id);
        txn.delete(&t.new_order, *new_order_key);
        let order_key = keys::order(w, d, order_id);
        let order = read(txn, &t.order, &order_key)?;
        txn.put(
            &t.order,
            order_key,
            Order {
                carrier: Some(input.carrier),
                ..Order::clone(&order)
            },
        );
        let lines = order_lines(tpcc, txn, w, d, order_id)?;
        let mut total = 0;
        for (key, line) in lines {
            total += line.amount;
            let delivered_line = OrderLine {
                delivery_date: Some(date),
                ..OrderLine::clone(&line)
            };
            txn.put(&t.order_line, key, delivered_line);
        }
        let customer_key = keys::customer(w, d, order.customer);
        let customer = read(txn, &t.customer, &customer_key)?;
        txn.put(
            &t.customer,
            customer_key,
            Customer {
                balance: customer.balance + total,
                delivery_count: customer.delivery_count + 1,
                ..Customer::clone(&customer)
            },
        );
        delivered += 1;
    }
    Ok(delivered)
}
