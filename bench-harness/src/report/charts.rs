//! PNG charts of experiment results, sized and styled to be read at paper
//! size: speedup, parallel efficiency, per-task overhead and wall time per
//! backend.
//!
//! Inputs are plain data, already reduced by [`crate::stats`]: every point
//! carries its value and the bounds of its 95 % confidence interval, which
//! are drawn as error bars. Axes that span orders of magnitude (workers,
//! chunk sizes, times) are logarithmic with tick labels in the data's own
//! units, so `1, 2, 4, 8, 16` workers are evenly spaced and read as such.

mod axis;
mod canvas;

use anyhow::{bail, Result};
use axis::Axis;
use canvas::{Figure, Layer, LineKind, SeriesStyle, IDEAL_GRAY};
pub use canvas::{Layout, PixelBox, TooMuchText};
use std::path::Path;

use crate::stats::precision::time_unit;

/// The size of a chart and the scale of its text: the defaults suit a
/// one-column figure; `report --width/--height/--font-scale` restyles one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Canvas {
    /// Width in pixels (PNG), or in the vector formats' units.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Multiplies every text size (1 = the default sizes).
    pub font_scale: f64,
    /// The small print under the plot (workload, machine, notes); a figure
    /// for a paper may leave it to the LaTeX caption.
    pub small_print: bool,
}

impl Default for Canvas {
    fn default() -> Self {
        Self { width: WIDTH, height: HEIGHT, font_scale: 1.0, small_print: true }
    }
}

impl Canvas {
    /// Refuses sizes no chart fits in and scales that make text vanish.
    pub fn checked(self) -> Result<Self> {
        if !(400..=10_000).contains(&self.width) || !(300..=10_000).contains(&self.height) {
            bail!(
                "chart size {}×{} is out of range: width 400–10000, height 300–10000 pixels",
                self.width,
                self.height
            );
        }
        if !(self.font_scale.is_finite() && (0.25..=4.0).contains(&self.font_scale)) {
            bail!("font scale {} is out of range 0.25–4", self.font_scale);
        }
        Ok(self)
    }

    /// A text size of the default style, scaled.
    fn text(&self, size: u32) -> u32 {
        ((f64::from(size) * self.font_scale * self.fit()).round() as u32).max(4)
    }

    /// How much smaller than the default size this canvas is (1 at the
    /// default size or larger): text and the room around it shrink with
    /// it, so a smaller chart is the default one made smaller. Text and
    /// gaps of a fixed size left a 400 × 300 chart no room for its plot.
    fn fit(&self) -> f64 {
        (f64::from(self.width) / f64::from(WIDTH)).min(f64::from(self.height) / f64::from(HEIGHT)).min(1.0)
    }

    /// A gap of `pixels` at the default size, shrunk as [`Canvas::fit`] says.
    fn gap(&self, pixels: i32) -> i32 {
        (f64::from(pixels) * self.fit()).round() as i32
    }

    /// A line `pixels` wide at the default size, thinned as [`Canvas::fit`]
    /// says, to no less than one pixel: at 400 × 300 an open marker's
    /// full-width outline covered its white core, so it read as filled.
    fn stroke(&self, pixels: u32) -> u32 {
        ((f64::from(pixels) * self.fit()).round() as u32).max(1)
    }
}

/// Width of every chart in pixels (1600 × 1150 ≈ 5.3 × 3.8 in at 300 dpi).
pub const WIDTH: u32 = 1600;
/// Height of every chart in pixels: the plot, the legend below it and the
/// small print (workload, machine, build) below that.
pub const HEIGHT: u32 = 1150;

/// A file format every chart can be drawn in (shared with `sweep plot`);
/// the drawing code picks the backend from the file's extension.
pub use ::charts::Format;

/// One measured value with the bounds of its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredPoint {
    /// Position on the horizontal axis: workers, or chunk size.
    pub x: f64,
    /// The measured value (speedup, ns per task, seconds, ...).
    pub y: f64,
    /// Lower end of the confidence interval of `y`.
    pub ci_low: f64,
    /// Upper end of the confidence interval of `y`.
    pub ci_high: f64,
}

/// How a series looks: indices into the chart palette (Okabe–Ito colours)
/// and marker shapes, both wrapping around. The same style gives the same
/// colour and marker on every chart, so callers give each backend one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Style {
    /// Palette index of the colour.
    pub color: usize,
    /// Index of the marker shape.
    pub marker: usize,
}

impl Style {
    /// The `index`-th colour with the `index`-th marker.
    pub fn nth(index: usize) -> Self {
        Style { color: index, marker: index }
    }
}

/// A labelled sequence of measurements, drawn as markers with error bars
/// joined by a line; points are drawn in increasing `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredSeries {
    /// Legend text, e.g. the backend name, then possibly a warning after
    /// [`MeasuredSeries::WARNING`].
    pub label: String,
    /// The measurements.
    pub points: Vec<MeasuredPoint>,
    /// Colour and marker.
    pub style: Style,
}

impl MeasuredSeries {
    /// What separates a series' name from a warning on it in its label.
    pub const WARNING: &'static str = " — ";

    /// The series' name: its label without any warning. Stable from run
    /// to run, for whatever names the series in data (a pgfplots column).
    pub fn name(&self) -> &str {
        self.label.split(Self::WARNING).next().unwrap_or(&self.label)
    }
}

/// A labelled model curve, drawn dashed (e.g. from
/// [`crate::stats::Fit::curve`] and [`crate::stats::Fit::label`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend text, e.g. `"Amdahl fit: s = 0.100 ± 0.002"`.
    pub label: String,
    /// `(workers, speedup)` points; dense enough to look smooth.
    pub points: Vec<(f64, f64)>,
    /// Palette index of the line's colour.
    pub color: usize,
}

/// Speedup `T1/Tp` against workers; also the input of [`draw_efficiency`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedupChart {
    /// Title above the plot.
    pub title: String,
    /// Small print under the plot: machine, workload, date.
    pub caption: String,
    /// Further small print, one paragraph each (e.g. why no model is drawn).
    pub notes: Vec<String>,
    /// Measured speedups; `x` is the worker count.
    pub series: Vec<MeasuredSeries>,
    /// Fitted model curves (speedup against workers).
    pub fits: Vec<Curve>,
    /// Physical cores of the machine, if known: draws a "cores" marker and
    /// shows points with more workers than cores as open (hollow) markers.
    pub max_cores: Option<usize>,
    /// Weak scaling: the series are scaled speedups `p·T1/Tp` (the problem
    /// grows with `p`), labelled as such on the axes.
    pub weak: bool,
}

/// Parallel overhead per task against chunk size, log-log.
#[derive(Debug, Clone, PartialEq)]
pub struct OverheadChart {
    /// Title above the plot.
    pub title: String,
    /// Small print under the plot.
    pub caption: String,
    /// Further small print, one paragraph each.
    pub notes: Vec<String>,
    /// `x` is the chunk size (tasks per chunk), `y` the overhead per task in
    /// nanoseconds. Points with `y <= 0` (superlinear runs) cannot sit on a
    /// log axis: they are left out and counted in a note on the chart.
    pub series: Vec<MeasuredSeries>,
}

/// Median wall time against workers, one line per backend.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendChart {
    /// Title above the plot.
    pub title: String,
    /// Small print under the plot.
    pub caption: String,
    /// Further small print, one paragraph each.
    pub notes: Vec<String>,
    /// One series per backend; `x` is the worker count, `y` the median wall
    /// time in **seconds** (the axis picks s, ms or µs to suit).
    pub series: Vec<MeasuredSeries>,
    /// Physical cores of the machine, if known (see [`SpeedupChart`]).
    pub max_cores: Option<usize>,
    /// Weak scaling: ideal is a constant time, not `T/p`.
    pub weak: bool,
}

/// Draws speedup against workers: log₂ worker axis, the ideal `S = p`
/// line, measured speedups with confidence bars, fitted curves dashed.
///
/// Errors name the chart and the offending value when a point is not
/// finite or has `x <= 0`, when there is nothing to draw, or when the file
/// cannot be written.
pub fn draw_speedup(path: &Path, chart: &SpeedupChart, canvas: &Canvas) -> Result<Layout> {
    check_series(&chart.title, &chart.series)?;
    check_curves(&chart.title, &chart.fits)?;
    draw_scaling(path, chart, Scaling::Speedup, &chart.series, &chart.fits, canvas)
}

/// Draws parallel efficiency `S/p` against workers from the same data as
/// [`draw_speedup`]: the ideal efficiency 1 as a line, fits divided by `p`.
pub fn draw_efficiency(path: &Path, chart: &SpeedupChart, canvas: &Canvas) -> Result<Layout> {
    check_series(&chart.title, &chart.series)?;
    check_curves(&chart.title, &chart.fits)?;
    let per_worker = |workers: f64, speedup: f64| speedup / workers;
    let series = map_series(&chart.series, |point| MeasuredPoint {
        x: point.x,
        y: per_worker(point.x, point.y),
        ci_low: per_worker(point.x, point.ci_low),
        ci_high: per_worker(point.x, point.ci_high),
    });
    let fits: Vec<Curve> = chart
        .fits
        .iter()
        .map(|curve| Curve {
            label: curve.label.clone(),
            points: curve.points.iter().map(|&(p, s)| (p, per_worker(p, s))).collect(),
            color: curve.color,
        })
        .collect();
    draw_scaling(path, chart, Scaling::Efficiency, &series, &fits, canvas)
}

/// Draws overhead per task against chunk size on log-log axes.
pub fn draw_overhead(path: &Path, chart: &OverheadChart, canvas: &Canvas) -> Result<Layout> {
    check_series(&chart.title, &chart.series)?;
    let mut hidden = 0;
    let series: Vec<MeasuredSeries> = chart
        .series
        .iter()
        .map(|series| {
            let (shown, left_out): (Vec<_>, Vec<_>) = series.points.iter().partition(|point| point.y > 0.0);
            hidden += left_out.len();
            MeasuredSeries { label: series.label.clone(), points: shown, style: series.style }
        })
        .collect();
    let Some((x_range, ns_range)) = data_bounds(&series, &[], true) else {
        bail!("overhead chart '{}': no point has a positive overhead to draw on a log axis", chart.title);
    };
    let (per_ns, unit) = overhead_unit(ns_range);
    let series = map_series(&series, |point| MeasuredPoint {
        x: point.x,
        y: point.y * per_ns,
        ci_low: point.ci_low * per_ns,
        ci_high: point.ci_high * per_ns,
    });
    let y_range = (ns_range.0 * per_ns, ns_range.1 * per_ns);
    let mut all_notes = notes(&chart.notes);
    if hidden > 0 {
        all_notes.push(format!(
            "{hidden} point(s) with overhead ≤ 0 ns (as fast as a perfect split of T1) are not shown on the log axis."
        ));
    }
    let layers = series
        .iter()
        .map(|series| Layer::Measured { series, style: series_style(series.style), max_cores: None })
        .collect();
    canvas::render(
        path,
        &Figure {
            title: &chart.title,
            caption: &chart.caption,
            notes: all_notes,
            x: Axis::log2("chunk size (tasks per chunk)", x_range),
            y: Axis::log10(&format!("overhead per task ({unit})"), y_range),
            layers,
            canvas: *canvas,
        },
    )
}

/// The time unit of an overhead axis spanning `ns_range` nanoseconds, and
/// the factor from nanoseconds into it. In a time unit, as the tables print
/// times: on a busy machine overheads reach milliseconds, and an axis of
/// "1e6 ns" beside "100000" is hard to read. The unit of the range's
/// geometric middle, so that a range from nanoseconds to milliseconds
/// reads in plain numbers at both ends (0.07 to 1200 µs).
fn overhead_unit(ns_range: (f64, f64)) -> (f64, &'static str) {
    let (per_second, unit) = time_unit((ns_range.0 * ns_range.1).sqrt() * 1e-9);
    (per_second * 1e-9, unit)
}

/// Draws median wall time against workers, one line per backend, on log₂
/// (workers) × log₁₀ (time) axes, with an ideal-scaling guide `T/p` from the
/// fastest time at the fewest workers. A series with a single point (the
/// sequential baseline) also gets a thin horizontal level in its colour.
pub fn draw_backends(path: &Path, chart: &BackendChart, canvas: &Canvas) -> Result<Layout> {
    check_series(&chart.title, &chart.series)?;
    if let Some(point) = chart.series.iter().flat_map(|series| &series.points).find(|point| point.y <= 0.0) {
        bail!("backend chart '{}': wall times must be positive, got {} s at x = {}", chart.title, point.y, point.x);
    }
    let Some((x_range, seconds_range)) = data_bounds(&chart.series, &[], true) else {
        bail!("backend chart '{}': no points to draw", chart.title);
    };
    let (per_second, unit) = time_unit(seconds_range.1);
    let series = map_series(&chart.series, |point| MeasuredPoint {
        x: point.x,
        y: point.y * per_second,
        ci_low: point.ci_low * per_second,
        ci_high: point.ci_high * per_second,
    });

    let (x_low, x_high) = worker_range(x_range, chart.max_cores);
    let fastest_at_fewest = series
        .iter()
        .flat_map(|series| &series.points)
        .filter(|point| point.x == x_range.0)
        .map(|point| point.y)
        .fold(f64::INFINITY, f64::min);
    let ideal: Vec<(f64, f64)> = if chart.weak {
        vec![(x_low, fastest_at_fewest), (x_high, fastest_at_fewest)]
    } else {
        geometric(x_low, x_high, 64).map(|p| (p, fastest_at_fewest * x_range.0 / p)).collect()
    };
    let y_range = data_bounds(&series, &ideal, true).map_or(seconds_range, |(_, y)| y);

    let mut layers = Vec::new();
    layers.extend(cores_layer(chart.max_cores, x_high));
    layers.push(Layer::Line {
        label: if chart.weak { "ideal weak scaling (constant time)" } else { "ideal scaling" }.to_string(),
        points: ideal,
        kind: LineKind::Ideal,
        color: IDEAL_GRAY,
    });
    // A series of one point at the fewest workers (the sequential baseline)
    // is also drawn as a thin level across the chart, in its colour: every
    // backend's time can be read against it, and it stays visible where
    // markers overlap it. One point at more workers (`workers: [2]`) is no
    // baseline: a level would claim its time at every other worker count.
    let baselines = series.iter().filter(|series| series.points.len() == 1 && series.points[0].x == x_range.0);
    for single in baselines {
        let level = single.points[0].y;
        layers.push(Layer::Line {
            label: String::new(),
            points: vec![(x_low, level), (x_high, level)],
            kind: LineKind::Ideal,
            color: series_style(single.style).color,
        });
    }
    push_measured(&mut layers, &series, chart.max_cores);
    canvas::render(
        path,
        &Figure {
            title: &chart.title,
            caption: &chart.caption,
            notes: notes(&chart.notes),
            x: Axis::log2("workers (threads)", (x_low, x_high)),
            y: Axis::log10(&format!("median wall time ({unit})"), y_range),
            layers,
            canvas: *canvas,
        },
    )
}

/// How far (a factor on the log₂ worker axis: a quarter doubling) the
/// level drawn for a one-point curve reaches to either side of its point.
const LONE_POINT_REACH: f64 = 1.189_207_115_002_721; // 2^(1/4)

/// How error bars are to be read; printed under every chart.
const CI_NOTE: &str = "Error bars: 95% confidence intervals.";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scaling {
    Speedup,
    Efficiency,
}

/// Speedup and efficiency share a layout; `series` and `fits` are already
/// in the chart's units.
fn draw_scaling(
    path: &Path,
    chart: &SpeedupChart,
    scaling: Scaling,
    series: &[MeasuredSeries],
    fits: &[Curve],
    canvas: &Canvas,
) -> Result<Layout> {
    let Some((x_range, y_range)) = data_bounds(series, &[], false) else {
        bail!("chart '{}': no points to draw", chart.title);
    };
    let (x_low, x_high) = worker_range(x_range, chart.max_cores);
    // Fits are cut to the plotted worker range, so a model never claims
    // more than the data supports.
    let fits: Vec<Curve> = fits
        .iter()
        .map(|curve| {
            let mut points: Vec<(f64, f64)> =
                curve.points.iter().copied().filter(|&(p, _)| p >= x_low && p <= x_high).collect();
            // A curve of one point (the granularity bound of a single worker
            // count) is a short level around it, as `draw_backends` draws a
            // lone point's: a dashed line through one point shows nothing,
            // and joining it to anything else would claim values between
            // worker counts where the bound is not defined.
            if let [(p, level)] = points[..] {
                points = vec![(p / LONE_POINT_REACH, level), (p * LONE_POINT_REACH, level)];
            }
            Curve { label: curve.label.clone(), points, color: curve.color }
        })
        .collect();
    let fit_top = fits.iter().flat_map(|curve| &curve.points).map(|point| point.1).fold(f64::NEG_INFINITY, f64::max);
    let data_top = y_range.1.max(fit_top);

    let (y, ideal_label, ideal) = match scaling {
        Scaling::Speedup => {
            let top = (data_top * 1.1).max(2.0);
            let ideal = ideal_speedup(series, (x_low, x_high), top);
            let label = if chart.weak { "scaled speedup p·T1/Tp" } else { "speedup T1/Tp" };
            let y = Axis::linear(label, (0.0, top));
            (y, "ideal S = p", ideal)
        }
        Scaling::Efficiency => {
            let top = (data_top * 1.05).max(1.1);
            let label = if chart.weak { "weak-scaling efficiency T1/Tp" } else { "parallel efficiency S/p" };
            let y = Axis::linear(label, (0.0, top));
            (y, if chart.weak { "ideal T1/Tp = 1" } else { "ideal S/p = 1" }, vec![(x_low, 1.0), (x_high, 1.0)])
        }
    };

    let mut layers = Vec::new();
    layers.extend(cores_layer(chart.max_cores, x_high));
    if !ideal.is_empty() {
        layers.push(Layer::Line {
            label: ideal_label.to_string(),
            points: ideal,
            kind: LineKind::Ideal,
            color: IDEAL_GRAY,
        });
    }
    // A fit with no point in the plotted range gets no (empty) legend entry.
    for curve in fits.into_iter().filter(|curve| !curve.points.is_empty()) {
        let color = series_style(Style { color: curve.color, marker: 0 }).color;
        layers.push(Layer::Line { label: curve.label, points: curve.points, kind: LineKind::Fit, color });
    }
    push_measured(&mut layers, series, chart.max_cores);
    canvas::render(
        path,
        &Figure {
            title: &chart.title,
            caption: &chart.caption,
            notes: notes(&chart.notes),
            x: Axis::log2("workers (threads)", (x_low, x_high)),
            y,
            layers,
            canvas: *canvas,
        },
    )
}

/// Adds one layer per series, plus the open-marker legend entry when some
/// point has more workers than cores.
fn push_measured<'a>(layers: &mut Vec<Layer<'a>>, series: &'a [MeasuredSeries], max_cores: Option<usize>) {
    for series in series {
        layers.push(Layer::Measured { series, style: series_style(series.style), max_cores });
    }
    let oversubscribed = max_cores
        .is_some_and(|cores| series.iter().flat_map(|series| &series.points).any(|point| point.x > cores as f64));
    if oversubscribed {
        layers.push(Layer::OversubscribedKey);
    }
}

fn map_series(series: &[MeasuredSeries], convert: impl Fn(&MeasuredPoint) -> MeasuredPoint) -> Vec<MeasuredSeries> {
    series
        .iter()
        .map(|series| MeasuredSeries {
            label: series.label.clone(),
            points: series.points.iter().map(&convert).collect(),
            style: series.style,
        })
        .collect()
}

fn series_style(style: Style) -> SeriesStyle {
    SeriesStyle::new(style.color, style.marker)
}

/// The error-bar note, then the chart's own notes.
fn notes(own: &[String]) -> Vec<String> {
    std::iter::once(CI_NOTE.to_string()).chain(own.iter().cloned()).collect()
}

/// The core-count marker, shaded beyond it when the axis reaches past the cores.
fn cores_layer(cores: Option<usize>, x_high: f64) -> Option<Layer<'static>> {
    cores.map(|cores| Layer::Cores { cores, label: canvas::cores_label(cores, (cores as f64) < x_high) })
}

/// Every chart has a logarithmic x axis: points need finite values and a
/// positive `x`, and there must be at least one.
fn check_series(title: &str, series: &[MeasuredSeries]) -> Result<()> {
    if series.iter().all(|series| series.points.is_empty()) {
        bail!("chart '{title}': no points to draw");
    }
    for series in series {
        for point in &series.points {
            let values = [point.x, point.y, point.ci_low, point.ci_high];
            if values.iter().any(|value| !value.is_finite()) {
                bail!(
                    "chart '{title}': series '{}' has a non-finite value at x = {} (y = {}, interval {} to {})",
                    series.label,
                    point.x,
                    point.y,
                    point.ci_low,
                    point.ci_high
                );
            }
            if point.x <= 0.0 {
                bail!("chart '{title}': series '{}' has x = {}, but the x axis is logarithmic", series.label, point.x);
            }
        }
    }
    Ok(())
}

fn check_curves(title: &str, curves: &[Curve]) -> Result<()> {
    for curve in curves {
        if let Some(point) = curve.points.iter().find(|(x, y)| !x.is_finite() || !y.is_finite() || *x <= 0.0) {
            bail!("chart '{title}': curve '{}' has an unplottable point ({}, {})", curve.label, point.0, point.1);
        }
    }
    Ok(())
}

/// `((x_min, x_max), (y_min, y_max))` over all points, their interval ends
/// and the `extra` points; `None` when there is nothing at all. With
/// `log_y` only positive y values count: a confidence bound at or below
/// zero has no place on a log axis (it is drawn to the axis floor).
fn data_bounds(series: &[MeasuredSeries], extra: &[(f64, f64)], log_y: bool) -> Option<((f64, f64), (f64, f64))> {
    let points = series.iter().flat_map(|series| &series.points);
    let xs = points.clone().map(|point| point.x).chain(extra.iter().map(|point| point.0));
    let ys = points
        .flat_map(|point| [point.y, point.ci_low, point.ci_high])
        .chain(extra.iter().map(|point| point.1))
        .filter(|&y| !log_y || y > 0.0);
    Some((min_max(xs)?, min_max(ys)?))
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |range, value| {
        Some(range.map_or((value, value), |(low, high): (f64, f64)| (low.min(value), high.max(value))))
    })
}

/// The worker axis of a chart whose data span `range`: widened to the
/// core count (so its marker shows), down to p = 1 when the data sit at one
/// worker count (`workers: [2]`), and to at least one doubling. A lone
/// worker count used to leave an axis a quarter octave wide, with no ideal
/// line (it needs two points) to read the point against; at p = 1 every
/// speedup is 1, so the ideal and the granularity bound start there.
fn worker_range(range: (f64, f64), cores: Option<usize>) -> (f64, f64) {
    let (low, high) = with_cores(range, cores);
    let low = if range.0 == range.1 { low.min(1.0) } else { low };
    (low, high.max(2.0 * low))
}

/// Widens a worker range to include the core count, so its marker shows.
fn with_cores(range: (f64, f64), cores: Option<usize>) -> (f64, f64) {
    match cores {
        Some(cores) if cores > 0 => (range.0.min(cores as f64), range.1.max(cores as f64)),
        _ => range,
    }
}

/// The ideal `S = p` as straight segments through `(p, p)` at the worker
/// counts the data joins (and the ends of the x range), the way the data's
/// own segments run: on a log₂ worker axis the curve `S = p` sags below the
/// straight segment between two measured points, so a series at the ideal
/// looked superlinear there; a curve drawn as 64 points rounded to whole
/// pixels also looked jagged. Stops where it leaves the plot at `top`.
fn ideal_speedup(series: &[MeasuredSeries], (x_low, x_high): (f64, f64), top: f64) -> Vec<(f64, f64)> {
    let mut workers: Vec<f64> = series.iter().flat_map(|series| series.points.iter().map(|point| point.x)).collect();
    workers.extend([x_low, x_high]);
    workers.sort_by(f64::total_cmp);
    workers.dedup();
    let mut ideal: Vec<(f64, f64)> = Vec::new();
    for p in workers {
        match ideal.last() {
            _ if p <= top => ideal.push((p, p)),
            // The segment from the last point to `p` crosses `top` at the
            // fraction `t` of its height, so of its length on the log axis.
            Some(&(last, _)) => {
                let t = (top - last) / (p - last);
                let crossing = last * (p / last).powf(t);
                ideal.push((crossing, top));
                break;
            }
            None => break,
        }
    }
    if ideal.len() < 2 {
        ideal.clear();
    }
    ideal
}

/// `count` values spaced evenly on a log axis from `from` to `to`.
fn geometric(from: f64, to: f64, count: usize) -> impl Iterator<Item = f64> {
    let steps = count.saturating_sub(1).max(1) as f64;
    (0..count).map(move |i| from * (to / from).powf(i as f64 / steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{fit, Model};
    use std::path::PathBuf;

    /// Where rendered test charts go: a fresh temporary directory, or the
    /// directory in `PARSWEEP_CHART_PREVIEW` to keep them for a look.
    fn output_dir() -> (Option<tempfile::TempDir>, PathBuf) {
        match std::env::var_os("PARSWEEP_CHART_PREVIEW") {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                std::fs::create_dir_all(&dir).expect("preview directory");
                (None, dir)
            }
            None => {
                let temp = tempfile::tempdir().expect("temporary directory");
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        }
    }

    /// Checks the PNG signature and returns the size in the IHDR chunk,
    /// and the file's length.
    fn png_size(path: &Path) -> ((u32, u32), usize) {
        let bytes = std::fs::read(path).expect("chart file");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
        assert_eq!(&bytes[12..16], b"IHDR");
        let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        ((number(16), number(20)), bytes.len())
    }

    /// Checks the PNG's default size, and a file big enough to hold more
    /// than an empty frame.
    fn assert_png(path: &Path) {
        let (size, length) = png_size(path);
        assert_eq!(size, (WIDTH, HEIGHT));
        assert!(length > 10_000, "{} has only {length} bytes", path.display());
    }

    /// Amdahl-like speedups (serial fraction 8 %) with ±4 % intervals and a
    /// mild slowdown once workers exceed the 8 cores.
    fn speedup_chart() -> SpeedupChart {
        let measured = |s: f64, oversubscribed_penalty: f64| -> Vec<MeasuredPoint> {
            [1.0, 2.0, 4.0, 8.0, 16.0]
                .iter()
                .map(|&p: &f64| {
                    let ideal = Model::Amdahl.speedup(&[s], p);
                    let y = if p > 8.0 { ideal * oversubscribed_penalty } else { ideal };
                    MeasuredPoint { x: p, y, ci_low: y * 0.96, ci_high: y * 1.04 }
                })
                .collect()
        };
        let pool = measured(0.08, 0.85);
        let rayon = measured(0.05, 0.9);
        let points: Vec<(f64, f64)> = pool.iter().map(|point| (point.x, point.y)).collect();
        let fits = [Model::Amdahl, Model::Usl]
            .iter()
            .map(|&model| {
                let fitted = fit(model, &points).expect("synthetic data fits");
                let color = if model == Model::Amdahl { 6 } else { 5 };
                Curve { label: format!("pool, {}", fitted.label()), points: fitted.curve(1.0, 16.0, 100), color }
            })
            .collect();
        SpeedupChart {
            title: "Speedup of x·x over 10⁶ points".to_string(),
            caption: "Synthetic data: 8 cores, 10 repetitions per point, median with bootstrap CI.".to_string(),
            notes: Vec::new(),
            series: vec![
                MeasuredSeries { label: "pool".to_string(), points: pool, style: Style::nth(1) },
                MeasuredSeries { label: "rayon".to_string(), points: rayon, style: Style::nth(4) },
            ],
            fits,
            max_cores: Some(8),
            weak: false,
        }
    }

    #[test]
    fn renders_speedup_and_efficiency_charts() {
        let (_guard, dir) = output_dir();
        let chart = speedup_chart();
        let speedup = dir.join("speedup.png");
        draw_speedup(&speedup, &chart, &Canvas::default()).unwrap();
        assert_png(&speedup);
        let efficiency = dir.join("efficiency.png");
        draw_efficiency(&efficiency, &chart, &Canvas::default()).unwrap();
        assert_png(&efficiency);
    }

    /// The ideal was 64 points of `S = p` spaced on the log₂ axis: a curve
    /// that sags below the straight segment the data draws from (1, 1) to
    /// (2, 2), so a series exactly at the ideal appeared above it, and one
    /// rounded to whole pixels, so it looked jagged.
    #[test]
    fn the_ideal_joins_the_measured_worker_counts_as_the_data_does() {
        let point = |x: f64| MeasuredPoint { x, y: x, ci_low: x, ci_high: x };
        let series = |xs: &[f64]| MeasuredSeries {
            label: "pool".to_string(),
            points: xs.iter().map(|&x| point(x)).collect(),
            style: Style::nth(1),
        };
        let both = [series(&[1.0, 2.0, 4.0]), series(&[1.0, 3.0])];
        // Through every measured p, and on to the cores' end of the axis.
        assert_eq!(ideal_speedup(&both, (1.0, 8.0), 9.0), [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0), (4.0, 4.0), (8.0, 8.0)]);
        // Cut where it leaves the plot, on its own straight segment: from
        // (2, 2) to (4, 4) it reaches 3 halfway, at p = 2·√2 on the log axis.
        let cut = ideal_speedup(&[series(&[1.0, 2.0, 4.0])], (1.0, 4.0), 3.0);
        assert_eq!(cut[..2], [(1.0, 1.0), (2.0, 2.0)]);
        assert_eq!(cut.len(), 3);
        assert!((cut[2].0 - 2.0 * 2f64.sqrt()).abs() < 1e-12 && cut[2].1 == 3.0, "{cut:?}");
    }

    #[test]
    fn renders_overhead_chart_and_notes_hidden_points() {
        let (_guard, dir) = output_dir();
        let series = |label: &str, per_chunk_ns: f64| MeasuredSeries {
            label: label.to_string(),
            style: Style { color: 1, marker: usize::from(label.as_bytes()[0]) },
            points: (0..=12)
                .map(|k| {
                    let chunk = f64::from(1 << k);
                    // Fixed cost per chunk spread over its tasks, plus a floor.
                    let y = per_chunk_ns / chunk + 3.0;
                    MeasuredPoint { x: chunk, y, ci_low: y * 0.8, ci_high: y * 1.25 }
                })
                .collect(),
        };
        let mut fast = series("4 workers", 900.0);
        // A superlinear run: negative overhead, left out of the log plot.
        fast.points.push(MeasuredPoint { x: 8192.0, y: -1.0, ci_low: -2.0, ci_high: 0.5 });
        let chart = OverheadChart {
            title: "Scheduling overhead per task".to_string(),
            caption: "Synthetic data: empty tasks, 2¹⁶ tasks per run.".to_string(),
            notes: Vec::new(),
            series: vec![series("2 workers", 400.0), fast],
        };
        let path = dir.join("overhead.png");
        draw_overhead(&path, &chart, &Canvas::default()).unwrap();
        assert_png(&path);
    }

    #[test]
    fn overhead_axes_read_in_the_unit_of_their_middle() {
        assert_eq!(overhead_unit((3.0, 400.0)).1, "ns");
        assert_eq!(overhead_unit((70.0, 1.2e6)).1, "µs");
        assert_eq!(overhead_unit((2e5, 3e7)).1, "ms");
        assert_eq!(overhead_unit((2e9, 3e10)).1, "s");
    }

    #[test]
    fn renders_backend_chart() {
        let (_guard, dir) = output_dir();
        let backend = |label: &str, serial_s: f64, efficiency: f64| MeasuredSeries {
            label: label.to_string(),
            style: Style::nth(
                ["sequential", "pool", "pool-collect", "std::thread::scope", "rayon"]
                    .iter()
                    .position(|&l| l == label)
                    .unwrap_or(6),
            ),
            points: [1.0, 2.0, 4.0, 8.0]
                .iter()
                .map(|&p: &f64| {
                    let y = serial_s / p / efficiency.powf(p.log2());
                    MeasuredPoint { x: p, y, ci_low: y * 0.97, ci_high: y * 1.05 }
                })
                .collect(),
        };
        let chart = BackendChart {
            title: "Wall time by backend".to_string(),
            caption: "Synthetic data: sleep(2 ms) × 400 tasks.".to_string(),
            notes: Vec::new(),
            series: vec![
                backend("pool", 0.8, 0.97),
                backend("rayon", 0.8, 0.95),
                backend("std::thread::scope", 0.82, 0.9),
                backend("sequential", 0.8, 0.5),
            ],
            max_cores: Some(4),
            weak: false,
        };
        let path = dir.join("backends.png");
        draw_backends(&path, &chart, &Canvas::default()).unwrap();
        assert_png(&path);
    }

    /// A decoded PNG, to read pixels from.
    struct Image {
        width: usize,
        channels: usize,
        buffer: Vec<u8>,
    }

    impl Image {
        fn read(path: &Path) -> Image {
            let decoder = png::Decoder::new(std::fs::File::open(path).expect("chart file"));
            let mut reader = decoder.read_info().expect("PNG header");
            let mut buffer = vec![0; reader.output_buffer_size()];
            let frame = reader.next_frame(&mut buffer).expect("PNG frame");
            Image { width: frame.width as usize, channels: frame.color_type.samples(), buffer }
        }

        /// The RGB colour of pixel `(x, y)`.
        fn pixel(&self, (x, y): (i32, i32)) -> [u8; 3] {
            let at = (y as usize * self.width + x as usize) * self.channels;
            [self.buffer[at], self.buffer[at + 1], self.buffer[at + 2]]
        }
    }

    #[test]
    fn open_markers_stay_open_at_every_size() {
        let (_guard, dir) = output_dir();
        let chart = speedup_chart();
        assert_eq!(chart.max_cores, Some(8), "p = 16 is oversubscribed, p = 1 is not");
        let smallest = Canvas { width: 400, height: 300, ..Canvas::default() };
        for canvas in [Canvas::default(), smallest] {
            let path = dir.join(format!("open-{}.png", canvas.width));
            let layout = draw_speedup(&path, &chart, &canvas).unwrap();
            let image = Image::read(&path);
            // Points come first in series order, three entries each
            // (value, bar ends): pool's p = 1, then pool's p = 16.
            let (filled, open) = (layout.data[0], layout.data[3 * 4]);
            assert_ne!(image.pixel(filled), [255, 255, 255], "at {}×{}: a filled marker", canvas.width, canvas.height);
            // A full-width outline used to cover the white core of the
            // smallest chart's 3-pixel markers, which then read as filled.
            assert_eq!(image.pixel(open), [255, 255, 255], "at {}×{}: an open marker", canvas.width, canvas.height);
        }
    }

    #[test]
    fn legends_never_cover_data_on_any_chart() {
        let (_guard, dir) = output_dir();
        // Data in every corner of the plot, and many legend entries: a
        // legend inside the plot would have to cover something.
        // Labels of every length, up to wider than the chart itself.
        // At the default size and the smallest allowed, whose text and
        // gaps shrink with it (it used to leave its plot no room at all).
        let smallest = Canvas { width: 400, height: 300, ..Canvas::default() };
        assert_eq!(smallest.checked().unwrap(), smallest, "the smallest size allowed");
        for (canvas, repeats) in [Canvas::default(), smallest].into_iter().flat_map(|c| [0, 5, 9].map(|r| (c, r))) {
            let mut chart = speedup_chart();
            chart.series[0].label.push_str(" with a long label that fills its column");
            chart.series[1].label = format!("{} {}", chart.series[1].label, "and a very long label ".repeat(repeats));
            chart.series.push(MeasuredSeries {
                label: "corners".to_string(),
                points: vec![
                    MeasuredPoint { x: 1.0, y: 0.1, ci_low: 0.05, ci_high: 0.2 },
                    MeasuredPoint { x: 16.0, y: 14.0, ci_low: 13.0, ci_high: 15.0 },
                ],
                style: Style::nth(2),
            });
            for (name, layout) in [
                ("legend-speedup.png", draw_speedup(&dir.join("legend-speedup.png"), &chart, &canvas).unwrap()),
                (
                    "legend-efficiency.png",
                    draw_efficiency(&dir.join("legend-efficiency.png"), &chart, &canvas).unwrap(),
                ),
            ] {
                let image = Image::read(&dir.join(name));
                let pixel = |at| image.pixel(at);
                let legend = layout.legend.expect("a legend");
                assert!(
                    legend.left >= 0 && legend.right < canvas.width as i32 && legend.bottom < canvas.height as i32,
                    "{name} at {}×{}: {legend:?}",
                    canvas.width,
                    canvas.height
                );
                assert!(layout.data.len() >= 3 * 12, "{name}: every point and bar end is reported");
                for &point in &layout.data {
                    assert!(layout.plot.contains(point), "{name}: {point:?} lies in the plot {:?}", layout.plot);
                    assert!(!legend.contains(point), "{name}: the legend {legend:?} covers data at {point:?}");
                }
                // The reported box is where the frame was drawn, and data
                // markers are drawn where reported: check the image itself.
                let frame = [150, 150, 150];
                assert_eq!(pixel((legend.left, legend.top)), frame, "{name}: legend frame corner");
                assert_eq!(pixel((legend.right, legend.bottom)), frame, "{name}: legend frame corner");
                // Nothing spills out of the frame: the columns just outside it are blank.
                for y in legend.top..=legend.bottom {
                    for x in [legend.left - 3, legend.right + 3] {
                        assert_eq!(
                            pixel((x, y)),
                            [255, 255, 255],
                            "{name}: legend text outside its frame at ({x}, {y})"
                        );
                    }
                }
                let white_data = layout.data.iter().filter(|&&point| pixel(point) == [255, 255, 255]).count();
                assert!(white_data < layout.data.len() / 4, "{name}: {white_data} data positions are blank");
            }
        }
    }

    /// One worker count drew an axis a quarter doubling wide around it:
    /// no ideal line (it needs two points) and no dashed bound to read the
    /// point against. Several worker counts keep the range they had.
    #[test]
    fn a_lone_worker_count_gets_an_axis_from_one_worker() {
        assert_eq!(worker_range((2.0, 2.0), Some(2)), (1.0, 2.0));
        assert_eq!(worker_range((1024.0, 1024.0), Some(2)), (1.0, 1024.0));
        assert_eq!(worker_range((1.0, 1.0), Some(2)), (1.0, 2.0));
        assert_eq!(worker_range((1.0, 1.0), Some(1)), (1.0, 2.0), "one core: still a doubling wide");
        assert_eq!(worker_range((2.0, 8.0), Some(4)), (2.0, 8.0));
        assert_eq!(worker_range((1.0, 4.0), Some(16)), (1.0, 16.0));
        let point = MeasuredPoint { x: 2.0, y: 0.8, ci_low: 0.7, ci_high: 0.9 };
        let series = [MeasuredSeries { label: "pool".to_string(), points: vec![point], style: Style::nth(1) }];
        let ideal = ideal_speedup(&series, worker_range((2.0, 2.0), Some(2)), 2.0);
        assert_eq!(ideal, [(1.0, 1.0), (2.0, 2.0)]);
        let (_guard, dir) = output_dir();
        let chart = SpeedupChart {
            series: series.to_vec(),
            fits: vec![Curve { label: "granularity bound".to_string(), points: vec![(2.0, 1.5)], color: 9 }],
            max_cores: Some(2),
            ..speedup_chart()
        };
        draw_speedup(&dir.join("lone.png"), &chart, &Canvas::default()).unwrap();
        draw_efficiency(&dir.join("lone-efficiency.png"), &chart, &Canvas::default()).unwrap();
    }

    #[test]
    fn log_bounds_ignore_nonpositive_interval_ends() {
        let series = [MeasuredSeries {
            label: "noisy".to_string(),
            style: Style::default(),
            points: vec![
                MeasuredPoint { x: 1.0, y: 50.0, ci_low: -20.0, ci_high: 90.0 },
                MeasuredPoint { x: 64.0, y: 2.0, ci_low: 0.5, ci_high: 4.0 },
            ],
        }];
        assert_eq!(data_bounds(&series, &[], true), Some(((1.0, 64.0), (0.5, 90.0))));
        assert_eq!(data_bounds(&series, &[], false), Some(((1.0, 64.0), (-20.0, 90.0))));
        assert_eq!(data_bounds(&[], &[], false), None);
    }

    #[test]
    fn rejects_unplottable_input_with_a_named_problem() {
        let (_guard, dir) = output_dir();
        let mut chart = speedup_chart();
        chart.series[1].points[2].y = f64::NAN;
        let error = draw_speedup(&dir.join("bad.png"), &chart, &Canvas::default()).unwrap_err();
        assert!(error.to_string().contains("series 'rayon'"), "{error}");

        let empty = SpeedupChart { series: Vec::new(), ..speedup_chart() };
        let error = draw_efficiency(&dir.join("empty.png"), &empty, &Canvas::default()).unwrap_err();
        assert!(error.to_string().contains("no points"), "{error}");

        let missing_dir = dir.join("no/such/dir/chart.png");
        assert!(draw_speedup(&missing_dir, &speedup_chart(), &Canvas::default()).is_err());
    }

    #[test]
    fn much_small_print_makes_a_default_chart_taller_instead_of_failing() {
        let (_guard, dir) = output_dir();
        // Warnings, fits not drawn, several machines' records: 40 lines.
        let chart =
            SpeedupChart { notes: vec!["WARNING: a long note of small print.".to_owned(); 40], ..speedup_chart() };
        let path = dir.join("tall.png");
        draw_speedup(&path, &chart, &Canvas::default()).unwrap();
        let ((_, height), _) = png_size(&path);
        assert!(height > HEIGHT, "{height}");
        // A size asked for is kept: the error says what to change.
        let asked = Canvas { height: 1000, ..Canvas::default() };
        let error = draw_speedup(&dir.join("asked.png"), &chart, &asked).unwrap_err();
        assert!(format!("{error:#}").contains("pixels for the plot: make it taller"), "{error:#}");
    }
}
