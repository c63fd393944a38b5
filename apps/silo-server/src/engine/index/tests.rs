//! Index unit tests, a seeded property test against `BTreeMap`, and
//! concurrent inserts with lookups and scans on real threads.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn collect(index: &Index<u64, u64>, lower: Bound<&u64>, upper: Bound<&u64>) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    index.scan(
        lower,
        upper,
        |_| {},
        |k, v| {
            out.push((*k, *v));
            true
        },
    );
    out
}

fn insert(index: &Index<u64, u64>, key: u64, value: u64) -> bool {
    matches!(
        index.insert_with(key, || value),
        InsertOutcome::Inserted(..)
    )
}

#[test]
fn insert_get_remove_across_many_splits() {
    let index = Index::new();
    for key in (0..5000u64).rev() {
        assert!(insert(&index, key * 2, key));
    }
    assert!(!insert(&index, 10, 99), "duplicate insert must not replace");
    for key in 0..5000u64 {
        assert_eq!(index.find(&(key * 2)), Some(key));
        assert_eq!(index.find(&(key * 2 + 1)), None);
    }
    assert!(index.remove_if(&10, |v| *v == 5));
    assert!(
        !index.remove_if(&12, |v| *v == 0),
        "condition false keeps the key"
    );
    assert_eq!(index.find(&10), None);
    assert_eq!(index.find(&12), Some(6));
    let all = collect(&index, Bound::Unbounded, Bound::Unbounded);
    assert_eq!(all.len(), 4999);
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn scan_bounds_and_early_stop() {
    let index = Index::new();
    for key in 0..200u64 {
        insert(&index, key, key);
    }
    let keys = |v: Vec<(u64, u64)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        keys(collect(&index, Bound::Included(&50), Bound::Excluded(&53))),
        vec![50, 51, 52]
    );
    assert_eq!(
        keys(collect(&index, Bound::Excluded(&50), Bound::Included(&53))),
        vec![51, 52, 53]
    );
    let mut first = None;
    index.scan(
        Bound::Included(&120),
        Bound::Unbounded,
        |_| {},
        |k, _| {
            first = Some(*k);
            false
        },
    );
    assert_eq!(first, Some(120));
}

#[test]
fn versions_expose_inserts_into_an_observed_leaf() {
    let index = Index::new();
    for key in 0..100u64 {
        insert(&index, key * 10, key);
    }
    let mut seen = Vec::new();
    index.scan(
        Bound::Included(&300),
        Bound::Included(&400),
        |o| seen.push(o),
        |_, _| true,
    );
    let Lookup::Missing(absent_proof) = index.get(&355) else {
        panic!("355 was never inserted");
    };
    assert!(seen.iter().all(|o| o.node.current() == o.version));
    insert(&index, 355, 0);
    assert_ne!(absent_proof.node.current(), absent_proof.version);
    assert!(seen.iter().any(|o| o.node.current() != o.version));
}

#[test]
fn insert_reports_its_own_structure_change() {
    let index = Index::new();
    let Lookup::Missing(before) = index.get(&1) else {
        panic!("empty index");
    };
    match index.insert_with(1u64, || 1u64) {
        InsertOutcome::Inserted(_, change) => {
            assert!(Arc::ptr_eq(&change.node, &before.node));
            assert_eq!(change.before, before.version);
            assert_eq!(change.after, before.node.current());
        }
        InsertOutcome::Existing(_) => panic!("fresh key reported as existing"),
    }
    let mut split = None;
    for key in 2..=(LEAF_CAPACITY as u64 + 1) {
        if let InsertOutcome::Inserted(_, change) = index.insert_with(key, || key) {
            split = split.or(change.split);
        }
    }
    let split = split.expect("filling a leaf past capacity splits it");
    assert_eq!(split.node.current(), split.version);
}

/// Seeded random operations checked against `BTreeMap` after every step.
#[test]
fn matches_btreemap_model_under_random_operations() {
    for seed in 0..8u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let index = Index::new();
        let mut model = BTreeMap::new();
        for _ in 0..4000 {
            let key = rng.random_range(0..600u64);
            match rng.random_range(0..4) {
                0 | 1 => {
                    let value = rng.random();
                    let inserted = insert(&index, key, value);
                    assert_eq!(inserted, !model.contains_key(&key), "seed {seed}");
                    model.entry(key).or_insert(value);
                }
                2 => {
                    let removed = index.remove_if(&key, |_| true);
                    assert_eq!(removed, model.remove(&key).is_some(), "seed {seed}");
                }
                _ => {
                    let other = rng.random_range(0..600u64);
                    let (low, high) = (key.min(other), key.max(other));
                    let expected: Vec<_> = model.range(low..high).map(|(k, v)| (*k, *v)).collect();
                    let got = collect(&index, Bound::Included(&low), Bound::Excluded(&high));
                    assert_eq!(got, expected, "seed {seed}");
                }
            }
            assert_eq!(index.find(&key), model.get(&key).copied(), "seed {seed}");
        }
    }
}

/// Writers insert disjoint keys in a scattered order, publishing how many
/// they have inserted; readers check that every published key is found by
/// lookups and scans, and that scans are sorted.
#[test]
fn concurrent_inserts_lookups_and_scans() {
    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 20_000;
    const STRIDE: u64 = 7919; // coprime with PER_WRITER: a permutation
    let slot_of = |i: u64| (i * STRIDE) % PER_WRITER;
    let mut rank = vec![0u64; PER_WRITER as usize];
    for i in 0..PER_WRITER {
        rank[slot_of(i) as usize] = i;
    }
    let rank = Arc::new(rank);
    let index = Arc::new(Index::<u64, u64>::new());
    let published: Arc<Vec<AtomicU64>> =
        Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(WRITERS as usize + 2));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (index, published, barrier) = (index.clone(), published.clone(), barrier.clone());
        writers.push(std::thread::spawn(move || {
            barrier.wait();
            for i in 0..PER_WRITER {
                let key = slot_of(i) * WRITERS + writer;
                assert!(insert(&index, key, key + 1));
                published[writer as usize].store(i + 1, Ordering::SeqCst);
            }
        }));
    }
    let mut readers = Vec::new();
    for reader in 0..2u64 {
        let (index, published, done, barrier, rank) = (
            index.clone(),
            published.clone(),
            done.clone(),
            barrier.clone(),
            rank.clone(),
        );
        readers.push(std::thread::spawn(move || {
            barrier.wait();
            let mut rng = StdRng::seed_from_u64(100 + reader);
            let mut checked = 0u64;
            while !done.load(Ordering::SeqCst) {
                let before: Vec<u64> = published.iter().map(|p| p.load(Ordering::SeqCst)).collect();
                let low = rng.random_range(0..WRITERS * PER_WRITER);
                let high = low + 400;
                let mut seen = Vec::new();
                index.scan(
                    Bound::Included(&low),
                    Bound::Excluded(&high),
                    |_| {},
                    |k, v| {
                        assert_eq!(*v, k + 1);
                        assert!(seen.last().is_none_or(|p| p < k), "scan out of order");
                        seen.push(*k);
                        true
                    },
                );
                for key in low..high.min(WRITERS * PER_WRITER) {
                    let (writer, slot) = (key % WRITERS, key / WRITERS);
                    if rank[slot as usize] < before[writer as usize] {
                        assert!(
                            seen.binary_search(&key).is_ok(),
                            "scan missed published key {key}"
                        );
                        checked += 1;
                    }
                }
                let writer = rng.random_range(0..WRITERS);
                if before[writer as usize] > 0 {
                    let i = rng.random_range(0..before[writer as usize]);
                    let key = slot_of(i) * WRITERS + writer;
                    assert_eq!(index.find(&key), Some(key + 1), "lookup missed {key}");
                }
            }
            checked
        }));
    }
    for handle in writers {
        handle.join().expect("writer thread");
    }
    done.store(true, Ordering::SeqCst);
    let checked: u64 = readers
        .into_iter()
        .map(|h| h.join().expect("reader thread"))
        .sum();
    assert!(
        checked > 0,
        "readers ran no check while writers were active"
    );
    let all = collect(&index, Bound::Unbounded, Bound::Unbounded);
    assert_eq!(all.len() as u64, WRITERS * PER_WRITER);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, (k, v))| *k == i as u64 && *v == k + 1)
    );
}
