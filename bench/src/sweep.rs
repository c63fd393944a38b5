//! Sweeps (`zygos bench sweep`): measure p99 latency at a list of load
//! levels for each scheduler under test, beside the simulated bounds of
//! the ideal centralised and partitioned FCFS models, and report each
//! scheduler's highest load meeting the SLO as a fraction of the M/G/n
//! bound (thesis §6.3.1's "maximum load @ SLO").
//!
//! A scheduler is a [`Target`]: anything that can run one open-loop
//! measurement at a given [`LoadSpec`]. [`LinuxTarget`] drives the Linux
//! baselines over sockets; the dataplane's schedulers plug in the same way.

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::linux::{LinuxScheduler, LinuxServer, LinuxServerConfig};
use crate::loadgen::{LoadReport, LoadSpec, run_load};
use crate::queueing::search::percentile_curve;
use crate::queueing::{Model, SimConfig, Slo, max_load_at_slo};
use crate::stats::analysis::ReportedEstimate;

/// Error of a target, kept as text in the results.
pub type TargetError = Box<dyn std::error::Error + Send + Sync>;

/// A server under test.
pub trait Target {
    /// Name in tables, files and legends (e.g. `linux-floating`).
    fn name(&self) -> String;
    /// Runs one measurement (starting the server on first use).
    fn measure(&mut self, spec: &LoadSpec) -> Result<LoadReport, TargetError>;
}

/// A Linux baseline server on 127.0.0.1 with `cores` threads, loaded by
/// the Linux-socket generator of [`crate::loadgen`].
#[derive(Debug)]
pub struct LinuxTarget {
    scheduler: LinuxScheduler,
    cores: usize,
    server: Option<LinuxServer>,
}

impl LinuxTarget {
    /// A target for `scheduler` on `cores` threads (started lazily).
    pub fn new(scheduler: LinuxScheduler, cores: usize) -> Self {
        LinuxTarget {
            scheduler,
            cores,
            server: None,
        }
    }
}

impl Target for LinuxTarget {
    fn name(&self) -> String {
        self.scheduler.name().to_owned()
    }

    fn measure(&mut self, spec: &LoadSpec) -> Result<LoadReport, TargetError> {
        let server = match &mut self.server {
            Some(server) => server,
            none => none.insert(LinuxServer::start(LinuxServerConfig {
                addr: "127.0.0.1:0".parse()?,
                threads: self.cores,
                scheduler: self.scheduler,
            })?),
        };
        Ok(run_load(server.local_addr(), spec)?)
    }
}

/// What a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Server cores (the bounds are simulated for as many).
    pub cores: usize,
    /// Load levels as fractions of capacity (cores / S̄).
    pub loads: Vec<f64>,
    /// The latency objective.
    pub slo: Slo,
    /// Requests per simulated bound point.
    pub simulated_requests: usize,
    /// The generator run at each point (its rate is set per load; its
    /// service distribution, µs, and seed also drive the simulation).
    pub generator: LoadSpec,
}

impl SweepConfig {
    /// Requests per second at `load`.
    pub fn rate_at(&self, load: f64) -> f64 {
        load * self.cores as f64 * 1e6 / self.generator.service.mean()
    }

    /// The SLO in µs.
    pub fn slo_micros(&self) -> f64 {
        self.slo.multiple * self.generator.service.mean()
    }
}

/// One measured point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Target name.
    pub target: String,
    /// Load level asked for (fraction of capacity).
    pub load: f64,
    /// Requested RPS.
    pub target_rps: f64,
    /// Achieved RPS (0 when the run failed).
    pub achieved_rps: f64,
    /// Checked p99 with its confidence interval, µs, or why not.
    pub p99: ReportedEstimate,
    /// p99 of every measured request (unchecked), µs.
    pub p99_all_requests: Option<f64>,
    /// Latency sampling interval chosen.
    pub sampling_interval: Option<usize>,
    /// Failed run-wide checks and errors, as printed.
    pub problems: Vec<String>,
    /// Sizing warnings.
    pub warnings: Vec<String>,
}

impl SweepPoint {
    /// The checked p99 value, µs.
    pub fn p99_value(&self) -> Option<f64> {
        match &self.p99 {
            ReportedEstimate::Valid(estimate) => Some(estimate.value),
            ReportedEstimate::NotAvailable { .. } => None,
        }
    }
}

/// A simulated bound: p99 (µs) against load for an ideal model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoundCurve {
    /// Kendall label, e.g. `M/G/2/FCFS (simulated)`.
    pub label: String,
    /// The model.
    pub model: Model,
    /// (load, p99 µs) points.
    pub points: Vec<(f64, f64)>,
    /// Highest load meeting the SLO.
    pub max_load_at_slo: f64,
}

/// Per-target headline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetSummary {
    /// Target name.
    pub target: String,
    /// Highest measured load (before the first miss) with a valid p99
    /// within the SLO.
    pub max_load_at_slo: Option<f64>,
    /// That load over the simulated M/G/n bound.
    pub fraction_of_centralized_bound: Option<f64>,
}

/// Everything a sweep produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepResult {
    /// Server cores.
    pub cores: usize,
    /// Service-time distribution (µs), e.g. `exp:10`.
    pub service: String,
    /// SLO on p99, µs.
    pub slo_micros: f64,
    /// Measured points, target by target in load order.
    pub points: Vec<SweepPoint>,
    /// Simulated bounds (centralised, partitioned).
    pub bounds: Vec<BoundCurve>,
    /// Headlines per target.
    pub summaries: Vec<TargetSummary>,
}

/// Loads at which bound curves are simulated.
fn bound_loads() -> Vec<f64> {
    (1..50).map(|i| i as f64 * 0.02).collect()
}

/// Simulates both ideal models for `config`.
pub fn simulate_bounds(config: &SweepConfig) -> Vec<BoundCurve> {
    let sim = SimConfig {
        requests: config.simulated_requests,
        warmup: config.simulated_requests / 20,
        seed: config.generator.seed,
        cores: config.cores,
    };
    [Model::Centralized, Model::Partitioned]
        .into_iter()
        .map(|model| BoundCurve {
            label: format!("{} (simulated)", model.label(config.cores)),
            model,
            points: percentile_curve(
                model,
                &config.generator.service,
                &bound_loads(),
                config.slo.percentile,
                &sim,
            )
            .into_iter()
            .map(|(load, p99)| (load, p99 * config.generator.service.mean()))
            .collect(),
            max_load_at_slo: max_load_at_slo(model, &config.generator.service, &config.slo, &sim),
        })
        .collect()
}

fn point(config: &SweepConfig, target: &mut dyn Target, load: f64) -> SweepPoint {
    let target_rps = config.rate_at(load);
    let mut spec = config.generator.clone();
    spec.arrivals = spec.arrivals.with_rate(target_rps);
    let mut point = SweepPoint {
        target: target.name(),
        load,
        target_rps,
        achieved_rps: 0.0,
        p99: ReportedEstimate::NotAvailable {
            not_available: "not measured".to_owned(),
        },
        p99_all_requests: None,
        sampling_interval: None,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    match target.measure(&spec) {
        Ok(report) => {
            point.achieved_rps = report.achieved_rps;
            point.p99 = report.p99().into();
            point.p99_all_requests = Some(report.histogram.p99);
            point.sampling_interval = report.latency.sampling_interval;
            point.problems = report.failed_checks.iter().map(|c| c.to_string()).collect();
            point.warnings = report.warnings;
        }
        Err(error) => {
            point.p99 = ReportedEstimate::NotAvailable {
                not_available: format!("run failed: {error}"),
            };
            point.problems.push(error.to_string());
        }
    }
    point
}

/// The highest load, scanning up, before the first point without a valid
/// p99 within `slo_micros`.
pub fn max_measured_load(points: &[&SweepPoint], slo_micros: f64) -> Option<f64> {
    points
        .iter()
        .take_while(|p| p.p99_value().is_some_and(|v| v <= slo_micros))
        .map(|p| p.load)
        .last()
}

/// Runs the sweep over `targets` (each in turn, loads ascending) and the
/// simulated bounds, with a progress bar on a terminal.
pub fn run_sweep(config: &SweepConfig, targets: &mut [Box<dyn Target>]) -> SweepResult {
    let mut loads = config.loads.clone();
    loads.sort_by(f64::total_cmp);
    let progress = ProgressBar::new((targets.len() * loads.len()) as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut points = Vec::new();
    for target in targets.iter_mut() {
        for &load in &loads {
            progress.set_message(format!("{} at load {load:.2}", target.name()));
            points.push(point(config, target.as_mut(), load));
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let bounds = simulate_bounds(config);
    let centralized = bounds
        .iter()
        .find(|b| b.model == Model::Centralized)
        .map(|b| b.max_load_at_slo);
    let summaries = targets
        .iter()
        .map(|target| {
            let name = target.name();
            let own: Vec<&SweepPoint> = points.iter().filter(|p| p.target == name).collect();
            let max_load = max_measured_load(&own, config.slo_micros());
            TargetSummary {
                target: name,
                max_load_at_slo: max_load,
                fraction_of_centralized_bound: max_load
                    .zip(centralized)
                    .filter(|(_, bound)| *bound > 0.0)
                    .map(|(load, bound)| load / bound),
            }
        })
        .collect();
    SweepResult {
        cores: config.cores,
        service: config.generator.service.to_string(),
        slo_micros: config.slo_micros(),
        points,
        bounds,
        summaries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::percentile::PercentileEstimate;
    use crate::workload::ServiceDistribution;
    use std::time::Duration;

    fn point(load: f64, p99: Option<f64>) -> SweepPoint {
        SweepPoint {
            target: "t".to_owned(),
            load,
            target_rps: 0.0,
            achieved_rps: 0.0,
            p99: match p99 {
                Some(value) => ReportedEstimate::Valid(PercentileEstimate {
                    percentile: 0.99,
                    value,
                    low: value,
                    high: value,
                }),
                None => ReportedEstimate::NotAvailable {
                    not_available: "x".to_owned(),
                },
            },
            p99_all_requests: None,
            sampling_interval: None,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn max_load_stops_at_the_first_miss_or_na() {
        let points = [
            point(0.1, Some(50.0)),
            point(0.2, Some(80.0)),
            point(0.3, None),
            point(0.4, Some(60.0)),
        ];
        let refs: Vec<&SweepPoint> = points.iter().collect();
        assert_eq!(max_measured_load(&refs, 100.0), Some(0.2));
        assert_eq!(max_measured_load(&refs, 60.0), Some(0.1));
        assert_eq!(max_measured_load(&refs, 10.0), None);
    }

    #[test]
    fn rate_scales_with_cores_and_mean_service_time() {
        let service = ServiceDistribution::Exponential { mean: 10.0 };
        let config = SweepConfig {
            cores: 2,
            loads: vec![],
            slo: Slo::default(),
            simulated_requests: 0,
            generator: LoadSpec::new(1.0, service, Duration::ZERO),
        };
        assert_eq!(config.rate_at(0.5), 100_000.0);
        assert_eq!(config.slo_micros(), 100.0);
    }
}
