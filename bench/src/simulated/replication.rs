//! Confidence intervals from independent replications. Latencies within one
//! simulated run are correlated (consecutive requests share queues), so the
//! order-statistics interval of their p99 would be too narrow. Runs with
//! different seeds are independent: the median of their p99s lies between
//! the smallest and the largest of R runs with probability 1 − 2^(1−R)
//! (the sign test: all R on one side of the median has probability 2^−R
//! per side), whatever the p99's distribution.

use crate::stats::percentile::PercentileEstimate;

/// Confidence of the [min, max] interval of `runs` replications' median.
pub fn replication_confidence(runs: usize) -> f64 {
    1.0 - 0.5f64.powi(runs as i32 - 1)
}

/// The median of `p99s` (one per replication, µs; sorted in place) with
/// the [min, max] interval; `None` without replications. The estimate's
/// `percentile` is 0.99 (what was replicated).
pub fn replicated_p99(p99s: &mut [f64]) -> Option<PercentileEstimate> {
    p99s.sort_by(f64::total_cmp);
    let (&low, &high) = (p99s.first()?, p99s.last()?);
    let middle = p99s.len() / 2;
    let value = if p99s.len().is_multiple_of(2) {
        (p99s[middle - 1] + p99s[middle]) / 2.0
    } else {
        p99s[middle]
    };
    Some(PercentileEstimate {
        percentile: 0.99,
        value,
        low,
        high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp};

    #[test]
    fn median_and_range_of_replications() {
        let estimate = replicated_p99(&mut [30.0, 10.0, 20.0]).unwrap();
        assert_eq!(
            (estimate.value, estimate.low, estimate.high),
            (20.0, 10.0, 30.0)
        );
        let estimate = replicated_p99(&mut [4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            (estimate.value, estimate.low, estimate.high),
            (2.5, 1.0, 4.0)
        );
        assert!(replicated_p99(&mut []).is_none());
        assert_eq!(replication_confidence(5), 0.9375);
    }

    #[test]
    fn the_range_of_five_covers_the_median_about_94_percent_of_the_time() {
        // Exp(1) has median ln 2.
        let truth = 2f64.ln();
        let exp = Exp::new(1.0).unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let trials = 4_000;
        let covered = (0..trials)
            .filter(|_| {
                let mut runs: Vec<f64> = (0..5).map(|_| exp.sample(&mut rng)).collect();
                let estimate = replicated_p99(&mut runs).unwrap();
                (estimate.low..=estimate.high).contains(&truth)
            })
            .count();
        let rate = covered as f64 / trials as f64;
        assert!((0.92..0.955).contains(&rate), "coverage {rate}");
    }
}
