//! TCP segment processing on the netstack, on the probe `zygos bench
//! calibrate` times for the sim's cost table
//! (`dataplane::sim::calibration::StackPair`): two real stacks exchanging
//! synthetic requests and replies on one connection, in memory.
//!
//! - `tcp_segment/receive`: `Stack::handle_frame` per received frame
//!   (requests, replies and ACKs; `packet_ns`);
//! - `tcp_segment/to_event`: a received request turned into an
//!   application event (recv, copy, shuffle push; `event_ns`).
//!
//! The request-response round trip of both stacks is netstack's own bench
//! (`cargo bench -p netstack --bench rpc`), and over the shm NIC the
//! tests crate's (`cargo bench -p zygos-tests --bench netstack_shm`).
//! `cargo bench -p bench --bench netstack`.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use criterion::{Criterion, criterion_group, criterion_main};
use dataplane::sim::calibration::StackPair;

fn tcp_segment(c: &mut Criterion) {
    let mut pair = StackPair::new().expect("two connected stacks");
    let mut group = c.benchmark_group("tcp_segment");
    group.bench_function("receive", |b| {
        b.iter_custom(|n| pair.measure_frames(n).expect("exchange"))
    });
    group.bench_function("to_event", |b| {
        b.iter_custom(|n| pair.measure_events(n).expect("exchange"))
    });
    group.finish();
}

criterion_group!(benches, tcp_segment);
criterion_main!(benches);
