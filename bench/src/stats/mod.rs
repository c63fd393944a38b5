//! Statistics of the Lancet methodology (thesis ch. 4.2-4.4).
//!
//! A load generator records, per run, the send gaps and the latencies in
//! transmission order, then calls [`analysis::check_exponential_gaps`] and
//! [`analysis::analyze_latencies`]; each figure comes back as a
//! [`Checked`] value that prints `N/A (reason)` when a check failed. The
//! building blocks (Anderson–Darling, Spearman, ADF, order-statistics
//! intervals) are public for the simulator's own tests.

pub mod analysis;
pub mod anderson_darling;
pub mod normal;
pub mod percentile;
pub mod spearman;
pub mod stationarity;
pub mod verdict;

pub use verdict::{Checked, NotAvailable};

/// Input a statistical routine cannot work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// Not enough values.
    #[error("{got} values, at least {needed} needed")]
    TooFew {
        /// Values given.
        got: usize,
        /// Values needed.
        needed: usize,
    },
    /// A value is NaN, infinite, or out of the distribution's support.
    #[error("a value is not finite or out of range")]
    InvalidValue,
    /// The data carry no information for the test (constant series).
    #[error("degenerate data (constant or collinear)")]
    Degenerate,
}
