//! The Lancet result pipeline (thesis §4.4.3) over one run's raw data:
//! check the achieved inter-arrivals, thin the latency series until its
//! samples are independent, check that they are stationary, then report
//! p50/p90/p99/p99.9 with confidence intervals, or N/A with the reason.

use serde::Serialize;

use super::anderson_darling::{Significance, anderson_darling_exponential};
use super::percentile::{PercentileEstimate, percentile_with_ci};
use super::spearman::{SamplingPolicy, choose_sampling_interval};
use super::stationarity::check_stationary;
use super::verdict::{Checked, NotAvailable};

/// At most this many inter-arrival gaps enter the Anderson–Darling test,
/// taken at an even stride: with hundreds of thousands of gaps the test
/// rejects deviations (timer granularity of a few hundred ns) that do not
/// change the queueing behaviour.
pub const MAX_TESTED_GAPS: usize = 10_000;

/// Checks that `gaps` (consecutive send intervals) are exponential at 5%.
pub fn check_exponential_gaps(gaps: &[f64]) -> Result<(), NotAvailable> {
    let stride = gaps.len().div_ceil(MAX_TESTED_GAPS).max(1);
    let tested: Vec<f64> = gaps.iter().step_by(stride).copied().collect();
    let fit = anderson_darling_exponential(&tested).map_err(|_| {
        NotAvailable::InterArrivalsNotExponential {
            statistic: f64::NAN,
            critical: Significance::P5.critical_value(),
        }
    })?;
    if fit.rejected_at(Significance::P5) {
        return Err(NotAvailable::InterArrivalsNotExponential {
            statistic: fit.statistic,
            critical: Significance::P5.critical_value(),
        });
    }
    Ok(())
}

/// Checks that `gaps` are nearly constant: coefficient of variation at most
/// `limit`.
pub fn check_fixed_gaps(gaps: &[f64], limit: f64) -> Result<(), NotAvailable> {
    let n = gaps.len().max(1) as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let variance = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    let cv = if mean > 0.0 {
        variance.sqrt() / mean
    } else {
        f64::INFINITY
    };
    if cv > limit {
        return Err(NotAvailable::InterArrivalsNotFixed { cv, limit });
    }
    Ok(())
}

/// The reported percentiles.
pub const PERCENTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

/// Latency percentiles of one run with their confidence intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyAnalysis {
    /// One request in this many was kept (None when no interval worked).
    pub sampling_interval: Option<usize>,
    /// Number of latency samples kept.
    pub samples: usize,
    /// p50, p90, p99, p99.9 (see [`PERCENTILES`]).
    pub percentiles: [Checked<PercentileEstimate>; 4],
}

impl LatencyAnalysis {
    /// The p99 estimate.
    pub fn p99(&self) -> &Checked<PercentileEstimate> {
        &self.percentiles[2]
    }
}

/// Analyses `latencies` given in transmission order.
pub fn analyze_latencies(
    latencies: &[f64],
    policy: &SamplingPolicy,
    confidence: f64,
) -> LatencyAnalysis {
    let unavailable = |reason: NotAvailable, interval, samples| LatencyAnalysis {
        sampling_interval: interval,
        samples,
        percentiles: [(); 4].map(|_| Checked::NotAvailable(reason.clone())),
    };
    let interval = match choose_sampling_interval(latencies, policy) {
        Ok(interval) => interval,
        Err(reason) => return unavailable(reason, None, 0),
    };
    let mut kept: Vec<f64> = latencies.iter().step_by(interval).copied().collect();
    match check_stationary(&kept) {
        Ok(Ok(())) => {}
        Ok(Err(drift)) => return unavailable(drift.into(), Some(interval), kept.len()),
        Err(_) => {
            let reason = NotAvailable::TooFewSamples {
                samples: kept.len(),
                percentile: PERCENTILES[0],
            };
            return unavailable(reason, Some(interval), kept.len());
        }
    }
    kept.sort_by(f64::total_cmp);
    LatencyAnalysis {
        sampling_interval: Some(interval),
        samples: kept.len(),
        percentiles: PERCENTILES.map(|p| percentile_with_ci(&kept, p, confidence).into()),
    }
}

/// Serialisable form of a [`Checked`] estimate: the value or the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ReportedEstimate {
    /// A valid estimate.
    Valid(PercentileEstimate),
    /// Why there is none.
    NotAvailable {
        /// The reason, as printed.
        not_available: String,
    },
}

impl From<&Checked<PercentileEstimate>> for ReportedEstimate {
    fn from(checked: &Checked<PercentileEstimate>) -> Self {
        match checked {
            Checked::Valid(estimate) => ReportedEstimate::Valid(*estimate),
            Checked::NotAvailable(reason) => ReportedEstimate::NotAvailable {
                not_available: reason.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp, Uniform};

    #[test]
    fn iid_latencies_give_all_percentiles() {
        let mut rng = SmallRng::seed_from_u64(9);
        let exp = Exp::new(1.0).unwrap();
        let latencies: Vec<f64> = (0..20_000).map(|_| exp.sample(&mut rng)).collect();
        let analysis = analyze_latencies(&latencies, &SamplingPolicy::default(), 0.95);
        assert_eq!(analysis.sampling_interval, Some(1));
        let p99 = analysis.p99().valid().unwrap();
        assert!(p99.low <= 100f64.ln() && 100f64.ln() <= p99.high, "{p99:?}");
        assert!(analysis.percentiles.iter().all(|p| p.valid().is_some()));
    }

    #[test]
    fn a_growing_queue_is_not_reported() {
        // Overload: each latency is the previous plus a positive step.
        let mut rng = SmallRng::seed_from_u64(4);
        let exp = Exp::new(1.0).unwrap();
        let latencies: Vec<f64> = (0..20_000)
            .scan(0.0, |level, _| {
                *level += exp.sample(&mut rng) - 0.9;
                Some(*level)
            })
            .collect();
        let analysis = analyze_latencies(&latencies, &SamplingPolicy::default(), 0.95);
        assert!(
            analysis.p99().to_string().starts_with("N/A ("),
            "{analysis:?}"
        );
    }

    #[test]
    fn inter_arrival_checks_tell_poisson_from_fixed() {
        // A 5% test rejects one exponential sample in twenty (the
        // calibration is checked in anderson_darling's tests); this seed's
        // sample is one of the nineteen.
        let mut rng = SmallRng::seed_from_u64(12);
        let exp = Exp::new(1.0).unwrap();
        let poisson: Vec<f64> = (0..50_000).map(|_| exp.sample(&mut rng)).collect();
        let jitter = Uniform::new(0.99, 1.01).unwrap();
        let fixed: Vec<f64> = (0..50_000).map(|_| jitter.sample(&mut rng)).collect();
        assert_eq!(check_exponential_gaps(&poisson), Ok(()));
        assert!(check_exponential_gaps(&fixed).is_err());
        assert_eq!(check_fixed_gaps(&fixed, 0.05), Ok(()));
        assert!(check_fixed_gaps(&poisson, 0.05).is_err());
    }
}
