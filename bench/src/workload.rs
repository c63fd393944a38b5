//! Service-time distributions and open-loop arrival processes, shared by
//! the queueing simulator and the load generator (thesis §6.2: fixed,
//! exponential, bimodal-1, bimodal-2; Lancet's Poisson and fixed
//! inter-arrivals).
//!
//! Values carry no unit: the simulator works in units of the mean service
//! time, the load generator in microseconds. On the command line a
//! distribution is `fixed:10`, `exp:10`, `bimodal-1:10`, `bimodal-2:10`
//! (mean in µs) or `file:PATH` (one service time in µs per line).

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Exp1};

/// A service-time distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceDistribution {
    /// Every request takes `mean`.
    Fixed {
        /// The service time.
        mean: f64,
    },
    /// Exponential with mean `mean`.
    Exponential {
        /// Mean service time.
        mean: f64,
    },
    /// `mean/2` with probability 0.9, `5.5·mean` with probability 0.1.
    Bimodal1 {
        /// Mean service time.
        mean: f64,
    },
    /// `mean/2` with probability 0.999, `500.5·mean` with probability 0.001.
    Bimodal2 {
        /// Mean service time.
        mean: f64,
    },
    /// Drawn uniformly from measured service times.
    Empirical {
        /// The measured service times (non-empty, finite, non-negative).
        samples: Arc<[f64]>,
    },
}

/// A distribution that cannot be built or parsed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The kind before the colon is unknown.
    #[error("unknown distribution {0:?} (fixed, exp, bimodal-1, bimodal-2, file)")]
    UnknownKind(String),
    /// The text has no `kind:value` form.
    #[error("expected KIND:VALUE, got {0:?}")]
    Malformed(String),
    /// A mean or rate is not a positive finite number.
    #[error("{0:?} is not a positive finite number")]
    BadNumber(String),
    /// An empirical sample set is empty.
    #[error("no service times given")]
    Empty,
    /// A line of a service-time file is not a non-negative number.
    #[error("line {line}: {text:?} is not a non-negative service time")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The offending text.
        text: String,
    },
    /// The service-time file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn positive(text: &str) -> Result<f64, WorkloadError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| WorkloadError::BadNumber(text.to_owned()))
}

impl ServiceDistribution {
    /// An empirical distribution over `samples`.
    pub fn empirical(samples: Vec<f64>) -> Result<Self, WorkloadError> {
        if samples.is_empty() {
            return Err(WorkloadError::Empty);
        }
        if let Some(line) = samples.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(WorkloadError::BadLine {
                line: line + 1,
                text: samples[line].to_string(),
            });
        }
        Ok(ServiceDistribution::Empirical {
            samples: samples.into(),
        })
    }

    /// Reads one service time per non-empty line of `path`.
    pub fn from_file(path: &Path) -> Result<Self, WorkloadError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut samples = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let value = line
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| WorkloadError::BadLine {
                    line: index + 1,
                    text: line.to_owned(),
                })?;
            samples.push(value);
        }
        Self::empirical(samples)
    }

    /// The mean service time.
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDistribution::Fixed { mean }
            | ServiceDistribution::Exponential { mean }
            | ServiceDistribution::Bimodal1 { mean }
            | ServiceDistribution::Bimodal2 { mean } => *mean,
            ServiceDistribution::Empirical { samples } => {
                samples.iter().sum::<f64>() / samples.len() as f64
            }
        }
    }

    /// The same shape with every value multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Self {
        match self {
            ServiceDistribution::Fixed { mean } => ServiceDistribution::Fixed {
                mean: mean * factor,
            },
            ServiceDistribution::Exponential { mean } => ServiceDistribution::Exponential {
                mean: mean * factor,
            },
            ServiceDistribution::Bimodal1 { mean } => ServiceDistribution::Bimodal1 {
                mean: mean * factor,
            },
            ServiceDistribution::Bimodal2 { mean } => ServiceDistribution::Bimodal2 {
                mean: mean * factor,
            },
            ServiceDistribution::Empirical { samples } => ServiceDistribution::Empirical {
                samples: samples.iter().map(|v| v * factor).collect(),
            },
        }
    }

    /// The same shape with mean 1 (the simulator's unit).
    pub fn normalized(&self) -> Self {
        let mean = self.mean();
        if mean > 0.0 {
            self.scaled(1.0 / mean)
        } else {
            self.clone()
        }
    }

    /// A short name of the shape (`exp`, `bimodal-1`...).
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceDistribution::Fixed { .. } => "fixed",
            ServiceDistribution::Exponential { .. } => "exp",
            ServiceDistribution::Bimodal1 { .. } => "bimodal-1",
            ServiceDistribution::Bimodal2 { .. } => "bimodal-2",
            ServiceDistribution::Empirical { .. } => "file",
        }
    }

    /// Draws one service time.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let bimodal = |rng: &mut R, mean: f64, p_slow: f64, slow: f64| {
            if rng.random::<f64>() < p_slow {
                slow * mean
            } else {
                mean / 2.0
            }
        };
        match self {
            ServiceDistribution::Fixed { mean } => *mean,
            ServiceDistribution::Exponential { mean } => {
                let unit: f64 = Exp1.sample(rng);
                unit * mean
            }
            ServiceDistribution::Bimodal1 { mean } => bimodal(rng, *mean, 0.1, 5.5),
            ServiceDistribution::Bimodal2 { mean } => bimodal(rng, *mean, 0.001, 500.5),
            ServiceDistribution::Empirical { samples } => {
                samples[rng.random_range(0..samples.len())]
            }
        }
    }
}

impl FromStr for ServiceDistribution {
    type Err = WorkloadError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| WorkloadError::Malformed(text.to_owned()))?;
        match kind {
            "fixed" => Ok(ServiceDistribution::Fixed {
                mean: positive(value)?,
            }),
            "exp" => Ok(ServiceDistribution::Exponential {
                mean: positive(value)?,
            }),
            "bimodal-1" => Ok(ServiceDistribution::Bimodal1 {
                mean: positive(value)?,
            }),
            "bimodal-2" => Ok(ServiceDistribution::Bimodal2 {
                mean: positive(value)?,
            }),
            "file" => Self::from_file(Path::new(value)),
            other => Err(WorkloadError::UnknownKind(other.to_owned())),
        }
    }
}

impl fmt::Display for ServiceDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.mean())
    }
}

/// An open-loop arrival process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrivalProcess {
    /// Exponential gaps (a Poisson process) of the given rate.
    Poisson {
        /// Arrivals per unit time.
        rate: f64,
    },
    /// Constant gaps of `1/rate`.
    Fixed {
        /// Arrivals per unit time.
        rate: f64,
    },
}

impl ArrivalProcess {
    /// Arrivals per unit time.
    pub fn rate(&self) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate } | ArrivalProcess::Fixed { rate } => *rate,
        }
    }

    /// The same process at another rate.
    pub fn with_rate(&self, rate: f64) -> Self {
        match self {
            ArrivalProcess::Poisson { .. } => ArrivalProcess::Poisson { rate },
            ArrivalProcess::Fixed { .. } => ArrivalProcess::Fixed { rate },
        }
    }

    /// Draws the gap to the next arrival.
    pub fn next_gap<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            ArrivalProcess::Poisson { rate } => {
                let unit: f64 = Exp1.sample(rng);
                unit / rate
            }
            ArrivalProcess::Fixed { rate } => 1.0 / rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn moments(dist: &ServiceDistribution, n: usize) -> (f64, f64) {
        let mut rng = SmallRng::seed_from_u64(5);
        let draws: Vec<f64> = (0..n).map(|_| dist.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var)
    }

    #[test]
    fn sampled_moments_match_each_shape() {
        // (distribution, variance for mean 10); bimodal-1: E[X^2] =
        // .9*25 + .1*55^2 = 325, var 225; bimodal-2: .999*25 + .001*5005^2
        // = 25075, var 24975. Means within 4 standard errors; variances
        // within 10% (bimodal-2 draws ~2000 slow requests: ~2.2% per sigma).
        let n = 2_000_000;
        let cases = [
            ("fixed:10", 0.0),
            ("exp:10", 100.0),
            ("bimodal-1:10", 225.0),
            ("bimodal-2:10", 24_975.0),
        ];
        for (text, variance) in cases {
            let dist: ServiceDistribution = text.parse().unwrap();
            assert_eq!(dist.mean(), 10.0);
            let (mean, var) = moments(&dist, n);
            let standard_error = (variance / n as f64).sqrt();
            assert!(
                (mean - 10.0).abs() <= 4.0 * standard_error + 1e-9,
                "{text}: mean {mean}"
            );
            assert!(
                (var - variance).abs() <= 0.1 * variance + 1e-9,
                "{text}: var {var} vs {variance}"
            );
        }
    }

    #[test]
    fn normalized_has_unit_mean_and_keeps_the_shape() {
        let dist: ServiceDistribution = "bimodal-1:25".parse().unwrap();
        assert_eq!(
            dist.normalized(),
            ServiceDistribution::Bimodal1 { mean: 1.0 }
        );
        let empirical = ServiceDistribution::empirical(vec![1.0, 3.0]).unwrap();
        assert_eq!(empirical.normalized().mean(), 1.0);
    }

    #[test]
    fn file_distribution_reads_lines_and_reports_bad_ones() {
        let dir = std::env::temp_dir().join(format!("bench-workload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "# measured\n10\n\n30\n").unwrap();
        let dist: ServiceDistribution = format!("file:{}", good.display()).parse().unwrap();
        assert_eq!(dist.mean(), 20.0);
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "10\nfast\n").unwrap();
        let error = ServiceDistribution::from_file(&bad).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            matches!(error, WorkloadError::BadLine { line: 2, .. }),
            "{error}"
        );
    }

    #[test]
    fn malformed_text_is_an_error() {
        for text in ["exp", "exp:-1", "exp:x", "gamma:3", "fixed:inf"] {
            assert!(text.parse::<ServiceDistribution>().is_err(), "{text}");
        }
    }

    #[test]
    fn arrival_processes_have_the_asked_rate() {
        let mut rng = SmallRng::seed_from_u64(1);
        let poisson = ArrivalProcess::Poisson { rate: 4.0 };
        let total: f64 = (0..400_000).map(|_| poisson.next_gap(&mut rng)).sum();
        assert!((400_000.0 / total - 4.0).abs() < 0.03);
        let fixed = poisson.with_rate(2.0);
        assert_eq!(fixed.rate(), 2.0);
        assert_eq!(ArrivalProcess::Fixed { rate: 2.0 }.next_gap(&mut rng), 0.5);
    }
}
