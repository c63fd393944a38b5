//! A measured service-time distribution for the simulated clients
//! ([`super::ServiceTime::Empirical`]): a table of distinct service times
//! with how often each was measured (e.g. a standalone run's histogram),
//! drawn from by inverse transform sampling (Devroye, "Non-Uniform Random
//! Variate Generation", §2.1): one uniform integer below the total count,
//! then a binary search of the cumulative counts. A draw is O(log n) in
//! the number of distinct values and allocates nothing; the table is
//! shared (`Arc`), so cloning a workload that holds it is cheap.
//!
//! ```
//! use dataplane::sim::{EmpiricalServiceTime, ServiceTime};
//! let table = EmpiricalServiceTime::from_counts([(20_000, 9), (200_000, 1)]).unwrap();
//! assert_eq!(table.mean_ns(), 38_000.0);
//! let service = ServiceTime::Empirical(table);
//! assert_eq!(service.mean_ns(), 38_000.0);
//! ```

use std::fmt;
use std::sync::Arc;

use rand::Rng;

/// Why a table of measured service times cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmpiricalError {
    /// No service time was given with a non-zero count.
    #[error("no measured service times (every count is zero or the table is empty)")]
    Empty,
    /// The counts add up to more than `u64::MAX`.
    #[error("the measured counts add up to more than 2^64 - 1")]
    CountOverflow,
}

/// Measured service times in ns, each with its count; see the module docs.
#[derive(Clone, PartialEq)]
pub struct EmpiricalServiceTime {
    /// Distinct service times, ascending.
    values_ns: Arc<[u64]>,
    /// `cumulative[i]`: how many measurements are ≤ `values_ns[i]`.
    cumulative: Arc<[u64]>,
    /// The mean over all measurements.
    mean_ns: f64,
}

impl EmpiricalServiceTime {
    /// The table of `(service_ns, count)` pairs, in any order; a value
    /// given twice has its counts added, zero counts are ignored.
    pub fn from_counts(
        pairs: impl IntoIterator<Item = (u64, u64)>,
    ) -> Result<Self, EmpiricalError> {
        let mut pairs: Vec<(u64, u64)> = pairs.into_iter().filter(|&(_, n)| n > 0).collect();
        pairs.sort_unstable_by_key(|&(ns, _)| ns);
        let mut values_ns = Vec::with_capacity(pairs.len());
        let mut cumulative = Vec::with_capacity(pairs.len());
        let (mut total, mut sum) = (0u64, 0u128);
        for (ns, count) in pairs {
            total = total
                .checked_add(count)
                .ok_or(EmpiricalError::CountOverflow)?;
            sum += u128::from(ns) * u128::from(count);
            match (values_ns.last(), cumulative.last_mut()) {
                (Some(&last), Some(below)) if last == ns => *below = total,
                _ => {
                    values_ns.push(ns);
                    cumulative.push(total);
                }
            }
        }
        if total == 0 {
            return Err(EmpiricalError::Empty);
        }
        Ok(EmpiricalServiceTime {
            values_ns: values_ns.into(),
            cumulative: cumulative.into(),
            mean_ns: sum as f64 / total as f64,
        })
    }

    /// The table of individual measurements, each counted once.
    pub fn from_samples(samples_ns: impl IntoIterator<Item = u64>) -> Result<Self, EmpiricalError> {
        Self::from_counts(samples_ns.into_iter().map(|ns| (ns, 1)))
    }

    /// The mean service time, in ns.
    pub fn mean_ns(&self) -> f64 {
        self.mean_ns
    }

    /// Number of measurements.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Number of distinct service times.
    pub fn distinct(&self) -> usize {
        self.values_ns.len()
    }

    /// The `quantile` (in [0, 1], nearest rank) of the measurements, in ns.
    pub fn quantile_ns(&self, quantile: f64) -> u64 {
        let total = self.total();
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).clamp(1, total);
        self.value_at_rank(rank - 1)
    }

    /// The service time of the measurement at 0-based `rank` in sorted
    /// order (`rank` < [`Self::total`]).
    fn value_at_rank(&self, rank: u64) -> u64 {
        let index = self.cumulative.partition_point(|&below| below <= rank);
        self.values_ns[index.min(self.values_ns.len() - 1)]
    }

    /// Draws one service time, in ns: one uniform draw, inverted through
    /// the cumulative counts.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> u64 {
        self.value_at_rank(rng.random_range(0..self.total()))
    }
}

impl fmt::Debug for EmpiricalServiceTime {
    /// A summary: the table itself can hold thousands of entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmpiricalServiceTime")
            .field("measurements", &self.total())
            .field("distinct", &self.distinct())
            .field("mean_ns", &self.mean_ns)
            .field("min_ns", &self.quantile_ns(0.0))
            .field("max_ns", &self.quantile_ns(1.0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    /// A wide table: values 1..=200 µs with counts falling as 1/value, so
    /// the mean, median and tail are far apart.
    fn wide() -> EmpiricalServiceTime {
        EmpiricalServiceTime::from_counts((1..=200u64).map(|us| (us * 1_000, 2_000 / us))).unwrap()
    }

    #[test]
    fn sampled_mean_and_quantiles_match_the_table() {
        let table = wide();
        let (mut sum, mut count) = (0u128, 0u64);
        for (ns, n) in (1..=200u64).map(|us| (us * 1_000, 2_000 / us)) {
            sum += u128::from(ns * n);
            count += n;
        }
        assert_eq!(table.total(), count);
        assert!((table.mean_ns() - sum as f64 / count as f64).abs() < 1e-6);
        let mut rng = StdRng::seed_from_u64(7);
        let n = 200_000;
        let mut draws: Vec<u64> = (0..n).map(|_| table.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<u64>() as f64 / n as f64;
        assert!(
            (mean - table.mean_ns()).abs() < 0.02 * table.mean_ns(),
            "sampled mean {mean} vs {}",
            table.mean_ns()
        );
        draws.sort_unstable();
        for quantile in [0.1, 0.5, 0.9, 0.99] {
            let sampled = draws[(quantile * n as f64) as usize - 1];
            let exact = table.quantile_ns(quantile);
            // One table step (1 µs) of slack, and 5% at the tail.
            let slack = 1_000.max(exact / 20);
            assert!(
                sampled.abs_diff(exact) <= slack,
                "q{quantile}: sampled {sampled} vs table {exact}"
            );
        }
        assert!(draws.iter().all(|ns| ns % 1_000 == 0 && *ns <= 200_000));
    }

    #[test]
    fn quantiles_follow_the_counts_and_duplicates_merge() {
        let table =
            EmpiricalServiceTime::from_counts([(300, 1), (100, 2), (200, 0), (100, 1)]).unwrap();
        assert_eq!((table.total(), table.distinct()), (4, 2));
        assert_eq!(table.quantile_ns(0.0), 100);
        assert_eq!(table.quantile_ns(0.75), 100);
        assert_eq!(table.quantile_ns(0.76), 300);
        assert_eq!(table.quantile_ns(1.0), 300);
        assert_eq!(table.mean_ns(), 150.0);
        let samples = EmpiricalServiceTime::from_samples([300, 100, 100, 100]).unwrap();
        assert_eq!(samples, table);
    }

    #[test]
    fn one_value_draws_only_that_value() {
        let table = EmpiricalServiceTime::from_counts([(42_000, 5)]).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..1_000).all(|_| table.sample(&mut rng) == 42_000));
        assert_eq!(table.mean_ns(), 42_000.0);
    }

    #[test]
    fn empty_and_overflowing_tables_are_errors() {
        assert_eq!(
            EmpiricalServiceTime::from_counts([]),
            Err(EmpiricalError::Empty)
        );
        assert_eq!(
            EmpiricalServiceTime::from_counts([(5, 0)]),
            Err(EmpiricalError::Empty)
        );
        assert_eq!(
            EmpiricalServiceTime::from_counts([(5, u64::MAX), (6, 1)]),
            Err(EmpiricalError::CountOverflow)
        );
        let debug = format!("{:?}", wide());
        assert!(debug.contains("distinct: 200"), "{debug}");
    }
}
