//! The rest of the sim's cost table, on the probes `zygos bench
//! calibrate` times (`dataplane::sim::calibration`):
//!
//! - `platform/shm_one_way`: a 64-byte frame between two ports of the shm
//!   NIC, one thread each (half a round trip; `wire_ns`);
//! - `platform/idle_pass_16_cores`: `Core::step` of an idle 16-core
//!   dataplane on shm NIC queues (`idle_poll_ns`).
//!
//! The shm NIC's burst throughput is the dataplane's own bench (`cargo
//! bench -p dataplane --bench nic`). `cargo bench -p bench --bench platform`.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use criterion::{Criterion, criterion_group, criterion_main};
use dataplane::sim::calibration::{IdleProbe, WireProbe, total_of};

fn platform(c: &mut Criterion) {
    let mut wire = WireProbe::new().expect("shm NIC");
    let mut idle = IdleProbe::new(16).expect("idle dataplane");
    let mut group = c.benchmark_group("platform");
    group.bench_function("shm_one_way", |b| {
        b.iter_custom(|n| total_of(n, &wire.measure(n).expect("a frame did not come back")))
    });
    group.bench_function("idle_pass_16_cores", |b| {
        b.iter_custom(|n| idle.measure(n).expect("the idle core found work"))
    });
    group.finish();
}

criterion_group!(benches, platform);
criterion_main!(benches);
