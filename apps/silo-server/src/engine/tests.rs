//! Transaction tests: read-your-writes, deletes, phantoms, and
//! serializability under concurrent conflicting transactions.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn committed_value(db: &Db, table: &Table<u64, i64>, key: u64) -> Option<i64> {
    db.begin().get(table, &key).expect("read").map(|v| *v)
}

#[test]
fn reads_see_own_writes_and_commits_are_visible() {
    let db = Db::new();
    let table = Table::new("t");
    let mut txn = db.begin();
    txn.put(&table, 1u64, 10i64);
    txn.put(&table, 2, 20);
    txn.delete(&table, 2);
    assert_eq!(txn.get(&table, &1).unwrap().as_deref(), Some(&10));
    assert_eq!(txn.get(&table, &2).unwrap(), None);
    let rows = txn
        .scan(&table, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(rows.len(), 1);
    let first = txn.commit().unwrap();
    assert_eq!(committed_value(&db, &table, 1), Some(10));
    assert_eq!(committed_value(&db, &table, 2), None);
    let mut txn = db.begin();
    txn.put(&table, 1, 11);
    let second = txn.commit().unwrap();
    assert!(second > first, "a worker's TIDs grow");
    assert_eq!(committed_value(&db, &table, 1), Some(11));
}

#[test]
fn delete_unlinks_and_reinsert_works() {
    let db = Db::new();
    let table = Table::new("t");
    table.load(5u64, 50i64).unwrap();
    assert_eq!(table.load(5, 1), Err(LoadError::Duplicate("t")));
    let mut txn = db.begin();
    assert_eq!(txn.get(&table, &5).unwrap().as_deref(), Some(&50));
    txn.delete(&table, 5);
    txn.commit().unwrap();
    assert!(table.index().find(&5).is_none(), "deleted record unlinked");
    let mut txn = db.begin();
    txn.put(&table, 5, 51);
    txn.commit().unwrap();
    assert_eq!(committed_value(&db, &table, 5), Some(51));
}

#[test]
fn overwritten_read_aborts() {
    let db = Db::new();
    let table = Table::new("t");
    table.load(1u64, 0i64).unwrap();
    let mut reader = db.begin();
    let seen = *reader.get(&table, &1).unwrap().unwrap();
    let mut writer = db.begin();
    writer.put(&table, 1, 7);
    writer.commit().unwrap();
    reader.put(&table, 2, seen + 1);
    assert_eq!(reader.commit(), Err(Abort::ReadChanged));
    assert_eq!(
        committed_value(&db, &table, 2),
        None,
        "aborted insert left nothing"
    );
    assert!(
        table.index().find(&2).is_none(),
        "placeholder removed on abort"
    );
}

#[test]
fn scan_then_concurrent_insert_into_range_aborts() {
    let db = Db::new();
    let table = Table::new("t");
    for key in 0..100u64 {
        table.load(key * 10, 1i64).unwrap();
    }
    let mut scanner = db.begin();
    let rows = scanner
        .scan(
            &table,
            Bound::Included(&200),
            Bound::Excluded(&300),
            usize::MAX,
        )
        .unwrap();
    assert_eq!(rows.len(), 10);
    let mut inserter = db.begin();
    inserter.put(&table, 255, 1);
    inserter.commit().unwrap();
    scanner.put(&table, 10_000, rows.len() as i64);
    assert_eq!(scanner.commit(), Err(Abort::Phantom));
}

#[test]
fn missing_key_then_concurrent_insert_aborts() {
    let db = Db::new();
    let table = Table::new("t");
    let mut reader = db.begin();
    assert_eq!(reader.get(&table, &3u64).unwrap(), None);
    let mut inserter = db.begin();
    inserter.put(&table, 3, 1i64);
    inserter.commit().unwrap();
    reader.put(&table, 4, 0);
    assert_eq!(reader.commit(), Err(Abort::Phantom));
}

#[test]
fn own_insert_into_scanned_range_commits() {
    let db = Db::new();
    let table = Table::new("t");
    for key in 0..200u64 {
        table.load(key * 2, 0i64).unwrap();
    }
    let mut txn = db.begin();
    let rows = txn
        .scan(
            &table,
            Bound::Included(&0),
            Bound::Excluded(&400),
            usize::MAX,
        )
        .unwrap();
    assert_eq!(rows.len(), 200);
    // Enough inserts to split leaves the scan observed.
    for key in 0..100u64 {
        txn.put(&table, key * 2 + 1, 1);
    }
    assert!(txn.commit().is_ok());
    let mut check = db.begin();
    let all = check
        .scan(&table, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(all.len(), 300);
}

/// Phantom protection under concurrency: each transaction counts the rows
/// and inserts the row numbered by that count. Serializable execution gives
/// exactly one row per commit, numbered 0..n; a missed phantom would let
/// two transactions insert the same number (one overwriting the other).
#[test]
fn concurrent_count_and_append_is_serializable() {
    const THREADS: usize = 4;
    const PER_THREAD: u64 = 150;
    let db = Arc::new(Db::new());
    let table: Table<u64, u64> = Table::new("log");
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (db, table, barrier) = (db.clone(), table.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut committed = 0;
                while committed < PER_THREAD {
                    let mut txn = db.begin();
                    let count = txn
                        .scan(&table, Bound::Unbounded, Bound::Unbounded, usize::MAX)
                        .expect("scan")
                        .len() as u64;
                    txn.put(&table, count, thread as u64);
                    if txn.commit().is_ok() {
                        committed += 1;
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker");
    }
    let rows = db
        .begin()
        .scan(&table, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    let keys: Vec<u64> = rows.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, (0..THREADS as u64 * PER_THREAD).collect::<Vec<_>>());
}

/// Bank transfers on many threads with a constraint checked inside the
/// transaction (never overdraw), plus auditors reading every balance in
/// one transaction. Serializability means: the total never changes, no
/// balance goes negative, and every committed audit sees the exact total.
#[test]
fn bank_transfers_keep_total_and_no_overdraft() {
    const ACCOUNTS: u64 = 16;
    const INITIAL: i64 = 100;
    const TRANSFERS: u64 = 3000;
    const THREADS: u64 = 4;
    let db = Arc::new(Db::with_epoch_period(std::time::Duration::from_millis(1)));
    let accounts: Table<u64, i64> = Table::new("accounts");
    for account in 0..ACCOUNTS {
        accounts.load(account, INITIAL).unwrap();
    }
    let aborts = Arc::new(AtomicU64::new(0));
    let audits = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for thread in 0..THREADS {
        let (db, accounts, aborts) = (db.clone(), accounts.clone(), aborts.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(thread);
            for _ in 0..TRANSFERS {
                let from = rng.random_range(0..ACCOUNTS);
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                let amount = rng.random_range(1..=60);
                loop {
                    let mut txn = db.begin();
                    let balance = |txn: &mut Transaction, key| {
                        txn.get(&accounts, &key)
                            .map(|v| *v.expect("account exists"))
                    };
                    let (a, b) = (
                        balance(&mut txn, from).unwrap(),
                        balance(&mut txn, to).unwrap(),
                    );
                    if a >= amount {
                        txn.put(&accounts, from, a - amount);
                        txn.put(&accounts, to, b + amount);
                    }
                    match txn.commit() {
                        Ok(_) => break,
                        Err(_) => aborts.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }
        }));
    }
    for auditor in 0..2u64 {
        let (db, accounts, audits) = (db.clone(), accounts.clone(), audits.clone());
        handles.push(std::thread::spawn(move || {
            for _ in 0..300 {
                let mut txn = db.begin();
                let total: i64 = if auditor == 0 {
                    (0..ACCOUNTS)
                        .map(|k| *txn.get(&accounts, &k).unwrap().unwrap())
                        .sum()
                } else {
                    txn.scan(&accounts, Bound::Unbounded, Bound::Unbounded, usize::MAX)
                        .unwrap()
                        .iter()
                        .map(|(_, v)| **v)
                        .sum()
                };
                if txn.commit().is_ok() {
                    assert_eq!(
                        total,
                        ACCOUNTS as i64 * INITIAL,
                        "audit saw a partial transfer"
                    );
                    audits.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for handle in handles {
        handle.join().expect("worker");
    }
    let mut txn = db.begin();
    let balances: Vec<i64> = (0..ACCOUNTS)
        .map(|k| *txn.get(&accounts, &k).unwrap().unwrap())
        .collect();
    assert_eq!(balances.iter().sum::<i64>(), ACCOUNTS as i64 * INITIAL);
    assert!(balances.iter().all(|b| *b >= 0), "overdraft: {balances:?}");
    assert!(audits.load(Ordering::Relaxed) > 0);
}

/// Write skew: two accounts whose sum must stay non-negative, each
/// transaction reads both and withdraws from one. Snapshot isolation
/// allows both of two concurrent withdrawals; serializability does not.
#[test]
fn write_skew_is_prevented() {
    const THREADS: u64 = 4;
    let db = Arc::new(Db::new());
    let accounts: Table<u64, i64> = Table::new("pair");
    for pair in 0..200u64 {
        accounts.load(pair * 2, 50).unwrap();
        accounts.load(pair * 2 + 1, 50).unwrap();
    }
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (db, accounts, barrier) = (db.clone(), accounts.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for pair in 0..200u64 {
                    for _ in 0..3 {
                        loop {
                            let mut txn = db.begin();
                            let x = *txn.get(&accounts, &(pair * 2)).unwrap().unwrap();
                            let y = *txn.get(&accounts, &(pair * 2 + 1)).unwrap().unwrap();
                            if x + y >= 40 {
                                let key = pair * 2 + thread % 2;
                                let old = if thread % 2 == 0 { x } else { y };
                                txn.put(&accounts, key, old - 40);
                            }
                            if txn.commit().is_ok() {
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("worker");
    }
    let mut txn = db.begin();
    for pair in 0..200u64 {
        let x = *txn.get(&accounts, &(pair * 2)).unwrap().unwrap();
        let y = *txn.get(&accounts, &(pair * 2 + 1)).unwrap().unwrap();
        assert!(x + y >= 0, "pair {pair}: {x} + {y} < 0");
        assert_eq!(
            x + y,
            100 - 40 * ((100 / 40) as i64),
            "pair {pair}: every allowed withdrawal ran"
        );
    }
}

/// Deletes, unlinks and re-inserts racing on the same keys: each
/// transaction flips one key between present and absent and adjusts a
/// counter of present keys in the same transaction. Serializability means
/// the counter always equals the number of present keys, both in every
/// committed audit and at the end.
#[test]
fn concurrent_delete_and_reinsert_keep_a_consistent_count() {
    const THREADS: u64 = 4;
    const FLIPS: u64 = 1500;
    const KEYS: u64 = 8;
    const COUNTER: u64 = u64::MAX;
    let db = Arc::new(Db::new());
    let table: Table<u64, i64> = Table::new("flags");
    table.load(COUNTER, 0).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (db, table) = (db.clone(), table.clone());
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(thread);
                let mut audits = 0;
                for _ in 0..FLIPS {
                    let key = rng.random_range(0..KEYS);
                    loop {
                        let mut txn = db.begin();
                        let count = *txn.get(&table, &COUNTER).unwrap().unwrap();
                        if txn.get(&table, &key).unwrap().is_some() {
                            txn.delete(&table, key);
                            txn.put(&table, COUNTER, count - 1);
                        } else {
                            txn.put(&table, key, 1);
                            txn.put(&table, COUNTER, count + 1);
                        }
                        if txn.commit().is_ok() {
                            break;
                        }
                    }
                    let mut audit = db.begin();
                    let count = *audit.get(&table, &COUNTER).unwrap().unwrap();
                    let present = audit
                        .scan(
                            &table,
                            Bound::Included(&0),
                            Bound::Excluded(&KEYS),
                            usize::MAX,
                        )
                        .unwrap()
                        .len() as i64;
                    if audit.commit().is_ok() {
                        assert_eq!(count, present, "audit saw a torn flip");
                        audits += 1;
                    }
                }
                audits
            })
        })
        .collect();
    let audits: u64 = handles.into_iter().map(|h| h.join().expect("worker")).sum();
    assert!(audits > 0);
    let mut txn = db.begin();
    let count = *txn.get(&table, &COUNTER).unwrap().unwrap();
    let present = txn
        .scan(
            &table,
            Bound::Included(&0),
            Bound::Excluded(&KEYS),
            usize::MAX,
        )
        .unwrap();
    assert_eq!(count, present.len() as i64);
    let linked = (0..KEYS)
        .filter(|k| table.index().find(k).is_some())
        .count();
    assert!(linked >= present.len(), "present keys are linked");
}
