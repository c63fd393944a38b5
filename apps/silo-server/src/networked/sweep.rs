//! The offered-load sweep of one server: fresh database, server started,
//! then open-loop TPC-C runs at increasing offered rates (geometric steps)
//! until one misses the SLO, then a few bisection steps between the last
//! rate that met it and the first that did not. A rate that misses is
//! measured again ([`SweepPlan::retries`]) before it counts as a miss. The server's figure is the
//! highest achieved rate that met the SLO (thesis §4.5: "max load @ SLO").
//!
//! A point meets the SLO when the open loop held (every request answered,
//! no request waited for a pipeline slot, the offered rate achieved) and
//! the p99 latency of every measured request is at most the SLO. The
//! Lancet-checked p99 (with its confidence interval, or why it is N/A) is
//! reported beside it but does not decide: on a shared 2-core machine
//! its independence and stationarity checks fail at any load, for every
//! server alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bench::cli::ConnectionArgs;
use bench::loadgen::{ClassLatency, LoadReport, LoadSpec, run_load_with};
use bench::stats::NotAvailable;
use bench::stats::analysis::ReportedEstimate;
use dataplane::counters::CounterSnapshot;
use serde::Serialize;

use super::priority::make_current_thread_fifo;
use super::servers::{RunningServer, ServerKind};
use super::topology::Topology;
use crate::requests::{ClassOutcome, TpccRequests, TpccResponses};
use crate::tpcc::{Scale, Tpcc, check_consistency};

/// How each server is swept.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// Server cores (dataplane cores or Linux threads).
    pub cores: usize,
    /// The population loaded for each server.
    pub scale: Scale,
    /// SLO on the p99 latency, µs.
    pub slo_us: f64,
    /// First offered rate, TPS.
    pub start_tps: f64,
    /// Factor between successive offered rates (> 1).
    pub step: f64,
    /// Most geometric steps per server.
    pub max_steps: usize,
    /// Bisection steps after the first miss.
    pub refine_steps: usize,
    /// Times a missing rate is measured again before it counts as a miss
    /// (a co-tenant's burst on a shared machine can spoil one run).
    pub retries: usize,
    /// Connections and pipeline depth of the generator; the seed of the
    /// loader and of the request stream.
    pub client: ConnectionArgs,
    /// Measured time per point.
    pub duration: Duration,
    /// How long before each send time the generator's sender stops
    /// sleeping and spins.
    pub client_spin: Duration,
    /// SCHED_FIFO priority of the generator's threads (none: the
    /// caller's policy; see [`super::priority`]).
    pub client_fifo: Option<u8>,
    /// `--park-after-us` of the dataplane servers (`None`: they poll).
    pub park_after_us: Option<u64>,
}

impl SweepPlan {
    /// The generator's run at `tps`.
    fn spec(&self, tps: f64) -> LoadSpec {
        let mut spec = LoadSpec::at_slo(tps, self.slo_us, self.duration);
        self.client.apply(&mut spec);
        spec.spin = self.client_spin;
        spec
    }
}

/// One measured point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Offered rate, TPS.
    pub offered_tps: f64,
    /// Achieved send rate, TPS (0 when the run failed).
    pub achieved_tps: f64,
    /// p99 of every measured request, µs.
    pub p99_us: Option<f64>,
    /// Median of every measured request, µs.
    pub p50_us: Option<f64>,
    /// The Lancet-checked p99 with its confidence interval, or why not.
    pub checked_p99: Option<ReportedEstimate>,
    /// Latencies per transaction type.
    pub per_class: Vec<ClassLatency>,
    /// Whether the point met the SLO (module docs).
    pub meets_slo: bool,
    /// Failed checks and errors, as printed.
    pub problems: Vec<String>,
}

/// One server's sweep.
#[derive(Debug, Clone, Serialize)]
pub struct ServerSweep {
    /// Server name (`zygos`, `partitioned`, `linux-floating`...).
    pub server: String,
    /// Points in the order measured.
    pub points: Vec<Point>,
    /// Highest achieved rate meeting the SLO, TPS.
    pub max_tps_at_slo: Option<f64>,
    /// Transaction outcomes over the whole sweep, per type.
    pub outcomes: Vec<ClassOutcome>,
    /// Connections stolen / connection batches run (dataplane only).
    pub steal_share: Option<f64>,
    /// Whether TPC-C's consistency conditions held after the sweep, or
    /// why the sweep could not finish.
    pub verdict: Result<(), String>,
}

/// Whether a run kept the open loop (the failures that mean overload).
fn overloaded(report: &LoadReport) -> bool {
    report.failed_checks.iter().any(|check| {
        matches!(
            check,
            NotAvailable::Unanswered { .. }
                | NotAvailable::PipelineExhausted { .. }
                | NotAvailable::RateNotReached { .. }
        )
    })
}

/// Runs the generator at `tps` on a thread of its own at the plan's
/// priority.
fn generate(
    plan: &SweepPlan,
    addr: SocketAddr,
    tpcc: &Tpcc,
    framer: &TpccResponses,
    tps: f64,
) -> Result<LoadReport, String> {
    let mut requests = TpccRequests::new(tpcc.scale, tpcc.constants, plan.client.seed);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Some(priority) = plan.client_fifo {
                    make_current_thread_fifo(priority).map_err(|e| e.to_string())?;
                }
                run_load_with(addr, &plan.spec(tps), &mut requests, framer)
                    .map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("the load generator panicked".to_owned()))
    })
}

fn measure(
    plan: &SweepPlan,
    addr: SocketAddr,
    tpcc: &Tpcc,
    framer: &TpccResponses,
    tps: f64,
) -> Point {
    match generate(plan, addr, tpcc, framer, tps) {
        Ok(report) => {
            let meets_slo = !overloaded(&report) && report.histogram.p99 <= plan.slo_us;
            Point {
                offered_tps: tps,
                achieved_tps: report.achieved_rps,
                p99_us: Some(report.histogram.p99),
                p50_us: Some(report.histogram.p50),
                checked_p99: Some(report.p99().into()),
                per_class: report.per_class.clone(),
                meets_slo,
                problems: report
                    .failed_checks
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            }
        }
        Err(error) => Point {
            offered_tps: tps,
            achieved_tps: 0.0,
            p99_us: None,
            p50_us: None,
            checked_p99: None,
            per_class: Vec::new(),
            meets_slo: false,
            problems: vec![error],
        },
    }
}

/// The offered rates: geometric until the first miss, then bisection; a
/// rate misses when it misses `1 + plan.retries` times in a row.
fn sweep_rates(plan: &SweepPlan, mut measure_once: impl FnMut(f64) -> bool) {
    let mut measure = |rate| (0..=plan.retries).any(|_| measure_once(rate));
    let mut rate = plan.start_tps;
    let mut met = None;
    for _ in 0..plan.max_steps {
        if !measure(rate) {
            let (mut low, mut high) = (met.unwrap_or(0.0), rate);
            for _ in 0..plan.refine_steps {
                let middle = (low + high) / 2.0;
                if middle < plan.start_tps / 4.0 {
                    return;
                }
                match measure(middle) {
                    true => low = middle,
                    false => high = middle,
                }
            }
            return;
        }
        met = Some(rate);
        rate *= plan.step;
    }
}

/// Loads a database, starts `kind` on it and sweeps it; `progress` sees
/// every point as it is measured.
pub fn sweep_server(
    kind: ServerKind,
    plan: &SweepPlan,
    topology: &Topology,
    mut progress: impl FnMut(&str, &Point),
) -> ServerSweep {
    let name = kind.to_string();
    let mut result = ServerSweep {
        server: name.clone(),
        points: Vec::new(),
        max_tps_at_slo: None,
        outcomes: Vec::new(),
        steal_share: None,
        verdict: Ok(()),
    };
    let tpcc = match Tpcc::load(plan.scale, plan.client.seed) {
        Ok(tpcc) => Arc::new(tpcc),
        Err(error) => {
            result.verdict = Err(format!("loading: {error}"));
            return result;
        }
    };
    let server = match RunningServer::start(kind, plan, topology, Arc::clone(&tpcc)) {
        Ok(server) => server,
        Err(error) => {
            result.verdict = Err(format!("starting: {error}"));
            return result;
        }
    };
    let framer = TpccResponses::default();
    sweep_rates(plan, |tps| {
        let point = measure(plan, server.addr(), &tpcc, &framer, tps);
        progress(&name, &point);
        let met = point.meets_slo;
        result.points.push(point);
        met
    });
    result.max_tps_at_slo = result
        .points
        .iter()
        .filter(|p| p.meets_slo)
        .map(|p| p.achieved_tps)
        .max_by(f64::total_cmp);
    result.outcomes = framer.outcomes();
    match server.stop() {
        Ok(counters) => result.steal_share = counters.as_ref().and_then(steal_share),
        Err(error) => result.verdict = Err(format!("stopping: {error}")),
    }
    if result.verdict.is_ok() {
        result.verdict = check_consistency(&tpcc).map_err(|e| format!("after the sweep: {e}"));
    }
    result
}

fn steal_share(counters: &CounterSnapshot) -> Option<f64> {
    (counters.app_runs > 0).then(|| counters.steals as f64 / counters.app_runs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SweepPlan {
        SweepPlan {
            cores: 2,
            scale: Scale::spec(1),
            slo_us: 1000.0,
            start_tps: 1000.0,
            step: 2.0,
            max_steps: 6,
            refine_steps: 2,
            retries: 0,
            client: ConnectionArgs {
                connections: 8,
                depth: 4,
                seed: 1,
            },
            duration: Duration::from_millis(100),
            client_spin: Duration::from_micros(20),
            client_fifo: None,
            park_after_us: None,
        }
    }

    #[test]
    fn rates_climb_geometrically_then_bisect_below_the_first_miss() {
        let mut offered = Vec::new();
        sweep_rates(&plan(), |tps| {
            offered.push(tps);
            tps <= 5_000.0
        });
        assert_eq!(offered, [1000.0, 2000.0, 4000.0, 8000.0, 6000.0, 5000.0]);
    }

    #[test]
    fn a_first_miss_bisects_down_to_a_quarter_of_the_start() {
        let mut offered = Vec::new();
        sweep_rates(&plan(), |tps| {
            offered.push(tps);
            false
        });
        assert_eq!(offered, [1000.0, 500.0, 250.0]);
        let mut offered = Vec::new();
        sweep_rates(&plan(), |tps| {
            offered.push(tps);
            true
        });
        assert_eq!(offered.len(), 6, "stops after max_steps");
    }

    #[test]
    fn a_miss_is_measured_again_before_it_counts() {
        let plan = SweepPlan {
            retries: 1,
            max_steps: 3,
            refine_steps: 0,
            ..plan()
        };
        let mut offered = Vec::new();
        sweep_rates(&plan, |tps| {
            offered.push(tps);
            // 2000 meets on its second try; 4000 never does.
            tps < 2000.0 || (tps == 2000.0 && offered.len() == 3)
        });
        assert_eq!(offered, [1000.0, 2000.0, 2000.0, 4000.0, 4000.0]);
    }
}
