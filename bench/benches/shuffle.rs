//! The shuffle layer's hot paths (thesis ch. 4.4-4.5), on the probes
//! `zygos bench calibrate` times for the sim's cost table
//! (`dataplane::sim::calibration`):
//!
//! - `shuffle/push`: an event making an idle connection ready;
//! - `shuffle/dispatch`: the home core's pop of a ready connection and
//!   release of its claim (`app_dispatch_ns`);
//! - `shuffle/steal`: a successful steal of a connection another thread
//!   made ready (`steal_ns`);
//! - `remote_syscall/round_trip`: event pushed by the home thread, stolen
//!   by the other, its calls sent back through the remote-syscall queue,
//!   executed and released by the home thread;
//! - `remote_syscall/home_execute`: the home side of it (`remote_call_ns`).
//!
//! `cargo bench -p bench --bench shuffle`. The two-thread figures need two
//! otherwise idle CPUs; calibrate keeps their median operation instead.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use criterion::{Criterion, criterion_group, criterion_main};
use dataplane::sim::calibration::{RemoteProbe, ShuffleProbe, total};

fn shuffle(c: &mut Criterion) {
    let mut probe = ShuffleProbe::default();
    let mut group = c.benchmark_group("shuffle");
    group.bench_function("push", |b| b.iter_custom(|n| probe.measure_push(n)));
    group.bench_function("dispatch", |b| b.iter_custom(|n| probe.measure_dispatch(n)));
    group.bench_function("steal", |b| {
        b.iter_custom(|n| total(&RemoteProbe.measure(n).steal_ns))
    });
    group.finish();
    let mut group = c.benchmark_group("remote_syscall");
    group.bench_function("round_trip", |b| {
        b.iter_custom(|n| RemoteProbe.measure(n).round_trip)
    });
    group.bench_function("home_execute", |b| {
        b.iter_custom(|n| total(&RemoteProbe.measure(n).home_execute_ns))
    });
    group.finish();
}

criterion_group!(benches, shuffle);
criterion_main!(benches);
