//! The process platform on real threads, over the simulator's
//! message-level network (the TCP path over the shm NIC is tested in
//! `tests/process_shm.rs`): a load generator thread paces pipelined
//! requests on many connections, all steered to core 0.

use std::io::PipeReader;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spawn;
use crate::apps::Synthetic;
use crate::counters::CounterSnapshot;
use crate::nic::{RxProbe, WaitFd, Wakeup};
use crate::runtime::{CoreConfig, build_cores};
use crate::sched::SchedMode;
use crate::sim::net::{SimTransport, SimWire};
use crate::sim::workload::{Checker, Workload};
use crate::sim::{ServiceTime, Steering, WorkloadConfig};
use crate::transport::{ConnGone, NetEvent, Transport};

const DEADLINE: Duration = Duration::from_secs(20);
/// Arrival bursts of the parking runs: about 170 requests (8 ms of work on
/// 2 cores) every 10 ms.
const BURST_PERIOD_NS: u64 = 10_000_000;

/// The simulator's transport with a descriptor to park on that never
/// becomes ready (the pipe's writer stays open and silent): a parked core
/// resumes only when another core wakes it or its park times out.
struct Parkable {
    inner: SimTransport,
    never_ready: PipeReader,
}

impl Transport for Parkable {
    type Conn = u64;

    fn receive(&mut self, now_ns: u64, max: usize) -> usize {
        self.inner.receive(now_ns, max)
    }

    fn rx_pending(&self) -> bool {
        self.inner.rx_pending()
    }

    fn rx_probe(&self) -> RxProbe {
        self.inner.rx_probe()
    }

    fn next_event(&mut self) -> Option<NetEvent<u64>> {
        self.inner.next_event()
    }

    fn recv(&mut self, conn: u64, buf: &mut [u8]) -> Result<usize, ConnGone> {
        self.inner.recv(conn, buf)
    }

    fn send(&mut self, conn: u64, data: &[u8]) -> Result<usize, ConnGone> {
        self.inner.send(conn, data)
    }

    fn close(&mut self, conn: u64) -> Result<(), ConnGone> {
        self.inner.close(conn)
    }

    fn transmit(&mut self, now_ns: u64) {
        self.inner.transmit(now_ns);
    }

    fn wakeup(&self) -> Option<Wakeup<'_>> {
        Some(Wakeup::Fd(WaitFd {
            fd: self.never_ready.as_fd(),
            writable: false,
        }))
    }
}

/// Runs the skewed workload on 2 real cores (parking after `park_after`
/// idle, if given); returns the checker, the number of requests and each
/// core's counters.
fn run_skewed(
    mode: SchedMode,
    park_after: Option<Duration>,
) -> (Checker, u64, Vec<CounterSnapshot>) {
    let cores = 2;
    let wire = SimWire::new(cores);
    let config = CoreConfig {
        mode,
        batch: 16,
        seed: 5,
    };
    let (_silent_writer, runner) = if park_after.is_some() {
        let (reader, writer) = std::io::pipe().unwrap();
        let transports = (0..cores)
            .map(|core| Parkable {
                inner: SimTransport::new(core, Arc::clone(&wire)),
                never_ready: reader.try_clone().unwrap(),
            })
            .collect();
        let cores = build_cores(transports, Arc::new(Synthetic), config);
        (Some(writer), spawn(cores, park_after).unwrap())
    } else {
        let transports = (0..cores)
            .map(|core| SimTransport::new(core, Arc::clone(&wire)))
            .collect();
        let cores = build_cores(transports, Arc::new(Synthetic), config);
        (None, spawn(cores, None).unwrap())
    };
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
        // With parking, requests arrive in bursts every BURST_PERIOD_NS,
        // between which both cores run dry and park.
        let due = match park_after {
            Some(_) => now - now % BURST_PERIOD_NS,
            None => now,
        };
        while let Some(arrival) = arrivals.next_if(|a| a.time <= due) {
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
    let (checker, requests, per_core) = run_skewed(SchedMode::Zygos, None);
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
    let (checker, requests, per_core) = run_skewed(SchedMode::Partitioned, None);
    let total = per_core[0].add(&per_core[1]);
    assert_eq!(checker.answered, requests, "unanswered requests ({total})");
    assert_eq!(checker.order_violations, 0);
    assert_eq!((total.steals, total.ipis_sent), (0, 0));
}

#[test]
fn parking_cores_steal_and_answer_everything_in_order() {
    // Core 1 has no traffic of its own and no descriptor that ever wakes
    // it, and parks as soon as it finds no work: between bursts it blocks,
    // and resumes by core 0's wake-up (whether core 0 sends one depends on
    // the threads' timing here; `runtime::park`'s tests check it) or its
    // park timeout.
    let (checker, requests, per_core) = run_skewed(SchedMode::Zygos, Some(Duration::ZERO));
    let total = per_core[0].add(&per_core[1]);
    assert_eq!(checker.answered, requests, "unanswered requests ({total})");
    assert_eq!(checker.order_violations, 0);
    assert!(per_core[1].parks > 0, "core 1 never parked: {total}");
    assert!(per_core[1].steals > 0, "core 1 never stole: {total}");
}
