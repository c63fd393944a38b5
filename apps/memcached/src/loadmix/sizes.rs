//! Key and value sizes of Facebook's ETC pool (Atikoglu et al., "Workload
//! Analysis of a Large-Scale Key-Value Store", SIGMETRICS'12, §5.1 and
//! Table 5), as Mutilate models them (`fb_key`, `fb_value`) and the IX and
//! ZygOS papers use them.
//!
//! - Key sizes: Generalized Extreme Value, location μ = 30.7984, scale
//!   σ = 8.20449, shape k = 0.078688 (the paper's fit of ETC key sizes).
//! - Value sizes: a discrete part for the 0-14 byte values (44.155% of
//!   values in all, with the per-size probabilities of Mutilate's
//!   `fb_value` table, which reads them off the paper's Fig. 2), and the
//!   paper's Generalized Pareto fit μ = 0, σ = 214.476, k = 0.348238 for
//!   the rest. Mutilate passes the Pareto's σ and k one argument off
//!   (its location gets 214.476); this module follows the paper.
//!
//! Every sampler is an inverse CDF of one uniform draw, so a fixed uniform
//! (a key's hash) gives a fixed size, and the tests can compare sample
//! quantiles with the closed forms here.

use rand::{Rng, RngCore};

/// A Generalized Extreme Value distribution (shape ≠ 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gev {
    /// Location μ.
    pub location: f64,
    /// Scale σ.
    pub scale: f64,
    /// Shape k.
    pub shape: f64,
}

impl Gev {
    /// The ETC key-size fit (SIGMETRICS'12 Table 5).
    pub const ETC_KEYS: Gev = Gev {
        location: 30.7984,
        scale: 8.20449,
        shape: 0.078688,
    };

    /// The quantile at `p` in (0, 1): μ + σ((−ln p)^(−k) − 1)/k.
    pub fn quantile(&self, p: f64) -> f64 {
        self.location + self.scale * ((-p.ln()).powf(-self.shape) - 1.0) / self.shape
    }
}

/// A Generalized Pareto distribution (shape ≠ 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneralizedPareto {
    /// Location μ.
    pub location: f64,
    /// Scale σ.
    pub scale: f64,
    /// Shape k.
    pub shape: f64,
}

impl GeneralizedPareto {
    /// The ETC value-size fit (SIGMETRICS'12 Table 5).
    pub const ETC_VALUES: GeneralizedPareto = GeneralizedPareto {
        location: 0.0,
        scale: 214.476,
        shape: 0.348238,
    };

    /// The quantile at `p` in [0, 1): μ + σ((1 − p)^(−k) − 1)/k.
    pub fn quantile(&self, p: f64) -> f64 {
        self.location + self.scale * ((1.0 - p).powf(-self.shape) - 1.0) / self.shape
    }

    /// The mean, μ + σ/(1 − k) (finite for k < 1).
    pub fn mean(&self) -> f64 {
        self.location + self.scale / (1.0 - self.shape)
    }
}

/// Probabilities of the values of 0 to 14 bytes in ETC (Mutilate's
/// `fb_value` table); the Pareto covers the remaining probability.
const SMALL_VALUES: [f64; 15] = [
    0.00536, 0.00047, 0.17820, 0.09239, 0.00018, 0.02740, 0.00065, 0.00606, 0.00023, 0.00837,
    0.00837, 0.08989, 0.00092, 0.00326, 0.01980,
];

/// ETC value sizes: the small-value table, else the Pareto fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtcValueSizes {
    /// Largest size returned: the Pareto's tail is cut here (memcached
    /// refuses items above its item size limit, 1 MB by default).
    pub max: usize,
}

impl EtcValueSizes {
    /// Probability of a value of at most 14 bytes drawn from the table.
    pub fn small_probability() -> f64 {
        SMALL_VALUES.iter().sum()
    }

    /// The size at cumulative probability `p` in [0, 1).
    pub fn quantile(&self, p: f64) -> usize {
        let mut cumulative = 0.0;
        for (size, probability) in SMALL_VALUES.iter().enumerate() {
            cumulative += probability;
            if p < cumulative {
                return size;
            }
        }
        let small = Self::small_probability();
        let pareto = GeneralizedPareto::ETC_VALUES.quantile((p - small) / (1.0 - small));
        (pareto.round() as usize).min(self.max)
    }

    /// Draws one size.
    pub fn sample(&self, rng: &mut dyn RngCore) -> usize {
        self.quantile(rng.random::<f64>())
    }

    /// The mean size without the cut at `max` (the cut moves it by far
    /// less than a byte for any `max` above 100 kB).
    pub fn mean() -> f64 {
        let small: f64 = SMALL_VALUES
            .iter()
            .enumerate()
            .map(|(size, p)| size as f64 * p)
            .sum();
        small + (1.0 - Self::small_probability()) * GeneralizedPareto::ETC_VALUES.mean()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn sample_quantile(sorted: &[f64], p: f64) -> f64 {
        sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
    }

    #[test]
    fn gev_quantiles_invert_its_cdf() {
        let gev = Gev::ETC_KEYS;
        for p in [0.01, 0.5, 0.9, 0.999] {
            let x = gev.quantile(p);
            let z = 1.0 + gev.shape * (x - gev.location) / gev.scale;
            let cdf = (-z.powf(-1.0 / gev.shape)).exp();
            assert!((cdf - p).abs() < 1e-9, "{p}: {cdf}");
        }
        // The ETC key-size median is near 34 bytes.
        assert!((gev.quantile(0.5) - 33.85).abs() < 0.1);
    }

    #[test]
    fn pareto_sample_mean_and_quantiles_match_the_fit() {
        let pareto = GeneralizedPareto::ETC_VALUES;
        assert!((pareto.mean() - 329.07).abs() < 0.01);
        let mut rng = SmallRng::seed_from_u64(5);
        let mut samples: Vec<f64> = (0..400_000)
            .map(|_| pareto.quantile(rng.random::<f64>()))
            .collect();
        samples.sort_by(f64::total_cmp);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((mean / pareto.mean() - 1.0).abs() < 0.03, "mean {mean}");
        for p in [0.5, 0.9, 0.99] {
            let (got, want) = (sample_quantile(&samples, p), pareto.quantile(p));
            assert!((got / want - 1.0).abs() < 0.03, "p{p}: {got} vs {want}");
        }
    }

    #[test]
    fn etc_value_sizes_have_the_small_table_and_the_pareto_tail() {
        let sizes = EtcValueSizes { max: 500_000 };
        assert!((EtcValueSizes::small_probability() - 0.44155).abs() < 1e-9);
        let mut rng = SmallRng::seed_from_u64(6);
        let draws: Vec<usize> = (0..400_000).map(|_| sizes.sample(&mut rng)).collect();
        let share = |size: usize| draws.iter().filter(|&&d| d == size).count() as f64 / 4e5;
        assert!((share(2) - 0.17820).abs() < 0.005, "{}", share(2));
        assert!((share(11) - 0.08989).abs() < 0.005, "{}", share(11));
        let small = draws.iter().filter(|&&d| d <= 14).count() as f64 / 4e5;
        // Pareto draws below 14.5 bytes round into the small sizes too.
        let pareto_small = 1.0 - (1.0 + 0.348238 * 14.5 / 214.476f64).powf(-1.0 / 0.348238);
        let expected = 0.44155 + 0.55845 * pareto_small;
        assert!((small - expected).abs() < 0.005, "{small} vs {expected}");
        let mean = draws.iter().sum::<usize>() as f64 / 4e5;
        assert!((mean / EtcValueSizes::mean() - 1.0).abs() < 0.03, "{mean}");
        assert!((EtcValueSizes::mean() - 186.07).abs() < 0.05);
        assert!(draws.iter().all(|&d| d <= 500_000));
        assert_eq!(EtcValueSizes { max: 1000 }.quantile(1.0 - 1e-15), 1000);
    }
}
