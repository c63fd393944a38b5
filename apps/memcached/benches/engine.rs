//! Micro-benchmarks of the protocol engine and store, single-threaded:
//! requests go through a [`Session`] exactly as the dataplane feeds them.
//! Keys are USR-like (19 bytes) with 2-byte values (Facebook's USR pool,
//! as used in the ZygOS memcached evaluation, thesis ch. 4.5).
//!
//! `cargo bench -p memcached --bench engine`

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use memcached::protocol::{Flow, Session};
use memcached::server::{Admission, Server, ServerConfig};
use memcached::store::{StoreMode, UnixTime};

const NOW: UnixTime = 1_700_000_000;
const KEYS: usize = 100_000;

fn key(i: usize) -> String {
    format!("usr:key:{i:011}")
}

fn populated() -> (std::sync::Arc<Server>, Session) {
    let server = Server::new(ServerConfig::default(), NOW);
    for i in 0..KEYS {
        server
            .store
            .store(StoreMode::Set, key(i).as_bytes(), 0, 0, b"vv", NOW);
    }
    let Admission::Accepted(session) = server.connect() else {
        panic!("refused");
    };
    (server, session)
}

fn requests(make: impl Fn(&str) -> String) -> Vec<Vec<u8>> {
    (0..KEYS)
        .map(|i| make(&key((i * 7919) % KEYS)).into_bytes())
        .collect()
}

fn bench_engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("memcached_engine");
    group.throughput(Throughput::Elements(1));
    let (_server, mut session) = populated();
    let mut out = Vec::with_capacity(4096);

    let gets = requests(|k| format!("get {k}\r\n"));
    let mut i = 0;
    group.bench_function("text_get_hit_usr", |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) % gets.len();
            assert_eq!(
                session.receive(black_box(&gets[i]), NOW, &mut out),
                Flow::Open
            );
            black_box(&out);
        })
    });

    let sets = requests(|k| format!("set {k} 0 0 2\r\nvv\r\n"));
    group.bench_function("text_set_usr", |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) % sets.len();
            assert_eq!(
                session.receive(black_box(&sets[i]), NOW, &mut out),
                Flow::Open
            );
            black_box(&out);
        })
    });

    // USR: 99.8% gets, 0.2% sets.
    group.bench_function("text_usr_mix", |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) % gets.len();
            let request = if i % 500 == 0 { &sets[i] } else { &gets[i] };
            assert_eq!(
                session.receive(black_box(request), NOW, &mut out),
                Flow::Open
            );
            black_box(&out);
        })
    });

    let (server, _) = populated();
    let keys: Vec<String> = (0..KEYS).map(key).collect();
    group.bench_function("store_get_hit_usr", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(server.store.get(black_box(keys[i].as_bytes()), NOW))
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_engine(&mut criterion);
    criterion.final_summary();
}
