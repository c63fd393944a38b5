//! IPIs on the process platform, on the probes `zygos bench calibrate`
//! times for the sim's cost table (`dataplane::sim::calibration`):
//!
//! - `ipi/mailbox_one_way`: a post to the IpiBoard mailbox seen by a
//!   thread polling it on another CPU (half a round trip);
//! - `ipi/signal_latency`: `tgkill` of the IPI signal to a spinning thread
//!   until its handler has run;
//! - `ipi/signal_send`: the sender's post and `tgkill` (`ipi_send_ns`);
//! - `ipi/signal_to_self` and `ipi/tgkill_signal_0`: `tgkill` of the
//!   signal to the calling thread (delivered, handler run, returned) and
//!   of signal 0 (checks only); the difference is `ipi_handler_ns`.
//!
//! `cargo bench -p bench --bench ipi`. The two-thread figures need two
//! otherwise idle CPUs; calibrate keeps their median operation instead.

#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`.

use criterion::{Criterion, criterion_group, criterion_main};
use dataplane::sim::calibration::{MailboxProbe, SignalProbe, total, total_of};

fn ipi(c: &mut Criterion) {
    let mut group = c.benchmark_group("ipi");
    group.bench_function("mailbox_one_way", |b| {
        b.iter_custom(|n| {
            total_of(
                n,
                &MailboxProbe.measure(n).expect("the partner thread stalled"),
            )
        })
    });
    group.bench_function("signal_latency", |b| {
        b.iter_custom(|n| {
            let times = SignalProbe.measure_latency(n).expect("IPI signal");
            assert_eq!(times.latency_ns.len() as u64, n, "a signal was lost");
            total(&times.latency_ns)
        })
    });
    group.bench_function("signal_send", |b| {
        b.iter_custom(|n| total(&SignalProbe.measure_latency(n).expect("IPI signal").send_ns))
    });
    group.bench_function("signal_to_self", |b| {
        b.iter_custom(|n| SignalProbe.measure_self_signal(n).expect("IPI signal"))
    });
    group.bench_function("tgkill_signal_0", |b| {
        b.iter_custom(|n| SignalProbe.measure_null_signal(n).expect("IPI signal"))
    });
    group.finish();
}

criterion_group!(benches, ipi);
criterion_main!(benches);
