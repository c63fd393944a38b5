//! TPC-C tests: loader population, each transaction's effect, the input
//! mix, and consistency conditions 1-4 after a concurrent run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::engine::Abort;

fn small(warehouses: u32) -> Tpcc {
    let scale = Scale {
        warehouses,
        items: 2_000,
        customers_per_district: 120,
    };
    Tpcc::load(scale, 7).expect("load")
}

fn next_order(tpcc: &Tpcc, w: u32, d: u8) -> u32 {
    let mut txn = tpcc.db.begin();
    txn.get(&tpcc.tables.district, &keys::district(w, d))
        .unwrap()
        .unwrap()
        .next_order
}

#[test]
fn loaded_population_is_consistent() {
    let tpcc = small(2);
    check_consistency(&tpcc).expect("fresh population");
    assert_eq!(next_order(&tpcc, 2, 10), 121);
    assert_eq!(tpcc.scale.first_new_order(), 85);
    let spec = Scale::spec(1);
    assert_eq!((spec.first_new_order(), spec.last_names()), (2101, 1000));
}

#[test]
fn new_order_commits_and_rolls_back() {
    let tpcc = small(1);
    let line = |item| OrderLineInput {
        item,
        supply_warehouse: 1,
        quantity: 3,
    };
    let input = NewOrderInput {
        warehouse: 1,
        district: 4,
        customer: 9,
        lines: vec![line(5), line(6), line(7), line(8), line(9)],
    };
    let total = run_once(&tpcc, &TxnInput::NewOrder(input.clone())).expect("commit");
    assert!(total > 0);
    assert_eq!(next_order(&tpcc, 1, 4), 122);
    let mut bad = input;
    bad.lines.push(line(tpcc.scale.items + 1));
    assert_eq!(
        run_once(&tpcc, &TxnInput::NewOrder(bad)),
        Err(TxnError::Abort(Abort::Rollback))
    );
    assert_eq!(next_order(&tpcc, 1, 4), 122, "rollback left no trace");
    check_consistency(&tpcc).expect("after new-order");
    let status = OrderStatusInput {
        warehouse: 1,
        district: 4,
        customer: CustomerSelector::Id(9),
    };
    assert_eq!(run_once(&tpcc, &TxnInput::OrderStatus(status)), Ok(5));
}

#[test]
fn payment_by_last_name_and_delivery() {
    let tpcc = small(2);
    let payment = PaymentInput {
        warehouse: 1,
        district: 1,
        customer_warehouse: 2,
        customer_district: 3,
        customer: CustomerSelector::LastName("BARBARABLE".into()),
        amount: 12_345,
    };
    // Customer 3 of every district has name number 2 ("BARBARABLE").
    let balance = run_once(&tpcc, &TxnInput::Payment(payment.clone())).expect("payment");
    assert_eq!(balance, -1000 - 12_345);
    let unknown = PaymentInput {
        customer: CustomerSelector::LastName("NOSUCHNAME".into()),
        ..payment
    };
    assert_eq!(
        run_once(&tpcc, &TxnInput::Payment(unknown)),
        Err(TxnError::Missing {
            table: "customer_by_name"
        })
    );
    let delivery = DeliveryInput {
        warehouse: 1,
        carrier: 3,
    };
    for _ in 0..3 {
        assert_eq!(run_once(&tpcc, &TxnInput::Delivery(delivery)), Ok(10));
    }
    let first = tpcc.scale.first_new_order();
    assert_eq!(
        tpcc.oldest_new_order_hint(1, 7),
        first + 2,
        "oldest delivered"
    );
    assert_eq!(tpcc.oldest_new_order_hint(2, 7), 0, "warehouse 2 untouched");
    check_consistency(&tpcc).expect("after payment and deliveries");
    let level = StockLevelInput {
        warehouse: 1,
        district: 1,
        threshold: 101,
    };
    let low = run_once(&tpcc, &TxnInput::StockLevel(level)).expect("stock level");
    assert!(
        low > 0,
        "every item is below a threshold above the maximum stock"
    );
}

#[test]
fn generated_mix_matches_the_spec() {
    let scale = Scale::spec(4);
    let mut rng = StdRng::seed_from_u64(3);
    let generator = InputGenerator::new(scale, NurandConstants::random(&mut rng));
    let mut kinds: HashMap<TxnKind, u32> = HashMap::new();
    let (mut rollbacks, mut new_orders, mut by_name, mut remote_payments, mut payments) =
        (0, 0, 0, 0, 0);
    let (mut lines, mut remote_lines) = (0, 0);
    const N: u32 = 100_000;
    for _ in 0..N {
        let input = generator.next(&mut rng, 2);
        *kinds.entry(input.kind()).or_default() += 1;
        match input {
            TxnInput::NewOrder(o) => {
                new_orders += 1;
                rollbacks += u32::from(o.lines.iter().any(|l| l.item > scale.items));
                lines += o.lines.len();
                remote_lines += o.lines.iter().filter(|l| l.supply_warehouse != 2).count();
                assert!((5..=15).contains(&o.lines.len()));
            }
            TxnInput::Payment(p) => {
                payments += 1;
                remote_payments += u32::from(p.customer_warehouse != 2);
                by_name += u32::from(matches!(p.customer, CustomerSelector::LastName(_)));
            }
            _ => {}
        }
    }
    let share = |count: u32, of: u32| f64::from(count) / f64::from(of);
    let near = |value: f64, target: f64| (value - target).abs() < 0.01 + target * 0.1;
    assert!(near(share(kinds[&TxnKind::NewOrder], N), 0.45));
    assert!(near(share(kinds[&TxnKind::Payment], N), 0.43));
    for kind in [TxnKind::OrderStatus, TxnKind::Delivery, TxnKind::StockLevel] {
        assert!(near(share(kinds[&kind], N), 0.04), "{kind:?}");
    }
    assert!(near(share(rollbacks, new_orders), 0.01));
    assert!(near(remote_lines as f64 / lines as f64, 0.01));
    assert!(near(share(remote_payments, payments), 0.15));
    assert!(near(share(by_name, payments), 0.60));
}

/// The mix on several threads with conflicting home warehouses, then the
/// consistency conditions and the New-Order count.
#[test]
fn concurrent_mix_keeps_consistency_conditions() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 1500;
    let tpcc = Arc::new(small(2));
    let generator = InputGenerator::new(tpcc.scale, tpcc.constants);
    let committed_new_orders = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (tpcc, committed, retries) =
                (tpcc.clone(), committed_new_orders.clone(), retries.clone());
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(thread);
                let home = (thread % 2) as u32 + 1;
                for _ in 0..PER_THREAD {
                    let input = generator.next(&mut rng, home);
                    let done = run(&tpcc, &input, u32::MAX);
                    retries.fetch_add(u64::from(done.retries), Ordering::Relaxed);
                    match done.result {
                        Ok(_) if input.kind() == TxnKind::NewOrder => {
                            committed.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) | Err(TxnError::Abort(Abort::Rollback)) => {}
                        Err(other) => panic!("{input:?} failed: {other}"),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("terminal thread");
    }
    check_consistency(&tpcc).expect("consistency after the concurrent run");
    let placed: u64 = (1..=2)
        .flat_map(|w| (1..=10).map(move |d| (w, d)))
        .map(|(w, d)| u64::from(next_order(&tpcc, w, d) - 121))
        .sum();
    assert_eq!(placed, committed_new_orders.load(Ordering::Relaxed));
    assert!(placed > 0);
}
