//! New-Order (TPC-C §2.4.2).

use crate::engine::{Abort, Transaction};
use crate::tpcc::input::NewOrderInput;
use crate::tpcc::keys;
use crate::tpcc::load::now;
use crate::tpcc::rows::{District, NewOrder, Order, OrderLine, Stock};
use crate::tpcc::schema::Tpcc;

use super::{TxnError, read};

pub(super) fn run(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    input: &NewOrderInput,
) -> Result<i64, TxnError> {
    let t = &tpcc.tables;
    let (w, d) = (input.warehouse, input.district);
    let warehouse = read(txn, &t.warehouse, &u64::from(w))?;
    let district_key = keys::district(w, d);
    let district = read(txn, &t.district, &district_key)?;
    let order_id = district.next_order;
    txn.put(
        &t.district,
        district_key,
        District {
            next_order: order_id + 1,
            ..District::clone(&district)
        },
    );
    let customer = read(txn, &t.customer, &keys::customer(w, d, input.customer))?;
    let entry_date = now();
    let all_local = input.lines.iter().all(|l| l.supply_warehouse == w);
    let order = Order {
        customer: input.customer,
        entry_date,
        carrier: None,
        line_count: input.lines.len() as u8,
        all_local,
    };
    txn.put(&t.order, keys::order(w, d, order_id), order);
    txn.put(&t.new_order, keys::order(w, d, order_id), NewOrder);
    txn.put(
        &t.order_by_customer,
        keys::order_by_customer(w, d, input.customer, order_id),
        (),
    );
    let mut total = 0i64;
    for (number, line) in (1u8..).zip(&input.lines) {
        // §2.4.2.3: an unused item id rolls the transaction back.
        let Some(item) = txn.get(&t.item, &u64::from(line.item))? else {
            return Err(Abort::Rollback.into());
        };
        let stock_key = keys::stock(line.supply_warehouse, line.item);
        let stock = read(txn, &t.stock, &stock_key)?;
        let quantity = line.quantity as i32;
        let remaining = if stock.quantity >= quantity + 10 {
            stock.quantity - quantity
        } else {
            stock.quantity - quantity + 91
        };
        let dist_info = stock.dist[usize::from(d - 1) % 10].clone();
        txn.put(
            &t.stock,
            stock_key,
            Stock {
                quantity: remaining,
                ytd: stock.ytd + u64::from(line.quantity),
                order_count: stock.order_count + 1,
                remote_count: stock.remote_count + u32::from(line.supply_warehouse != w),
                ..Stock::clone(&stock)
            },
        );
        let amount = i64::from(line.quantity) * item.price;
        total += amount;
        txn.put(
            &t.order_line,
            keys::order_line(w, d, order_id, number),
            OrderLine {
                item: line.item,
                supply_warehouse: line.supply_warehouse,
                delivery_date: None,
                quantity: line.quantity,
                amount,
                dist_info,
            },
        );
    }
    // total × (1 − discount) × (1 + w_tax + d_tax), rates in 1/10,000.
    let discounted = total * (10_000 - i64::from(customer.discount)) / 10_000;
    Ok(discounted * (10_000 + i64::from(warehouse.tax) + i64::from(district.tax)) / 10_000)
}
