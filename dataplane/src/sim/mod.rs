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
//! The network is either the real netstack on every core and on the
//! clients, exchanging Ethernet frames over a simulated switch
//! ([`SimNetworkKind::Netstack`], the default), or a message-level model of
//! connections for large scheduler-only sweeps ([`SimNetworkKind::Messages`]).
//! Figures from the simulator are labelled simulated.

pub mod calibration;
mod costs;
mod empirical;
mod frames;
pub(crate) mod net;
mod platform;
pub(crate) mod workload;

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use costs::SimCosts;
pub use empirical::{EmpiricalError, EmpiricalServiceTime};
pub use frames::FrameNetError;
pub use workload::{ServiceTime, Steering, WorkloadConfig};

use crate::apps::Synthetic;
use crate::counters::CounterSnapshot;
use crate::platform::{DEFAULT_IPI_THROTTLE_NS, IpiBoard};
use crate::runtime::{Core, CoreConfig, build_cores};
use crate::sched::SchedMode;
use crate::transport::Transport;
use frames::FrameNet;
use net::{SimTransport, SimWire};
use platform::SimCore;
use workload::{Checker, Workload};

/// Which network the simulated cores run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimNetworkKind {
    /// The real netstack on every core and on the client, exchanging
    /// Ethernet frames over a simulated switch.
    #[default]
    Netstack,
    /// A message-level model of connections (no TCP): faster, for large
    /// sweeps of the scheduler alone.
    Messages,
}

/// What the clients measured.
pub(crate) struct NetOutcome {
    requests: u64,
    answered: u64,
    order_violations: u64,
    closed_connections: usize,
    connections: usize,
    latencies_ns: Vec<u64>,
}

/// The network side of a simulation, moved forward by the driver.
pub(crate) trait SimNetwork {
    /// Performs everything due by virtual time `now`: deliveries to the
    /// cores' receive queues, the clients' actions.
    fn advance(&mut self, now: u64);
    /// Takes what the cores transmitted.
    fn collect(&mut self);
    /// Whether the server closed every connection.
    fn done(&self) -> bool;
    /// The clients' measurements.
    fn outcome(self) -> NetOutcome;
}

/// The message-level network ([`net`]) and its checker.
struct MessageNet {
    wire: Arc<SimWire>,
    workload: Workload,
    checker: Checker,
    next_action: usize,
    wire_ns: u64,
}

impl SimNetwork for MessageNet {
    fn advance(&mut self, now: u64) {
        while let Some(arrival) = self.workload.arrivals.get(self.next_action) {
            if arrival.time + self.wire_ns > now {
                break;
            }
            self.next_action += 1;
            for segment in arrival.segments() {
                self.wire.deliver(arrival.core, segment);
            }
        }
    }

    fn collect(&mut self) {
        for (time, conn, reply) in self.wire.take_replies() {
            self.checker
                .observe(&self.workload, time + self.wire_ns, conn, reply);
        }
    }

    fn done(&self) -> bool {
        self.checker.closed >= self.workload.connections()
    }

    fn outcome(self) -> NetOutcome {
        NetOutcome {
            requests: self.workload.requests(),
            answered: self.checker.answered,
            order_violations: self.checker.order_violations,
            closed_connections: self.checker.closed,
            connections: self.workload.connections(),
            latencies_ns: self.checker.latencies_ns,
        }
    }
}

/// One simulation run.
#[derive(Debug, Clone)]
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
    /// The network model.
    pub network: SimNetworkKind,
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
            network: SimNetworkKind::Netstack,
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
pub fn simulate(config: &SimConfig) -> Result<SimReport, FrameNetError> {
    let cores = config.cores.max(1);
    let board = Arc::new(IpiBoard::new(cores, DEFAULT_IPI_THROTTLE_NS));
    let platforms: Vec<SimCore> = (0..cores)
        .map(|_| SimCore::new(config.costs, Arc::clone(&board)))
        .collect();
    let workload = Workload::generate(&config.workload, cores, config.seed);
    match config.network {
        SimNetworkKind::Messages => {
            let wire = SimWire::new(cores);
            let transports = (0..cores)
                .map(|core| SimTransport::new(core, Arc::clone(&wire)))
                .collect();
            let net = MessageNet {
                wire,
                checker: Checker::new(workload.connections()),
                workload,
                next_action: 0,
                wire_ns: config.costs.wire_ns,
            };
            Ok(drive(config, transports, net, platforms))
        }
        SimNetworkKind::Netstack => {
            let clocks: Vec<_> = platforms.iter().map(SimCore::clock_handle).collect();
            let (net, transports) = FrameNet::new(
                workload,
                &clocks,
                config.costs.wire_ns,
                config.workload.steering,
            )?;
            Ok(drive(config, transports, net, platforms))
        }
    }
}

/// The simulation loop (module docs).
fn drive<T: Transport, N: SimNetwork>(
    config: &SimConfig,
    transports: Vec<T>,
    mut net: N,
    mut platforms: Vec<SimCore>,
) -> SimReport {
    let cores = platforms.len();
    let core_config = CoreConfig {
        mode: config.mode,
        batch: config.batch,
        seed: config.seed,
    };
    let mut runtime = build_cores(transports, Arc::new(Synthetic), core_config);
    let mut stalls = draw_stalls(config, cores);
    let mut now = 0;
    // Run until every connection is closed, then until a whole round of
    // steps finds no work left (batches and remote calls in flight).
    let mut idle_steps = 0;
    while (!net.done() || idle_steps < cores) && now <= config.max_virtual_ns {
        let core = earliest(&platforms);
        now = platforms[core].clock();
        net.advance(now);
        if let Some(stall) = stalls.next_due(core, now) {
            platforms[core].advance(stall);
            continue;
        }
        let worked = runtime[core].step(&mut platforms[core]);
        idle_steps = if worked { 0 } else { idle_steps + 1 };
        deliver_ipis(core, &mut runtime, &mut platforms, &config.costs);
        net.collect();
    }
    let outcome = net.outcome();
    let mut latencies_ns = outcome.latencies_ns;
    latencies_ns.sort_unstable();
    SimReport {
        per_core: runtime
            .iter()
            .map(|core| core.counters().snapshot())
            .collect(),
        requests: outcome.requests,
        answered: outcome.answered,
        order_violations: outcome.order_violations,
        closed_connections: outcome.closed_connections,
        connections: outcome.connections,
        latencies_ns,
        virtual_ns: now,
    }
}

/// The core with the earliest clock (lowest index on ties).
fn earliest(platforms: &[SimCore]) -> usize {
    platforms
        .iter()
        .enumerate()
        .min_by_key(|(index, platform)| (platform.clock(), *index))
        .map_or(0, |(index, _)| index)
}

/// Runs the IPI handlers of the IPIs `sender` sent in its last step on
/// targets still inside application code when the IPI lands; the others
/// find the mailbox at their next step.
fn deliver_ipis<T: Transport>(
    sender: usize,
    runtime: &mut [Core<T, Synthetic>],
    platforms: &mut [SimCore],
    costs: &SimCosts,
) {
    let sent_at = platforms[sender].clock();
    let targets = std::mem::take(&mut platforms[sender].outbox);
    for target in targets {
        let lands = sent_at + costs.ipi_latency_ns;
        let (Some(core), Some(platform)) = (runtime.get_mut(target), platforms.get_mut(target))
        else {
            continue;
        };
        if !core.in_flight() || platform.clock() <= lands {
            continue;
        }
        let resume = platform.clock();
        platform.set_clock(lands);
        core.handle_ipi(platform);
        let handler = platform.clock() - lands + costs.ipi_handler_ns;
        platform.set_clock(resume + handler);
    }
}

/// Random stalls, per core, in time order.
struct Stalls {
    per_core: Vec<Vec<(u64, u64)>>,
}

fn draw_stalls(config: &SimConfig, cores: usize) -> Stalls {
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x5a11);
    let workload = &config.workload;
    let horizon = (workload.mean_interarrival_ns
        * workload.connections as f64
        * workload.requests_per_connection as f64)
        .max(1.0) as u64;
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
