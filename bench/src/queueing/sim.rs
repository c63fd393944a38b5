//! Simulation of the two idealised server models of thesis §6.2 under
//! open-loop arrivals, with zero system overhead:
//! - centralised FCFS (M/G/n/FCFS): one queue, the head request goes to
//!   the first free core;
//! - partitioned FCFS (n × M/G/1/FCFS): each request joins a uniformly
//!   random core's own queue.
//!
//! Under FCFS the event order is fixed by arrival order, so the simulation
//! advances request by request over the vector of cores' next-free times
//! (Kiefer–Wolfowitz): a request starts at max(arrival, the free time of
//! its core) and that core is busy until start + service. This is the
//! whole discrete-event simulation of these models, with no event heap.
//!
//! Times are in units of the mean service time. All randomness comes from
//! one seeded stream drawn in the same order at every load (common random
//! numbers), so latency is monotone in load and the search of
//! [`crate::queueing::search`] bisects a deterministic function.

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};

use crate::workload::ServiceDistribution;

/// How requests are spread over cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Model {
    /// One shared FCFS queue (M/G/n/FCFS).
    Centralized,
    /// One FCFS queue per core, random assignment (n × M/G/1/FCFS).
    Partitioned,
}

impl Model {
    /// Kendall-style label, e.g. `M/G/16` or `16xM/G/1`.
    pub fn label(self, cores: usize) -> String {
        match self {
            Model::Centralized => format!("M/G/{cores}/FCFS"),
            Model::Partitioned => format!("{cores}xM/G/1/FCFS"),
        }
    }
}

/// Size and seed of one simulated run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    /// Number of cores (servers).
    pub cores: usize,
    /// Requests simulated, including warm-up.
    pub requests: usize,
    /// Leading requests dropped from the results.
    pub warmup: usize,
    /// Seed of the random stream.
    pub seed: u64,
}

impl SimConfig {
    /// A run on `cores` cores of a size that gives p99 within about 1%.
    pub fn new(cores: usize) -> Self {
        SimConfig {
            cores,
            requests: 1_000_000,
            warmup: 50_000,
            seed: 0x5eed,
        }
    }
}

/// Per-request outcome after warm-up.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimRun {
    /// Sojourn time (wait + service) of each request, in arrival order.
    pub latencies: Vec<f64>,
    /// Fraction of requests that waited at all.
    pub waited_fraction: f64,
    /// Mean wait in queue.
    pub mean_wait: f64,
}

/// Simulates `config.requests` requests at `load` (ρ = λ·S̄/n) with service
/// times from `service` (normalised to mean 1 first).
pub fn simulate(
    model: Model,
    service: &ServiceDistribution,
    load: f64,
    config: &SimConfig,
) -> SimRun {
    let service = service.normalized();
    let cores = config.cores.max(1);
    let rate = load * cores as f64;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut free_at = vec![0.0f64; cores];
    let mut now = 0.0;
    let kept = config.requests.saturating_sub(config.warmup);
    let mut run = SimRun {
        latencies: Vec::with_capacity(kept),
        ..SimRun::default()
    };
    let (mut waited, mut total_wait) = (0usize, 0.0);
    for index in 0..config.requests {
        let gap: f64 = Exp1.sample(&mut rng);
        now += gap / rate;
        let work = service.sample(&mut rng);
        // Drawn in both models so the streams stay aligned across models.
        let random_core = rng.random_range(0..cores);
        let core = match model {
            Model::Partitioned => random_core,
            Model::Centralized => earliest(&free_at),
        };
        let start = now.max(free_at[core]);
        free_at[core] = start + work;
        if index >= config.warmup {
            let wait = start - now;
            waited += usize::from(wait > 0.0);
            total_wait += wait;
            run.latencies.push(wait + work);
        }
    }
    if kept > 0 {
        run.waited_fraction = waited as f64 / kept as f64;
        run.mean_wait = total_wait / kept as f64;
    }
    run
}

fn earliest(free_at: &[f64]) -> usize {
    let mut best = 0;
    for (core, &time) in free_at.iter().enumerate().skip(1) {
        if time < free_at[best] {
            best = core;
        }
    }
    best
}

/// The `percentile` (nearest rank) of `values`, reordering them.
pub fn percentile_of(values: &mut [f64], percentile: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = ((values.len() as f64 * percentile).ceil() as usize).clamp(1, values.len());
    *values.select_nth_unstable_by(rank - 1, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queueing::erlang;

    fn exp() -> ServiceDistribution {
        ServiceDistribution::Exponential { mean: 10.0 }
    }

    #[test]
    fn centralized_exponential_matches_erlang_c() {
        let config = SimConfig::new(16);
        for load in [0.5, 0.8, 0.9] {
            let run = simulate(Model::Centralized, &exp(), load, &config);
            let waits = erlang::erlang_c(16, load);
            let mean_wait = erlang::mean_wait(16, load);
            assert!(
                (run.waited_fraction - waits).abs() < 0.01,
                "load {load}: P(wait) {} vs {waits}",
                run.waited_fraction
            );
            assert!(
                (run.mean_wait - mean_wait).abs() < 0.05 * mean_wait + 1e-3,
                "load {load}: W {} vs {mean_wait}",
                run.mean_wait
            );
        }
    }

    #[test]
    fn partitioned_exponential_is_independent_m_m_1_queues() {
        // Random splitting of a Poisson stream gives Poisson streams: each
        // core is M/M/1 with P(wait) = ρ and sojourn ~ Exp(1 − ρ).
        let load = 0.7;
        let mut run = simulate(Model::Partitioned, &exp(), load, &SimConfig::new(4));
        assert!((run.waited_fraction - load).abs() < 0.01);
        let p99 = percentile_of(&mut run.latencies, 0.99);
        let exact = 100f64.ln() / (1.0 - load);
        assert!((p99 - exact).abs() < 0.03 * exact, "{p99} vs {exact}");
    }

    #[test]
    fn fixed_service_at_low_load_barely_waits() {
        let mut run = simulate(
            Model::Centralized,
            &ServiceDistribution::Fixed { mean: 3.0 },
            0.05,
            &SimConfig::new(16),
        );
        assert_eq!(percentile_of(&mut run.latencies, 0.5), 1.0);
        assert!(run.waited_fraction < 1e-3);
    }
}
