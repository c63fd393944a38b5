//! Spearman rank correlation and the choice of a latency sampling interval
//! (thesis §4.4.3 "Unbiased Result Processing"): latencies of requests
//! queued back to back are correlated, and a confidence interval computed
//! from correlated samples is too narrow. Lancet keeps one request in `k`
//! and raises `k` until the rank autocorrelation of the kept samples, in
//! transmission order, is no longer significant.

use super::normal::two_sided_critical;
use super::verdict::NotAvailable;

/// Ranks of `values` (1-based), ties sharing their average rank.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let average = (start + end + 1) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = average;
        }
        start = end;
    }
    ranks
}

/// Pearson correlation; 0 when either side is constant.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut cov, mut var_x, mut var_y) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        cov += (a - mean_x) * (b - mean_y);
        var_x += (a - mean_x) * (a - mean_x);
        var_y += (b - mean_y) * (b - mean_y);
    }
    if var_x == 0.0 || var_y == 0.0 {
        0.0
    } else {
        cov / (var_x * var_y).sqrt()
    }
}

/// A rank correlation and its large-sample significance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankCorrelation {
    /// Spearman's rho.
    pub rho: f64,
    /// Number of pairs.
    pub pairs: usize,
}

impl RankCorrelation {
    /// Whether rho differs from 0 at two-sided level `1 - confidence`,
    /// using rho·√(n−1) ≈ N(0, 1) under independence.
    pub fn significant(&self, confidence: f64) -> bool {
        self.pairs > 2
            && self.rho.abs() * ((self.pairs - 1) as f64).sqrt() > two_sided_critical(confidence)
    }
}

/// Spearman's rank correlation of paired samples (same length, ≥ 3).
pub fn spearman(x: &[f64], y: &[f64]) -> RankCorrelation {
    debug_assert_eq!(x.len(), y.len());
    let pairs = x.len().min(y.len());
    if pairs < 3 {
        return RankCorrelation { rho: 0.0, pairs };
    }
    RankCorrelation {
        rho: pearson(&ranks(&x[..pairs]), &ranks(&y[..pairs])),
        pairs,
    }
}

/// Rank autocorrelation of `series` at `lag`.
pub fn autocorrelation(series: &[f64], lag: usize) -> RankCorrelation {
    if lag >= series.len() {
        return RankCorrelation { rho: 0.0, pairs: 0 };
    }
    spearman(&series[..series.len() - lag], &series[lag..])
}

/// Rank correlation of a series with time (its index): a monotone trend.
pub fn trend(series: &[f64]) -> RankCorrelation {
    let index: Vec<f64> = (0..series.len()).map(|i| i as f64).collect();
    spearman(&index, series)
}

/// How to choose the sampling interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingPolicy {
    /// Confidence of the independence test (0.95 in Lancet).
    pub confidence: f64,
    /// Largest interval tried.
    pub max_interval: usize,
    /// Fewest samples the kept series may have.
    pub min_samples: usize,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        SamplingPolicy {
            confidence: 0.95,
            max_interval: 1000,
            min_samples: 1000,
        }
    }
}

/// The smallest interval `k` such that keeping every `k`-th value of
/// `series` (latencies in transmission order) leaves samples whose lag-1
/// rank autocorrelation is not significant. Intervals grow by about 25%
/// per step; it fails when the interval or the sample count runs out.
pub fn choose_sampling_interval(
    series: &[f64],
    policy: &SamplingPolicy,
) -> Result<usize, NotAvailable> {
    if series.len() < policy.min_samples {
        return Err(NotAvailable::TooFewLatencies {
            samples: series.len(),
            needed: policy.min_samples,
        });
    }
    let mut interval = 1;
    let mut tried = (1, RankCorrelation { rho: 0.0, pairs: 0 });
    while interval <= policy.max_interval && series.len() / interval >= policy.min_samples {
        let kept: Vec<f64> = series.iter().step_by(interval).copied().collect();
        let correlation = autocorrelation(&kept, 1);
        if !correlation.significant(policy.confidence) {
            return Ok(interval);
        }
        tried = (interval, correlation);
        interval = (interval + 1).max(interval * 5 / 4);
    }
    Err(NotAvailable::SamplesCorrelated {
        interval: tried.0,
        rho: tried.1.rho,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Normal};

    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let noise = Normal::new(0.0, 1.0).unwrap();
        let mut x = 0.0;
        (0..n)
            .map(|_| {
                x = phi * x + noise.sample(&mut rng);
                x
            })
            .collect()
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn perfectly_monotone_pairs_have_rho_one() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 4.0, 9.0, 16.0, 25.0];
        assert!((spearman(&x, &y).rho - 1.0).abs() < 1e-12);
        let reversed: Vec<f64> = y.iter().rev().copied().collect();
        assert!((spearman(&x, &reversed).rho + 1.0).abs() < 1e-12);
    }

    #[test]
    fn independent_samples_need_no_thinning() {
        let series = ar1(0.0, 20_000, 7);
        assert_eq!(
            choose_sampling_interval(&series, &SamplingPolicy::default()),
            Ok(1)
        );
    }

    #[test]
    fn correlated_samples_are_thinned_until_independent() {
        // AR(1) with phi = 0.9 has lag-k correlation 0.9^k; with ~10^4
        // samples a correlation below ~0.02 is not significant, so k must
        // be well above 10, and the kept samples must pass the test.
        let series = ar1(0.9, 200_000, 11);
        let policy = SamplingPolicy::default();
        let interval = choose_sampling_interval(&series, &policy).unwrap();
        assert!((15..=80).contains(&interval), "interval {interval}");
        let kept: Vec<f64> = series.iter().step_by(interval).copied().collect();
        assert!(!autocorrelation(&kept, 1).significant(0.95));
        assert!(autocorrelation(&series, 1).significant(0.95));
    }

    #[test]
    fn a_random_walk_never_becomes_independent() {
        let series = ar1(1.0, 50_000, 3);
        let result = choose_sampling_interval(&series, &SamplingPolicy::default());
        assert!(
            matches!(result, Err(NotAvailable::SamplesCorrelated { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn trend_detects_drift() {
        let drifting: Vec<f64> = ar1(0.0, 5000, 5)
            .iter()
            .enumerate()
            .map(|(i, x)| x + i as f64 * 0.001)
            .collect();
        assert!(trend(&drifting).significant(0.99));
        assert!(!trend(&ar1(0.0, 5000, 6)).significant(0.99));
    }
}
