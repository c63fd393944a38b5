//! Stationarity of a latency series (thesis §4.4.3 "Result Stationarity").
//!
//! Two checks, both at the 1% level, on the sampled latencies in
//! transmission order:
//! 1. the augmented Dickey–Fuller test (as Lancet), regression with a
//!    constant, Δy_t = a + b·y_{t−1} + Σ_{i≤p} c_i·Δy_{t−i}, lag order
//!    p = ⌊12·(n/100)^{1/4}⌋ (Schwert's rule); a unit root (b = 0) is
//!    rejected when the t-statistic of b is below MacKinnon's (2010)
//!    finite-sample critical value;
//! 2. a rank trend test (Spearman correlation of value and time), because
//!    the ADF regression with a constant only does not reject a series that
//!    is stationary around a drifting mean (a queue that slowly builds up).
//!
//! The series is stationary when the unit root is rejected and no trend is
//! significant.

use super::StatsError;
use super::spearman::trend;

/// Why a series is judged non-stationary.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum NonStationarity {
    /// The ADF test did not reject a unit root.
    #[error("ADF t={t:.2} not below the 1% critical value {critical:.2}")]
    UnitRoot {
        /// t-statistic of the lagged level.
        t: f64,
        /// Critical value it had to fall below.
        critical: f64,
    },
    /// The values drift with time.
    #[error("rank trend rho={rho:.3} significant at 1%")]
    Trend {
        /// Spearman correlation of value and time.
        rho: f64,
    },
}

/// Result of the augmented Dickey–Fuller regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdfTest {
    /// t-statistic of the lagged level's coefficient.
    pub t: f64,
    /// Lag order used.
    pub lags: usize,
    /// 1% critical value for this many observations.
    pub critical_1pct: f64,
}

/// MacKinnon (2010, Table 1, "constant, no trend", N=1) response surface
/// for the 1% critical value with `observations` regression rows.
fn mackinnon_critical_1pct(observations: usize) -> f64 {
    let t = observations as f64;
    -3.430_35 - 6.539_3 / t - 16.786 / (t * t)
}

/// Solves `a·x = b` for symmetric positive-definite `a` by Cholesky
/// factorisation; `None` when `a` is singular.
fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let k = b.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|m| l[i][m] * l[j][m]).sum();
            if i == j {
                let d = a[i][i] - sum;
                if d <= a[i][i].abs() * 1e-12 || d <= 0.0 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - sum) / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|m| l[i][m] * y[m]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|m| l[m][i] * x[m]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// Runs the ADF regression on `series` (at least 50 values).
pub fn augmented_dickey_fuller(series: &[f64]) -> Result<AdfTest, StatsError> {
    const MIN_VALUES: usize = 50;
    if series.len() < MIN_VALUES {
        return Err(StatsError::TooFew {
            got: series.len(),
            needed: MIN_VALUES,
        });
    }
    if series.iter().any(|x| !x.is_finite()) {
        return Err(StatsError::InvalidValue);
    }
    let n = series.len();
    let lags = ((12.0 * (n as f64 / 100.0).powf(0.25)) as usize).min(n / 4);
    let diff: Vec<f64> = series.windows(2).map(|w| w[1] - w[0]).collect();
    // Regressors per row t (t indexes diff, t > lags): 1, y_{t}, diff[t-1..t-lags].
    let width = lags + 2;
    let mut xtx = vec![vec![0.0; width]; width];
    let mut xty = vec![0.0; width];
    let mut row = vec![0.0; width];
    let rows = lags..diff.len();
    let observations = rows.len();
    for t in rows.clone() {
        row[0] = 1.0;
        row[1] = series[t];
        for i in 1..=lags {
            row[i + 1] = diff[t - i];
        }
        for (i, xtx_row) in xtx.iter_mut().enumerate() {
            xty[i] += row[i] * diff[t];
            for (cell, x) in xtx_row.iter_mut().zip(&row) {
                *cell += row[i] * x;
            }
        }
    }
    let beta = cholesky_solve(&xtx, &xty).ok_or(StatsError::Degenerate)?;
    let mut rss = 0.0;
    for t in rows {
        let fitted = beta[0]
            + beta[1] * series[t]
            + (1..=lags).map(|i| beta[i + 1] * diff[t - i]).sum::<f64>();
        rss += (diff[t] - fitted).powi(2);
    }
    let sigma2 = rss / (observations - width) as f64;
    let mut unit = vec![0.0; width];
    unit[1] = 1.0;
    let inverse_column = cholesky_solve(&xtx, &unit).ok_or(StatsError::Degenerate)?;
    let standard_error = (sigma2 * inverse_column[1]).sqrt();
    if standard_error == 0.0 || !standard_error.is_finite() {
        return Err(StatsError::Degenerate);
    }
    Ok(AdfTest {
        t: beta[1] / standard_error,
        lags,
        critical_1pct: mackinnon_critical_1pct(observations),
    })
}

/// Both checks of the module docs; `Ok(())` when the series is stationary.
pub fn check_stationary(series: &[f64]) -> Result<Result<(), NonStationarity>, StatsError> {
    let adf = augmented_dickey_fuller(series)?;
    if adf.t >= adf.critical_1pct {
        return Ok(Err(NonStationarity::UnitRoot {
            t: adf.t,
            critical: adf.critical_1pct,
        }));
    }
    let drift = trend(series);
    if drift.significant(0.99) {
        return Ok(Err(NonStationarity::Trend { rho: drift.rho }));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp, Normal};

    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, 1.0).unwrap();
        (0..n).map(|_| normal.sample(&mut rng)).collect()
    }

    #[test]
    fn iid_exponential_latencies_are_stationary() {
        let mut rng = SmallRng::seed_from_u64(1);
        let exp = Exp::new(0.1).unwrap();
        let series: Vec<f64> = (0..10_000).map(|_| exp.sample(&mut rng)).collect();
        let adf = augmented_dickey_fuller(&series).unwrap();
        assert!(adf.t < -10.0, "{adf:?}");
        assert_eq!(check_stationary(&series), Ok(Ok(())));
    }

    #[test]
    fn a_random_walk_has_a_unit_root() {
        let walk: Vec<f64> = noise(10_000, 2)
            .iter()
            .scan(0.0, |level, step| {
                *level += step;
                Some(*level)
            })
            .collect();
        assert!(matches!(
            check_stationary(&walk),
            Ok(Err(NonStationarity::UnitRoot { .. }))
        ));
    }

    #[test]
    fn a_drifting_mean_is_a_trend() {
        let drifting: Vec<f64> = noise(10_000, 3)
            .iter()
            .enumerate()
            .map(|(i, x)| x + i as f64 * 2e-4)
            .collect();
        assert!(matches!(
            check_stationary(&drifting),
            Ok(Err(NonStationarity::Trend { .. }))
        ));
    }

    #[test]
    fn critical_value_approaches_the_asymptotic_one() {
        assert!((mackinnon_critical_1pct(1_000_000) + 3.430).abs() < 1e-3);
        assert!(mackinnon_critical_1pct(100) < -3.49);
    }

    #[test]
    fn constant_or_short_input_is_an_error() {
        assert_eq!(
            augmented_dickey_fuller(&[1.0; 10]),
            Err(StatsError::TooFew {
                got: 10,
                needed: 50
            })
        );
        assert_eq!(
            augmented_dickey_fuller(&[1.0; 100]),
            Err(StatsError::Degenerate)
        );
    }
}
