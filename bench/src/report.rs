//! Result tables shared by `zygos bench load` and the applications'
//! benchmarks (`zygos bench memcached`, `zygos bench silo`).
//!
//! - [`class_table`]: the per-request-class latencies of one run
//!   ([`LoadReport::per_class`](crate::loadgen::LoadReport::per_class)),
//!   one row per class: requests sent and answered, the class's share of
//!   the achieved rate, and p50/p90/p99/p99.9 checked exactly as the run's
//!   overall latency is ([`crate::stats`], thesis §4.4.3): the value with
//!   its order-statistics confidence interval, or N/A with the reason.
//! - [`ratio`], [`ratio_cell`], [`or_na`], [`estimate_cell`]: the cells of
//!   the applications' max-throughput-at-SLO rows and ratio tables.
//! - [`Spread`], [`begin_round`]: a ratio's median and range over repeated
//!   rounds of a benchmark (`--rounds`), its cell, each round's file names.
//! - [`write_json`]: a result as a pretty JSON file.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::loadgen::ClassLatency;
use crate::stats::analysis::{PERCENTILES, ReportedEstimate};

/// Width of a percentile cell of [`class_table`] (`1234.5 [1200.0, 1300.0]`).
const ESTIMATE_WIDTH: usize = 24;

/// The median, lowest and highest of one figure (a ratio) over the rounds
/// that have it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Rounds with a figure.
    pub rounds: usize,
    /// Their median (the mean of the middle two for an even count).
    pub median: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (None when there are none).
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().flatten().collect();
        values.sort_by(f64::total_cmp);
        let (&min, &max) = (values.first()?, values.last()?);
        let middle = values.len() / 2;
        let median = match values.len() % 2 {
            1 => values[middle],
            _ => (values[middle - 1] + values[middle]) / 2.0,
        };
        Some(Spread {
            rounds: values.len(),
            median,
            min,
            max,
        })
    }

    /// `median 1.20x [1.10x, 1.30x] over 3 round(s)`, or `N/A`.
    pub fn ratio_cell(spread: Option<Spread>) -> String {
        spread.map_or_else(
            || "N/A".to_owned(),
            |s| {
                format!(
                    "median {:.2}x [{:.2}x, {:.2}x] over {} round(s)",
                    s.median, s.min, s.max, s.rounds
                )
            },
        )
    }
}

/// Starts round `round` (1-based) of `rounds`: prints `round R of N` when
/// there are several, and returns the suffix of that round's file names
/// (`-roundR`; empty for a single round).
pub fn begin_round(round: u32, rounds: u32) -> String {
    if rounds == 1 {
        return String::new();
    }
    println!("round {round} of {rounds}");
    format!("-round{round}")
}

/// `ours / base` when both exist and `base` is positive (a ratio of two
/// servers' max throughput at the SLO).
pub fn ratio(ours: Option<f64>, base: Option<f64>) -> Option<f64> {
    ours.zip(base)
        .filter(|&(_, base)| base > 0.0)
        .map(|(ours, base)| ours / base)
}

/// `format(value)`, or `N/A` when there is no value.
pub fn or_na(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "N/A".to_owned(), format)
}

/// A ratio as `1.23x`, or `N/A`.
pub fn ratio_cell(ratio: Option<f64>) -> String {
    or_na(ratio, |ratio| format!("{ratio:.2}x"))
}

/// A checked percentile as `value [low, high]` with `decimals` digits, or
/// `N/A (reason)`.
pub fn estimate_cell(estimate: &ReportedEstimate, decimals: usize) -> String {
    match estimate {
        ReportedEstimate::Valid(e) => format!(
            "{:.decimals$} [{:.decimals$}, {:.decimals$}]",
            e.value, e.low, e.high
        ),
        ReportedEstimate::NotAvailable { not_available } => format!("N/A ({not_available})"),
    }
}

/// The reason every percentile of `class` is N/A, when they share one.
fn shared_reason(class: &ClassLatency) -> Option<&str> {
    let mut reasons = class.percentiles.iter().map(|estimate| match estimate {
        ReportedEstimate::Valid(_) => None,
        ReportedEstimate::NotAvailable { not_available } => Some(not_available.as_str()),
    });
    let first = reasons.next()??;
    reasons.all(|reason| reason == Some(first)).then_some(first)
}

/// The per-class table of one run (module docs), latencies in µs with
/// `confidence` intervals (a fraction, as the run's
/// [`LoadSpec::confidence`](crate::loadgen::LoadSpec::confidence)).
///
/// A class whose four percentiles are N/A for one reason gets that reason
/// in place of its percentiles; a percentile N/A on its own (too few
/// samples for the p99.9 interval, say) reads `N/A` in its column, with
/// its reason on a line below the row. No classes, no table.
pub fn class_table(classes: &[ClassLatency], confidence: f64) -> String {
    let mut out = String::new();
    if classes.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "per request class (checked latency, us, {:.0}% CI):",
        confidence * 100.0
    );
    let mut header = format!(
        "  {:<14} {:>9} {:>9} {:>7} {:>10}",
        "class", "sent", "answered", "share", "RPS"
    );
    for percentile in PERCENTILES {
        let name = format!("p{}", percentile * 100.0);
        let _ = write!(header, "  {name:<ESTIMATE_WIDTH$}");
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for class in classes {
        let mut row = format!(
            "  {:<14} {:>9} {:>9} {:>6.1}% {:>10.0}",
            class.class,
            class.sent,
            class.answered,
            class.rate_share * 100.0,
            class.achieved_rps
        );
        if let Some(reason) = shared_reason(class) {
            let _ = writeln!(out, "{row}  N/A ({reason})");
            continue;
        }
        let mut notes = Vec::new();
        for (percentile, estimate) in PERCENTILES.iter().zip(&class.percentiles) {
            let cell = match estimate {
                ReportedEstimate::Valid(_) => estimate_cell(estimate, 1),
                ReportedEstimate::NotAvailable { not_available } => {
                    notes.push(format!("p{}: N/A ({not_available})", percentile * 100.0));
                    "N/A".to_owned()
                }
            };
            let _ = write!(row, "  {cell:<ESTIMATE_WIDTH$}");
        }
        let _ = writeln!(out, "{}", row.trim_end());
        for note in notes {
            let _ = writeln!(out, "    {} {note}", class.class);
        }
    }
    out
}

/// A result could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub source: io::Error,
}

/// Writes `value` as pretty JSON to `<dir>/<file_name>` (creating `dir`);
/// returns the path.
pub fn write_json(
    dir: &Path,
    file_name: &str,
    value: &impl Serialize,
) -> Result<PathBuf, WriteError> {
    let path = dir.join(file_name);
    let write = || {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        std::fs::write(&path, json)
    };
    match write() {
        Ok(()) => Ok(path),
        Err(source) => Err(WriteError { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Exp};

    use super::*;

    #[test]
    fn a_spread_is_the_median_and_range_of_the_figures_there_are() {
        let odd = Spread::of([Some(1.2), None, Some(0.7), Some(0.9)]).unwrap();
        assert_eq!(odd.rounds, 3, "the round without a figure is left out");
        assert_eq!((odd.median, odd.min, odd.max), (0.9, 0.7, 1.2));
        assert_eq!(
            Spread::ratio_cell(Some(odd)),
            "median 0.90x [0.70x, 1.20x] over 3 round(s)"
        );
        assert_eq!(Spread::of([Some(1.0), Some(3.0)]).unwrap().median, 2.0);
        assert_eq!(Spread::of([None]), None);
        assert_eq!(Spread::ratio_cell(None), "N/A");
        assert_eq!(begin_round(1, 1), "");
        assert_eq!(begin_round(2, 3), "-round2");
    }
    use crate::loadgen::{Completion, LoadReport, LoadSpec, SendLog, build_report};
    use crate::workload::ServiceDistribution;

    /// A clean 2.2 s Poisson run at 20k RPS of two classes: `get` (90%,
    /// latencies of mean 20 µs) and `set` (10%, mean 100 µs), every request
    /// answered but the last `unanswered`.
    fn two_class_run(unanswered: usize) -> LoadReport {
        let spec = LoadSpec::new(
            20_000.0,
            ServiceDistribution::Exponential { mean: 10.0 },
            Duration::from_secs(2),
        );
        let mut rng = SmallRng::seed_from_u64(5);
        let latency = [
            Exp::new(1.0 / 20_000.0).unwrap(),
            Exp::new(1.0 / 100_000.0).unwrap(),
        ];
        let mut log = SendLog {
            class_names: vec!["get", "set"],
            ..SendLog::default()
        };
        let mut completions: Vec<Completion> = Vec::new();
        let mut now = 0.0;
        while now < 2.2e9 {
            now += spec.arrivals.next_gap(&mut rng) * 1e9;
            let class = u8::from(log.send_ns.len() % 10 == 9);
            completions.push((
                log.send_ns.len() as u64,
                latency[class as usize].sample(&mut rng) as u64,
            ));
            log.send_ns.push(now as u64);
            log.lateness_ns.push(0);
            log.classes.push(class);
        }
        completions.truncate(completions.len() - unanswered);
        build_report(&spec, &log, completions)
    }

    /// The numbers of a rendered row or cell, brackets and commas aside.
    fn numbers(text: &str) -> Vec<f64> {
        text.split_whitespace()
            .filter_map(|word| word.trim_matches(['[', ']', ',', '%']).parse().ok())
            .collect()
    }

    fn row<'t>(table: &'t str, class: &str) -> &'t str {
        table
            .lines()
            .find(|line| line.split_whitespace().next() == Some(class))
            .unwrap_or_else(|| panic!("no {class} row in\n{table}"))
    }

    #[test]
    fn each_class_row_shows_its_own_counts_and_checked_percentiles() {
        let report = two_class_run(0);
        assert!(
            report.failed_checks.is_empty(),
            "{:?}",
            report.failed_checks
        );
        let [get, set] = &report.per_class[..] else {
            panic!("two classes expected: {:?}", report.per_class);
        };
        assert_eq!(get.sent + set.sent, report.measured);
        assert!((get.rate_share - 0.9).abs() < 0.01, "{}", get.rate_share);
        let table = class_table(&report.per_class, 0.95);
        for class in [get, set] {
            let row = row(&table, class.class);
            let values = numbers(row);
            assert_eq!(values[0], class.sent as f64, "{row}");
            assert_eq!(values[1], class.answered as f64, "{row}");
            assert_eq!(
                values[2],
                (class.rate_share * 1000.0).round() / 10.0,
                "{row}"
            );
            assert_eq!(values[3], class.achieved_rps.round(), "{row}");
            let shown: Vec<f64> = class
                .percentiles
                .iter()
                .filter_map(|estimate| match estimate {
                    ReportedEstimate::Valid(e) => Some([e.value, e.low, e.high]),
                    ReportedEstimate::NotAvailable { .. } => None,
                })
                .flatten()
                .map(|v| format!("{v:.1}").parse::<f64>().unwrap())
                .collect();
            assert_eq!(values[4..], shown[..], "{row}");
        }
        // The classes' own latencies: the set p99 is about five times the
        // get p99 (exponential means 100 and 20 us).
        let p99 = |class: &ClassLatency| match &class.percentiles[2] {
            ReportedEstimate::Valid(e) => e.value,
            ReportedEstimate::NotAvailable { not_available } => panic!("{not_available}"),
        };
        let truth = 100f64.ln();
        assert!(
            (p99(get) / (20.0 * truth) - 1.0).abs() < 0.1,
            "{}",
            p99(get)
        );
        assert!(
            (p99(set) / (100.0 * truth) - 1.0).abs() < 0.15,
            "{}",
            p99(set)
        );
        // About 4000 set samples are too few for the p99.9 interval: that
        // column alone reads N/A, its reason on the next line.
        assert!(matches!(
            set.percentiles[3],
            ReportedEstimate::NotAvailable { .. }
        ));
        assert_eq!(row(&table, "set").split_whitespace().last(), Some("N/A"));
        let note = table
            .lines()
            .find(|line| line.trim_start().starts_with("set p99.9:"))
            .unwrap_or_else(|| panic!("no p99.9 note in\n{table}"));
        assert!(note.contains("too few for the 0.999 percentile"), "{note}");
    }

    #[test]
    fn a_failed_run_wide_check_is_every_class_s_reason() {
        let report = two_class_run(7);
        let table = class_table(&report.per_class, 0.95);
        for class in ["get", "set"] {
            let row = row(&table, class);
            assert!(
                row.ends_with("N/A (7 requests unanswered at the end of the run)"),
                "{row}"
            );
        }
        let answered: u64 = report.per_class.iter().map(|c| c.answered).sum();
        assert_eq!(answered + 7, report.measured);
    }

    #[test]
    fn cells_and_ratios() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(ratio_cell(Some(1.5)), "1.50x");
        assert_eq!(ratio_cell(None), "N/A");
        let valid = ReportedEstimate::Valid(crate::stats::percentile::PercentileEstimate {
            percentile: 0.99,
            value: 10.26,
            low: 9.0,
            high: 12.0,
        });
        assert_eq!(estimate_cell(&valid, 0), "10 [9, 12]");
        assert_eq!(estimate_cell(&valid, 1), "10.3 [9.0, 12.0]");
        assert_eq!(class_table(&[], 0.95), "");
    }

    #[test]
    fn json_files_are_written_and_failures_name_the_file() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        let path = write_json(&dir, "r.json", &[1, 2]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path)
                .unwrap()
                .split_whitespace()
                .count(),
            4
        );
        let error = write_json(&path, "r.json", &1).unwrap_err();
        assert!(error.to_string().contains("r.json/r.json"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
