use std::sync::Arc;

use super::*;

const NOW: UnixTime = 1_700_000_000;

fn set(store: &Store, key: &[u8], value: &[u8], exptime: i64, now: UnixTime) -> Stored {
    store.store(StoreMode::Set, key, 0, exptime, value, now)
}

fn value(store: &Store, key: &[u8], now: UnixTime) -> Option<Vec<u8>> {
    store.get(key, now).map(|item| item.value.to_vec())
}

#[test]
fn modes_follow_protocol_txt() {
    let store = Store::new(StoreConfig::default());
    let add = |k: &[u8], v: &[u8]| store.store(StoreMode::Add, k, 0, 0, v, NOW).outcome;
    assert_eq!(add(b"k", b"1"), StoreOutcome::Stored);
    assert_eq!(add(b"k", b"2"), StoreOutcome::NotStored);
    assert_eq!(
        store
            .store(StoreMode::Replace, b"z", 0, 0, b"x", NOW)
            .outcome,
        StoreOutcome::NotStored
    );
    assert_eq!(
        store
            .store(StoreMode::Append(0), b"k", 9, 0, b"b", NOW)
            .outcome,
        StoreOutcome::Stored
    );
    assert_eq!(
        store
            .store(StoreMode::Prepend(0), b"k", 9, 0, b"a", NOW)
            .outcome,
        StoreOutcome::Stored
    );
    let item = store.get(b"k", NOW).expect("stored");
    assert_eq!(
        (&item.value[..], item.flags),
        (&b"a1b"[..], 0),
        "append keeps the old flags"
    );
    assert_eq!(
        store
            .store(StoreMode::Cas(item.cas + 1), b"k", 0, 0, b"c", NOW)
            .outcome,
        StoreOutcome::Exists
    );
    assert_eq!(
        store
            .store(StoreMode::Cas(7), b"none", 0, 0, b"c", NOW)
            .outcome,
        StoreOutcome::NotFound
    );
    let swapped = store.store(StoreMode::Cas(item.cas), b"k", 0, 0, b"c", NOW);
    assert_eq!(swapped.outcome, StoreOutcome::Stored);
    assert!(
        swapped.cas > item.cas,
        "every modification gets a fresh CAS id"
    );
    let counters = store.snapshot().counters;
    assert_eq!(
        (
            counters.get(Counter::CasHits),
            counters.get(Counter::CasBadval),
            counters.get(Counter::CasMisses)
        ),
        (1, 1, 1)
    );
}

#[test]
fn expiry_is_lazy_and_controlled_by_the_caller() {
    let store = Store::new(StoreConfig::default());
    set(&store, b"rel", b"v", 10, NOW);
    set(&store, b"neg", b"v", -1, NOW);
    set(&store, b"abs", b"v", i64::from(NOW) + 5, NOW);
    assert_eq!(value(&store, b"neg", NOW), None);
    assert_eq!(value(&store, b"rel", NOW + 9).as_deref(), Some(&b"v"[..]));
    assert_eq!(value(&store, b"abs", NOW + 4).as_deref(), Some(&b"v"[..]));
    assert_eq!(value(&store, b"abs", NOW + 5), None);
    assert_eq!(value(&store, b"rel", NOW + 10), None);
    let snapshot = store.snapshot();
    assert_eq!(snapshot.counters.get(Counter::GetExpired), 3);
    assert_eq!(
        snapshot.curr_items, 0,
        "expired items were reclaimed on access"
    );
    assert_eq!(snapshot.bytes, 0);
}

#[test]
fn flush_now_and_with_delay() {
    let store = Store::new(StoreConfig::default());
    set(&store, b"a", b"1", 0, NOW);
    store.flush(0, NOW);
    assert_eq!(value(&store, b"a", NOW), None);
    set(&store, b"b", b"2", 0, NOW);
    assert!(
        value(&store, b"b", NOW).is_some(),
        "items stored after the flush survive it"
    );
    store.flush(5, NOW);
    // memcached (items.c, flush_all) invalidates from realtime(delay) - 1.
    assert!(value(&store, b"b", NOW + 3).is_some());
    assert_eq!(value(&store, b"b", NOW + 4), None);
    set(&store, b"c", b"3", 0, NOW + 6);
    assert!(value(&store, b"c", NOW + 6).is_some());
    assert_eq!(store.snapshot().cmd_flush, 2);
}

#[test]
fn delta_pads_in_place_and_grows() {
    let store = Store::new(StoreConfig::default());
    set(&store, b"n", b"10", 0, NOW);
    let delta = |increment, amount| Delta {
        key: b"n",
        increment,
        amount,
        cas: 0,
        create: None,
    };
    assert!(matches!(
        store.delta(delta(false, 5), NOW),
        DeltaOutcome::Value(5, _)
    ));
    assert_eq!(value(&store, b"n", NOW).as_deref(), Some(&b"5 "[..]));
    assert!(matches!(
        store.delta(delta(true, 100), NOW),
        DeltaOutcome::Value(105, _)
    ));
    assert!(matches!(
        store.delta(delta(false, 1000), NOW),
        DeltaOutcome::Value(0, _)
    ));
    set(&store, b"n", b"18446744073709551615", 0, NOW);
    assert!(matches!(
        store.delta(delta(true, 2), NOW),
        DeltaOutcome::Value(1, _)
    ));
    set(&store, b"n", b"x1", 0, NOW);
    assert_eq!(store.delta(delta(true, 1), NOW), DeltaOutcome::NonNumeric);
    let create = Delta {
        key: b"new",
        increment: true,
        amount: 1,
        cas: 0,
        create: Some((42, 0)),
    };
    assert!(matches!(
        store.delta(create, NOW),
        DeltaOutcome::Value(42, _)
    ));
    assert_eq!(value(&store, b"new", NOW).as_deref(), Some(&b"42"[..]));
}

#[test]
fn memory_limit_evicts_least_recently_used() {
    // The LRU is exact within a shard and sampled across shards, so the
    // limit leaves each shard dozens of items: a just-used item can then
    // only become its shard's tail if the sampled eviction were broken (with
    // a few items per shard, a shard holding only recent items can make the
    // sampled victim a recent one, which is by design).
    let limit = 4 << 20;
    let store = Store::new(StoreConfig {
        memory_limit: limit,
        item_size_max: 2 * limit,
    });
    let payload = vec![7u8; 1000];
    set(&store, b"hot", &payload, 0, NOW);
    for i in 0..10_000 {
        set(&store, format!("key{i}").as_bytes(), &payload, 0, NOW);
        if i % 8 == 0 {
            assert!(
                store.get(b"hot", NOW).is_some(),
                "a recently used item survives"
            );
        }
    }
    let snapshot = store.snapshot();
    assert!(
        snapshot.bytes <= limit,
        "{} bytes over the {limit} limit",
        snapshot.bytes
    );
    assert!(snapshot.counters.get(Counter::Evictions) > 5000);
    assert_eq!(value(&store, b"key0", NOW), None);
    assert!(value(&store, b"key9999", NOW).is_some());
    let too_big = vec![0u8; limit];
    assert_eq!(
        set(&store, b"big", &too_big, 0, NOW).outcome,
        StoreOutcome::NoMemory
    );
}

#[test]
fn item_size_limit_uses_memcached_header_formula() {
    let store = Store::new(StoreConfig::default());
    let fits = (1 << 20) - footprint(1, 0, 0);
    assert_eq!(
        set(&store, b"a", &vec![0; fits], 0, NOW).outcome,
        StoreOutcome::Stored
    );
    assert_eq!(
        set(&store, b"a", &vec![0; fits + 1], 0, NOW).outcome,
        StoreOutcome::TooLarge
    );
}

#[test]
fn threads_never_see_each_others_values() {
    let store = Arc::new(Store::new(StoreConfig {
        memory_limit: 1 << 20,
        item_size_max: 1 << 20,
    }));
    let workers: Vec<_> = (0..4u8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    let key = format!("t{t}-{}", i % 300);
                    let expected = [t; 40];
                    set(&store, key.as_bytes(), &expected, 0, NOW);
                    if let Some(got) = value(&store, key.as_bytes(), NOW) {
                        assert_eq!(got, expected, "a value written by thread {t} changed");
                    }
                    let shared = Delta {
                        key: b"counter",
                        increment: true,
                        amount: 1,
                        cas: 0,
                        create: Some((0, 0)),
                    };
                    store.delta(shared, NOW);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    let total = parse_u64_prefix(&store.get(b"counter", NOW).expect("counter present").value);
    // The call that creates the counter stores the initial 0 instead of
    // adding 1, and so may each worker racing it to create; no increment of
    // an existing value is lost.
    let total = total.expect("numeric");
    assert!(
        (4 * 20_000 - 4..4 * 20_000).contains(&total),
        "counter {total}"
    );
    assert!(store.snapshot().bytes <= 1 << 20);
}
