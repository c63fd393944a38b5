//! Percentiles with their order-statistics confidence interval (thesis
//! §4.2, eq. 4.1 and 4.2, after Le Boudec, *Performance Evaluation of
//! Computer and Communication Systems*, Thm 2.1): for n iid samples, the
//! p-th percentile lies with confidence γ between the sorted samples of
//! ranks j = ⌊np − η√(np(1−p))⌋ and k = ⌈np + η√(np(1−p))⌉ + 1, η the
//! (1+γ)/2 normal quantile. n = 10000, p = 0.99, γ = 0.95 gives 9880, 9921.

use std::fmt;

use super::normal::two_sided_critical;
use super::verdict::NotAvailable;

/// The 1-based ranks bounding the confidence interval, or `None` when they
/// fall outside 1..=n (too few samples).
pub fn confidence_ranks(n: usize, percentile: f64, confidence: f64) -> Option<(usize, usize)> {
    let np = n as f64 * percentile;
    let half_width = two_sided_critical(confidence) * (np * (1.0 - percentile)).sqrt();
    let low = (np - half_width).floor();
    let high = (np + half_width).ceil() + 1.0;
    (low >= 1.0 && high <= n as f64).then_some((low as usize, high as usize))
}

/// A percentile and its confidence interval, in the unit of the samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PercentileEstimate {
    /// The percentile, in (0, 1).
    pub percentile: f64,
    /// The nearest-rank estimate (sample of rank ⌈np⌉).
    pub value: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

impl fmt::Display for PercentileEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} [{:.1}, {:.1}]", self.value, self.low, self.high)
    }
}

/// The `percentile` of `sorted` (ascending, iid samples) with its interval
/// at `confidence`.
pub fn percentile_with_ci(
    sorted: &[f64],
    percentile: f64,
    confidence: f64,
) -> Result<PercentileEstimate, NotAvailable> {
    let too_few = NotAvailable::TooFewSamples {
        samples: sorted.len(),
        percentile,
    };
    let (low, high) = confidence_ranks(sorted.len(), percentile, confidence).ok_or(too_few)?;
    let rank = ((sorted.len() as f64 * percentile).ceil() as usize).clamp(1, sorted.len());
    Ok(PercentileEstimate {
        percentile,
        value: sorted[rank - 1],
        low: sorted[low - 1],
        high: sorted[high - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp};

    #[test]
    fn thesis_ranks_for_p99_of_ten_thousand() {
        assert_eq!(confidence_ranks(10_000, 0.99, 0.95), Some((9880, 9921)));
        assert_eq!(confidence_ranks(100, 0.999, 0.95), None);
    }

    #[test]
    fn interval_covers_the_true_percentile_about_95_percent_of_the_time() {
        // Exp(1): p99 = ln 100.
        let truth = 100f64.ln();
        let exp = Exp::new(1.0).unwrap();
        let mut rng = SmallRng::seed_from_u64(42);
        let runs = 400;
        let covered = (0..runs)
            .filter(|_| {
                let mut samples: Vec<f64> = (0..2000).map(|_| exp.sample(&mut rng)).collect();
                samples.sort_by(f64::total_cmp);
                let estimate = percentile_with_ci(&samples, 0.99, 0.95).unwrap();
                assert!(estimate.low <= estimate.value && estimate.value <= estimate.high);
                estimate.low <= truth && truth <= estimate.high
            })
            .count();
        // The interval is conservative (>= 95%); 400 runs put 95% coverage
        // at 380 +- 9 (two standard deviations).
        assert!((371..=runs).contains(&covered), "covered {covered}");
    }

    #[test]
    fn too_few_samples_is_not_available() {
        let sorted: Vec<f64> = (0..50).map(f64::from).collect();
        assert!(matches!(
            percentile_with_ci(&sorted, 0.99, 0.95),
            Err(NotAvailable::TooFewSamples { samples: 50, .. })
        ));
        let estimate = percentile_with_ci(&sorted, 0.5, 0.95).unwrap();
        assert_eq!(estimate.value, 24.0);
    }
}
