//! Payment (TPC-C §2.5.2).

use std::sync::atomic::Ordering;

use crate::engine::Transaction;
use crate::tpcc::input::PaymentInput;
use crate::tpcc::keys;
use crate::tpcc::load::now;
use crate::tpcc::rows::{Customer, District, History, Warehouse};
use crate::tpcc::schema::Tpcc;

use super::{TxnError, find_customer, read};

/// C_DATA keeps at most 500 characters (§2.5.2.2).
const CUSTOMER_DATA_LEN: usize = 500;

pub(super) fn run(
    tpcc: &Tpcc,
    txn: &mut Transaction<'_>,
    input: &PaymentInput,
) -> Result<i64, TxnError> {
    let t = &tpcc.tables;
    let (w, d) = (input.warehouse, input.district);
    let warehouse = read(txn, &t.warehouse, &u64::from(w))?;
    txn.put(
        &t.warehouse,
        u64::from(w),
        Warehouse {
            ytd: warehouse.ytd + input.amount,
            ..Warehouse::clone(&warehouse)
        },
    );
    let district_key = keys::district(w, d);
    let district = read(txn, &t.district, &district_key)?;
    txn.put(
        &t.district,
        district_key,
        District {
            ytd: district.ytd + input.amount,
            ..District::clone(&district)
        },
    );
    let (cw, cd) = (input.customer_warehouse, input.customer_district);
    let c = find_customer(tpcc, txn, cw, cd, &input.customer)?;
    let customer_key = keys::customer(cw, cd, c);
    let customer = read(txn, &t.customer, &customer_key)?;
    let mut updated = Customer {
        balance: customer.balance - input.amount,
        ytd_payment: customer.ytd_payment + input.amount,
        payment_count: customer.payment_count + 1,
        ..Customer::clone(&customer)
    };
    if customer.bad_credit {
        let mut data = format!("{c} {cd} {cw} {d} {w} {}|", input.amount);
        data.push_str(&customer.data);
        data.truncate(CUSTOMER_DATA_LEN);
        updated.data = data.into();
    }
    let balance = updated.balance;
    txn.put(&t.customer, customer_key, updated);
    let history = History {
        customer: (cw, cd, c),
        district: (w, d),
        date: now(),
        amount: input.amount,
        data: format!("{}    {}", warehouse.name, district.name).into(),
    };
    let sequence = tpcc.history_sequence.fetch_add(1, Ordering::Relaxed);
    txn.put(&t.history, sequence, history);
    Ok(balance)
}
