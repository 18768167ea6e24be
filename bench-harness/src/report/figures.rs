//! Which charts an experiment gets, and their data, built from an
//! [`ExperimentReport`] as the plain structs of [`crate::report::charts`].
//!
//! - `speedup.png`, `efficiency.png` and `backends.png` need a measured
//!   point (a single worker count is drawn too, on an axis from p = 1);
//! - `overhead.png` needs at least two fixed chunk sizes on a backend that
//!   takes one (automatic chunking has no position on a chunk-size axis, so
//!   its overhead is stated in the caption instead).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::charts::{
    self, BackendChart, Canvas, Curve, Format, MeasuredPoint, MeasuredSeries, OverheadChart, SpeedupChart, Style,
};
use super::{ExperimentReport, Exporter};
use crate::analysis::{
    granularity_binds, granularity_bound, representative_chunk, speedup_points, AboveWorkers, Analysis,
};
use crate::config::{BackendKind, BackendName, ChunkSize, Experiment};
use crate::stats::{Fit, Model};

/// Points per fitted curve: smooth at chart resolution.
const CURVE_POINTS: usize = 64;

/// A chart ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Speedup against workers.
    Speedup(SpeedupChart),
    /// Efficiency against workers (same data as speedup).
    Efficiency(SpeedupChart),
    /// Overhead per task against chunk size.
    Overhead(OverheadChart),
    /// Wall time against workers, per backend.
    Backends(BackendChart),
}

impl Figure {
    /// The PNG file name of every kind of figure a report may draw.
    pub const FILE_NAMES: [&'static str; 4] = ["speedup.png", "efficiency.png", "overhead.png", "backends.png"];

    /// The PNG file name of this figure in the experiment's report directory.
    pub fn file_name(&self) -> &'static str {
        let [speedup, efficiency, overhead, backends] = Self::FILE_NAMES;
        match self {
            Figure::Speedup(_) => speedup,
            Figure::Efficiency(_) => efficiency,
            Figure::Overhead(_) => overhead,
            Figure::Backends(_) => backends,
        }
    }

    /// Draws the figure into `dir` in every format of `formats` (the PNG
    /// as [`Figure::file_name`], the others beside it with their own
    /// extension) and returns the files written.
    pub fn draw(&self, dir: &Path, formats: &[Format], canvas: &Canvas) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for format in formats {
            let path = dir.join(self.file_name()).with_extension(format.extension());
            match self {
                Figure::Speedup(chart) => charts::draw_speedup(&path, chart, canvas),
                Figure::Efficiency(chart) => charts::draw_efficiency(&path, chart, canvas),
                Figure::Overhead(chart) => charts::draw_overhead(&path, chart, canvas),
                Figure::Backends(chart) => charts::draw_backends(&path, chart, canvas),
            }
            .with_context(|| format!("drawing {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Draws every figure of a report, in each of `formats` (by default PNG,
/// SVG and PDF at the default size).
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// The file formats to write.
    pub formats: Vec<Format>,
    /// Size and text scale.
    pub canvas: Canvas,
}

impl Default for Figures {
    fn default() -> Self {
        Self { formats: Format::ALL.to_vec(), canvas: Canvas::default() }
    }
}

impl Exporter for Figures {
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for figure in figures(report) {
            written.extend(figure.draw(dir, &self.formats, &self.canvas)?);
        }
        Ok(written)
    }
}

/// The figures of one experiment, in the order the summary shows them.
pub fn figures(report: &ExperimentReport) -> Vec<Figure> {
    let experiment = &report.experiment;
    let analysis = &report.analysis;
    let caption = report.caption();
    let mut figures = Vec::new();
    // A chart needs points: an interrupted run may have none yet.
    let has_points = |series: &[MeasuredSeries]| series.iter().any(|s| !s.points.is_empty());
    {
        let speedup = speedup_chart(report, &caption);
        if has_points(&speedup.series) {
            figures.push(Figure::Speedup(speedup.clone()));
            figures.push(Figure::Efficiency(SpeedupChart {
                title: if experiment.inputs.is_weak() {
                    format!("Weak-scaling efficiency — {}", experiment.name)
                } else {
                    format!("Parallel efficiency — {}", experiment.name)
                },
                ..speedup
            }));
        }
        let backends = backend_chart(experiment, analysis, &caption);
        if has_points(&backends.series) {
            figures.push(Figure::Backends(backends));
        }
    }
    if let Some(chart) = overhead_chart(experiment, analysis, &caption) {
        figures.push(Figure::Overhead(chart));
    }
    // A busy machine is flagged on the chart itself, not only in the summary.
    let busy = busy_notes(report, None);
    for figure in &mut figures {
        let notes = match figure {
            Figure::Speedup(chart) | Figure::Efficiency(chart) => &mut chart.notes,
            Figure::Overhead(chart) => &mut chart.notes,
            Figure::Backends(chart) => &mut chart.notes,
        };
        notes.splice(0..0, busy.iter().cloned());
    }
    figures
}

/// The small print that flags a busy machine on a chart of `report`:
/// one `WARNING: …` line per warning, naming the run (`label`) on a chart
/// that overlays several.
pub fn busy_notes(report: &ExperimentReport, label: Option<&str>) -> Vec<String> {
    let run = label.map_or_else(String::new, |label| format!(" ({label})"));
    report
        .conditions
        .warnings(report.machine.logical_cores)
        .into_iter()
        .map(|warning| format!("WARNING{run}: {warning}."))
        .collect()
}

/// The suspect speedups of `backend`'s series at `chunk`, stronger evidence
/// first, as its legend entry lists them: each kind of mark with the
/// worker counts it is at (`[(S > p, "8"), (median S > p, "4, 6")]`).
pub fn suspect_marks(
    analysis: &Analysis,
    backend: BackendKind,
    chunk: Option<ChunkSize>,
) -> Vec<(AboveWorkers, String)> {
    let suspect: Vec<(usize, AboveWorkers)> = analysis
        .cells
        .iter()
        .filter(|c| c.cell.backend == backend && c.cell.chunk == chunk)
        .filter_map(|c| Some((c.cell.workers, c.speedup_above_workers()?)))
        .collect();
    let at = |above: AboveWorkers| {
        let at: Vec<String> =
            suspect.iter().filter(|(_, a)| *a == above).map(|(workers, _)| workers.to_string()).collect();
        (!at.is_empty()).then(|| at.join(", "))
    };
    AboveWorkers::ALL.into_iter().rev().filter_map(|above| Some((above, at(above)?))).collect()
}

/// The legend suffix of a series with suspect speedups (see
/// [`suspect_marks`]): `" — SUSPECT: S > p at p = 8"`, or nothing.
pub fn suspect_label(marks: &[(AboveWorkers, String)]) -> String {
    if marks.is_empty() {
        return String::new();
    }
    let marks: Vec<String> = marks.iter().map(|(above, at)| format!("{} at p = {at}", above.mark())).collect();
    format!("{}SUSPECT: {}", MeasuredSeries::WARNING, marks.join("; "))
}

/// The colour and marker of a backend, the same on every chart.
pub fn backend_style(backend: BackendKind) -> Style {
    Style::nth(match backend {
        BackendKind::Sequential => 0,
        BackendKind::Pool => 1,
        BackendKind::PoolCollect => 2,
        BackendKind::StdScope => 3,
        BackendKind::Rayon => 4,
        BackendKind::Named(name) => return named_backend_style(name),
    })
}

/// A backend of your own gets one of the palette's four colours that no
/// built-in backend or model uses, and a marker, from the order its name
/// was first met (the order of the configuration): the first 24 such
/// backends all look different, and each looks the same on every chart.
fn named_backend_style(name: BackendName) -> Style {
    let index = name.index();
    // Colour `c` with markers `c + 5k (mod 6)`: 5 and 6 are coprime, so the
    // 24 (colour, marker) pairs for indices 0..24 are all distinct.
    Style { color: 7 + index % 4, marker: (index % 4 + 5 * (index / 4)) % 6 }
}

/// The colour of a model's fitted curve: palette entries no backend uses.
fn model_color(model: Model) -> usize {
    match model {
        // Never drawn together: Amdahl for strong scaling, Gustafson for weak.
        Model::Amdahl | Model::Gustafson => 6,
        Model::Usl => 5,
    }
}

/// The legend label of a backend's representative series.
pub(super) fn series_label(experiment: &Experiment, backend: BackendKind) -> String {
    match representative_chunk(experiment, backend) {
        Some(chunk) if experiment.chunk_sizes.len() > 1 => format!("{backend} (chunk {chunk})"),
        _ => backend.to_string(),
    }
}

/// The small print that explains the suspect speedups of `report`'s
/// speedup series (see [`suspect_marks`]): one `SUSPECT: …` line per kind of
/// mark and series, naming the run (`label`) on a chart that overlays several.
pub fn suspect_notes(report: &ExperimentReport, label: Option<&str>) -> Vec<String> {
    let (experiment, analysis) = (&report.experiment, &report.analysis);
    let run = label.map_or_else(String::new, |label| format!(" ({label})"));
    let mut notes = Vec::new();
    for backend in parallel_backends(experiment) {
        let series = series_label(experiment, backend);
        for (above, at) in suspect_marks(analysis, backend, representative_chunk(experiment, backend)) {
            let (bound, excess, it) = match above.bound() {
                "p" => ("p".to_owned(), "(efficiency above 100.5%)", "p"),
                _ => (
                    format!("the machine's {} logical cores (which its busy workers share)", analysis.logical_cores),
                    "by more than 0.5%",
                    "them",
                ),
            };
            notes.push(if above.whole_interval() {
                format!(
                    "SUSPECT{run}: the {series} speedup at p = {at} exceeds {bound} beyond its interval: not a \
                     result; something slowed the sequential baseline (see the summary's warnings)."
                )
            } else {
                format!(
                    "SUSPECT{run}: the {series} median speedup at p = {at} exceeds {bound} {excess}, \
                     its interval reaching down to {it}: not a result (see the summary's warnings)."
                )
            });
        }
    }
    notes
}

fn speedup_chart(report: &ExperimentReport, caption: &str) -> SpeedupChart {
    let (experiment, analysis) = (&report.experiment, &report.analysis);
    // A speedup above p is no result; the legend and the small print say so.
    let mut notes = suspect_notes(report, None);
    let series = parallel_backends(experiment)
        .map(|backend| {
            let chunk = representative_chunk(experiment, backend);
            let label = series_label(experiment, backend) + &suspect_label(&suspect_marks(analysis, backend, chunk));
            MeasuredSeries {
                label,
                points: speedup_points(&analysis.cells, backend, chunk)
                    .into_iter()
                    .map(|(workers, s)| MeasuredPoint { x: workers, y: s.value, ci_low: s.ci_low, ci_high: s.ci_high })
                    .collect(),
                style: backend_style(backend),
            }
        })
        .collect();
    // Fits of one series only, to keep the chart readable: the project's
    // pool when measured, else the first parallel backend. All fits are in
    // the summary and results.json.
    let fitted = analysis.series.iter().find(|s| s.backend == BackendKind::Pool).or_else(|| analysis.series.first());
    let mut fits = Vec::new();
    if let Some(series) = fitted {
        // Drawn over the worker counts they were fitted to: no extrapolation.
        let fitted_workers: Vec<f64> = speedup_points(&analysis.cells, series.backend, series.chunk)
            .into_iter()
            .map(|(workers, _)| workers)
            .filter(|&workers| workers <= series.fit_max_workers as f64)
            .collect();
        let (first, last) = (fitted_workers.first().copied(), fitted_workers.last().copied());
        if let (Some(first), Some(last)) = (first, last) {
            fits.extend(series.fits.iter().map(|fit| fit_curve(fit, &series.backend.to_string(), first, last)));
        }
        if !series.fits.is_empty() {
            notes.push(format!(
                "Fits (dashed) use the {} series' speedups at p ≤ {}{} and are drawn over that range only.",
                series.backend,
                series.fit_max_workers,
                series.left_out_note()
            ));
        }
    }
    // Why fits are missing, for every series (only the drawn one's used to
    // be said): series left out for the same reason share one sentence.
    let mut missing: Vec<(&str, Vec<String>)> = Vec::new();
    for series in &analysis.series {
        for reason in &series.not_fitted {
            let label = series.backend.to_string();
            match missing.iter_mut().find(|(r, _)| r == reason) {
                Some((_, labels)) => labels.push(label),
                None => missing.push((reason, vec![label])),
            }
        }
    }
    for (reason, labels) in missing {
        notes.push(format!("{} series: {reason}.", labels.join(", ")));
    }
    fits.extend(granularity_curve(experiment));
    let weak = experiment.inputs.is_weak();
    if weak {
        notes.push(format!(
            "Weak scaling: p workers map {} inputs each (p·{} in all); T1 is the sequential time for one worker's share.",
            experiment.inputs.len(),
            experiment.inputs.len()
        ));
    }
    SpeedupChart {
        title: if weak {
            format!("Scaled speedup (weak scaling) — {}", experiment.name)
        } else {
            format!("Speedup T1/Tp — {}", experiment.name)
        },
        caption: caption.to_owned(),
        notes,
        series,
        fits,
        max_cores: Some(analysis.logical_cores),
        weak,
    }
}

/// The granularity bound `n/⌈n/p⌉` at the measured worker counts, when it
/// caps one of them (see [`granularity_binds`]); drawn like a fit, in a
/// colour no fit or built-in backend uses. Joined like the data: between
/// worker counts it is not defined, and every integer in between would turn
/// the efficiency chart's bound (`n/(p⌈n/p⌉)`) into a saw.
fn granularity_curve(experiment: &Experiment) -> Option<Curve> {
    let workers = experiment.workers.as_slice();
    if !workers.iter().any(|&w| granularity_binds(experiment, w)) {
        return None;
    }
    let tasks = experiment.inputs.len();
    let mut counts = workers.to_vec();
    counts.sort_unstable();
    counts.dedup();
    Some(Curve {
        label: format!("granularity bound n/⌈n/p⌉ (n = {tasks} equal tasks)"),
        points: counts.into_iter().map(|p| (p as f64, granularity_bound(tasks, p))).collect(),
        color: 9,
    })
}

fn fit_curve(fit: &Fit, backend: &str, from: f64, to: f64) -> Curve {
    let points = fit.curve(from, to, CURVE_POINTS).into_iter().filter(|(_, s)| s.is_finite()).collect();
    let r_squared = fit.r_squared.map_or_else(|| "R² undefined".to_owned(), |r| format!("R² = {r:.3}"));
    Curve {
        label: format!("{} fit ({backend}): {}; {r_squared}", fit.model, fit.parameters_text()),
        points,
        color: model_color(fit.model),
    }
}

fn backend_chart(experiment: &Experiment, analysis: &Analysis, caption: &str) -> BackendChart {
    let mut series: Vec<MeasuredSeries> = parallel_backends(experiment)
        .map(|backend| {
            let chunk = representative_chunk(experiment, backend);
            MeasuredSeries {
                label: series_label(experiment, backend),
                points: analysis
                    .cells
                    .iter()
                    .filter(|c| c.cell.backend == backend && c.cell.chunk == chunk)
                    .map(|c| MeasuredPoint {
                        x: c.cell.workers as f64,
                        y: c.seconds.median,
                        ci_low: c.seconds.ci_low,
                        ci_high: c.seconds.ci_high,
                    })
                    .collect(),
                style: backend_style(backend),
            }
        })
        .collect();
    if let Some(baseline) = analysis.baseline() {
        series.insert(
            0,
            MeasuredSeries {
                label: "sequential (T1)".to_owned(),
                points: vec![MeasuredPoint {
                    x: 1.0,
                    y: baseline.seconds.median,
                    ci_low: baseline.seconds.ci_low,
                    ci_high: baseline.seconds.ci_high,
                }],
                style: backend_style(BackendKind::Sequential),
            },
        );
    }
    BackendChart {
        title: format!("Wall time per backend — {}", experiment.name),
        caption: caption.to_owned(),
        notes: Vec::new(),
        series,
        max_cores: Some(analysis.logical_cores),
        weak: experiment.inputs.is_weak(),
    }
}

fn overhead_chart(experiment: &Experiment, analysis: &Analysis, caption: &str) -> Option<OverheadChart> {
    let fixed: Vec<usize> = experiment
        .chunk_sizes
        .iter()
        .filter_map(|c| match c {
            ChunkSize::Fixed(n) => Some(*n),
            ChunkSize::Auto => None,
        })
        .collect();
    let chunking: Vec<BackendKind> = parallel_backends(experiment).filter(|b| b.uses_chunk_size()).collect();
    if fixed.len() < 2 || chunking.is_empty() {
        return None;
    }
    let mut series = Vec::new();
    let mut automatic = Vec::new();
    for &backend in &chunking {
        for (worker_index, &workers) in experiment.workers.as_slice().iter().enumerate() {
            let cells = analysis.cells.iter().filter(|c| c.cell.backend == backend && c.cell.workers == workers);
            let mut points = Vec::new();
            for stats in cells {
                let Some(overhead) = stats.overhead_per_task_ns else {
                    continue;
                };
                match stats.cell.chunk {
                    Some(ChunkSize::Fixed(size)) => points.push(MeasuredPoint {
                        x: size as f64,
                        y: overhead.value,
                        ci_low: overhead.ci_low,
                        ci_high: overhead.ci_high,
                    }),
                    Some(ChunkSize::Auto) => {
                        automatic.push(format!("{backend} ×{workers}: {}", format_nanoseconds(&overhead)))
                    }
                    None => {}
                }
            }
            // Rayon splits adaptively; `with_min_len` only sets a floor on
            // its chunks, so its x value is not a chunk size in the pool's
            // sense. Say so rather than suggest a like-for-like curve.
            let note = if backend == BackendKind::Rayon { " (minimum chunk; rayon splits adaptively)" } else { "" };
            if points.is_empty() {
                continue;
            }
            // The backend's colour and marker, as on every chart; with
            // several worker counts the marker tells them apart instead.
            let style = if experiment.workers.as_slice().len() == 1 {
                backend_style(backend)
            } else {
                Style { color: backend_style(backend).color, marker: worker_index }
            };
            series.push(MeasuredSeries {
                label: format!("{backend}, {workers} worker{}{note}", if workers == 1 { "" } else { "s" }),
                points,
                style,
            });
        }
    }
    // Backends without a chunk size have no place on the chunk axis; their
    // overhead goes in the caption, next to the automatic chunk sizes.
    for backend in parallel_backends(experiment).filter(|b| !b.uses_chunk_size()) {
        for stats in analysis.cells.iter().filter(|c| c.cell.backend == backend) {
            if let Some(overhead) = stats.overhead_per_task_ns {
                automatic.push(format!("{backend} ×{}: {}", stats.cell.workers, format_nanoseconds(&overhead)));
            }
        }
    }
    let caption = if automatic.is_empty() {
        caption.to_owned()
    } else {
        format!(
            "Automatic chunking, and backends without a chunk size (not on the chunk axis): {}. Overhead = (Tp − T1/p) per input. {caption}",
            automatic.join("; ")
        )
    };
    // A log axis cannot show overheads ≤ 0 (faster than T1/p: superlinear,
    // or noise); with none above zero there is nothing to draw, and trying
    // would fail the whole report. The summary still tabulates them.
    if series.iter().all(|s| s.points.iter().all(|point| point.y <= 0.0)) {
        return None;
    }
    Some(OverheadChart {
        title: format!("Scheduling overhead per task vs chunk size — {}", experiment.name),
        caption,
        notes: vec![format!(
            "Overhead is defined only for 1 < p ≤ {} (the logical cores); other worker counts are not shown.",
            analysis.logical_cores
        )],
        series,
    })
}

pub(super) fn parallel_backends(experiment: &Experiment) -> impl Iterator<Item = BackendKind> + '_ {
    experiment.backends.as_slice().iter().copied().filter(|b| b.is_parallel())
}

/// An overhead per task in nanoseconds with its interval, in a readable
/// unit and to the digits the interval supports (`6.9 [6.1, 7.7] ns`).
pub fn format_nanoseconds(ns: &crate::stats::Estimate) -> String {
    crate::stats::precision::seconds_interval(ns.value * 1e-9, ns.ci_low * 1e-9, ns.ci_high * 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Cell;
    use crate::testing::{experiment, report};

    const SWEEP: &str = "(experiments: [(name: \"t\", workload: Square, inputs: Count(100), workers: [1, 2, 4, 8], \
                         chunk_sizes: [Fixed(1), Fixed(8), Auto], repetitions: 5, \
                         backends: [Sequential, Pool, StdScope])])";

    fn names(figures: &[Figure]) -> Vec<&'static str> {
        figures.iter().map(Figure::file_name).collect()
    }

    #[test]
    fn the_speedup_chart_marks_suspect_speedups_and_draws_the_granularity_bound() {
        let text = "(experiments: [(name: \"seed\", workload: Square, inputs: Count(20), workers: [1, 2, 8, 16], \
                    repetitions: 5, backends: [Sequential, Pool, StdScope])])";
        let seed = report(experiment(text), 16, |cell| match (cell.backend, cell.workers) {
            (BackendKind::Sequential, _) => 1.0,
            // A disturbed baseline: the pool at 1 worker 25 times "faster".
            (BackendKind::Pool, 1) => 0.04,
            (_, p) => (20.0 / p as f64).ceil() / 20.0,
        });
        let Figure::Speedup(speedup) = &figures(&seed)[0] else { panic!("speedup first") };
        assert_eq!(speedup.series[0].label, "pool — SUSPECT: S > p at p = 1");
        assert_eq!(speedup.series[1].label, "std-scope");
        assert!(
            speedup.notes.iter().any(|n| n.starts_with("SUSPECT: the pool speedup at p = 1 exceeds p")),
            "{:?}",
            speedup.notes
        );
        // A median above p with an interval reaching down to p is flagged
        // too, in words of its own: it used to go unmarked.
        let mut median = seed.clone();
        let std2 =
            median.analysis.cells.iter_mut().find(|c| c.cell.backend == BackendKind::StdScope && c.cell.workers == 2);
        std2.unwrap().speedup = Some(crate::stats::Estimate { value: 2.4, ci_low: 1.9, ci_high: 9.2 });
        let Figure::Speedup(marked) = &figures(&median)[0] else { panic!("speedup first") };
        assert_eq!(marked.series[1].label, "std-scope — SUSPECT: median S > p at p = 2");
        assert!(
            marked.notes.iter().any(|n| n.starts_with("SUSPECT: the std-scope median speedup at p = 2 exceeds p")),
            "{:?}",
            marked.notes
        );
        let bound = speedup.fits.iter().find(|c| c.label.starts_with("granularity bound")).expect("bound drawn");
        assert_eq!(bound.label, "granularity bound n/⌈n/p⌉ (n = 20 equal tasks)");
        assert_eq!(bound.points, [(1.0, 1.0), (2.0, 2.0), (8.0, 20.0 / 3.0), (16.0, 10.0)]);
        // Where every worker count divides the inputs, no bound is drawn.
        let even = "(experiments: [(name: \"e\", workload: Square, inputs: Count(32), workers: [1, 2, 8, 16], \
                    repetitions: 5, backends: [Sequential, Pool])])";
        let even = report(experiment(even), 16, |cell| 1.0 / cell.workers as f64);
        let Figure::Speedup(speedup) = &figures(&even)[0] else { panic!("speedup first") };
        assert!(!speedup.fits.iter().any(|c| c.label.starts_with("granularity")));
        assert_eq!(speedup.series[0].label, "pool");
    }

    #[test]
    fn a_worker_and_chunk_sweep_gets_every_chart() {
        // Perfect speedup with automatic chunks; fixed chunks cost 1 % more,
        // an overhead the log-scale overhead chart can show.
        let fixed = |cell: &Cell| if matches!(cell.chunk, Some(ChunkSize::Fixed(_))) { 1.01 } else { 1.0 };
        let report = report(experiment(SWEEP), 8, |cell| fixed(cell) / cell.workers as f64);
        let figures = figures(&report);
        assert_eq!(names(&figures), ["speedup.png", "efficiency.png", "backends.png", "overhead.png"]);

        let Figure::Speedup(speedup) = &figures[0] else { panic!("speedup first") };
        let labels: Vec<&str> = speedup.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["pool (chunk auto)", "std-scope"]);
        let xs: Vec<f64> = speedup.series[0].points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [1.0, 2.0, 4.0, 8.0]);
        assert!((speedup.series[0].points[2].y - 4.0).abs() < 1e-9, "T1/T4 with T = 1/p");
        assert_eq!(speedup.max_cores, Some(8));
        // Only the pool's fits are drawn, from 1 to 8 workers, R² in the
        // legend; three points beyond p = 1 are too few for USL, and a note says so.
        assert_eq!(speedup.fits.len(), 1);
        assert!(
            speedup.fits[0].label.starts_with("Amdahl fit (pool): s = 0")
                && speedup.fits[0].label.ends_with("; R² = 1.000")
        );
        assert!(speedup.fits.iter().all(|c| c.points.first().unwrap().0 == 1.0 && c.points.last().unwrap().0 == 8.0));
        // For every series, not only the drawn one's: the same reason once.
        assert!(
            speedup
                .notes
                .iter()
                .any(|n| n.starts_with("pool, std-scope series: USL not fitted: speedups at 3 worker counts")),
            "{:?}",
            speedup.notes
        );
        assert_eq!(speedup.notes.iter().filter(|n| n.contains("not fitted")).count(), 1, "{:?}", speedup.notes);

        let Figure::Backends(backends) = &figures[2] else { panic!("backends third") };
        assert_eq!(backends.series[0].label, "sequential (T1)");
        assert_eq!(backends.series[0].points.len(), 1);

        // One colour and marker per backend, whichever chart shows it.
        let Figure::Efficiency(efficiency) = &figures[1] else { panic!("efficiency second") };
        let Figure::Overhead(overhead) = &figures[3] else { panic!("overhead last") };
        for chart_series in [&speedup.series, &efficiency.series, &backends.series] {
            for series in chart_series {
                let backend = [BackendKind::Sequential, BackendKind::Pool, BackendKind::StdScope]
                    .into_iter()
                    .find(|b| series.label.starts_with(b.name()))
                    .unwrap();
                assert_eq!(series.style, backend_style(backend), "{}", series.label);
            }
        }
        assert!(overhead.series.iter().all(|s| s.style.color == backend_style(BackendKind::Pool).color));
        let styles: std::collections::HashSet<_> = overhead.series.iter().map(|s| s.style).collect();
        assert_eq!(styles.len(), overhead.series.len(), "worker counts differ by marker");

        assert!(figures.iter().all(|f| !format!("{f:?}").contains("WARNING")), "a quiet machine gets no warning");
        let mut busy = report.clone();
        busy.conditions.foreign_cpu = Some(0.5);
        for figure in super::figures(&busy) {
            let notes = match &figure {
                Figure::Speedup(c) | Figure::Efficiency(c) => &c.notes,
                Figure::Overhead(c) => &c.notes,
                Figure::Backends(c) => &c.notes,
            };
            assert!(notes[0].starts_with("WARNING: the machine's load changed"), "{notes:?}");
        }
        busy.status = crate::report::RunStatus::Interrupted;
        let Figure::Speedup(speedup) = &super::figures(&busy)[0] else { panic!("speedup first") };
        assert!(speedup.caption.starts_with("INTERRUPTED: partial data. t — "), "{}", speedup.caption);
        assert!(speedup.caption.contains("rev abc1234") && speedup.caption.contains("rustc 1.80.0"));

        // On 2 cores, p ≤ 2 leaves two points: no fit, and the chart says why.
        let two_cores = super::figures(&crate::testing::report(experiment(SWEEP), 2, |cell| 1.0 / cell.workers as f64));
        let Figure::Speedup(speedup) = &two_cores[0] else { panic!("speedup first") };
        assert!(speedup.fits.is_empty());
        let missing: Vec<&str> =
            speedup.notes.iter().filter(|n| n.contains("not fitted")).map(String::as_str).collect();
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(missing[0].starts_with("pool, std-scope series: Amdahl not fitted"), "{missing:?}");
        assert!(missing[1].starts_with("pool, std-scope series: USL not fitted"), "{missing:?}");
        // Series left out for different reasons each get their own sentence.
        let mut apart = crate::testing::report(experiment(SWEEP), 2, |cell| 1.0 / cell.workers as f64);
        apart.analysis.series[1].not_fitted = vec!["USL not fitted: a reason of its own".to_owned()];
        let Figure::Speedup(speedup) = &super::figures(&apart)[0] else { panic!("speedup first") };
        assert!(speedup.notes.iter().any(|n| n == "std-scope series: USL not fitted: a reason of its own."));
        assert!(speedup.notes.iter().any(|n| n.starts_with("pool series: USL not fitted: speedups at 1 worker count")));
    }

    #[test]
    fn overhead_has_one_series_per_backend_and_workers_with_auto_in_the_caption() {
        // The sequential loop takes 1 s; a parallel map 1/p s plus 1 ms.
        let seconds = |cell: &Cell| match cell.backend {
            BackendKind::Sequential => 1.0,
            _ => 1.0 / cell.workers as f64 + 0.001,
        };
        let report = report(experiment(SWEEP), 8, seconds);
        let Some(Figure::Overhead(overhead)) = figures(&report).pop() else { panic!("overhead last") };
        let labels: Vec<&str> = overhead.series.iter().map(|s| s.label.as_str()).collect();
        // Overhead is defined for 1 < p ≤ cores only.
        assert_eq!(labels, ["pool, 2 workers", "pool, 4 workers", "pool, 8 workers"]);
        for series in &overhead.series {
            let chunks: Vec<f64> = series.points.iter().map(|p| p.x).collect();
            assert_eq!(chunks, [1.0, 8.0], "Auto has no place on the chunk axis");
            // (Tp − T1/p) per input = 1 ms × 1.002 / 100 inputs ≈ 10 µs; in the caption to the
            // digits its interval (the medians' ±0.2 % of 1 s over 100 inputs) supports.
            assert!(series.points.iter().all(|p| (p.y - 10_000.0).abs() < 50.0), "{series:?}");
        }
        assert!(
            overhead.caption.starts_with(
                "Automatic chunking, and backends without a chunk size (not on the chunk axis): pool ×2: 10 [-10, 30] µs"
            ),
            "{}",
            overhead.caption
        );
    }

    #[test]
    fn with_one_worker_count_the_overhead_chart_keeps_each_backend_s_own_marker() {
        let text = "(experiments: [(name: \"t\", workload: Square, inputs: Count(100), workers: [2], \
                    chunk_sizes: [Fixed(1), Fixed(8)], repetitions: 5, backends: [Sequential, Pool, Rayon])])";
        let report = report(experiment(text), 2, |cell| 1.0 / cell.workers as f64 + 0.001);
        let Some(Figure::Overhead(overhead)) = figures(&report).pop() else { panic!("an overhead chart") };
        let styles: Vec<Style> = overhead.series.iter().map(|s| s.style).collect();
        assert_eq!(styles, [backend_style(BackendKind::Pool), backend_style(BackendKind::Rayon)]);
    }

    #[test]
    fn a_report_without_samples_gets_no_chart() {
        let mut empty = report(experiment(SWEEP), 2, |_| 1.0);
        empty.samples.clear();
        empty.analysis = crate::analysis::analyze(&empty.experiment, &[], 2);
        assert!(figures(&empty).is_empty());
        // Only the baseline measured: its wall time, no speedup yet.
        let baseline: Vec<_> = report(experiment(SWEEP), 2, |_| 1.0)
            .samples
            .into_iter()
            .filter(|s| s.cell.backend == BackendKind::Sequential)
            .collect();
        empty.analysis = crate::analysis::analyze(&empty.experiment, &baseline, 2);
        assert_eq!(names(&figures(&empty)), ["backends.png"]);
    }

    /// A single worker count got no chart at all, silently, while README
    /// promised speedup, efficiency and backends charts for every
    /// experiment. One chunk size still has no overhead chart.
    #[test]
    fn a_single_worker_count_gets_its_worker_charts() {
        let text = "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [2], \
                    repetitions: 5, backends: [Sequential, Pool])])";
        let figures = figures(&report(experiment(text), 2, |_| 1.0));
        assert_eq!(names(&figures), ["speedup.png", "efficiency.png", "backends.png"]);
        let Figure::Speedup(speedup) = &figures[0] else { panic!("speedup first") };
        assert_eq!(speedup.series[0].points.len(), 1);
    }

    #[test]
    fn superlinear_cells_leave_out_the_overhead_chart_instead_of_failing_the_report() {
        // Every parallel run beats T1/p (caches): all overheads are negative.
        let report =
            report(
                experiment(SWEEP),
                4,
                |cell: &Cell| {
                    if cell.backend.is_parallel() {
                        0.5 / cell.workers as f64
                    } else {
                        1.0
                    }
                },
            );
        assert!(report.analysis.cells.iter().any(|c| c.overhead_per_task_ns.is_some_and(|o| o.value < 0.0)));
        assert_eq!(names(&figures(&report)), ["speedup.png", "efficiency.png", "backends.png"]);
        let dir = tempfile::tempdir().unwrap();
        Figures { formats: vec![crate::report::charts::Format::Png], ..Figures::default() }
            .export(&report, dir.path())
            .unwrap();
    }
}
