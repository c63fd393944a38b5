//! The p99-versus-load plot of a sweep (thesis Fig. 3.2 / 6.6 style):
//! one curve per measured scheduler (filled markers: checked p99; hollow
//! markers on a thin line: p99 of all requests where the checks said N/A),
//! the simulated centralised and partitioned FCFS bounds in grey, and the
//! SLO as a horizontal line. The latency axis is logarithmic; values above
//! 100 × the SLO are drawn at the top edge.
//!
//! Text goes through plotters' `ttf` feature (font-kit over fontconfig
//! and FreeType): the PNG needs a system sans-serif font at run time.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::sweep::SweepResult;

/// Drawing the plot failed.
#[derive(Debug, thiserror::Error)]
#[error("plot {path}: {message}")]
pub struct PlotError {
    path: String,
    message: String,
}

const SIZE: (u32, u32) = (960, 600);
const MEASURED_COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x17, 0xbe, 0xcf),
];
const SLO_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const BOUND_COLORS: [RGBColor; 2] = [RGBColor(0x40, 0x40, 0x40), RGBColor(0xa0, 0xa0, 0xa0)];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    result: &SweepResult,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let slo = result.slo_micros;
    let measured = result
        .points
        .iter()
        .filter_map(|p| p.p99_value().or(p.p99_all_requests));
    let simulated = result
        .bounds
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.1));
    let all: Vec<f64> = measured.chain(simulated).filter(|v| *v > 0.0).collect();
    let y_min = all.iter().copied().fold(slo, f64::min) * 0.8;
    // Headroom above the data keeps the legend (upper left) off the curves.
    let y_max = all.iter().copied().fold(slo, f64::max).min(100.0 * slo) * 5.0;
    let clamp = |v: f64| v.clamp(y_min, y_max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "p99 latency vs load: {} on {} cores (measured) and ideal models (simulated)",
                result.service, result.cores
            ),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..1.0, (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("load (fraction of cores / mean service time)")
        .y_desc("p99 latency (us, log scale)")
        .y_labels(8)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    for (index, bound) in result.bounds.iter().enumerate() {
        let color = BOUND_COLORS[index % BOUND_COLORS.len()];
        let points: Vec<(f64, f64)> = bound.points.iter().map(|&(x, y)| (x, clamp(y))).collect();
        chart
            .draw_series(DashedLineSeries::new(points, 8, 5, color.stroke_width(2)))?
            .label(bound.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .draw_series(LineSeries::new(vec![(0.0, slo), (1.0, slo)], SLO_COLOR))?
        .label(format!("SLO p99 <= {slo:.0} us"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], SLO_COLOR));
    let mut targets: Vec<&str> = result.points.iter().map(|p| p.target.as_str()).collect();
    targets.dedup();
    for (index, target) in targets.iter().enumerate() {
        let color = MEASURED_COLORS[index % MEASURED_COLORS.len()];
        let own = || result.points.iter().filter(|p| p.target == *target);
        let checked: Vec<(f64, f64)> = own()
            .filter_map(|p| Some((p.load, clamp(p.p99_value()?))))
            .collect();
        let unchecked: Vec<(f64, f64)> = own()
            .filter(|p| p.p99_value().is_none())
            .filter_map(|p| Some((p.load, clamp(p.p99_all_requests?))))
            .collect();
        if !checked.is_empty() {
            chart
                .draw_series(LineSeries::new(checked.clone(), color.stroke_width(2)))?
                .label(format!("{target} (measured, checked)"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            chart.draw_series(
                checked
                    .into_iter()
                    .map(|point| Circle::new(point, 4, color.filled())),
            )?;
        }
        if !unchecked.is_empty() {
            chart
                .draw_series(LineSeries::new(unchecked.clone(), color.mix(0.4)))?
                .label(format!("{target} (measured, N/A: p99 of all requests)"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.stroke_width(1)));
            chart.draw_series(
                unchecked
                    .into_iter()
                    .map(|point| Circle::new(point, 4, color.stroke_width(1))),
            )?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn plot_error(path: &Path, error: impl ToString) -> PlotError {
    PlotError {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// Draws the plot as SVG.
pub fn plot_svg(result: &SweepResult, path: &Path) -> Result<(), PlotError> {
    draw(SVGBackend::new(path, SIZE).into_drawing_area(), result).map_err(|e| plot_error(path, e))
}

/// Draws the plot as PNG.
pub fn plot_png(result: &SweepResult, path: &Path) -> Result<(), PlotError> {
    draw(BitMapBackend::new(path, SIZE).into_drawing_area(), result)
        .map_err(|e| plot_error(path, e))
}
