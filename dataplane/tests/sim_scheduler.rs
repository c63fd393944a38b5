//! The ZygOS scheduler on the deterministic `sim` platform with 16 cores:
//! every request answered, per-connection replies in request order under
//! randomised arrivals, split segments and stalls; stealing when one core
//! is overloaded; remote system calls executed by the home core;
//! partitioned mode never steals. (Simulated figures.)

use dataplane::sched::SchedMode;
use dataplane::sim::{ServiceTime, SimConfig, SimReport, Steering, WorkloadConfig, simulate};

fn skewed(mode: SchedMode, seed: u64) -> SimConfig {
    SimConfig {
        cores: 16,
        mode,
        seed,
        workload: WorkloadConfig {
            connections: 128,
            requests_per_connection: 40,
            // 5 µs mean service every 2 µs: 2.5 cores of work, all on core 0.
            mean_interarrival_ns: 2_000.0,
            service: ServiceTime::Exponential(5_000.0),
            steering: Steering::AllOn(0),
            split_probability: 0.2,
        },
        ..SimConfig::default()
    }
}

fn run(config: &SimConfig) -> SimReport {
    simulate(config).expect("simulation set-up")
}

fn assert_all_answered_in_order(report: &SimReport) {
    assert_eq!(report.answered, report.requests, "unanswered requests");
    assert_eq!(report.order_violations, 0, "replies out of request order");
    assert_eq!(report.closed_connections, report.connections);
}

#[test]
fn stealing_serves_an_overloaded_core_in_order() {
    let report = run(&skewed(SchedMode::Zygos, 7));
    assert_all_answered_in_order(&report);
    let total = report.total();
    assert!(total.steals > 0, "no steal: {total}");
    assert!(
        report.per_core[0].steals == 0 && report.per_core[1..].iter().any(|c| c.steals > 0),
        "only remote cores steal from core 0"
    );
    assert!(total.ipis_sent > 0, "no IPI to the busy home core: {total}");
    // Every batch of calls a stealing core sent reached the home core.
    assert!(total.remote_batches_sent > 0);
    assert_eq!(
        report.per_core[0].remote_batches_executed,
        total.remote_batches_sent
    );
    assert!(
        report.per_core[0].remote_syscalls > 0,
        "replies of stolen requests went home"
    );
}

#[test]
fn partitioned_mode_never_steals_and_is_slower_on_a_skewed_table() {
    let partitioned = run(&skewed(SchedMode::Partitioned, 7));
    assert_all_answered_in_order(&partitioned);
    let total = partitioned.total();
    assert_eq!(total.steals, 0);
    assert_eq!(total.remote_batches_sent, 0);
    assert_eq!(total.ipis_sent, 0);
    let zygos = run(&skewed(SchedMode::Zygos, 7));
    let (Some(p99_part), Some(p99_zygos)) =
        (partitioned.percentile_ns(99.0), zygos.percentile_ns(99.0))
    else {
        panic!("no latencies measured");
    };
    assert!(
        p99_zygos < p99_part,
        "simulated p99: zygos {p99_zygos} ns vs partitioned {p99_part} ns"
    );
}

#[test]
fn without_ipis_no_core_is_interrupted() {
    let report = run(&skewed(SchedMode::ZygosNoipi, 3));
    assert_all_answered_in_order(&report);
    let total = report.total();
    assert_eq!((total.ipis_sent, total.ipis_received), (0, 0));
    assert!(total.steals > 0);
}

#[test]
fn randomised_arrivals_and_stalls_keep_every_reply_in_order() {
    for seed in 1..=4 {
        let config = SimConfig {
            seed,
            stalls: 40,
            stall_ns: 100_000,
            workload: WorkloadConfig {
                connections: 256,
                requests_per_connection: 20,
                mean_interarrival_ns: 1_500.0,
                service: ServiceTime::Exponential(10_000.0),
                steering: Steering::Spread,
                split_probability: 0.3,
            },
            ..SimConfig::default()
        };
        let report = run(&config);
        assert_all_answered_in_order(&report);
        assert!(
            report.total().steals > 0,
            "seed {seed}: stalls leave work to steal"
        );
    }
}

#[test]
fn a_seed_reproduces_the_run_exactly() {
    let config = SimConfig {
        stalls: 10,
        ..skewed(SchedMode::Zygos, 11)
    };
    let first = run(&config);
    assert_eq!(first, run(&config));
    let other = run(&SimConfig { seed: 12, ..config });
    assert_ne!(
        first.latencies_ns, other.latencies_ns,
        "the seed drives the run"
    );
}
