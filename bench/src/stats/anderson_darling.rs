//! Anderson–Darling goodness-of-fit test for the exponential distribution
//! with its mean estimated from the sample (Lancet checks that achieved
//! inter-arrivals are exponential, thesis §4.4.3 "System Stability").
//!
//! With an estimated scale the plain A² critical values are wrong; the
//! statistic is modified as A²·(1 + 0.6/n) and compared with Stephens'
//! critical values for this case (D'Agostino & Stephens, *Goodness-of-Fit
//! Techniques*, 1986, Table 4.14).

use super::StatsError;

/// Significance levels with tabulated critical values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Significance {
    /// 15%.
    P15,
    /// 10%.
    P10,
    /// 5%.
    P5,
    /// 2.5%.
    P2_5,
    /// 1%.
    P1,
}

impl Significance {
    /// Critical value of the modified statistic A²·(1 + 0.6/n).
    pub fn critical_value(self) -> f64 {
        match self {
            Significance::P15 => 0.922,
            Significance::P10 => 1.078,
            Significance::P5 => 1.341,
            Significance::P2_5 => 1.606,
            Significance::P1 => 1.957,
        }
    }
}

/// Outcome of the test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialFit {
    /// Number of samples.
    pub n: usize,
    /// Sample mean (the estimated scale).
    pub mean: f64,
    /// Modified statistic A²·(1 + 0.6/n).
    pub statistic: f64,
}

impl ExponentialFit {
    /// Whether exponentiality is rejected at `level`.
    pub fn rejected_at(&self, level: Significance) -> bool {
        self.statistic > level.critical_value()
    }
}

/// Runs the test on `samples` (inter-arrival times, any unit). Needs at
/// least 8 finite, non-negative samples with a positive mean.
pub fn anderson_darling_exponential(samples: &[f64]) -> Result<ExponentialFit, StatsError> {
    const MIN_SAMPLES: usize = 8;
    if samples.len() < MIN_SAMPLES {
        return Err(StatsError::TooFew {
            got: samples.len(),
            needed: MIN_SAMPLES,
        });
    }
    if samples.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(StatsError::InvalidValue);
    }
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n as f64;
    if mean <= 0.0 {
        return Err(StatsError::InvalidValue);
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    // ln F(x) and ln(1 - F(x)) for F(x) = 1 - exp(-x / mean); a zero
    // sample has F = 0, clamped to keep the sum finite.
    let ln_cdf = |x: f64| (-(-x / mean).exp_m1()).max(f64::MIN_POSITIVE).ln();
    let ln_survival = |x: f64| -x / mean;
    let sum: f64 = (0..n)
        .map(|i| {
            let weight = (2 * i + 1) as f64;
            weight * (ln_cdf(sorted[i]) + ln_survival(sorted[n - 1 - i]))
        })
        .sum();
    let a2 = -(n as f64) - sum / n as f64;
    Ok(ExponentialFit {
        n,
        mean,
        statistic: a2 * (1.0 + 0.6 / n as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp, Uniform};

    fn draw(dist: impl Distribution<f64>, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n).map(|_| dist.sample(&mut rng)).collect()
    }

    #[test]
    fn accepts_exponential_samples_at_the_nominal_rate() {
        let rejections = (0..200)
            .filter(|seed| {
                let samples = draw(Exp::new(1.0 / 7.0).unwrap(), 2000, *seed);
                anderson_darling_exponential(&samples)
                    .unwrap()
                    .rejected_at(Significance::P5)
            })
            .count();
        // 5% of 200 is 10; binomial 99.9% upper bound is about 22.
        assert!(rejections <= 22, "{rejections} false rejections");
    }

    #[test]
    fn rejects_uniform_fixed_and_shifted_samples() {
        let uniform = draw(Uniform::new(0.0, 2.0).unwrap(), 2000, 1);
        let fixed: Vec<f64> = draw(Uniform::new(9.9, 10.1).unwrap(), 2000, 2);
        let shifted: Vec<f64> = draw(Exp::new(1.0).unwrap(), 2000, 3)
            .into_iter()
            .map(|x| x + 1.0)
            .collect();
        for samples in [uniform, fixed, shifted] {
            let fit = anderson_darling_exponential(&samples).unwrap();
            assert!(fit.rejected_at(Significance::P1), "{fit:?}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            anderson_darling_exponential(&[1.0; 3]),
            Err(StatsError::TooFew { got: 3, needed: 8 })
        );
        assert_eq!(
            anderson_darling_exponential(&[1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
            Err(StatsError::InvalidValue)
        );
        assert_eq!(
            anderson_darling_exponential(&[0.0; 8]),
            Err(StatsError::InvalidValue)
        );
    }
}
