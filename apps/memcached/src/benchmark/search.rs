//! The search for a server's maximum throughput at the SLO: measure at
//! rates growing geometrically until the server stops keeping up, then
//! bisect (geometrically) between the last rate it kept up with and the
//! first it did not. A rate the server misses is measured again up to
//! `retries` times (a shared machine's hiccup should not end a search);
//! the last attempt is the point kept, and it says how many there were.
//!
//! Two verdicts per point:
//! - *meets the SLO* (the headline): its checked p99 (Lancet's checks and
//!   confidence interval, `bench::stats`) is valid and at most the SLO. A
//!   point whose p99 is N/A (open loop broken, rate missed,
//!   inter-arrivals not Poisson, unanswered requests, correlated
//!   samples...) misses it. As in `bench::sweep`, the result is the
//!   highest rate met *before* the first miss in rate order, reported as
//!   the throughput achieved there.
//! - *keeps up* (the unchecked diagnostic that drives the search): every
//!   request answered, the open loop never broken, and the p99 of all
//!   measured requests within the SLO. On a noisy machine the checks can
//!   reject every point while this still tells the servers apart; it is
//!   always labelled unchecked.

use bench::loadgen::{ClassLatency, LoadReport};
use bench::stats::analysis::ReportedEstimate;
use serde::Serialize;

/// One measured rate.
#[derive(Debug, Clone, Serialize)]
pub struct RatePoint {
    /// Offered rate, requests per second.
    pub target_rps: f64,
    /// Achieved send rate, requests per second (0 when the run failed).
    pub achieved_rps: f64,
    /// Checked p99 with its confidence interval, µs, or why not.
    pub p99: ReportedEstimate,
    /// p99 of every measured request (unchecked), µs.
    pub p99_all_requests: Option<f64>,
    /// Unchecked latencies per request class (get, set).
    pub per_class: Vec<ClassLatency>,
    /// Gets answered with a value, and without.
    pub hits: u64,
    /// Gets answered `END` alone.
    pub misses: u64,
    /// Failed run-wide checks or the run's error.
    pub problems: Vec<String>,
    /// Sizing warnings.
    pub warnings: Vec<String>,
    /// Whether the checked p99 is valid and within the SLO.
    pub meets_slo: bool,
    /// Whether every request was answered without breaking the open loop
    /// and the unchecked p99 is within the SLO.
    pub keeps_up: bool,
    /// Measurements at this rate (more than 1 when earlier ones missed).
    pub attempts: usize,
}

impl RatePoint {
    /// A point from a finished run.
    pub fn measured(report: &LoadReport, hits: u64, misses: u64, slo_micros: f64) -> RatePoint {
        let p99: ReportedEstimate = report.p99().into();
        let meets_slo = matches!(&p99, ReportedEstimate::Valid(e) if e.value <= slo_micros);
        let keeps_up = report.answered == report.sent
            && report.deferred == 0
            && report.histogram.p99 <= slo_micros;
        RatePoint {
            keeps_up,
            attempts: 1,
            target_rps: report.target_rps,
            achieved_rps: report.achieved_rps,
            p99,
            p99_all_requests: Some(report.histogram.p99),
            per_class: report.per_class.clone(),
            hits,
            misses,
            problems: report.failed_checks.iter().map(|c| c.to_string()).collect(),
            warnings: report.warnings.clone(),
            meets_slo,
        }
    }

    /// A point whose run failed with `error`.
    pub fn failed(target_rps: f64, error: String) -> RatePoint {
        RatePoint {
            target_rps,
            achieved_rps: 0.0,
            p99: ReportedEstimate::NotAvailable {
                not_available: format!("run failed: {error}"),
            },
            p99_all_requests: None,
            per_class: Vec::new(),
            hits: 0,
            misses: 0,
            problems: vec![error],
            warnings: Vec::new(),
            meets_slo: false,
            keeps_up: false,
            attempts: 1,
        }
    }
}

/// The rates tried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// First rate, RPS.
    pub start_rps: f64,
    /// Factor between rates of the growing phase (> 1).
    pub growth: f64,
    /// Highest rate tried.
    pub max_rps: f64,
    /// Bisection steps after the first miss.
    pub refinements: usize,
    /// Extra measurements of a rate the server missed.
    pub retries: usize,
}

/// Measures `rate`, again while the server misses it, up to `retries`
/// more times.
fn attempt(rate: f64, retries: usize, measure: &mut impl FnMut(f64) -> RatePoint) -> RatePoint {
    let mut point = measure(rate);
    for attempts in 2..=retries + 1 {
        if point.keeps_up {
            break;
        }
        point = measure(rate);
        point.attempts = attempts;
    }
    point
}

/// Measures rates as the module docs say; `measure` runs one point.
pub fn search(config: &SearchConfig, mut measure: impl FnMut(f64) -> RatePoint) -> Vec<RatePoint> {
    let mut points = Vec::new();
    let mut rate = config.start_rps;
    let (mut met, mut missed) = (None, None);
    while rate <= config.max_rps {
        let point = attempt(rate, config.retries, &mut measure);
        let meets = point.keeps_up;
        points.push(point);
        if !meets {
            missed = Some(rate);
            break;
        }
        met = Some(rate);
        rate *= config.growth;
    }
    if let (Some(mut low), Some(mut high)) = (met, missed) {
        for _ in 0..config.refinements {
            let middle = (low * high).sqrt();
            let point = attempt(middle, config.retries, &mut measure);
            if point.keeps_up {
                low = middle;
            } else {
                high = middle;
            }
            points.push(point);
        }
    }
    points.sort_by(|a, b| a.target_rps.total_cmp(&b.target_rps));
    points
}

/// The highest point meeting the SLO before the first miss, in rate
/// order (`points` sorted by rate).
pub fn best_at_slo(points: &[RatePoint]) -> Option<&RatePoint> {
    points.iter().take_while(|p| p.meets_slo).last()
}

/// The highest point keeping up before the first that does not (the
/// unchecked diagnostic), `points` sorted by rate.
pub fn best_keeping_up(points: &[RatePoint]) -> Option<&RatePoint> {
    points.iter().take_while(|p| p.keeps_up).last()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bench::stats::percentile::PercentileEstimate;

    /// A server whose p99 exceeds the SLO from `capacity` RPS on.
    fn fake(capacity: f64) -> impl FnMut(f64) -> RatePoint {
        move |rate| {
            let value = if rate < capacity { 100.0 } else { 900.0 };
            let mut point = RatePoint::failed(rate, String::new());
            point.achieved_rps = rate;
            point.p99 = ReportedEstimate::Valid(PercentileEstimate {
                percentile: 0.99,
                value,
                low: value,
                high: value,
            });
            point.meets_slo = value <= 500.0;
            point.keeps_up = point.meets_slo;
            point
        }
    }

    const CONFIG: SearchConfig = SearchConfig {
        start_rps: 10_000.0,
        growth: 2.0,
        max_rps: 1e7,
        refinements: 4,
        retries: 0,
    };

    #[test]
    fn the_search_brackets_the_capacity_and_refines_it() {
        let points = search(&CONFIG, fake(123_000.0));
        let best = best_at_slo(&points).expect("a point meets the SLO");
        // Growth stops at 160k; four halvings of the 80k-160k octave in
        // log scale leave the answer within 2^(1/16) of the capacity.
        assert!(best.target_rps < 123_000.0);
        assert!(
            best.target_rps > 123_000.0 / 2f64.powf(1.0 / 16.0),
            "{}",
            best.target_rps
        );
        assert_eq!(points.len(), 5 + 4);
        assert!(
            points
                .windows(2)
                .all(|w| w[0].target_rps <= w[1].target_rps)
        );
    }

    #[test]
    fn a_server_missing_at_the_first_rate_has_no_best() {
        let points = search(&CONFIG, fake(5_000.0));
        assert_eq!(points.len(), 1);
        assert!(best_at_slo(&points).is_none());
    }

    #[test]
    fn the_best_point_stops_at_the_first_miss_even_if_a_later_rate_met() {
        let mut points = search(&CONFIG, fake(50_000.0));
        points[1].meets_slo = false;
        assert_eq!(best_at_slo(&points).map(|p| p.target_rps), Some(10_000.0));
        // The unchecked verdict drives the search and has its own answer.
        let unchecked = best_keeping_up(&points).map(|p| p.target_rps);
        assert!(
            unchecked.is_some_and(|rate| rate > 40_000.0),
            "{unchecked:?}"
        );
    }

    #[test]
    fn growth_stops_at_the_highest_rate() {
        let config = SearchConfig {
            max_rps: 30_000.0,
            ..CONFIG
        };
        let points = search(&config, fake(1e9));
        assert_eq!(points.len(), 2);
        assert_eq!(best_at_slo(&points).map(|p| p.target_rps), Some(20_000.0));
    }

    #[test]
    fn a_missed_rate_is_measured_again_and_a_hiccup_does_not_end_the_search() {
        let mut calls = 0;
        let mut inner = fake(100_000.0);
        // The second measurement (20k) hiccups once.
        let hiccup = |rate| {
            calls += 1;
            let mut point = inner(rate);
            if calls == 2 {
                point.keeps_up = false;
            }
            point
        };
        let config = SearchConfig {
            retries: 1,
            ..CONFIG
        };
        let points = search(&config, hiccup);
        assert_eq!(points[1].attempts, 2);
        assert!(points[1].keeps_up);
        let best = best_keeping_up(&points).map(|p| p.target_rps);
        assert!(best.is_some_and(|rate| rate > 80_000.0), "{best:?}");
        // A server that misses for good is measured 1 + retries times.
        let points = search(&config, fake(5_000.0));
        assert_eq!((points.len(), points[0].attempts), (1, 2));
    }

    #[test]
    fn a_failed_run_neither_meets_the_slo_nor_keeps_up() {
        let point = RatePoint::failed(1.0, "connect: refused".to_owned());
        assert!(!point.meets_slo && !point.keeps_up);
        assert_eq!(point.problems, ["connect: refused"]);
    }
}
