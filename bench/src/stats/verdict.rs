//! Results that may not be reportable. Lancet (thesis §4.4.3) reports
//! "N/A" with the reason rather than a number when a statistical check
//! fails; [`Checked`] carries either the value or that reason.

use std::fmt;

/// Why a measured figure is not reported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotAvailable {
    /// The achieved inter-arrival times are not exponential (Poisson
    /// arrivals were asked for).
    #[error("inter-arrivals not exponential (Anderson-Darling A2*={statistic:.3} > {critical:.3})")]
    InterArrivalsNotExponential {
        /// The modified Anderson–Darling statistic.
        statistic: f64,
        /// The threshold it exceeded.
        critical: f64,
    },
    /// Fixed inter-arrivals were asked for but their spread is too large.
    #[error("inter-arrivals not fixed (coefficient of variation {cv:.3} > {limit:.3})")]
    InterArrivalsNotFixed {
        /// Achieved coefficient of variation.
        cv: f64,
        /// The limit it exceeded.
        limit: f64,
    },
    /// Latency samples stayed correlated up to the largest sampling interval.
    #[error(
        "latency samples correlated up to keeping 1 in {interval} (Spearman rho={rho:.3}); a longer run allows sparser sampling"
    )]
    SamplesCorrelated {
        /// Largest sampling interval tried.
        interval: usize,
        /// Lag-1 rank autocorrelation of the samples at that interval.
        rho: f64,
    },
    /// The sampled latencies drift over the run.
    #[error("latencies not stationary ({0})")]
    NotStationary(#[from] crate::stats::stationarity::NonStationarity),
    /// The run produced fewer latency samples than the analysis needs.
    #[error("only {samples} latency samples, at least {needed} needed")]
    TooFewLatencies {
        /// Samples available.
        samples: usize,
        /// Samples needed.
        needed: usize,
    },
    /// Too few samples for the confidence interval of a percentile.
    #[error("{samples} samples are too few for the {percentile} percentile's confidence interval")]
    TooFewSamples {
        /// Samples available.
        samples: usize,
        /// The percentile asked for, in (0, 1).
        percentile: f64,
    },
    /// The generator could not keep the load open-loop: every connection
    /// already had its full pipeline of outstanding requests.
    #[error("{deferred} requests waited for a free connection slot (open loop broken)")]
    PipelineExhausted {
        /// Requests that could not be sent at their scheduled time.
        deferred: u64,
    },
    /// The achieved request rate is too far below the target.
    #[error("achieved {achieved:.0} RPS, below the {target:.0} RPS asked for")]
    RateNotReached {
        /// Achieved requests per second.
        achieved: f64,
        /// Target requests per second.
        target: f64,
    },
    /// Requests were sent but never answered within the run.
    #[error("{missing} requests unanswered at the end of the run")]
    Unanswered {
        /// Requests without a response.
        missing: u64,
    },
}

/// A figure that passed its checks, or the reason it is not reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked<T> {
    /// The figure, trustworthy.
    Valid(T),
    /// Not reported, with the reason.
    NotAvailable(NotAvailable),
}

impl<T> Checked<T> {
    /// The figure, when valid.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Checked::Valid(value) => Some(value),
            Checked::NotAvailable(_) => None,
        }
    }

    /// Converts the figure, keeping the reason when there is none.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Checked<U> {
        match self {
            Checked::Valid(value) => Checked::Valid(f(value)),
            Checked::NotAvailable(reason) => Checked::NotAvailable(reason),
        }
    }
}

impl<T> From<Result<T, NotAvailable>> for Checked<T> {
    fn from(result: Result<T, NotAvailable>) -> Self {
        match result {
            Ok(value) => Checked::Valid(value),
            Err(reason) => Checked::NotAvailable(reason),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checked::Valid(value) => value.fmt(f),
            Checked::NotAvailable(reason) => write!(f, "N/A ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_available_prints_na_with_the_reason() {
        let checked: Checked<f64> = Err(NotAvailable::Unanswered { missing: 3 }).into();
        assert_eq!(
            checked.to_string(),
            "N/A (3 requests unanswered at the end of the run)"
        );
        assert_eq!(checked.valid(), None);
        let ok: Checked<f64> = Ok(2.5).into();
        assert_eq!(ok.map(|v| v * 2.0).to_string(), "5");
    }
}
