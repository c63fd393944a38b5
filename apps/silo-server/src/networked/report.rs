//! The networked benchmark's results: the terminal table (max TPS at the
//! SLO per server and the ratios the ZygOS evaluation reports) and the
//! JSON file.

use std::fmt::Write as _;

use bench::report::{Spread, or_na, ratio, ratio_cell};
use serde::Serialize;

use super::sweep::{Point, ServerSweep};

/// ZygOS's published Silo/TPC-C figures on 16 hyperthreads at p99 ≤ 1 ms
/// (thesis §4.5, Table 6.1), KTPS: Linux, IX, ZygOS.
pub const PUBLISHED_KTPS: [(&str, f64); 3] = [("Linux", 211.0), ("IX", 267.0), ("ZygOS", 344.0)];

/// A ratio of two servers' max TPS at the SLO.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// `numerator/denominator`.
    pub name: String,
    /// The measured ratio (none when either side has no figure).
    pub measured: Option<f64>,
    /// The ratio ZygOS reports for the matching pair.
    pub published: f64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkedResult {
    /// Server cores.
    pub cores: usize,
    /// Warehouses loaded.
    pub warehouses: u32,
    /// SLO on p99, µs.
    pub slo_us: f64,
    /// Where the client and the server cores ran, and why.
    pub cpu_layout: String,
    /// The exact command line.
    pub command: String,
    /// Each server's sweep.
    pub servers: Vec<ServerSweep>,
    /// The headline ratios.
    pub ratios: Vec<Ratio>,
}

fn max_tps(servers: &[ServerSweep], name: &str) -> Option<f64> {
    servers
        .iter()
        .find(|s| s.server == name)
        .and_then(|s| s.max_tps_at_slo)
}

/// The speedups Table 6.1 gives for ZygOS over Linux and over IX (IX is
/// the partitioned dataplane our `partitioned` mode models).
pub const PUBLISHED_SPEEDUPS: [(&str, f64); 2] = [("linux-floating", 1.63), ("partitioned", 1.26)];

/// The ratios zygos/linux-floating and zygos/partitioned, beside
/// [`PUBLISHED_SPEEDUPS`].
pub fn ratios(servers: &[ServerSweep]) -> Vec<Ratio> {
    PUBLISHED_SPEEDUPS
        .into_iter()
        .map(|(baseline, published)| Ratio {
            name: format!("zygos/{baseline}"),
            measured: ratio(max_tps(servers, "zygos"), max_tps(servers, baseline)),
            published,
        })
        .collect()
}

/// One headline ratio over every round of a run (`--rounds`).
#[derive(Debug, Clone, Serialize)]
pub struct RatioOverRounds {
    /// `numerator/denominator`.
    pub name: String,
    /// Rounds run.
    pub rounds: usize,
    /// Median and range of the measured ratio over the rounds that have
    /// one.
    pub measured: Option<Spread>,
    /// The ratio ZygOS reports for the matching pair.
    pub published: f64,
}

/// Each headline ratio over `rounds` (each round's ratios, as
/// [`ratios`] makes them).
pub fn ratios_over_rounds(rounds: &[Vec<Ratio>]) -> Vec<RatioOverRounds> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|headline| RatioOverRounds {
            name: headline.name.clone(),
            rounds: rounds.len(),
            measured: Spread::of(rounds.iter().map(|round| {
                round
                    .iter()
                    .find(|r| r.name == headline.name)
                    .and_then(|r| r.measured)
            })),
            published: headline.published,
        })
        .collect()
}

/// The terminal lines of [`ratios_over_rounds`].
pub fn rounds_table(summaries: &[RatioOverRounds]) -> String {
    let mut out = String::new();
    for summary in summaries {
        let _ = writeln!(
            out,
            "  {} over {} rounds: {}   (ZygOS on 16 hyperthreads: {:.2}x)",
            summary.name,
            summary.rounds,
            Spread::ratio_cell(summary.measured),
            summary.published
        );
    }
    out
}

/// One progress line for a measured point.
pub fn point_line(server: &str, point: &Point) -> String {
    let mut line = format!(
        "  {server:<18} offered {:>8.0}  achieved {:>8.0} TPS  p50 {:>8}  p99 {:>8} us  {}",
        point.offered_tps,
        point.achieved_tps,
        or_na(point.p50_us, |v| format!("{v:.0}")),
        or_na(point.p99_us, |v| format!("{v:.0}")),
        if point.meets_slo {
            "meets SLO"
        } else {
            "MISSES SLO"
        },
    );
    if let Some(problem) = point.problems.first() {
        let _ = write!(line, "  ({problem})");
    }
    line
}

/// The summary table.
pub fn table(result: &NetworkedResult) -> String {
    let mut out = format!(
        "Silo/TPC-C over the network: {} server core(s), {} warehouse(s), SLO p99 <= {:.0} us\n\
         CPU layout: {}\n",
        result.cores, result.warehouses, result.slo_us, result.cpu_layout
    );
    out.push_str("  server              max TPS @ SLO   steals/run   after the sweep\n");
    for server in &result.servers {
        let verdict = match &server.verdict {
            Ok(()) => "TPC-C consistency conditions 1-4 hold".to_owned(),
            Err(error) => error.clone(),
        };
        let _ = writeln!(
            out,
            "  {:<18} {:>14}   {:>10}   {verdict}",
            server.server,
            or_na(server.max_tps_at_slo, |v| format!("{v:.0}")),
            or_na(server.steal_share, |v| format!("{:.1}%", v * 100.0)),
        );
        if let Some(best) = server
            .points
            .iter()
            .filter(|p| p.meets_slo)
            .max_by(|a, b| a.achieved_tps.total_cmp(&b.achieved_tps))
        {
            let classes: Vec<String> = best
                .per_class
                .iter()
                .map(|c| format!("{} {:.0}", c.class, c.histogram.p99))
                .collect();
            let _ = writeln!(out, "      p99 per type there (us): {}", classes.join(", "));
        }
    }
    for ratio in &result.ratios {
        let _ = writeln!(
            out,
            "  {:<26} {:>6}   (ZygOS on 16 hyperthreads: {:.2}x)",
            ratio.name,
            ratio_cell(ratio.measured),
            ratio.published
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(server: &str, max: Option<f64>) -> ServerSweep {
        ServerSweep {
            server: server.to_owned(),
            points: Vec::new(),
            max_tps_at_slo: max,
            outcomes: Vec::new(),
            steal_share: None,
            verdict: Ok(()),
        }
    }

    #[test]
    fn each_ratio_is_summarized_over_the_rounds() {
        let round = |zygos: Option<f64>| {
            ratios(&[
                sweep("zygos", zygos),
                sweep("partitioned", Some(100.0)),
                sweep("linux-floating", None),
            ])
        };
        let rounds = [round(Some(150.0)), round(Some(120.0)), round(None)];
        let summaries = ratios_over_rounds(&rounds);
        let names: Vec<_> = summaries.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["zygos/linux-floating", "zygos/partitioned"]);
        assert_eq!(
            summaries[0].measured, None,
            "linux-floating never had a figure"
        );
        let partitioned = summaries[1].measured.unwrap();
        assert_eq!(
            (partitioned.rounds, partitioned.min, partitioned.max),
            (2, 1.2, 1.5)
        );
        let text = rounds_table(&summaries);
        assert!(
            text.contains(
                "zygos/partitioned over 3 rounds: median 1.35x [1.20x, 1.50x] over 2 round(s)"
            ),
            "{text}"
        );
    }

    #[test]
    fn ratios_divide_zygos_by_each_baseline() {
        let servers = [
            sweep("zygos", Some(300.0)),
            sweep("partitioned", Some(200.0)),
            sweep("linux-floating", None),
        ];
        let ratios = ratios(&servers);
        assert_eq!(ratios[0].name, "zygos/linux-floating");
        assert_eq!(ratios[0].measured, None);
        assert_eq!(ratios[0].published, 1.63);
        assert_eq!(ratios[1].measured, Some(1.5));
        let result = NetworkedResult {
            cores: 2,
            warehouses: 2,
            slo_us: 1000.0,
            cpu_layout: "test".to_owned(),
            command: "zygos bench silo".to_owned(),
            servers: servers.to_vec(),
            ratios,
        };
        let text = table(&result);
        let line = |start: &str| text.lines().find(|l| l.trim_start().starts_with(start));
        assert!(
            line("zygos/partitioned").unwrap().contains("1.50x"),
            "{text}"
        );
        assert!(
            line("zygos/linux-floating").unwrap().contains("N/A"),
            "{text}"
        );
        assert!(line("linux-floating").unwrap().contains("N/A"), "{text}");
    }
}
