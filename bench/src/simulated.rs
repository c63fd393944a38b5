//! Scheduler comparisons on the deterministic `sim` platform
//! ([`dataplane::sim`]): the real runtime and netstack on N cores in
//! virtual time, under open-loop Poisson load. Each scheduler's highest
//! load meeting the SLO (p99 ≤ 10 S̄, thesis §6.3.1) is reported as a
//! fraction of the simulated M/G/n/FCFS bound of [`crate::queueing`].
//! Every figure here is SIMULATED, and the output says so.

use dataplane::sched::SchedMode;
use dataplane::sim::{self, FrameNetError, ServiceTime, SimCosts, Steering, WorkloadConfig};
use serde::Serialize;

use crate::queueing::{Model, SimConfig, Slo, max_load_at_slo};
use crate::workload::ServiceDistribution;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Simulated cores.
    pub cores: usize,
    /// Mean of the exponential service time, µs.
    pub mean_us: f64,
    /// Loads (fractions of capacity), ascending.
    pub loads: Vec<f64>,
    /// Schedulers compared.
    pub modes: Vec<SchedMode>,
    /// Connections of the simulated clients.
    pub connections: usize,
    /// Requests each connection sends per load point.
    pub requests_per_connection: usize,
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
    /// p99 latency, µs (none when replies are missing).
    pub p99_us: Option<f64>,
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
    /// Every point.
    pub points: Vec<SimulatedPoint>,
    /// Headlines per scheduler.
    pub summaries: Vec<SimulatedSummary>,
}

/// Requests each simulated connection sends per point of a sim sweep
/// (25 600 requests on 16 cores: about 256 beyond the p99).
const SWEEP_REQUESTS_PER_CONNECTION: usize = 400;

/// Requests simulated per bound evaluation.
const BOUND_REQUESTS: usize = 200_000;

/// Runs every scheduler at every load on the simulator.
pub fn compare(config: &Comparison) -> Result<ComparisonResult, FrameNetError> {
    let slo = Slo::default();
    let slo_micros = slo.multiple * config.mean_us;
    let mut points = Vec::new();
    let mut summaries = Vec::new();
    let service = ServiceDistribution::Exponential {
        mean: config.mean_us,
    };
    let bound = max_load_at_slo(
        Model::Centralized,
        &service,
        &slo,
        &SimConfig {
            requests: BOUND_REQUESTS,
            warmup: BOUND_REQUESTS / 20,
            ..SimConfig::new(config.cores)
        },
    );
    for &mode in &config.modes {
        let mut max_load = None;
        let mut meeting = true;
        for &load in &config.loads {
            let p99_us = simulate_point(config, mode, load)?;
            meeting &= p99_us.is_some_and(|p99| p99 <= slo_micros);
            if meeting {
                max_load = Some(load);
            }
            points.push(SimulatedPoint {
                sched: mode.to_string(),
                load,
                p99_us,
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
        points,
        summaries,
    })
}

/// p99 in µs of one simulated run, or `None` if a reply is missing.
fn simulate_point(
    config: &Comparison,
    mode: SchedMode,
    load: f64,
) -> Result<Option<f64>, FrameNetError> {
    let mean_ns = config.mean_us * 1e3;
    let report = sim::simulate(&sim::SimConfig {
        cores: config.cores,
        mode,
        workload: WorkloadConfig {
            connections: config.connections,
            requests_per_connection: config.requests_per_connection,
            mean_interarrival_ns: mean_ns / (load * config.cores as f64),
            service: ServiceTime::Exponential(mean_ns),
            steering: Steering::Spread,
            split_probability: 0.0,
        },
        costs: config.costs,
        ..sim::SimConfig::default()
    })?;
    if report.answered < report.requests {
        return Ok(None);
    }
    Ok(report.percentile_ns(99.0).map(|ns| ns as f64 / 1e3))
}

/// The comparison as a terminal table, labelled SIMULATED.
pub fn table(result: &ComparisonResult) -> String {
    let mut out = format!(
        "SIMULATED ({} cores on the sim platform, virtual time): {}, SLO p99 <= {:.0} us; \
         M/G/{}/FCFS bound (simulated) max load {:.2}\n",
        result.cores, result.service, result.slo_micros, result.cores, result.bound_max_load
    );
    out.push_str("  sched          load   p99 us (simulated)\n");
    for point in &result.points {
        let p99 = point
            .p99_us
            .map_or_else(|| "N/A (replies missing)".to_owned(), |v| format!("{v:.1}"));
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

/// ZygOS's published max load at the SLO as a fraction of M/G/16 on 16
/// real cores (thesis §6.3.1), for the service distributions it reports.
pub fn published_fraction(service: &ServiceDistribution, cores: usize) -> Option<f64> {
    match (service, cores) {
        (ServiceDistribution::Exponential { mean }, 16) if *mean == 10.0 => Some(0.75),
        (ServiceDistribution::Exponential { mean }, 16) if *mean == 25.0 => Some(0.88),
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
    let ServiceDistribution::Exponential { mean } = service else {
        return Err(format!(
            "the sim platform models fixed and exponential service times only, not {service}"
        ));
    };
    let modes = targets
        .iter()
        .map(|name| name.parse::<SchedMode>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut loads = loads.to_vec();
    loads.sort_by(f64::total_cmp);
    let result = compare(&Comparison {
        cores,
        mean_us: *mean,
        loads,
        modes,
        connections: 4 * cores,
        requests_per_connection: SWEEP_REQUESTS_PER_CONNECTION,
        costs,
    })
    .map_err(|e| format!("simulation: {e}"))?;
    print!("{}", table(&result));
    if let Some(published) = published_fraction(service, cores) {
        println!(
            "  published ZygOS on {cores} real cores, {service}: {:.0}% of the M/G/{cores} bound \
             (thesis §6.3.1; not simulated)",
            published * 100.0
        );
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join(format!(
        "sim-{cores}cores-{}.json",
        service.to_string().replace(':', "-")
    ));
    let json = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
    std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {} (SIMULATED)", path.display());
    Ok(())
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
mod tests {
    use super::*;

    #[test]
    fn stealing_beats_partitioning_on_four_simulated_cores() {
        let result = compare(&Comparison {
            cores: 4,
            mean_us: 10.0,
            loads: vec![0.3, 0.5, 0.7],
            modes: vec![SchedMode::Zygos, SchedMode::Partitioned],
            connections: 16,
            requests_per_connection: 100,
            costs: SimCosts::default(),
        })
        .unwrap();
        assert!(result.simulated);
        assert_eq!(result.points.len(), 6);
        assert!(result.points.iter().all(|p| p.p99_us.is_some()));
        let p99 = |sched: &str, load: f64| {
            let point = result
                .points
                .iter()
                .find(|p| p.sched == sched && p.load == load);
            point.and_then(|p| p.p99_us).unwrap()
        };
        assert!(p99("zygos", 0.7) < p99("partitioned", 0.7));
        assert!(table(&result).contains("SIMULATED"));
    }

    #[test]
    fn the_published_figures_and_unsupported_distributions() {
        let exp = |mean| ServiceDistribution::Exponential { mean };
        assert_eq!(published_fraction(&exp(10.0), 16), Some(0.75));
        assert_eq!(published_fraction(&exp(25.0), 16), Some(0.88));
        assert_eq!(published_fraction(&exp(25.0), 8), None);
        let bimodal = ServiceDistribution::Bimodal1 { mean: 10.0 };
        let dir = std::env::temp_dir();
        let error = sweep(
            &["zygos".to_owned()],
            2,
            &[0.5],
            &bimodal,
            SimCosts::default(),
            &dir,
        );
        assert!(error.unwrap_err().contains("bimodal-1"));
    }
}
