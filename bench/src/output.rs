//! Sweep results on the terminal (a table), in JSON and in CSV, and the
//! files of a sweep (`<stem>.json`, `.csv`, `.svg`, `.png`) in one call.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::loadgen::LoadReport;
use crate::plot::{PlotError, plot_png, plot_svg};
use crate::report::estimate_cell;
use crate::stats::analysis::PERCENTILES;
use crate::stats::analysis::ReportedEstimate;
use crate::sweep::SweepResult;

/// Writing results failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// JSON encoding failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Drawing the plot failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// The human-readable report of one load run.
pub fn load_report(report: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "asked {:.0} RPS, achieved {:.0} RPS; sent {}, answered {}, measured {}, deferred {}",
        report.target_rps,
        report.achieved_rps,
        report.sent,
        report.answered,
        report.measured,
        report.deferred
    );
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    for check in &report.failed_checks {
        let _ = writeln!(out, "check failed: {check}");
    }
    let interval = report
        .latency
        .sampling_interval
        .map_or_else(|| "none".to_owned(), |k| format!("1 in {k}"));
    let _ = writeln!(
        out,
        "checked latency (us, 95% CI; sampling {interval}, {} samples):",
        report.latency.samples
    );
    for (percentile, estimate) in PERCENTILES.iter().zip(&report.latency.percentiles) {
        let _ = writeln!(out, "  p{:<5} {estimate}", percentile * 100.0);
    }
    for (what, h) in [
        ("all measured requests (unchecked)", &report.histogram),
        ("send lateness vs schedule", &report.send_lateness),
    ] {
        let _ = writeln!(
            out,
            "{what}, us: mean {:.1} p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
            h.mean, h.p50, h.p99, h.p999, h.max
        );
    }
    out
}

/// The human-readable table with bounds and headlines.
pub fn table(result: &SweepResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "service {} on {} cores, SLO p99 <= {:.1} us",
        result.service, result.cores, result.slo_micros
    );
    let _ = writeln!(
        out,
        "{:<20} {:>5} {:>10} {:>10} {:>12}  p99 us [95% CI] (checked)",
        "target", "load", "RPS asked", "RPS got", "p99 all us"
    );
    for point in &result.points {
        let _ = writeln!(
            out,
            "{:<20} {:>5.2} {:>10.0} {:>10.0} {:>12}  {}",
            point.target,
            point.load,
            point.target_rps,
            point.achieved_rps,
            point
                .p99_all_requests
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
            estimate_cell(&point.p99, 1)
        );
        for warning in &point.warnings {
            let _ = writeln!(out, "    warning: {warning}");
        }
    }
    for bound in &result.bounds {
        let _ = writeln!(
            out,
            "{}: max load at SLO {:.3}",
            bound.label, bound.max_load_at_slo
        );
    }
    for summary in &result.summaries {
        let line = match (
            summary.max_load_at_slo,
            summary.fraction_of_centralized_bound,
        ) {
            (Some(load), Some(fraction)) => format!(
                "{:.2} ({:.0}% of the simulated M/G/{} bound)",
                load,
                fraction * 100.0,
                result.cores
            ),
            (Some(load), None) => format!("{load:.2}"),
            (None, _) => "N/A (no measured load met the SLO with a valid p99)".to_owned(),
        };
        let _ = writeln!(out, "{}: max load at SLO {line}", summary.target);
    }
    out
}

/// One CSV row per measured point and per simulated bound point.
pub fn csv(result: &SweepResult) -> String {
    let mut out = String::from(
        "series,kind,load,target_rps,achieved_rps,p99_us,p99_low_us,p99_high_us,p99_all_requests_us,status\n",
    );
    for point in &result.points {
        let (value, low, high, status) = match &point.p99 {
            ReportedEstimate::Valid(e) => (
                e.value.to_string(),
                e.low.to_string(),
                e.high.to_string(),
                "ok".to_owned(),
            ),
            ReportedEstimate::NotAvailable { not_available } => (
                String::new(),
                String::new(),
                String::new(),
                format!("\"N/A: {}\"", not_available.replace('"', "'")),
            ),
        };
        let _ = writeln!(
            out,
            "{},measured,{},{},{},{value},{low},{high},{},{status}",
            point.target,
            point.load,
            point.target_rps,
            point.achieved_rps,
            point
                .p99_all_requests
                .map_or(String::new(), |v| v.to_string()),
        );
    }
    for bound in &result.bounds {
        for (load, p99) in &bound.points {
            let _ = writeln!(out, "{},simulated,{load},,,{p99},,,,ok", bound.label);
        }
    }
    out
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<PathBuf, OutputError> {
    std::fs::write(&path, bytes).map_err(|source| OutputError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes `<dir>/<stem>.{json,csv,svg,png}` (creating `dir`); returns the
/// paths written.
pub fn write_results(
    result: &SweepResult,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let json = serde_json::to_string_pretty(result)?;
    let mut written = vec![
        write(dir.join(format!("{stem}.json")), json.as_bytes())?,
        write(dir.join(format!("{stem}.csv")), csv(result).as_bytes())?,
    ];
    let svg = dir.join(format!("{stem}.svg"));
    plot_svg(result, &svg)?;
    written.push(svg);
    let png = dir.join(format!("{stem}.png"));
    plot_png(result, &png)?;
    written.push(png);
    Ok(written)
}
