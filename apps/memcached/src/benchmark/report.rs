//! What `zygos bench memcached` prints and writes: per server its points
//! and its maximum throughput at the SLO, then each of our schedulers'
//! ratio to the real memcached; over several rounds, the spread of each
//! ratio ([`RoundsSummary`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bench::report::{Spread, WriteError, estimate_cell, or_na, ratio, ratio_cell};
use serde::Serialize;

use super::search::{RatePoint, best_at_slo, best_keeping_up};
use crate::loadmix::Workload;

/// One server's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct ServerResult {
    /// `zygos`, `partitioned` or `memcached`.
    pub server: String,
    /// Points in rate order.
    pub points: Vec<RatePoint>,
    /// Achieved throughput at the best point meeting the SLO, RPS.
    pub max_rps_at_slo: Option<f64>,
    /// Achieved throughput at the best point keeping up (unchecked p99
    /// within the SLO, every request answered, open loop kept), RPS.
    pub max_rps_unchecked: Option<f64>,
    /// Why the server could not be measured at all.
    pub error: Option<String>,
}

impl ServerResult {
    /// The result of `points`, or of an error before any point.
    pub fn new(server: String, points: Result<Vec<RatePoint>, String>) -> ServerResult {
        let (points, error) = match points {
            Ok(points) => (points, None),
            Err(error) => (Vec::new(), Some(error)),
        };
        ServerResult {
            max_rps_at_slo: best_at_slo(&points).map(|p| p.achieved_rps),
            max_rps_unchecked: best_keeping_up(&points).map(|p| p.achieved_rps),
            server,
            points,
            error,
        }
    }
}

/// One of ours over the real memcached.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// Our scheduler.
    pub ours: String,
    /// Its max throughput at the SLO over memcached's (None when either
    /// has none).
    pub ratio: Option<f64>,
    /// The same for the unchecked diagnostic.
    pub ratio_unchecked: Option<f64>,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkResult {
    /// The request mix.
    pub workload: Workload,
    /// Server cores of every server.
    pub cores: usize,
    /// SLO on p99, µs.
    pub slo_micros: f64,
    /// Keys preloaded and drawn from.
    pub keys: usize,
    /// Connections × pipeline depth of the generator.
    pub connections: usize,
    /// Outstanding requests per connection.
    pub depth: usize,
    /// Measured seconds per point.
    pub duration_secs: f64,
    /// Where client and servers ran, and other caveats.
    pub notes: Vec<String>,
    /// Per server.
    pub servers: Vec<ServerResult>,
    /// Ours over the real memcached.
    pub ratios: Vec<Ratio>,
}

impl BenchmarkResult {
    /// Fills in the ratios of every other server to `memcached`.
    pub fn compute_ratios(&mut self) {
        let real = self.servers.iter().find(|s| s.server == "memcached");
        self.ratios = self
            .servers
            .iter()
            .filter(|s| s.server != "memcached")
            .map(|s| Ratio {
                ours: s.server.clone(),
                ratio: ratio(s.max_rps_at_slo, real.and_then(|r| r.max_rps_at_slo)),
                ratio_unchecked: ratio(s.max_rps_unchecked, real.and_then(|r| r.max_rps_unchecked)),
            })
            .collect();
    }
}

fn rps_cell(rps: Option<f64>) -> String {
    or_na(rps, |rps| format!("{rps:.0} RPS"))
}

/// The terminal table.
pub fn table(result: &BenchmarkResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "memcached {} on {} server core(s), p99 SLO {} us, {} keys, {} connections x depth {}, {} s per point",
        result.workload.name().to_uppercase(),
        result.cores,
        result.slo_micros,
        result.keys,
        result.connections,
        result.depth,
        result.duration_secs
    );
    for note in &result.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for server in &result.servers {
        let _ = writeln!(out, "\n{}:", server.server);
        if let Some(error) = &server.error {
            let _ = writeln!(out, "  not measured: {error}");
        }
        let _ = writeln!(
            out,
            "  {:>10} {:>10}  {:<34} {:>8} {:>8} {:>8}",
            "offered", "achieved", "p99 us [95% CI] (checked)", "p99 all", "get p99", "set p99"
        );
        for point in &server.points {
            let class_p99 = |name: &str| {
                point
                    .per_class
                    .iter()
                    .find(|c| c.class == name && c.answered > 0)
                    .map_or_else(|| "-".to_owned(), |c| format!("{:.0}", c.histogram.p99))
            };
            let _ = writeln!(
                out,
                "  {:>10.0} {:>10.0}  {:<34} {:>8} {:>8} {:>8}{}",
                point.target_rps,
                point.achieved_rps,
                estimate_cell(&point.p99, 0),
                point
                    .p99_all_requests
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}")),
                class_p99("get"),
                class_p99("set"),
                match (point.misses, point.attempts) {
                    (0, 1) => String::new(),
                    (misses, attempts) => format!("  ({misses} get misses, attempt {attempts})"),
                }
            );
        }
        let _ = writeln!(
            out,
            "  max throughput at p99 <= {} us: {} (checked); {} (unchecked p99 of all requests)",
            result.slo_micros,
            rps_cell(server.max_rps_at_slo),
            rps_cell(server.max_rps_unchecked)
        );
    }
    let _ = writeln!(out);
    for ratio in &result.ratios {
        let _ = writeln!(
            out,
            "{} / memcached: {} (checked); {} (unchecked)",
            ratio.ours,
            ratio_cell(ratio.ratio),
            ratio_cell(ratio.ratio_unchecked)
        );
    }
    out
}

/// Writes `result` as `<dir>/memcached-<workload><suffix>.json`.
pub fn write_json(
    result: &BenchmarkResult,
    dir: &Path,
    suffix: &str,
) -> Result<PathBuf, WriteError> {
    let name = format!("memcached-{}{suffix}.json", result.workload.name());
    bench::report::write_json(dir, &name, result)
}

/// One of ours over the real memcached, over every round of one workload.
#[derive(Debug, Clone, Serialize)]
pub struct RoundsSummary {
    /// The request mix.
    pub workload: Workload,
    /// Our scheduler.
    pub ours: String,
    /// Rounds run.
    pub rounds: usize,
    /// Spread of the ratio at the SLO (checked).
    pub ratio: Option<Spread>,
    /// Spread of the unchecked ratio.
    pub ratio_unchecked: Option<Spread>,
}

/// Each of ours over memcached, per workload, over `rounds` (each the
/// results of one whole run, in the same workload order).
pub fn summarize(rounds: &[Vec<BenchmarkResult>]) -> Vec<RoundsSummary> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    let mut summaries = Vec::new();
    for (index, result) in first.iter().enumerate() {
        let same = || rounds.iter().filter_map(move |round| round.get(index));
        for ours in &result.ratios {
            let of = |checked: bool| {
                Spread::of(same().map(|round| {
                    let ratio = round.ratios.iter().find(|r| r.ours == ours.ours)?;
                    if checked {
                        ratio.ratio
                    } else {
                        ratio.ratio_unchecked
                    }
                }))
            };
            summaries.push(RoundsSummary {
                workload: result.workload,
                ours: ours.ours.clone(),
                rounds: rounds.len(),
                ratio: of(true),
                ratio_unchecked: of(false),
            });
        }
    }
    summaries
}

/// The terminal lines of the summaries.
pub fn summary_table(summaries: &[RoundsSummary]) -> String {
    let mut out = String::new();
    for summary in summaries {
        let _ = writeln!(
            out,
            "{} {} / memcached over {} rounds: {} (checked); {} (unchecked)",
            summary.workload.name().to_uppercase(),
            summary.ours,
            summary.rounds,
            Spread::ratio_cell(summary.ratio),
            Spread::ratio_cell(summary.ratio_unchecked)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, best: Option<f64>) -> ServerResult {
        ServerResult {
            server: name.to_owned(),
            points: Vec::new(),
            max_rps_at_slo: best,
            max_rps_unchecked: best.map(|rps| rps * 2.0),
            error: None,
        }
    }

    fn result(servers: Vec<ServerResult>) -> BenchmarkResult {
        let mut result = BenchmarkResult {
            workload: Workload::Usr,
            cores: 1,
            slo_micros: 500.0,
            keys: 10,
            connections: 1,
            depth: 1,
            duration_secs: 1.0,
            notes: vec!["client on CPU 1".to_owned()],
            servers,
            ratios: Vec::new(),
        };
        result.compute_ratios();
        result
    }

    #[test]
    fn rounds_summarize_each_ratio_by_median_and_range() {
        let round = |zygos: Option<f64>| {
            vec![result(vec![
                server("zygos", zygos),
                server("partitioned", None),
                server("memcached", Some(100.0)),
            ])]
        };
        let rounds = [
            round(Some(90.0)),
            round(Some(120.0)),
            round(None),
            round(Some(70.0)),
        ];
        let summaries = summarize(&rounds);
        assert_eq!(summaries.len(), 2);
        let zygos = &summaries[0];
        assert_eq!((zygos.ours.as_str(), zygos.rounds), ("zygos", 4));
        let spread = zygos.ratio.unwrap();
        assert_eq!(spread.rounds, 3, "the round without a figure is left out");
        assert!((spread.median - 0.9).abs() < 1e-9, "{spread:?}");
        assert!((spread.min - 0.7).abs() < 1e-9 && (spread.max - 1.2).abs() < 1e-9);
        assert_eq!(summaries[1].ratio, None, "partitioned never had a figure");
        let text = summary_table(&summaries);
        assert!(
            text.contains(
                "USR zygos / memcached over 4 rounds: median 0.90x [0.70x, 1.20x] over 3 round(s)"
            ),
            "{text}"
        );
        assert!(
            text.contains("USR partitioned / memcached over 4 rounds: N/A"),
            "{text}"
        );
        let even = Spread::of([Some(1.0), Some(3.0)]).unwrap();
        assert_eq!(even.median, 2.0);
        assert_eq!(Spread::of([None]), None);
    }

    #[test]
    fn ratios_divide_by_memcached_and_are_na_without_a_figure() {
        let result = result(vec![
            server("zygos", Some(300_000.0)),
            server("partitioned", None),
            server("memcached", Some(100_000.0)),
        ]);
        let ratios: Vec<_> = result
            .ratios
            .iter()
            .map(|r| (r.ours.as_str(), r.ratio))
            .collect();
        assert_eq!(ratios, [("zygos", Some(3.0)), ("partitioned", None)]);
        let table = table(&result);
        assert!(
            table.contains("zygos / memcached: 3.00x (checked); 3.00x (unchecked)"),
            "{table}"
        );
        assert!(table.contains("partitioned / memcached: N/A"), "{table}");
        assert!(table.contains("note: client on CPU 1"), "{table}");
        let failed = ServerResult::new("memcached".to_owned(), Err("no binary".to_owned()));
        assert_eq!(failed.max_rps_at_slo, None);
        let result = super::tests::result(vec![server("zygos", Some(1.0)), failed]);
        assert_eq!(result.ratios[0].ratio, None);
        assert!(table_contains(&result, "not measured: no binary"));
    }

    fn table_contains(result: &BenchmarkResult, text: &str) -> bool {
        table(result).contains(text)
    }

    #[test]
    fn the_json_names_the_workload_and_round_trips_as_json() {
        let dir = std::env::temp_dir().join(format!("mcbench-{}", std::process::id()));
        let path = write_json(&result(vec![server("memcached", Some(5.0))]), &dir, "").unwrap();
        assert!(path.ends_with("memcached-usr.json"));
        let round = write_json(&result(Vec::new()), &dir, "-round2").unwrap();
        assert!(round.ends_with("memcached-usr-round2.json"));
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(value["workload"], "usr");
        assert_eq!(value["servers"][0]["max_rps_at_slo"], 5.0);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
