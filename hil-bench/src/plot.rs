//! The SVG plot of link throughput against payload size (plotters, SVG backend only).

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use crate::emulated::SizePoint;

/// Colours of the serial paths.
const SERIES: [(&str, RGBColor); 2] = [
    ("socket", RGBColor(0x1f, 0x77, 0xb4)),
    ("pty", RGBColor(0xd6, 0x27, 0x28)),
];

/// Draws kB/s (left) and frames/s (right) against payload bytes, one line per serial path.
pub fn throughput(path: &Path, points: &[SizePoint]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(480);
    panel(&left, points, "Link throughput (kB/s)", |p| {
        p.run.bytes_per_s / 1e3
    })?;
    panel(&right, points, "Frame rate (frames/s)", |p| {
        p.run.frames_per_s
    })?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    points: &[SizePoint],
    title: &str,
    value: impl Fn(&SizePoint) -> f64,
) -> anyhow::Result<()> {
    let x_max = points.iter().map(|p| p.payload).max().unwrap_or(1) as f64 * 1.05;
    let y_max = points.iter().map(&value).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .configure_mesh()
        .x_desc("payload bytes per frame")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    for (serial, color) in SERIES {
        let mut line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.serial == serial && p.run.passed())
            .map(|p| (f64::from(p.payload), value(p)))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label(serial)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                line.into_iter()
                    .map(|xy| Circle::new(xy, 3, color.filled())),
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
