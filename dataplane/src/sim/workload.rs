//! The simulated clients: open-loop Poisson arrivals of synthetic requests
//! on many pipelined connections (Lancet's model, thesis ch. 3), steered to
//! home cores by a chosen policy, and the checker of their replies (every
//! request answered, per-connection replies in request order, latency).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp};

use super::empirical::EmpiricalServiceTime;
use super::net::{Payload, Reply, Segment};
use crate::synthetic_protocol::{REQUEST_LEN, RESPONSE_LEN, Request, decode_response};

/// Service-time distribution of the synthetic requests.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceTime {
    /// Every request takes this many nanoseconds.
    Fixed(u64),
    /// Exponentially distributed with this mean, in nanoseconds.
    Exponential(f64),
    /// Two values (thesis §6.3.1's bimodal distributions): `long_ns` with
    /// probability `long_probability`, else `short_ns`.
    Bimodal {
        /// The common, short service time, in nanoseconds.
        short_ns: u64,
        /// The rare, long service time, in nanoseconds.
        long_ns: u64,
        /// Probability of the long one.
        long_probability: f64,
    },
    /// Drawn from measured service times (e.g. a standalone TPC-C run's).
    Empirical(EmpiricalServiceTime),
}

impl ServiceTime {
    /// Draws one service time, in nanoseconds.
    fn sample(&self, rng: &mut impl Rng) -> u64 {
        match *self {
            ServiceTime::Fixed(ns) => ns,
            ServiceTime::Empirical(ref table) => table.sample(rng),
            ServiceTime::Exponential(mean) => {
                Exp::new(1.0 / mean.max(1.0)).map_or(mean, |exp| exp.sample(rng)) as u64
            }
            ServiceTime::Bimodal {
                short_ns,
                long_ns,
                long_probability,
            } => {
                if rng.random_bool(long_probability.clamp(0.0, 1.0)) {
                    long_ns
                } else {
                    short_ns
                }
            }
        }
    }

    /// The mean service time, in nanoseconds.
    pub fn mean_ns(&self) -> f64 {
        match *self {
            ServiceTime::Fixed(ns) => ns as f64,
            ServiceTime::Empirical(ref table) => table.mean_ns(),
            ServiceTime::Exponential(mean) => mean,
            ServiceTime::Bimodal {
                short_ns,
                long_ns,
                long_probability,
            } => {
                let p = long_probability.clamp(0.0, 1.0);
                (1.0 - p) * short_ns as f64 + p * long_ns as f64
            }
        }
    }
}

/// How connections are spread over home cores (the NIC's RSS table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steering {
    /// Connection `i` on core `i mod cores`.
    Spread,
    /// Every connection on one core (a skewed RSS table).
    AllOn(usize),
}

/// The client side of one simulation.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Number of connections.
    pub connections: usize,
    /// Requests each connection sends (pipelined, open loop).
    pub requests_per_connection: usize,
    /// Mean time between two requests over all connections, in ns.
    pub mean_interarrival_ns: f64,
    /// Service times.
    pub service: ServiceTime,
    /// Home-core policy.
    pub steering: Steering,
    /// Probability that a request is split over two segments.
    pub split_probability: f64,
}

/// What a client does on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Open the connection.
    Open,
    /// Send request `id`; in the message model, split its bytes at `split`.
    Request {
        id: u64,
        service_ns: u64,
        split: Option<usize>,
    },
    /// Close the client's side.
    Close,
}

/// One client action, at the time the client performs it.
pub(crate) struct Arrival {
    pub(crate) time: u64,
    pub(crate) core: usize,
    pub(crate) conn: u64,
    pub(crate) action: Action,
}

impl Arrival {
    /// The action as message-model segments.
    pub(crate) fn segments(&self) -> Vec<Segment> {
        let segment = |payload| Segment {
            conn: self.conn,
            payload,
        };
        match self.action {
            Action::Open => vec![segment(Payload::Open(PORT))],
            Action::Close => vec![segment(Payload::Fin)],
            Action::Request {
                id,
                service_ns,
                split,
            } => {
                let wire = Request { id, service_ns }.encode();
                match split {
                    Some(cut) if cut > 0 && cut < wire.len() => vec![
                        segment(Payload::Data(wire[..cut].to_vec())),
                        segment(Payload::Data(wire[cut..].to_vec())),
                    ],
                    _ => vec![segment(Payload::Data(wire.to_vec()))],
                }
            }
        }
    }
}

/// The generated schedule and what the checker needs to judge replies.
pub(crate) struct Workload {
    pub(crate) arrivals: Vec<Arrival>,
    sent_at: Vec<Vec<u64>>,
}

/// The port the simulated server listens on.
pub(crate) const PORT: u16 = 7000;

impl Workload {
    /// Draws the schedule from `seed`.
    pub(crate) fn generate(config: &WorkloadConfig, cores: usize, seed: u64) -> Workload {
        let mut rng = StdRng::seed_from_u64(seed);
        let connections = config.connections.max(1);
        let per_conn_mean = config.mean_interarrival_ns.max(1.0) * connections as f64;
        let gap = Exp::new(1.0 / per_conn_mean).ok();
        let mut arrivals = Vec::new();
        let mut sent_at = Vec::with_capacity(connections);
        for conn in 0..connections {
            let core = match config.steering {
                Steering::Spread => conn % cores.max(1),
                Steering::AllOn(core) => core.min(cores.saturating_sub(1)),
            };
            let mut time: f64 = rng.random_range(0.0..1_000.0);
            let mut push = |time: f64, action| {
                arrivals.push(Arrival {
                    time: time as u64,
                    core,
                    conn: conn as u64,
                    action,
                });
            };
            push(time, Action::Open);
            let mut times = Vec::with_capacity(config.requests_per_connection);
            for id in 0..config.requests_per_connection as u64 {
                time += gap.map_or(per_conn_mean, |gap| gap.sample(&mut rng));
                let service_ns = config.service.sample(&mut rng);
                let split = rng
                    .random_bool(config.split_probability.clamp(0.0, 1.0))
                    .then(|| rng.random_range(1..REQUEST_LEN));
                push(
                    time,
                    Action::Request {
                        id,
                        service_ns,
                        split,
                    },
                );
                times.push(time as u64);
            }
            push(time + 1.0, Action::Close);
            sent_at.push(times);
        }
        // Stable: actions of one connection keep their order on ties.
        arrivals.sort_by_key(|arrival| arrival.time);
        Workload { arrivals, sent_at }
    }

    /// Total number of requests.
    pub(crate) fn requests(&self) -> u64 {
        self.sent_at.iter().map(|times| times.len() as u64).sum()
    }

    pub(crate) fn connections(&self) -> usize {
        self.sent_at.len()
    }
}

/// Judges the replies as they come back.
pub(crate) struct Checker {
    partial: Vec<Vec<u8>>,
    next_id: Vec<u64>,
    pub(crate) answered: u64,
    pub(crate) order_violations: u64,
    pub(crate) closed: usize,
    pub(crate) latencies_ns: Vec<u64>,
}

impl Checker {
    pub(crate) fn new(connections: usize) -> Self {
        Checker {
            partial: vec![Vec::new(); connections],
            next_id: vec![0; connections],
            answered: 0,
            order_violations: 0,
            closed: 0,
            latencies_ns: Vec::new(),
        }
    }

    /// Takes one reply that reaches the client at `time`.
    pub(crate) fn observe(&mut self, workload: &Workload, time: u64, conn: u64, reply: Reply) {
        let conn = conn as usize;
        let (Some(partial), Some(next)) = (self.partial.get_mut(conn), self.next_id.get_mut(conn))
        else {
            self.order_violations += 1;
            return;
        };
        match reply {
            Reply::Fin => self.closed += 1,
            Reply::Data(bytes) => {
                partial.extend_from_slice(&bytes);
                let whole = partial.len() - partial.len() % RESPONSE_LEN;
                for id in partial[..whole]
                    .chunks(RESPONSE_LEN)
                    .filter_map(decode_response)
                {
                    if id != *next {
                        self.order_violations += 1;
                    }
                    *next = id + 1;
                    self.answered += 1;
                    let sent = workload.sent_at.get(conn).and_then(|t| t.get(id as usize));
                    if let Some(&sent) = sent {
                        self.latencies_ns.push(time.saturating_sub(sent));
                    }
                }
                partial.drain(..whole);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bimodal_draws_both_values_in_proportion_and_has_the_stated_mean() {
        let service = ServiceTime::Bimodal {
            short_ns: 5_000,
            long_ns: 55_000,
            long_probability: 0.1,
        };
        assert_eq!(service.mean_ns(), 10_000.0);
        let mut rng = StdRng::seed_from_u64(3);
        let draws: Vec<u64> = (0..20_000).map(|_| service.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&ns| ns == 5_000 || ns == 55_000));
        let long = draws.iter().filter(|&&ns| ns == 55_000).count() as f64 / 20_000.0;
        assert!((0.09..0.11).contains(&long), "long fraction {long}");
    }

    #[test]
    fn a_one_value_table_schedules_like_fixed() {
        let config = |service| WorkloadConfig {
            connections: 3,
            requests_per_connection: 20,
            mean_interarrival_ns: 5_000.0,
            service,
            steering: Steering::Spread,
            split_probability: 0.2,
        };
        let table = EmpiricalServiceTime::from_counts([(7_000, 12)]).unwrap();
        let empirical = ServiceTime::Empirical(table);
        assert_eq!(empirical.mean_ns(), 7_000.0);
        let fixed = Workload::generate(&config(ServiceTime::Fixed(7_000)), 2, 9);
        let drawn = Workload::generate(&config(empirical), 2, 9);
        // The same service times; the arrival times may differ, since a
        // table draw takes a number from the random stream and Fixed none.
        let services = |workload: &Workload| {
            let actions = workload.arrivals.iter().map(|arrival| arrival.action);
            actions
                .filter_map(|action| match action {
                    Action::Request { service_ns, .. } => Some(service_ns),
                    Action::Open | Action::Close => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(services(&drawn), services(&fixed));
        assert_eq!(services(&drawn).len(), 60);
        assert_eq!(drawn.requests(), fixed.requests());
    }
}
