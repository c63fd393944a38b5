//! The 16-core prediction (SIMULATED): the dataplane's schedulers on the
//! deterministic `sim` platform ([`dataplane::sim`]: the real runtime,
//! shuffle and netstack in virtual time) serving requests whose service
//! times follow the TPC-C distribution measured by the standalone mode
//! ([`crate::standalone`]), each scheduler's highest load meeting the SLO
//! reported as a fraction of the M/G/16/FCFS bound ([`bench::queueing`]).
//!
//! The sim's clients draw service times from a few parametric shapes, not
//! from samples; the measured distribution enters it as the two-point
//! (bimodal) distribution with the same first three moments
//! ([`TwoPoint::fit`]). The M/G/16 bound is simulated both for that fit
//! (the fractions use it, like for like) and for the exact empirical
//! distribution, which shows what the fit costs.
//!
//! The SLO keeps the thesis' ratio to the mean service time: ZygOS's
//! 1000 µs is 30.3 × Silo's 33 µs mean (thesis §4.5), so the SLO here is
//! 30.3 × the measured mean.

use std::path::Path;

use bench::queueing::{Model, SimConfig as QueueConfig, Slo, max_load_at_slo};
use bench::workload::{ServiceDistribution, WorkloadError};
use dataplane::sched::SchedMode;
use dataplane::sim::{self, FrameNetError, ServiceTime, SimCosts, Steering, WorkloadConfig};
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
    /// The distribution has no spread to fit (every sample equal).
    #[error("the service times have no spread: a two-point fit needs a variance")]
    NoSpread,
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

/// A two-point distribution: `long_us` with probability
/// `long_probability`, else `short_us`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TwoPoint {
    /// The common value, µs.
    pub short_us: f64,
    /// The rare value, µs.
    pub long_us: f64,
    /// Probability of the rare value.
    pub long_probability: f64,
}

impl TwoPoint {
    /// The two-point distribution with the mean, variance and skewness of
    /// `samples` (three-moment matching): with skewness γ, the long value's
    /// probability p solves γ = (1 − 2p)/√(p(1 − p)), and the values sit at
    /// μ − σ√(p/(1 − p)) and μ + σ√((1 − p)/p). A short value that would
    /// be negative (a skew too strong for the variance) is clamped to 0
    /// and the long value moved to keep the mean.
    pub fn fit(samples: &[f64]) -> Result<TwoPoint, PredictionError> {
        let n = samples.len() as f64;
        if samples.is_empty() {
            return Err(WorkloadError::Empty.into());
        }
        let mean = samples.iter().sum::<f64>() / n;
        let central = |k: i32| samples.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
        let (variance, third) = (central(2), central(3));
        if variance <= f64::EPSILON * mean * mean {
            return Err(PredictionError::NoSpread);
        }
        let sigma = variance.sqrt();
        let skew = third / (sigma * variance);
        let q = 1.0 / (skew * skew + 4.0);
        let root = (1.0 - 4.0 * q).max(0.0).sqrt();
        let p = if skew >= 0.0 {
            (1.0 - root) / 2.0
        } else {
            (1.0 + root) / 2.0
        };
        let short = mean - sigma * (p / (1.0 - p)).sqrt();
        let long = mean + sigma * ((1.0 - p) / p).sqrt();
        if short >= 0.0 {
            return Ok(TwoPoint {
                short_us: short,
                long_us: long,
                long_probability: p,
            });
        }
        Ok(TwoPoint {
            short_us: 0.0,
            long_us: mean / p,
            long_probability: p,
        })
    }

    /// The mean, µs.
    pub fn mean_us(&self) -> f64 {
        (1.0 - self.long_probability) * self.short_us + self.long_probability * self.long_us
    }

    fn sim_service(&self) -> ServiceTime {
        ServiceTime::Bimodal {
            short_ns: (self.short_us * 1e3).round() as u64,
            long_ns: (self.long_us * 1e3).round() as u64,
            long_probability: self.long_probability,
        }
    }

    /// The fit as samples for the queueing model (10 000 of them, the long
    /// value's share rounded to 1e-4).
    fn as_distribution(&self) -> Result<ServiceDistribution, WorkloadError> {
        const N: usize = 10_000;
        let long = (self.long_probability * N as f64).round() as usize;
        let mut samples = vec![self.short_us; N - long];
        samples.resize(N, self.long_us);
        ServiceDistribution::empirical(samples)
    }
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
    /// That over the M/G/n bound of the fitted distribution.
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
    /// Measured service times used.
    pub samples: usize,
    /// Their mean, p50 and p99, µs.
    pub measured_mean_us: f64,
    /// Median.
    pub measured_p50_us: f64,
    /// 99th percentile.
    pub measured_p99_us: f64,
    /// The two-point fit the sim's clients draw from.
    pub fit: TwoPoint,
    /// SLO on p99, µs ([`SLO_OVER_MEAN`] × the mean).
    pub slo_us: f64,
    /// M/G/n/FCFS max load at the SLO for the fit.
    pub bound_fit: f64,
    /// The same for the exact measured distribution.
    pub bound_measured: f64,
    /// Per scheduler.
    pub schedulers: Vec<PredictedScheduler>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Whether `mode` meets `slo_ns` at `load` on the simulator.
fn sim_meets(
    plan: &PredictionPlan,
    mode: SchedMode,
    service: ServiceTime,
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
            service,
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
    let fit = TwoPoint::fit(&samples)?;
    let mut sorted = samples;
    sorted.sort_by(f64::total_cmp);
    let measured = ServiceDistribution::empirical(sorted.clone())?;
    let mean = measured.mean();
    let slo_us = SLO_OVER_MEAN * mean;
    let queue = QueueConfig {
        requests: BOUND_REQUESTS,
        warmup: BOUND_REQUESTS / 20,
        ..QueueConfig::new(plan.cores)
    };
    let bound = |service: &ServiceDistribution| {
        let slo = Slo {
            percentile: 0.99,
            multiple: slo_us / service.mean(),
        };
        max_load_at_slo(Model::Centralized, service, &slo, &queue)
    };
    let bound_fit = bound(&fit.as_distribution()?);
    let bound_measured = bound(&measured);
    let service = fit.sim_service();
    let mut schedulers = Vec::new();
    for &mode in &plan.modes {
        let max_load = highest_load(|load| sim_meets(plan, mode, service, load, slo_us * 1e3))?;
        schedulers.push(PredictedScheduler {
            sched: mode.to_string(),
            max_load,
            at_search_ceiling: max_load >= search_ceiling(),
            fraction_of_bound: max_load / bound_fit,
            tps: max_load * plan.cores as f64 * 1e6 / fit.mean_us(),
        });
    }
    Ok(Prediction {
        simulated: true,
        cores: plan.cores,
        samples: sorted.len(),
        measured_mean_us: mean,
        measured_p50_us: percentile(&sorted, 0.5),
        measured_p99_us: percentile(&sorted, 0.99),
        fit,
        slo_us,
        bound_fit,
        bound_measured,
        schedulers,
    })
}

/// The prediction as a terminal table, labelled SIMULATED.
pub fn table(prediction: &Prediction) -> String {
    let fit = &prediction.fit;
    let mut out = format!(
        "SIMULATED: {} cores on the sim platform (virtual time), TPC-C service times measured \
         standalone ({} transactions: mean {:.1} us, p50 {:.1}, p99 {:.1})\n\
         SIMULATED: the sim's clients draw from their three-moment two-point fit: {:.1} us, or \
         {:.1} us with probability {:.4}; SLO p99 <= {:.0} us ({SLO_OVER_MEAN:.1} x the mean, \
         the thesis' 1000 us over Silo's 33 us)\n\
         SIMULATED: M/G/{}/FCFS max load at the SLO: {:.3} for the fit, {:.3} for the measured \
         distribution\n",
        prediction.cores,
        prediction.samples,
        prediction.measured_mean_us,
        prediction.measured_p50_us,
        prediction.measured_p99_us,
        fit.short_us,
        fit.long_us,
        fit.long_probability,
        prediction.slo_us,
        prediction.cores,
        prediction.bound_fit,
        prediction.bound_measured,
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

    #[test]
    fn the_fit_matches_a_two_point_distribution_exactly() {
        let mut samples = vec![20.0; 900];
        samples.extend(vec![200.0; 100]);
        let fit = TwoPoint::fit(&samples).unwrap();
        assert!((fit.short_us - 20.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.long_us - 200.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.long_probability - 0.1).abs() < 1e-9, "{fit:?}");
        assert!((fit.mean_us() - 38.0).abs() < 1e-6);
        let distribution = fit.as_distribution().unwrap();
        assert!((distribution.mean() - 38.0).abs() < 1e-6);
    }

    #[test]
    fn under_a_strong_skew_the_fit_keeps_the_mean_and_stays_non_negative() {
        let mut samples = vec![1.0; 10];
        samples.extend(vec![0.0; 9_990]);
        samples.push(5_000.0);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let fit = TwoPoint::fit(&samples).unwrap();
        assert!(fit.short_us >= 0.0);
        assert!(
            (fit.mean_us() - mean).abs() < 1e-9 * mean.max(1.0),
            "{fit:?}"
        );
        assert!(matches!(
            TwoPoint::fit(&[5.0; 10]),
            Err(PredictionError::NoSpread)
        ));
        assert!(TwoPoint::fit(&[]).is_err());
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
        let mut samples = vec![20.0; 900];
        samples.extend(vec![200.0; 100]);
        let prediction = predict(
            samples,
            &PredictionPlan {
                cores: 4,
                modes: vec![SchedMode::Zygos, SchedMode::Partitioned],
                requests_per_connection: 150,
                costs: SimCosts::default(),
            },
        )
        .unwrap();
        assert!(prediction.simulated);
        let (zygos, partitioned) = (&prediction.schedulers[0], &prediction.schedulers[1]);
        assert!(zygos.max_load > partitioned.max_load, "{prediction:?}");
        assert!(!partitioned.at_search_ceiling);
        assert!((search_ceiling() - (1.0 - 0.9 / 64.0)).abs() < 1e-12);
        assert!(zygos.fraction_of_bound <= 1.1, "{prediction:?}");
        assert!(table(&prediction).starts_with("SIMULATED"));
    }
}
