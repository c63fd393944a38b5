//! The sim-vs-real agreement check (`zygos bench agree`): the same sweep
//! (schedulers, cores, service distribution, loads) run on the `sim`
//! platform with the calibrated cost table and on the real `process`
//! platform over the shm NIC, both p99 curves printed with their 95%
//! intervals, and per point whether the intervals overlap.
//!
//! The simulated p99 is the median over [`AgreementArgs::replications`]
//! seeds with its [min, max] interval ([`super::replicated_p99`]); the real
//! one is Lancet's checked estimate with its order-statistics interval
//! ([`crate::sweep`]), or N/A when a check failed. The simulated clients
//! open as many connections as the real generator, and send as many
//! requests per point as it does at the highest load. A real run
//! needs one CPU per dataplane core plus one for the generator; on a
//! smaller machine it still runs, and the output says its figures
//! measure CPU sharing.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use dataplane::sim::SimCosts;
use serde::Serialize;

use super::{Comparison, ComparisonResult, SimulatedError, compare, parse_modes, write_json};
use crate::calibrate::load_costs;
use crate::cli::parse_duration;
use crate::dataplane_target::DataplaneTarget;
use crate::loadgen::LoadSpec;
use crate::queueing::Slo;
use crate::stats::analysis::ReportedEstimate;
use crate::stats::percentile::PercentileEstimate;
use crate::sweep::{SweepConfig, SweepResult, Target, run_sweep};
use crate::workload::ServiceDistribution;

/// Arguments of `zygos bench agree`.
#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// Dataplane cores, real and simulated.
    #[arg(long, default_value_t = 2)]
    pub cores: usize,
    /// Schedulers, comma-separated (zygos, zygos-noipi, partitioned).
    #[arg(long, value_delimiter = ',', default_value = "zygos,partitioned")]
    pub targets: Vec<String>,
    /// Service-time distribution, mean in µs.
    #[arg(long, default_value = "exp:25")]
    pub dist: ServiceDistribution,
    /// Load levels as fractions of capacity, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.2,0.4,0.6")]
    pub loads: Vec<f64>,
    /// Measured duration of each real point.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Cost table from `zygos bench calibrate` (the sim's defaults, said
    /// so, when the file does not exist).
    #[arg(long, default_value = "results/costs.json")]
    pub costs: PathBuf,
    /// Connections of the real generator and of the simulated clients.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Outstanding requests per real connection (enough slots to keep the
    /// loop open through this VM's host stalls of up to ~30 ms).
    #[arg(long, default_value_t = 16)]
    pub depth: usize,
    /// Simulated runs (seeds) per point.
    #[arg(long, default_value_t = 5)]
    pub replications: usize,
    /// Directory of the JSON output.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
}

/// Whether one point's simulated and real p99 agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The two intervals overlap.
    Agree,
    /// They do not.
    Disagree,
    /// One of the two has no p99 (the real checks failed, or replies were
    /// missing in the simulation).
    NotComparable,
}

/// One point of both runs.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementPoint {
    /// Scheduler.
    pub sched: String,
    /// Load (fraction of capacity).
    pub load: f64,
    /// SIMULATED p99, µs, with its interval.
    pub simulated_p99: Option<PercentileEstimate>,
    /// Real p99, µs, with its interval, or why there is none.
    pub real_p99: ReportedEstimate,
    /// Whether they agree.
    pub verdict: Verdict,
}

/// Both runs and the verdicts.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// The simulated sweep (labelled simulated).
    pub simulated: ComparisonResult,
    /// The real sweep.
    pub real: SweepResult,
    /// Point by point.
    pub points: Vec<AgreementPoint>,
    /// Entries of the cost table measured on this machine (the others
    /// were the sim's defaults).
    pub measured_costs: Vec<String>,
}

/// Whether two intervals overlap.
pub fn verdict(simulated: Option<&PercentileEstimate>, real: &ReportedEstimate) -> Verdict {
    match (simulated, real) {
        (Some(sim), ReportedEstimate::Valid(real)) => {
            if sim.low <= real.high && real.low <= sim.high {
                Verdict::Agree
            } else {
                Verdict::Disagree
            }
        }
        _ => Verdict::NotComparable,
    }
}

/// Pairs the two sweeps' points.
pub fn pair_points(simulated: &ComparisonResult, real: &SweepResult) -> Vec<AgreementPoint> {
    simulated
        .points
        .iter()
        .map(|sim| {
            let real_p99 = real
                .points
                .iter()
                .find(|p| p.target == sim.sched && p.load == sim.load)
                .map_or_else(
                    || ReportedEstimate::NotAvailable {
                        not_available: "not run".to_owned(),
                    },
                    |p| p.p99.clone(),
                );
            AgreementPoint {
                sched: sim.sched.clone(),
                load: sim.load,
                verdict: verdict(sim.p99.as_ref(), &real_p99),
                simulated_p99: sim.p99,
                real_p99,
            }
        })
        .collect()
}

/// The terminal table of both curves.
pub fn table(agreement: &Agreement) -> String {
    let sim = &agreement.simulated;
    let mut out = format!(
        "sim vs real, {} cores, {}, SLO p99 <= {:.0} us. SIMULATED: median of {} seeds \
         [min, max]; REAL: Lancet p99 [95% order-statistics interval]\n",
        sim.cores, sim.service, sim.slo_micros, sim.replications
    );
    out.push_str(
        "  sched          load   SIMULATED p99 us        REAL p99 us             agree?\n",
    );
    for point in &agreement.points {
        let simulated = point
            .simulated_p99
            .map_or_else(|| "N/A (replies missing)".to_owned(), |p| p.to_string());
        let real = match &point.real_p99 {
            ReportedEstimate::Valid(p) => p.to_string(),
            ReportedEstimate::NotAvailable { not_available } => format!("N/A ({not_available})"),
        };
        let verdict = match point.verdict {
            Verdict::Agree => "yes",
            Verdict::Disagree => "NO",
            Verdict::NotComparable => "n/a",
        };
        out.push_str(&format!(
            "  {:<13} {:>5.2}   {simulated:<22}  {real:<22}  {verdict}\n",
            point.sched, point.load
        ));
    }
    let count = |v| agreement.points.iter().filter(|p| p.verdict == v).count();
    out.push_str(&format!(
        "  {} of {} points agree, {} disagree, {} not comparable\n",
        count(Verdict::Agree),
        agreement.points.len(),
        count(Verdict::Disagree),
        count(Verdict::NotComparable)
    ));
    out
}

/// Requests each simulated connection sends so the simulation has as
/// many requests as the real run at `load` (at least 100 per connection;
/// lower loads simulate as many requests, over a longer time).
fn requests_per_connection(args: &AgreementArgs, spec: &LoadSpec, load: f64) -> usize {
    let rate = load * args.cores as f64 * 1e6 / args.dist.mean();
    let requests = rate * args.duration.as_secs_f64();
    ((requests / spec.connections.max(1) as f64).ceil() as usize).max(100)
}

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    /// A scheduler name the dataplane does not know.
    #[error("{0}")]
    UnknownScheduler(String),
    /// The cost table exists but cannot be read.
    #[error(transparent)]
    Costs(#[from] crate::calibrate::CalibrateError),
    /// The simulation failed, or the results could not be written.
    #[error(transparent)]
    Simulated(#[from] SimulatedError),
}

/// Runs both sweeps, prints both curves and the verdicts, writes JSON.
pub fn run(args: &AgreementArgs) -> Result<Agreement, AgreementError> {
    let modes = parse_modes(&args.targets).map_err(AgreementError::UnknownScheduler)?;
    let (costs, measured_costs) = if args.costs.exists() {
        let table = load_costs(&args.costs)?;
        (table.costs, table.measured)
    } else {
        println!(
            "{} not found: the sim runs on its DEFAULT costs (run `zygos bench calibrate`)",
            args.costs.display()
        );
        (SimCosts::default(), Vec::new())
    };
    let mut loads = args.loads.clone();
    loads.sort_by(f64::total_cmp);
    let mut spec = LoadSpec::new(1.0, args.dist.clone(), args.duration);
    spec.connections = args.connections;
    spec.depth = args.depth;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.cores + 1 > cpus {
        println!(
            "REAL RUN: {} busy-polling dataplane cores + 1 generator on {cpus} CPUs: they share \
             CPUs, so the real figures include time-sharing the sim does not model",
            args.cores
        );
    }
    let highest = loads.last().copied().unwrap_or(0.0);
    let simulated = compare(&Comparison {
        cores: args.cores,
        service: args.dist.clone(),
        loads: loads.clone(),
        modes: modes.clone(),
        connections: spec.connections,
        requests_per_connection: requests_per_connection(args, &spec, highest),
        replications: args.replications,
        costs,
    })?;
    let mut targets: Vec<Box<dyn Target>> = modes
        .iter()
        .map(|&mode| Box::new(DataplaneTarget::new(mode, args.cores)) as Box<dyn Target>)
        .collect();
    let real = run_sweep(
        &SweepConfig {
            cores: args.cores,
            loads,
            slo: Slo::default(),
            simulated_requests: 200_000,
            generator: spec,
        },
        &mut targets,
    );
    let points = pair_points(&simulated, &real);
    let agreement = Agreement {
        simulated,
        real,
        points,
        measured_costs,
    };
    print!("{}", table(&agreement));
    let name = format!(
        "agree-{}cores-{}.json",
        args.cores,
        args.dist.to_string().replace(':', "-")
    );
    let path = write_json(&args.out, &name, &agreement)?;
    println!("wrote {} (simulated and real)", path.display());
    Ok(agreement)
}

#[cfg(test)]
mod tests;
