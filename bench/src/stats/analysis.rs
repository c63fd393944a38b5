//! The Lancet result pipeline (thesis §4.4.3) over one run's raw data:
//! check the achieved inter-arrivals, thin the latency series until its
//! samples are independent, check that they are stationary, then report
//! p50/p90/p99/p99.9 with confidence intervals, or N/A with the reason.

use serde::{Deserialize, Serialize};

use super::StatsError;
use super::anderson_darling::{Significance, anderson_darling_exponential};
use super::percentile::{PercentileEstimate, percentile_with_ci};
use super::spearman::{SamplingPolicy, choose_sampling_interval};
use super::stationarity::check_stationary;
use super::verdict::{Checked, NotAvailable};

/// The Anderson–Darling test runs on consecutive blocks of this many gaps
/// (Lancet's agents keep 4096 send timestamps per thread,
/// `MAX_PER_THREAD_TX_SAMPLES`); every block must pass, so a stall and the
/// burst after it fail the block they fall in.
pub const GAPS_PER_TEST: usize = 4096;

/// Rejection threshold of the inter-arrival test: twice the 1% critical
/// value, the acceptance rule of Lancet's agent manager (`check_interarrival`
/// in lancet-tool's `stats.py`). The plain 5% level rejects the floor a
/// kernel TCP write puts under every gap (a few µs, e.g. A2* ≈ 5 for an
/// 8 µs floor under 200 µs mean gaps), which does not change queueing;
/// bursts after a stalled sender still exceed it by orders of magnitude.
pub fn inter_arrival_threshold() -> f64 {
    2.0 * Significance::P1.critical_value()
}

/// Checks that `gaps` (consecutive send intervals) are exponential, block
/// by block (a short last block joins the one before).
pub fn check_exponential_gaps(gaps: &[f64]) -> Result<(), NotAvailable> {
    let critical = inter_arrival_threshold();
    let blocks = (gaps.len() / GAPS_PER_TEST).max(1);
    for block in 0..blocks {
        let end = if block + 1 == blocks {
            gaps.len()
        } else {
            (block + 1) * GAPS_PER_TEST
        };
        let statistic = anderson_darling_exponential(&gaps[block * GAPS_PER_TEST..end])
            .map_or(f64::NAN, |fit| fit.statistic);
        if statistic.is_nan() || statistic > critical {
            return Err(NotAvailable::InterArrivalsNotExponential {
                statistic,
                critical,
            });
        }
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
        // A series without variation (Degenerate) is trivially stationary.
        Ok(Ok(())) | Err(StatsError::Degenerate) => {}
        Ok(Err(drift)) => return unavailable(drift.into(), Some(interval), kept.len()),
        Err(StatsError::TooFew { .. } | StatsError::InvalidValue) => {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    fn constant_latencies_are_reported_and_short_runs_are_not() {
        let constant = vec![42.0; 5000];
        let analysis = analyze_latencies(&constant, &SamplingPolicy::default(), 0.95);
        assert_eq!(analysis.p99().valid().map(|p| p.value), Some(42.0));
        let short = analyze_latencies(&constant[..100], &SamplingPolicy::default(), 0.95);
        assert!(matches!(
            short.p99(),
            Checked::NotAvailable(NotAvailable::TooFewLatencies {
                samples: 100,
                needed: 1000
            })
        ));
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
        let mut rng = SmallRng::seed_from_u64(8);
        let exp = Exp::new(1.0).unwrap();
        let poisson: Vec<f64> = (0..50_000).map(|_| exp.sample(&mut rng)).collect();
        let jitter = Uniform::new(0.99, 1.01).unwrap();
        let fixed: Vec<f64> = (0..50_000).map(|_| jitter.sample(&mut rng)).collect();
        assert_eq!(check_exponential_gaps(&poisson), Ok(()));
        assert!(check_exponential_gaps(&fixed).is_err());
        assert_eq!(check_fixed_gaps(&fixed, 0.05), Ok(()));
        // A sender stalled for 100 mean gaps then catching up in a burst.
        let mut stalled = poisson.clone();
        stalled[1000] += 100.0;
        stalled[1001..1100].fill(0.001);
        assert!(check_exponential_gaps(&stalled).is_err());
        assert!(check_fixed_gaps(&poisson, 0.05).is_err());
    }
}
