//! The 16-core prediction (SIMULATED): the dataplane's schedulers on the
//! deterministic `sim` platform ([`dataplane::sim`]: the real runtime,
//! shuffle and netstack in virtual time) serving requests whose service
//! times follow the TPC-C distribution measured by the standalone mode
//! ([`crate::standalone`]), each scheduler's highest load meeting the SLO
//! reported as a fraction of the M/G/16/FCFS bound ([`bench::queueing`]).
//!
//! The sim's clients draw each request's service time from the measured
//! samples themselves ([`dataplane::sim::ServiceTime::Empirical`]), and
//! the M/G/16 bound is simulated for the same samples, so the fractions
//! compare like with like.
//!
//! The SLO keeps the thesis' ratio to the mean service time: ZygOS's
//! 1000 µs is 30.3 × Silo's 33 µs mean (thesis §4.5), so the SLO here is
//! 30.3 × the measured mean.

use std::path::Path;

use bench::queueing::{Model, SimConfig as QueueConfig, Slo, max_load_at_slo};
use bench::simulated::sim_service_table;
use bench::workload::{ServiceDistribution, WorkloadError};
use dataplane::sched::SchedMode;
use dataplane::sim::{
    self, EmpiricalError, FrameNetError, ServiceTime, SimCosts, Steering, WorkloadConfig,
};
use hdrhistogram::Histogram;
use serde::Serialize;

/// The thesis' SLO over Silo's mean service time: 1000 µs / 33 µs.
pub const SLO_OVER_MEAN: f64 = 1000.0 / 33.0;

/// Bisection steps of each scheduler's max load (to 1/64 of capacity).
const LOAD_STEPS: usize = 6;
/// The lightest load tried: idle simulated cores still step through
/// virtual time, so very light loads cost much simulation for nothing.
const LIGHTEST_LOAD: f64 = 0.1;
/// Requests simulated per bound evaluation.
const BOUND_REQUESTS: usize = 200_000;

/// Why the prediction could not run.
#[derive(Debug, thiserror::Error)]
pub enum PredictionError {
    /// The service-time file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A line of the file is not `service_ns,count`.
    #[error("{path} line {line}: expected service_ns,count, got {text:?}")]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The text.
        text: String,
    },
    /// No usable service times.
    #[error("service times: {0}")]
    Samples(#[from] WorkloadError),
    /// The sim's clients cannot draw from the service times.
    #[error("service times for the sim: {0}")]
    SimSamples(#[from] EmpiricalError),
    /// The simulated network failed.
    #[error("simulation: {0}")]
    Sim(#[from] FrameNetError),
}

/// Expands `(value_ns, count)` pairs into samples in µs.
fn expand(pairs: impl Iterator<Item = (u64, u64)>) -> Vec<f64> {
    let mut samples = Vec::new();
    for (ns, count) in pairs {
        samples.extend(std::iter::repeat_n(ns as f64 / 1e3, count as usize));
    }
    samples
}

/// The samples (µs) of a standalone run's histogram.
pub fn samples_from_histogram(histogram: &Histogram<u64>) -> Vec<f64> {
    expand(
        histogram
            .iter_recorded()
            .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value())),
    )
}

/// Reads the CSV `zygos bench silo-standalone --service-times-out` writes
/// (`service_ns,count` rows after a header); samples in µs.
pub fn read_service_times(path: &Path) -> Result<Vec<f64>, PredictionError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PredictionError::Read {
        path: name.clone(),
        source,
    })?;
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate().skip(1) {
        let parsed = line
            .split_once(',')
            .and_then(|(ns, count)| Some((ns.trim().parse().ok()?, count.trim().parse().ok()?)));
        match parsed {
            Some(pair) => pairs.push(pair),
            None if line.trim().is_empty() => {}
            None => {
                return Err(PredictionError::BadLine {
                    path: name,
                    line: index + 1,
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(expand(pairs.into_iter()))
}

/// What to predict.
#[derive(Debug, Clone)]
pub struct PredictionPlan {
    /// Simulated cores.
    pub cores: usize,
    /// Schedulers.
    pub modes: Vec<SchedMode>,
    /// Requests per simulated connection (4 connections per core).
    pub requests_per_connection: usize,
    /// The runtime's virtual-time costs.
    pub costs: SimCosts,
}

/// One scheduler's predicted headline.
#[derive(Debug, Clone, Serialize)]
pub struct PredictedScheduler {
    /// Scheduler.
    pub sched: String,
    /// Highest load (fraction of capacity) meeting the SLO.
    pub max_load: f64,
    /// Every load the bisection tried met the SLO: the true maximum may
    /// be higher (up to 1).
    pub at_search_ceiling: bool,
    /// That over the M/G/n bound of the measured distribution.
    pub fraction_of_bound: f64,
    /// The same load in TPS on the simulated cores.
    pub tps: f64,
}

/// The prediction's results; every figure is simulated.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Always true.
    pub simulated: bool,
    /// Simulated cores.
    pub cores: usize,
    /// Measured service times the sim's clients draw from.
    pub samples: u64,
    /// How many distinct values they take (at the sim's 1 ns resolution).
    pub distinct_samples: usize,
    /// Their mean, p50 and p99, µs.
    pub measured_mean_us: f64,
    /// Median.
    pub measured_p50_us: f64,
    /// 99th percentile.
    pub measured_p99_us: f64,
    /// SLO on p99, µs ([`SLO_OVER_MEAN`] × the mean).
    pub slo_us: f64,
    /// M/G/n/FCFS max load at the SLO for the measured distribution.
    pub bound: f64,
    /// Per scheduler.
    pub schedulers: Vec<PredictedScheduler>,
}

/// Whether `mode` meets `slo_ns` at `load` on the simulator.
fn sim_meets(
    plan: &PredictionPlan,
    mode: SchedMode,
    service: &ServiceTime,
    load: f64,
    slo_ns: f64,
) -> Result<bool, FrameNetError> {
    let mean_interarrival_ns = service.mean_ns() / (load * plan.cores as f64);
    let requests = 4 * plan.cores * plan.requests_per_connection;
    let report = sim::simulate(&sim::SimConfig {
        cores: plan.cores,
        mode,
        workload: WorkloadConfig {
            connections: 4 * plan.cores,
            requests_per_connection: plan.requests_per_connection,
            mean_interarrival_ns,
            service: service.clone(),
            steering: Steering::Spread,
            split_probability: 0.0,
        },
        costs: plan.costs,
        // Room for the arrivals and a drain four times as long.
        max_virtual_ns: (5.0 * requests as f64 * mean_interarrival_ns) as u64 + 10_000_000,
        ..sim::SimConfig::default()
    })?;
    Ok(report.answered == report.requests
        && report
            .percentile_ns(99.0)
            .is_some_and(|p99| p99 as f64 <= slo_ns))
}

/// The highest load in [[`LIGHTEST_LOAD`], 1) where `meets` holds, by
/// bisection; 0 when even the lightest misses. `meets` is monotone in load
/// up to simulation noise.
fn highest_load(
    mut meets: impl FnMut(f64) -> Result<bool, FrameNetError>,
) -> Result<f64, FrameNetError> {
    if !meets(LIGHTEST_LOAD)? {
        return Ok(0.0);
    }
    let (mut low, mut high) = (LIGHTEST_LOAD, 1.0);
    for _ in 0..LOAD_STEPS {
        let middle = (low + high) / 2.0;
        match meets(middle)? {
            true => low = middle,
            false => high = middle,
        }
    }
    Ok(low)
}

/// The highest load [`highest_load`] can return.
fn search_ceiling() -> f64 {
    1.0 - (1.0 - LIGHTEST_LOAD) / f64::from(1u32 << LOAD_STEPS)
}

/// Runs the prediction for the measured `samples` (µs).
pub fn predict(samples: Vec<f64>, plan: &PredictionPlan) -> Result<Prediction, PredictionError> {
    let measured = ServiceDistribution::empirical(samples.clone())?;
    let table = sim_service_table(&samples)?;
    let mean_us = measured.mean();
    let slo_us = SLO_OVER_MEAN * mean_us;
    let queue = QueueConfig {
        requests: BOUND_REQUESTS,
        warmup: BOUND_REQUESTS / 20,
        ..QueueConfig::new(plan.cores)
    };
    let slo = Slo {
        percentile: 0.99,
        multiple: SLO_OVER_MEAN,
    };
    let bound = max_load_at_slo(Model::Centralized, &measured, &slo, &queue);
    let quantile_us = |quantile| table.quantile_ns(quantile) as f64 / 1e3;
    let (samples, distinct_samples) = (table.total(), table.distinct());
    let (measured_p50_us, measured_p99_us) = (quantile_us(0.5), quantile_us(0.99));
    let service = ServiceTime::Empirical(table);
    let mut schedulers = Vec::new();
    for &mode in &plan.modes {
        let max_load = highest_load(|load| sim_meets(plan, mode, &service, load, slo_us * 1e3))?;
        schedulers.push(PredictedScheduler {
            sched: mode.to_string(),
            max_load,
            at_search_ceiling: max_load >= search_ceiling(),
            fraction_of_bound: max_load / bound,
            tps: max_load * plan.cores as f64 * 1e6 / mean_us,
        });
    }
    Ok(Prediction {
        simulated: true,
        cores: plan.cores,
        samples,
        distinct_samples,
        measured_mean_us: mean_us,
        measured_p50_us,
        measured_p99_us,
        slo_us,
        bound,
        schedulers,
    })
}

/// The prediction as a terminal table, labelled SIMULATED.
pub fn table(prediction: &Prediction) -> String {
    let mut out = format!(
        "SIMULATED: {} cores on the sim platform (virtual time), TPC-C service times measured \
         standalone ({} transactions: mean {:.1} us, p50 {:.1}, p99 {:.1})\n\
         SIMULATED: the sim's clients draw each request's service time from those measurements \
         ({} distinct values); SLO p99 <= {:.0} us ({SLO_OVER_MEAN:.1} x the mean, the thesis' \
         1000 us over Silo's 33 us)\n\
         SIMULATED: M/G/{}/FCFS max load at the SLO for the measured distribution: {:.3}\n",
        prediction.cores,
        prediction.samples,
        prediction.measured_mean_us,
        prediction.measured_p50_us,
        prediction.measured_p99_us,
        prediction.distinct_samples,
        prediction.slo_us,
        prediction.cores,
        prediction.bound,
    );
    for sched in &prediction.schedulers {
        out.push_str(&format!(
            "SIMULATED {:<12} max load @ SLO {}{:.3} = {}{:.0}% of the M/G/{} bound ({:.0} TPS on \
             {} simulated cores)\n",
            sched.sched,
            if sched.at_search_ceiling { ">=" } else { "" },
            sched.max_load,
            if sched.at_search_ceiling { ">=" } else { "" },
            sched.fraction_of_bound * 100.0,
            prediction.cores,
            sched.tps,
            prediction.cores
        ));
    }
    out.push_str(
        "published (16 real hyperthreads, not simulated): ZygOS 344 KTPS = 75% of the ideal \
         zero-overhead load (thesis §4.5)\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(cores: usize, modes: Vec<SchedMode>) -> PredictionPlan {
        PredictionPlan {
            cores,
            modes,
            requests_per_connection: 150,
            costs: SimCosts::default(),
        }
    }

    /// A wide distribution like TPC-C's: 5 to 200 µs, each value's count
    /// falling as 1/value (mean 46 µs, median 25, p99 195).
    fn wide_samples() -> Vec<f64> {
        let mut samples = Vec::new();
        for us in (5..=200u32).step_by(5) {
            samples.extend(std::iter::repeat_n(f64::from(us), (2_000 / us) as usize));
        }
        samples
    }

    #[test]
    fn bad_samples_are_refused_with_their_cause() {
        let plan = plan(2, vec![SchedMode::Zygos]);
        let error = predict(Vec::new(), &plan).unwrap_err();
        assert!(
            matches!(error, PredictionError::Samples(WorkloadError::Empty)),
            "{error}"
        );
        let error = predict(vec![10.0, f64::NAN], &plan).unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn service_time_files_round_trip_and_bad_lines_are_named() {
        let dir = std::env::temp_dir().join(format!("silo-predict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.csv");
        std::fs::write(&good, "service_ns,count\n1000,2\n3000,1\n\n").unwrap();
        assert_eq!(read_service_times(&good).unwrap(), [1.0, 1.0, 3.0]);
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, "service_ns,count\n1000;2\n").unwrap();
        let error = read_service_times(&bad).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(read_service_times(&dir.join("missing.csv")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        histogram.record_n(2_000, 3).unwrap();
        assert_eq!(samples_from_histogram(&histogram), [2.0, 2.0, 2.0]);
    }

    #[test]
    fn four_simulated_cores_rank_stealing_above_partitioning() {
        let samples = wide_samples();
        let (count, mean) = (
            samples.len(),
            samples.iter().sum::<f64>() / samples.len() as f64,
        );
        let prediction = predict(
            samples,
            &plan(4, vec![SchedMode::Zygos, SchedMode::Partitioned]),
        )
        .unwrap();
        assert!(prediction.simulated);
        assert_eq!(
            (prediction.samples, prediction.distinct_samples),
            (count as u64, 40)
        );
        assert!((prediction.measured_mean_us - mean).abs() < 1e-9);
        assert!((prediction.slo_us - SLO_OVER_MEAN * mean).abs() < 1e-9);
        assert!(prediction.measured_p50_us < mean && prediction.measured_p99_us >= 185.0);
        let (zygos, partitioned) = (&prediction.schedulers[0], &prediction.schedulers[1]);
        assert!(
            zygos.fraction_of_bound > partitioned.fraction_of_bound,
            "{prediction:?}"
        );
        assert!(!partitioned.at_search_ceiling);
        assert!((search_ceiling() - (1.0 - 0.9 / 64.0)).abs() < 1e-12);
        assert!(zygos.fraction_of_bound <= 1.1, "{prediction:?}");
        let tps = zygos.max_load * 4.0 * 1e6 / mean;
        assert!((zygos.tps - tps).abs() < 1e-6 * tps);
        let table = table(&prediction);
        assert!(table.starts_with("SIMULATED"));
        assert!(table.contains("40 distinct values"), "{table}");
    }
}
