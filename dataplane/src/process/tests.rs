//! The process platform on real threads, over the simulator's
//! message-level network (the TCP path over the shm NIC is tested in
//! `tests/process_shm.rs`): a load generator thread paces pipelined
//! requests on many connections, all steered to core 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spawn;
use crate::apps::Synthetic;
use crate::counters::CounterSnapshot;
use crate::runtime::{CoreConfig, build_cores};
use crate::sched::SchedMode;
use crate::sim::net::{SimTransport, SimWire};
use crate::sim::workload::{Checker, Workload};
use crate::sim::{ServiceTime, Steering, WorkloadConfig};

const DEADLINE: Duration = Duration::from_secs(20);

/// Runs the skewed workload on 2 real cores; returns the checker, the
/// number of requests and each core's counters.
fn run_skewed(mode: SchedMode) -> (Checker, u64, Vec<CounterSnapshot>) {
    let cores = 2;
    let wire = SimWire::new(cores);
    let transports = (0..cores)
        .map(|core| SimTransport::new(core, Arc::clone(&wire)))
        .collect();
    let config = CoreConfig {
        mode,
        batch: 16,
        seed: 5,
    };
    let runner = spawn(build_cores(transports, Arc::new(Synthetic), config)).unwrap();
    let workload = Workload::generate(
        &WorkloadConfig {
            connections: 32,
            requests_per_connection: 40,
            // 1.7 cores of work offered to core 0 alone.
            mean_interarrival_ns: 60_000.0,
            service: ServiceTime::Fixed(100_000),
            steering: Steering::AllOn(0),
            split_probability: 0.2,
        },
        cores,
        9,
    );
    let mut checker = Checker::new(workload.connections());
    let start = Instant::now();
    let mut arrivals = workload.arrivals.iter().peekable();
    while checker.closed < workload.connections() && start.elapsed() < DEADLINE {
        let now = start.elapsed().as_nanos() as u64;
        while let Some(arrival) = arrivals.next_if(|a| a.time <= now) {
            for segment in arrival.segments() {
                wire.deliver(arrival.core, segment);
            }
        }
        for (time, conn, reply) in wire.take_replies() {
            checker.observe(&workload, time, conn, reply);
        }
        std::thread::yield_now();
    }
    let counters = runner.counters().to_vec();
    runner.stop().unwrap();
    let per_core: Vec<CounterSnapshot> = counters.iter().map(|c| c.snapshot()).collect();
    (checker, workload.requests(), per_core)
}

#[test]
fn stealing_on_real_threads_answers_everything_in_order() {
    let (checker, requests, per_core) = run_skewed(SchedMode::Zygos);
    let total = per_core[0].add(&per_core[1]);
    assert_eq!(checker.answered, requests, "unanswered requests ({total})");
    assert_eq!(checker.order_violations, 0);
    assert!(per_core[1].steals > 0, "core 1 never stole: {total}");
    assert!(
        per_core[0].remote_syscalls > 0,
        "no remote call reached core 0"
    );
}

#[test]
fn partitioned_threads_never_steal() {
    let (checker, requests, per_core) = run_skewed(SchedMode::Partitioned);
    let total = per_core[0].add(&per_core[1]);
    assert_eq!(checker.answered, requests, "unanswered requests ({total})");
    assert_eq!(checker.order_violations, 0);
    assert_eq!((total.steals, total.ipis_sent), (0, 0));
}
