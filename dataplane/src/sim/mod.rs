//! The deterministic `sim` platform (DESIGN.md "Platforms"): N cores
//! stepped in virtual time in one thread, running the same runtime
//! ([`crate::runtime::Core`]), shuffle and application code as the real
//! platforms, reproducible from a seed.
//!
//! The simulator always steps the core whose clock is earliest, after
//! delivering every client segment due by then to its home core's receive
//! queue. Runtime work advances a core's clock by the [`SimCosts`] table,
//! and the synthetic application's service time by the request's value. A
//! batch's calls complete at the core's next step, so other cores see a
//! connection busy for exactly its service time. An IPI is delivered
//! `ipi_latency_ns` after it is sent: if the target is still inside
//! application code then, the handler's work runs at that virtual time and
//! delays the target's application by its cost. Random stalls (a core
//! losing the CPU for a while) test the scheduler's robustness.
//!
//! Only the network layer is a model ([`net`]): message-level connections
//! instead of TCP frames. Figures from it are labelled simulated.

mod costs;
pub(crate) mod net;
mod platform;
pub(crate) mod workload;

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use costs::SimCosts;
pub use workload::{ServiceTime, Steering, WorkloadConfig};

use crate::apps::Synthetic;
use crate::counters::CounterSnapshot;
use crate::platform::{DEFAULT_IPI_THROTTLE_NS, IpiBoard};
use crate::runtime::{Core, CoreConfig, build_cores};
use crate::sched::SchedMode;
use net::{SimTransport, SimWire};
use platform::SimCore;
use workload::{Checker, Workload};

/// One simulation run.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// Number of simulated cores.
    pub cores: usize,
    /// Scheduling mode.
    pub mode: SchedMode,
    /// Batch bound B of the partitioned mode.
    pub batch: usize,
    /// Seed of every random choice (arrivals, service times, stalls, idle
    /// loop starts).
    pub seed: u64,
    /// The clients.
    pub workload: WorkloadConfig,
    /// Number of random stalls over the run.
    pub stalls: usize,
    /// Length of each stall, in ns.
    pub stall_ns: u64,
    /// Virtual-time costs.
    pub costs: SimCosts,
    /// Stop after this much virtual time even if replies are missing.
    pub max_virtual_ns: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            cores: 16,
            mode: SchedMode::Zygos,
            batch: 64,
            seed: 1,
            workload: WorkloadConfig {
                connections: 64,
                requests_per_connection: 50,
                mean_interarrival_ns: 2_000.0,
                service: ServiceTime::Exponential(10_000.0),
                steering: Steering::Spread,
                split_probability: 0.1,
            },
            stalls: 0,
            stall_ns: 50_000,
            costs: SimCosts::default(),
            max_virtual_ns: 1_000_000_000,
        }
    }
}

/// What one simulation measured (simulated figures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimReport {
    /// Counters of each core.
    pub per_core: Vec<CounterSnapshot>,
    /// Requests the clients sent.
    pub requests: u64,
    /// Replies the clients received.
    pub answered: u64,
    /// Replies that came back out of request order on their connection.
    pub order_violations: u64,
    /// Connections the server closed after the client's FIN.
    pub closed_connections: usize,
    /// Connections opened.
    pub connections: usize,
    /// Request-to-reply latencies in ns, sorted.
    pub latencies_ns: Vec<u64>,
    /// Virtual time at the end of the run, in ns.
    pub virtual_ns: u64,
}

impl SimReport {
    /// Sum of every core's counters.
    pub fn total(&self) -> CounterSnapshot {
        self.per_core
            .iter()
            .fold(CounterSnapshot::default(), |sum, core| sum.add(core))
    }

    /// The `p`-th percentile latency (0 < p ≤ 100), `None` without replies.
    pub fn percentile_ns(&self, p: f64) -> Option<u64> {
        let n = self.latencies_ns.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies_ns.get(rank.clamp(1, n.max(1)) - 1).copied()
    }
}

/// Runs one simulation of the synthetic server.
pub fn simulate(config: &SimConfig) -> SimReport {
    let cores = config.cores.max(1);
    let wire = SimWire::new(cores);
    let board = Arc::new(IpiBoard::new(cores, DEFAULT_IPI_THROTTLE_NS));
    let transports = (0..cores)
        .map(|core| SimTransport::new(core, Arc::clone(&wire)))
        .collect();
    let core_config = CoreConfig {
        mode: config.mode,
        batch: config.batch,
        seed: config.seed,
    };
    let mut runtime = build_cores(transports, Arc::new(Synthetic), core_config);
    let mut platforms: Vec<SimCore> = (0..cores)
        .map(|_| SimCore::new(config.costs, Arc::clone(&board)))
        .collect();
    let workload = Workload::generate(&config.workload, cores, config.costs.wire_ns, config.seed);
    let mut checker = Checker::new(workload.connections());
    let mut stalls = draw_stalls(config, &workload, cores);
    let mut arrivals = workload.arrivals.iter().peekable();
    let mut now = 0;
    // Run until every connection is closed, then until a whole round of
    // steps finds no work left (batches and remote calls in flight).
    let mut idle_steps = 0;
    while (checker.closed < workload.connections() || idle_steps < cores)
        && now <= config.max_virtual_ns
    {
        let core = earliest(&platforms);
        now = platforms[core].clock;
        while let Some(arrival) = arrivals.next_if(|a| a.time <= now) {
            wire.deliver(arrival.core, arrival.segment.clone());
        }
        if let Some(stall) = stalls.next_due(core, now) {
            platforms[core].clock += stall;
            continue;
        }
        let worked = runtime[core].step(&mut platforms[core]);
        idle_steps = if worked { 0 } else { idle_steps + 1 };
        deliver_ipis(core, &mut runtime, &mut platforms, &config.costs);
        for (time, conn, reply) in wire.take_replies() {
            checker.observe(&workload, time + config.costs.wire_ns, conn, reply);
        }
    }
    let mut latencies_ns = checker.latencies_ns;
    latencies_ns.sort_unstable();
    SimReport {
        per_core: runtime
            .iter()
            .map(|core| core.counters().snapshot())
            .collect(),
        requests: workload.requests(),
        answered: checker.answered,
        order_violations: checker.order_violations,
        closed_connections: checker.closed,
        connections: workload.connections(),
        latencies_ns,
        virtual_ns: now,
    }
}

/// The core with the earliest clock (lowest index on ties).
fn earliest(platforms: &[SimCore]) -> usize {
    platforms
        .iter()
        .enumerate()
        .min_by_key(|(index, platform)| (platform.clock, *index))
        .map_or(0, |(index, _)| index)
}

/// Runs the IPI handlers of the IPIs `sender` sent in its last step on
/// targets still inside application code when the IPI lands; the others
/// find the mailbox at their next step.
fn deliver_ipis(
    sender: usize,
    runtime: &mut [Core<SimTransport, Synthetic>],
    platforms: &mut [SimCore],
    costs: &SimCosts,
) {
    let sent_at = platforms[sender].clock;
    let targets = std::mem::take(&mut platforms[sender].outbox);
    for target in targets {
        let lands = sent_at + costs.ipi_latency_ns;
        let (Some(core), Some(platform)) = (runtime.get_mut(target), platforms.get_mut(target))
        else {
            continue;
        };
        if !core.in_flight() || platform.clock <= lands {
            continue;
        }
        let resume = platform.clock;
        platform.clock = lands;
        core.handle_ipi(platform);
        let handler = platform.clock - lands + costs.ipi_handler_ns;
        platform.clock = resume + handler;
    }
}

/// Random stalls, per core, in time order.
struct Stalls {
    per_core: Vec<Vec<(u64, u64)>>,
}

fn draw_stalls(config: &SimConfig, workload: &Workload, cores: usize) -> Stalls {
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x5a11);
    let horizon = workload.arrivals.last().map_or(1, |a| a.time.max(1));
    let mut per_core = vec![Vec::new(); cores];
    for _ in 0..config.stalls {
        let core = rng.random_range(0..cores);
        per_core[core].push((rng.random_range(0..horizon), config.stall_ns));
    }
    for stalls in &mut per_core {
        stalls.sort_unstable_by(|a, b| b.cmp(a));
    }
    Stalls { per_core }
}

impl Stalls {
    /// The length of a stall of `core` due by `now`, consuming it.
    fn next_due(&mut self, core: usize, now: u64) -> Option<u64> {
        let stalls = self.per_core.get_mut(core)?;
        if stalls.last().is_some_and(|&(at, _)| at <= now) {
            return stalls.pop().map(|(_, length)| length);
        }
        None
    }
}
