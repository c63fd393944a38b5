//! Scheduler comparisons on the deterministic `sim` platform
//! ([`dataplane::sim`]): the real runtime and netstack on N cores in
//! virtual time, under open-loop Poisson load. Each scheduler's highest
//! load meeting the SLO (p99 ≤ 10 S̄, thesis §6.3.1) is reported as a
//! fraction of the simulated M/G/n/FCFS bound of [`crate::queueing`],
//! beside ZygOS's published figure when the thesis gives one
//! ([`published`]). Every figure here is SIMULATED, and the output says so.
//!
//! A point is simulated [`Comparison::replications`] times with different
//! seeds; its p99 is the median of the replications' p99s, with the
//! distribution-free interval of [`replicated_p99`]. [`agreement`] checks
//! the simulator's prediction against a real run of the same sweep.

pub mod agreement;
mod replication;

use dataplane::sched::SchedMode;
use dataplane::sim::{
    self, EmpiricalError, EmpiricalServiceTime, FrameNetError, ServiceTime, SimCosts, Steering,
    WorkloadConfig,
};
use serde::Serialize;

use crate::queueing::{Model, SimConfig, Slo, max_load_at_slo};
use crate::stats::percentile::PercentileEstimate;
use crate::workload::ServiceDistribution;
pub use replication::{replicated_p99, replication_confidence};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Simulated cores.
    pub cores: usize,
    /// Service-time distribution (µs); see [`sim_service_time`].
    pub service: ServiceDistribution,
    /// Loads (fractions of capacity), ascending.
    pub loads: Vec<f64>,
    /// Schedulers compared.
    pub modes: Vec<SchedMode>,
    /// Connections of the simulated clients.
    pub connections: usize,
    /// Requests each connection sends per load point.
    pub requests_per_connection: usize,
    /// Independent runs (seeds 1..=replications) per point.
    pub replications: usize,
    /// The runtime's virtual-time costs.
    pub costs: SimCosts,
}

/// One simulated point.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedPoint {
    /// Scheduler.
    pub sched: String,
    /// Load (fraction of capacity).
    pub load: f64,
    /// p99 latency, µs: the median over the replications, with its
    /// interval (`None` when a replication lost replies).
    pub p99: Option<PercentileEstimate>,
}

impl SimulatedPoint {
    /// The p99 value, µs.
    pub fn p99_us(&self) -> Option<f64> {
        self.p99.map(|p99| p99.value)
    }
}

/// A scheduler's headline.
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedSummary {
    /// Scheduler.
    pub sched: String,
    /// Highest simulated load meeting the SLO (none if the lowest fails).
    pub max_load_at_slo: Option<f64>,
    /// That load over the M/G/n bound's.
    pub fraction_of_bound: Option<f64>,
}

/// The simulated comparison's results.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonResult {
    /// Always true: these figures come from the simulator.
    pub simulated: bool,
    /// Simulated cores.
    pub cores: usize,
    /// Service distribution, e.g. `exp:10`.
    pub service: String,
    /// SLO on p99, µs.
    pub slo_micros: f64,
    /// Max load at the SLO of the ideal M/G/n/FCFS model (simulated).
    pub bound_max_load: f64,
    /// The virtual-time costs the runtime was charged.
    pub costs: SimCosts,
    /// Runs per point.
    pub replications: usize,
    /// Every point.
    pub points: Vec<SimulatedPoint>,
    /// Headlines per scheduler.
    pub summaries: Vec<SimulatedSummary>,
}

/// Requests each simulated connection sends per point of a sim sweep
/// (25 600 requests on 16 cores: about 256 beyond the p99).
const SWEEP_REQUESTS_PER_CONNECTION: usize = 400;

/// Runs per point of a sim sweep (interval confidence 1 − 2^(1−5) ≈ 94%).
const SWEEP_REPLICATIONS: usize = 5;

/// Requests simulated per bound evaluation.
const BOUND_REQUESTS: usize = 200_000;

/// Why a comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulatedError {
    /// Measured service times the sim's clients cannot draw from.
    #[error("service times: {0}")]
    Service(#[from] EmpiricalError),
    /// A scheduler name the dataplane does not know.
    #[error("{0}")]
    UnknownScheduler(String),
    /// The simulated network could not be built.
    #[error("simulation: {0}")]
    Network(#[from] FrameNetError),
    /// The results could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The sim's service time for `service` (µs to ns, rounded); the bimodal
/// shapes are the thesis' (§6.3.1, DESIGN.md "Measuring"), and measured
/// samples become the sim's table of them.
pub fn sim_service_time(service: &ServiceDistribution) -> Result<ServiceTime, SimulatedError> {
    let bimodal = |mean: f64, long_factor: f64, long_probability: f64| ServiceTime::Bimodal {
        short_ns: ns(mean / 2.0),
        long_ns: ns(mean * long_factor),
        long_probability,
    };
    match service {
        ServiceDistribution::Fixed { mean } => Ok(ServiceTime::Fixed(ns(*mean))),
        ServiceDistribution::Exponential { mean } => Ok(ServiceTime::Exponential(mean * 1e3)),
        ServiceDistribution::Bimodal1 { mean } => Ok(bimodal(*mean, 5.5, 0.1)),
        ServiceDistribution::Bimodal2 { mean } => Ok(bimodal(*mean, 500.5, 0.001)),
        ServiceDistribution::Empirical { samples } => {
            Ok(ServiceTime::Empirical(sim_service_table(samples)?))
        }
    }
}

/// The sim's table of measured service times for `samples_us` (µs to ns,
/// rounded).
pub fn sim_service_table(samples_us: &[f64]) -> Result<EmpiricalServiceTime, EmpiricalError> {
    EmpiricalServiceTime::from_samples(samples_us.iter().map(|&us| ns(us)))
}

/// µs to the sim's whole ns.
fn ns(us: f64) -> u64 {
    (us * 1e3).round() as u64
}

/// Runs every scheduler at every load on the simulator.
pub fn compare(config: &Comparison) -> Result<ComparisonResult, SimulatedError> {
    let slo = Slo::default();
    let service = &config.service;
    let sim_service = sim_service_time(service)?;
    let slo_micros = slo.multiple * service.mean();
    let bound = max_load_at_slo(
        Model::Centralized,
        service,
        &slo,
        &SimConfig {
            requests: BOUND_REQUESTS,
            warmup: BOUND_REQUESTS / 20,
            ..SimConfig::new(config.cores)
        },
    );
    let mut points = Vec::new();
    let mut summaries = Vec::new();
    for &mode in &config.modes {
        let mut max_load = None;
        let mut meeting = true;
        for &load in &config.loads {
            let p99 = simulate_point(config, &sim_service, mode, load)?;
            meeting &= p99.is_some_and(|p99| p99.value <= slo_micros);
            if meeting {
                max_load = Some(load);
            }
            points.push(SimulatedPoint {
                sched: mode.to_string(),
                load,
                p99,
            });
        }
        summaries.push(SimulatedSummary {
            sched: mode.to_string(),
            max_load_at_slo: max_load,
            fraction_of_bound: max_load.map(|load| load / bound),
        });
    }
    Ok(ComparisonResult {
        simulated: true,
        cores: config.cores,
        service: service.to_string(),
        slo_micros,
        bound_max_load: bound,
        costs: config.costs,
        replications: config.replications,
        points,
        summaries,
    })
}

/// p99 in µs of one point over its replications, or `None` if a
/// replication lost replies.
fn simulate_point(
    config: &Comparison,
    service: &ServiceTime,
    mode: SchedMode,
    load: f64,
) -> Result<Option<PercentileEstimate>, FrameNetError> {
    let mean_interarrival_ns = service.mean_ns() / (load * config.cores as f64);
    let requests = (config.connections * config.requests_per_connection) as f64;
    // Room for the arrivals twice over, and a second to drain.
    let max_virtual_ns = (2.0 * requests * mean_interarrival_ns) as u64 + 1_000_000_000;
    let mut p99s = Vec::with_capacity(config.replications);
    for seed in 1..=config.replications.max(1) as u64 {
        let report = sim::simulate(&sim::SimConfig {
            cores: config.cores,
            mode,
            seed,
            workload: WorkloadConfig {
                connections: config.connections,
                requests_per_connection: config.requests_per_connection,
                mean_interarrival_ns,
                service: service.clone(),
                steering: Steering::Spread,
                split_probability: 0.0,
            },
            costs: config.costs,
            max_virtual_ns,
            ..sim::SimConfig::default()
        })?;
        let p99 = report.percentile_ns(99.0);
        match p99.filter(|_| report.answered == report.requests) {
            Some(ns) => p99s.push(ns as f64 / 1e3),
            None => return Ok(None),
        }
    }
    Ok(replicated_p99(&mut p99s))
}

/// The comparison as a terminal table, labelled SIMULATED.
pub fn table(result: &ComparisonResult) -> String {
    let mut out = format!(
        "SIMULATED ({} cores on the sim platform, virtual time): {}, SLO p99 <= {:.0} us; \
         M/G/{}/FCFS bound (simulated) max load {:.2}\n",
        result.cores, result.service, result.slo_micros, result.cores, result.bound_max_load
    );
    let replicated = result.replications > 1;
    out.push_str(&if replicated {
        format!(
            "  sched          load   p99 us (SIMULATED; median of {} seeds [min, max], a {:.0}% interval)\n",
            result.replications,
            100.0 * replication_confidence(result.replications)
        )
    } else {
        "  sched          load   p99 us (SIMULATED; one seed)\n".to_owned()
    });
    for point in &result.points {
        let p99 = point.p99.map_or_else(
            || "N/A (replies missing)".to_owned(),
            |v| match replicated {
                true => v.to_string(),
                false => format!("{:.1}", v.value),
            },
        );
        out.push_str(&format!(
            "  {:<13} {:>5.2}   {p99}\n",
            point.sched, point.load
        ));
    }
    for summary in &result.summaries {
        let (load, fraction) = match (summary.max_load_at_slo, summary.fraction_of_bound) {
            (Some(load), Some(fraction)) => {
                (format!("{load:.2}"), format!("{:.0}%", fraction * 100.0))
            }
            _ => ("none".to_owned(), "N/A".to_owned()),
        };
        out.push_str(&format!(
            "  SIMULATED {:<13} max load @ SLO {load}  = {fraction} of the M/G/{} bound\n",
            summary.sched, result.cores
        ));
    }
    out
}

/// ZygOS's published efficiency on 16 real cores (thesis §6.3.1): max
/// load at the SLO as a fraction of the centralised-FCFS bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Published {
    /// The fraction.
    pub fraction: f64,
    /// Whether the thesis gives it as a lower bound ("≥ 90% for tasks ≥
    /// 40 µs") rather than a measured value.
    pub at_least: bool,
}

impl std::fmt::Display for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at_least = if self.at_least { ">= " } else { "" };
        write!(f, "{at_least}{:.0}%", self.fraction * 100.0)
    }
}

/// The published figure for `service` on `cores` cores: 75% (exp 10 µs)
/// and 88% (exp 25 µs) from Figure 6.6, and Figure 6.7's "90% of the
/// bound for tasks ≥ 30 µs (fixed), ≥ 40 µs (exp, bimodal-1)". The thesis
/// gives no number for other cases (bimodal-1 at 10 or 25 µs only as a
/// plot).
pub fn published(service: &ServiceDistribution, cores: usize) -> Option<Published> {
    if cores != 16 {
        return None;
    }
    let measured = |fraction| Published {
        fraction,
        at_least: false,
    };
    let at_least = Published {
        fraction: 0.9,
        at_least: true,
    };
    match *service {
        ServiceDistribution::Exponential { mean: 10.0 } => Some(measured(0.75)),
        ServiceDistribution::Exponential { mean: 25.0 } => Some(measured(0.88)),
        ServiceDistribution::Exponential { mean } | ServiceDistribution::Bimodal1 { mean }
            if mean >= 40.0 =>
        {
            Some(at_least)
        }
        ServiceDistribution::Fixed { mean } if mean >= 30.0 => Some(at_least),
        _ => None,
    }
}

/// `zygos bench sweep --platform sim`: the dataplane schedulers among
/// `targets` on `cores` simulated cores at `loads`, with `costs`; prints
/// the SIMULATED table and the published figure beside, writes JSON.
pub fn sweep(
    targets: &[String],
    cores: usize,
    loads: &[f64],
    service: &ServiceDistribution,
    costs: SimCosts,
    out: &std::path::Path,
) -> Result<(), String> {
    let run = || -> Result<(), SimulatedError> {
        let modes = parse_modes(targets).map_err(SimulatedError::UnknownScheduler)?;
        let mut loads = loads.to_vec();
        loads.sort_by(f64::total_cmp);
        let result = compare(&Comparison {
            cores,
            service: service.clone(),
            loads,
            modes,
            connections: 4 * cores,
            requests_per_connection: SWEEP_REQUESTS_PER_CONNECTION,
            replications: SWEEP_REPLICATIONS,
            costs,
        })?;
        print!("{}", table(&result));
        match published(service, cores) {
            Some(figure) => println!(
                "  published ZygOS on {cores} real cores, {service}: {figure} of the M/G/{cores} \
                 bound (thesis §6.3.1; measured on hardware, not simulated)"
            ),
            None => {
                println!(
                    "  published ZygOS on {cores} real cores, {service}: no figure in the thesis"
                )
            }
        }
        let name = format!(
            "sim-{cores}cores-{}.json",
            service.to_string().replace(':', "-")
        );
        let path = write_json(out, &name, &result)?;
        println!("wrote {} (SIMULATED)", path.display());
        Ok(())
    };
    run().map_err(|e| e.to_string())
}

/// Writes `value` as JSON to `dir/name`, creating `dir`; returns the path.
pub(crate) fn write_json(
    dir: &std::path::Path,
    name: &str,
    value: &impl Serialize,
) -> Result<std::path::PathBuf, SimulatedError> {
    let path = dir.join(name);
    let error = |path: &std::path::Path| {
        let path = path.to_owned();
        move |source| SimulatedError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(error(dir))?;
    let json = serde_json::to_string_pretty(value).map_err(std::io::Error::from);
    std::fs::write(&path, json.map_err(error(&path))?).map_err(error(&path))?;
    Ok(path)
}

/// The dataplane schedulers named in `targets`, or the first unknown
/// name's error.
pub fn parse_modes(targets: &[String]) -> Result<Vec<SchedMode>, String> {
    targets
        .iter()
        .map(|name| name.parse::<SchedMode>().map_err(|e| e.to_string()))
        .collect()
}

/// Where `zygos bench sweep` runs the schedulers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SweepPlatform {
    /// Real servers on this machine.
    #[default]
    Real,
    /// The dataplane on the deterministic `sim` platform (simulated).
    Sim,
}

#[cfg(test)]
mod tests;
