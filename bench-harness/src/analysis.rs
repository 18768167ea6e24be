//! From raw samples to the numbers a report shows: per-cell summaries,
//! speedup against the sequential baseline, efficiency, overhead, Karp–Flatt
//! and scaling-model fits, plus the warnings a reader should see.
//!
//! This module decides *what* to compute for an experiment; the formulas
//! themselves live in [`crate::stats`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{BackendKind, ChunkSize, Experiment};
use crate::measure::{cells, Cell, Sample};
use crate::stats::{self, precision, Estimate, Fit, Model, Outliers, Summary};

/// Bootstrap resamples per interval: enough for stable 95 % bounds while
/// keeping the analysis of a whole report well under a second.
pub const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// A model is fitted only to at least this many points more than it has
/// parameters, not counting `p = 1` (every model has `S(1) = 1`): with
/// fewer, every model fits (nearly) exactly and its parameters and R² mean
/// nothing.
pub const SPARE_FIT_POINTS: usize = 2;

/// Fewer repetitions than this make bootstrap intervals rough; the summary says so.
const FEW_REPETITIONS: u32 = 5;

/// Statistics of one measurement cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellStats {
    /// The cell.
    pub cell: Cell,
    /// Wall time summary, in seconds (median with bootstrap CI).
    pub seconds: Summary,
    /// Samples outside Tukey's fences (kept in every statistic).
    pub outliers: Outliers,
    /// `T1 / Tp` against the `Sequential` cell, with CI. For weak scaling
    /// (`PerWorker` inputs) the scaled speedup `p · T1 / Tp`, where `T1` is
    /// the sequential time for one worker's share and `Tp` the time for
    /// `p` shares on `p` workers.
    pub speedup: Option<Estimate>,
    /// Speedup divided by workers; for weak scaling `T1 / Tp`, the
    /// weak-scaling efficiency.
    pub efficiency: Option<f64>,
    /// Karp–Flatt serial fraction; only where it means something: 1 < p ≤
    /// cores and 1 ≤ S ≤ p (so that it lies in [0, 1]).
    pub karp_flatt: Option<f64>,
    /// Time beyond a perfect split of `T1`, per input, in nanoseconds, only
    /// where defined, 1 < p ≤ cores (beyond the cores the excess is the core
    /// limit, not overhead); the interval combines the extreme ends of both
    /// medians' intervals.
    pub overhead_per_task_ns: Option<Estimate>,
    /// More workers than the machine's logical cores.
    pub oversubscribed: bool,
    /// How much the speedup moves from repetition to repetition: the
    /// interquartile range of the per-repetition speedups `T1(r) / Tp(r)`
    /// (same-round samples paired; cells are measured round-robin), relative
    /// to their median. `None` for the baseline or with fewer than 4 pairs.
    #[serde(default)]
    pub speedup_spread: Option<f64>,
    /// The logical cores that bound the speedup as much as the worker
    /// count does, for a workload that keeps a core busy for its whole time
    /// ([`crate::workload::Workload::is_cpu_bound`]); `None` for one that may
    /// wait (a sleep, a command, a function of the user's), which p workers
    /// can overlap beyond the cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_bound: Option<usize>,
    /// How many samples of the sequential baseline `T1` the speedup rests
    /// on; `None` in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_samples: Option<usize>,
}

impl CellStats {
    /// Whether the time's interval says anything: the median of a single
    /// sample has no spread to resample, and its "interval" is the sample
    /// itself (`46.0 [46.0, 46.0] ms`), a precision nothing measured.
    pub fn time_has_interval(&self) -> bool {
        self.seconds.n > 1
    }

    /// Whether the speedup's interval, and those carried over from it
    /// (efficiency, Karp–Flatt, overhead), say anything: both `T1` and `Tp`
    /// rest on two or more samples (see [`CellStats::time_has_interval`]).
    pub fn speedup_has_interval(&self) -> bool {
        self.time_has_interval() && self.baseline_samples.is_none_or(|n| n > 1)
    }

    /// Efficiency `S/p` with the interval of the speedup, divided by `p`.
    pub fn efficiency_estimate(&self) -> Option<Estimate> {
        let (speedup, p) = (self.speedup?, self.cell.workers as f64);
        Some(Estimate { value: self.efficiency?, ci_low: speedup.ci_low / p, ci_high: speedup.ci_high / p })
    }

    /// The Karp–Flatt value with an interval carried over from the
    /// speedup's: `e(S)` falls as `S` rises, so `[e(S_high), e(S_low)]`.
    /// The interval may reach outside [0, 1], the range of a serial
    /// fraction, where the speedup's reaches above p or below 1; tables
    /// cut it there (see [`CellStats::karp_flatt_cut`]), rounding by the
    /// whole interval. `None` where [`CellStats::karp_flatt`] is.
    pub fn karp_flatt_estimate(&self) -> Option<Estimate> {
        let (value, ci_low, ci_high) = self.karp_flatt_raw()?;
        Some(Estimate { value, ci_low, ci_high })
    }

    /// Whether [`CellStats::karp_flatt_estimate`]'s interval reaches
    /// outside [0, 1], so a table cuts it (it printed `0.000 [-0.007, 0.007]`).
    pub fn karp_flatt_cut(&self) -> bool {
        self.karp_flatt_raw().is_some_and(|(_, low, high)| low < 0.0 || high > 1.0)
    }

    fn karp_flatt_raw(&self) -> Option<(f64, f64, f64)> {
        let (value, speedup) = (self.karp_flatt?, self.speedup?);
        let at = |s| stats::karp_flatt(s, self.cell.workers);
        Some((value, at(speedup.ci_high)?, at(speedup.ci_low)?))
    }

    /// Whether, and how far, the speedup exceeds what its cell can reach:
    /// the worker count p, and for CPU-bound work the logical cores too
    /// (see [`CellStats::core_bound`]): p busy workers on fewer cores share
    /// them. No scheduler exceeds that on a CPU-bound map; interference with
    /// the baseline (another process, a backend's threads still running)
    /// does, so such a speedup is suspect, not a result. The median alone
    /// above the bound (efficiency above 100.5 %, see [`MEDIAN_EXCESS`])
    /// counts: flagging only intervals wholly above it let a noisy
    /// `2.4 [1.9, 9.2]` at p = 2 become a report's headline.
    /// A speedup without an interval ([`CellStats::speedup_has_interval`])
    /// is never suspect: one sample of each time cannot tell an excess from
    /// noise (an interrupted run's `1.04 [1.04, 1.04]` at p = 1 was flagged).
    pub fn speedup_above_workers(&self) -> Option<AboveWorkers> {
        if !self.speedup_has_interval() {
            return None;
        }
        let workers = self.cell.workers;
        let by_cores = self.core_bound.is_some_and(|cores| cores < workers);
        let limit = if by_cores { self.core_bound.unwrap_or(workers) } else { workers } as f64;
        let speedup = self.speedup?;
        let above = if speedup.ci_low > limit * (1.0 + INTERVAL_EXCESS) {
            AboveWorkers::Interval
        } else if speedup.value > limit * (1.0 + MEDIAN_EXCESS) {
            AboveWorkers::Median
        } else {
            return None;
        };
        Some(match (above, by_cores) {
            (AboveWorkers::Interval, true) => AboveWorkers::IntervalCores,
            (AboveWorkers::Median, true) => AboveWorkers::MedianCores,
            (above, _) => above,
        })
    }

    /// Whether the speedup is suspect: see [`CellStats::speedup_above_workers`].
    pub fn speedup_exceeds_workers(&self) -> bool {
        self.speedup_above_workers().is_some()
    }
}

/// How far above p an interval's low end must lie to be above p: the
/// rounding of `T1/Tp` alone (a speedup of exactly p computed as
/// 2.0000000000000004) is no excess.
const INTERVAL_EXCESS: f64 = 1e-9;

/// How far above p a median speedup whose interval reaches p may lie and
/// still read as S = p: half a percent of efficiency. At p = 1 every
/// backend as fast as the sequential loop has a median on either side of
/// 1 by chance (`1.0004 [0.9957, 1.0031]`), and marking half of them
/// suspect would be a false alarm; `2.4 [1.9, 9.2]` at p = 2 is no chance.
pub const MEDIAN_EXCESS: f64 = 0.005;

/// How a suspect speedup exceeds its worker count p, or the cores that
/// bound a CPU-bound cell with more workers than cores, the stronger
/// evidence last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AboveWorkers {
    /// The median is above p, its interval reaches down to p or below.
    Median,
    /// The median is above the logical cores (fewer than p), its interval
    /// reaches down to them or below.
    MedianCores,
    /// Even the interval's low end is above p.
    Interval,
    /// Even the interval's low end is above the logical cores (fewer than p).
    IntervalCores,
}

impl AboveWorkers {
    /// Every kind, in order.
    pub const ALL: [AboveWorkers; 4] =
        [AboveWorkers::Median, AboveWorkers::MedianCores, AboveWorkers::Interval, AboveWorkers::IntervalCores];

    /// The mark a table or legend puts beside such a speedup.
    pub fn mark(self) -> &'static str {
        match self {
            AboveWorkers::Median => "median S > p",
            AboveWorkers::MedianCores => "median S > cores",
            AboveWorkers::Interval => "S > p",
            AboveWorkers::IntervalCores => "S > cores",
        }
    }

    /// What the speedup exceeds: `p` or `cores`.
    pub fn bound(self) -> &'static str {
        match self {
            AboveWorkers::Median | AboveWorkers::Interval => "p",
            AboveWorkers::MedianCores | AboveWorkers::IntervalCores => "cores",
        }
    }

    /// Whether even the interval's low end exceeds the bound.
    pub fn whole_interval(self) -> bool {
        matches!(self, AboveWorkers::Interval | AboveWorkers::IntervalCores)
    }

    /// The sentence a summary's legend gives for the mark.
    pub fn explanation(self) -> &'static str {
        match self {
            AboveWorkers::Median => {
                "**median S > p: suspect** marks a median speedup above its worker count (efficiency above \
                 100.5%) whose interval reaches down to p"
            }
            AboveWorkers::Interval => {
                "**S > p: suspect** marks a speedup above its worker count even at its interval's low end"
            }
            AboveWorkers::MedianCores => {
                "**median S > cores: suspect** marks a median speedup of CPU-bound work above the machine's \
                 logical cores (fewer than its workers, which share them) by more than 0.5%, its interval \
                 reaching down to the cores"
            }
            AboveWorkers::IntervalCores => {
                "**S > cores: suspect** marks a speedup of CPU-bound work above the machine's logical cores \
                 (fewer than its workers, which share them) even at its interval's low end"
            }
        }
    }
}

/// The speedup series of one backend at one chunk size, over worker counts,
/// and the models fitted to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The backend.
    pub backend: BackendKind,
    /// The chunk size, for backends that take one.
    pub chunk: Option<ChunkSize>,
    /// Largest worker count whose point entered the fits.
    pub fit_max_workers: usize,
    /// Amdahl and USL fits that were made.
    pub fits: Vec<Fit>,
    /// Why a model was not fitted, one sentence per model left out.
    pub not_fitted: Vec<String>,
    /// The worker counts (up to `fit_max_workers`) whose speedups are
    /// suspect ([`CellStats::speedup_above_workers`]) and were therefore
    /// left out of the fits: a model fitted to non-results would pass them
    /// on as a clean serial fraction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspect_left_out: Vec<usize>,
}

impl Series {
    /// `" (suspect speedups at p = 4, 8 left out)"`, or nothing when none were.
    pub fn left_out_note(&self) -> String {
        self.left_out().map_or_else(String::new, |left_out| format!(" ({left_out})"))
    }

    /// `"suspect speedups at p = 4, 8 left out"`, when some were.
    fn left_out(&self) -> Option<String> {
        let at: Vec<String> = self.suspect_left_out.iter().map(ToString::to_string).collect();
        (!at.is_empty()).then(|| format!("suspect speedups at p = {} left out", at.join(", ")))
    }
}

impl Series {
    /// Legend label: the backend, with the chunk size when the experiment sweeps several.
    pub fn label(&self, sweeps_chunks: bool) -> String {
        match self.chunk {
            Some(chunk) if sweeps_chunks => format!("{} (chunk {chunk})", self.backend),
            _ => self.backend.to_string(),
        }
    }
}

/// Everything computed from one experiment's samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Number of inputs (tasks) per run.
    pub tasks: usize,
    /// Logical cores of the machine the samples were taken on.
    pub logical_cores: usize,
    /// Per-cell statistics, in measurement order (sequential first).
    pub cells: Vec<CellStats>,
    /// For each parallel backend, its representative speedup series (see
    /// [`representative_chunk`]) with the model fits that mean something,
    /// when there are at least two worker counts.
    pub series: Vec<Series>,
    /// Things a reader of the numbers should know. Outliers are not repeated
    /// here: see [`Analysis::outlier_cells`].
    pub warnings: Vec<String>,
}

impl Analysis {
    /// The statistics of `cell`, if it was measured.
    pub fn cell(&self, cell: &Cell) -> Option<&CellStats> {
        self.cells.iter().find(|c| &c.cell == cell)
    }

    /// The cells with samples outside Tukey's fences.
    pub fn outlier_cells(&self) -> impl Iterator<Item = &CellStats> {
        self.cells.iter().filter(|c| c.outliers.total() > 0)
    }

    /// The sequential baseline's statistics.
    pub fn baseline(&self) -> Option<&CellStats> {
        self.cells.iter().find(|c| c.cell.backend == BackendKind::Sequential)
    }
}

/// The bootstrap seed of the cell at `index` in [`cells`] order: one seed
/// per cell, so every table quoting a cell's median prints the same interval.
fn cell_seed(index: usize) -> u64 {
    index as u64 + 1
}

/// The wall-time summary of `cell` of `experiment` from its `times`, with
/// the interval the experiment's summary table prints for it; `None` for a
/// cell the experiment does not define or times with no usable sample.
pub fn time_summary(experiment: &Experiment, cell: &Cell, times: &[f64]) -> Option<stats::Summary> {
    let index = cells(experiment).iter().position(|c| c == cell)?;
    stats::summarize(times, BOOTSTRAP_RESAMPLES, cell_seed(index))
}

/// Computes every statistic of `experiment` from its `samples`.
pub fn analyze(experiment: &Experiment, samples: &[Sample], logical_cores: usize) -> Analysis {
    let tasks = experiment.inputs.len();
    let mut by_cell: BTreeMap<Cell, Vec<f64>> = BTreeMap::new();
    let mut by_round: BTreeMap<(Cell, u32), f64> = BTreeMap::new();
    for sample in samples {
        by_cell.entry(sample.cell).or_default().push(sample.seconds);
        by_round.insert((sample.cell, sample.repetition), sample.seconds);
    }
    let baseline_cell = Cell { backend: BackendKind::Sequential, workers: 1, chunk: None };
    let baseline = by_cell.get(&baseline_cell).cloned().unwrap_or_default();
    let baseline_summary = stats::summarize(&baseline, BOOTSTRAP_RESAMPLES, 0);

    let mut warnings = Vec::new();
    let mut cell_stats = Vec::new();
    for (index, cell) in cells(experiment).into_iter().enumerate() {
        let times = by_cell.get(&cell).map_or(&[][..], Vec::as_slice);
        let seed = cell_seed(index);
        let Some(summary) = stats::summarize(times, BOOTSTRAP_RESAMPLES, seed) else {
            warnings.push(format!("{cell}: no usable samples, left out of every table"));
            continue;
        };
        let outliers = stats::classify_outliers(times);
        let weak = experiment.inputs.is_weak();
        let speedup = stats::speedup(&baseline, times, BOOTSTRAP_RESAMPLES, seed).map(|s| {
            // Scaled speedup: p shares of work in Tp against one share in T1.
            let scale = if weak { cell.workers as f64 } else { 1.0 };
            Estimate { value: s.value * scale, ci_low: s.ci_low * scale, ci_high: s.ci_high * scale }
        });
        let overhead = baseline_summary.and_then(|t1| {
            let at = |t1_s, tp_s| stats::overhead_per_task_ns(t1_s, tp_s, cell.workers, tasks);
            Some(Estimate {
                value: at(t1.median, summary.median)?,
                ci_low: at(t1.ci_high, summary.ci_low)?,
                ci_high: at(t1.ci_low, summary.ci_high)?,
            })
        });
        // Karp–Flatt and overhead assume a fixed problem: not for weak scaling.
        let defined = !weak && cell.backend.is_parallel() && cell.workers > 1 && cell.workers <= logical_cores;
        let paired: Vec<f64> = by_round
            .iter()
            .filter(|((c, _), _)| *c == cell)
            .filter_map(|((_, round), tp)| Some(by_round.get(&(baseline_cell, *round))? / tp))
            .filter(|s| s.is_finite())
            .collect();
        let speedup_spread = (cell.backend.is_parallel() && paired.len() >= 4)
            .then(|| {
                let (q1, median, q3) =
                    (stats::quantile(&paired, 0.25)?, stats::median(&paired)?, stats::quantile(&paired, 0.75)?);
                (median > 0.0).then(|| (q3 - q1) / median)
            })
            .flatten();
        cell_stats.push(CellStats {
            cell,
            seconds: summary,
            outliers,
            speedup,
            efficiency: speedup.and_then(|s| stats::efficiency(s.value, cell.workers)),
            // A serial fraction outside [0, 1] (a map slower than the loop,
            // S < 1, or superlinear, S > p) describes nothing: left out.
            karp_flatt: speedup
                .and_then(|s| stats::karp_flatt(s.value, cell.workers))
                .filter(|e| defined && (0.0..=1.0).contains(e)),
            overhead_per_task_ns: overhead.filter(|_| defined),
            oversubscribed: cell.workers > logical_cores,
            speedup_spread,
            core_bound: experiment.workload.is_cpu_bound().then_some(logical_cores),
            baseline_samples: Some(baseline.len()),
        });
    }

    warnings.extend(cell_stats.iter().filter_map(suspect_warning));
    let worker_counts = experiment.workers.as_slice();
    let fit_max_workers = experiment.fit_max_workers.unwrap_or(logical_cores);
    let series =
        if worker_counts.len() >= 2 { fitted_series(experiment, &cell_stats, fit_max_workers) } else { Vec::new() };
    if series.iter().any(|s| !s.fits.is_empty()) && fit_max_workers > logical_cores {
        warnings.push(format!(
            "the fits include oversubscribed points (fit_max_workers {fit_max_workers} > {logical_cores} cores): \
             for CPU-bound work they then describe the core limit rather than the program's serial fraction"
        ));
    }
    for series in &series {
        let label = series.label(experiment.chunk_sizes.len() > 1);
        for fit in &series.fits {
            warnings.extend(fit.warnings.iter().map(|w| format!("{label}, {} fit: {w}", fit.model)));
        }
    }
    warnings.extend(general_warnings(experiment, logical_cores));
    Analysis { tasks, logical_cores, cells: cell_stats, series, warnings }
}

/// The warning for a suspect speedup (see [`CellStats::speedup_above_workers`]),
/// or `None` for one that is not.
fn suspect_warning(stats: &CellStats) -> Option<String> {
    let (Some(above), Some(s)) = (stats.speedup_above_workers(), stats.speedup) else { return None };
    let (bound, limit) = match (above.bound(), stats.core_bound) {
        ("cores", Some(cores)) => (
            format!("the machine's {cores} logical core(s), which its {} busy workers share,", stats.cell.workers),
            cores,
        ),
        _ => (format!("its {} worker(s)", stats.cell.workers), stats.cell.workers),
    };
    // The median's excess, with the digits that show it: rounded by its
    // interval, `1.0 [0.4, 1.6]` beside "efficiency above 100.5%"
    // contradicted the flag (the table's `100 [40, 160]%` too).
    let limit = limit as f64;
    let median = precision::shown_above(s.value, limit * (1.0 + MEDIAN_EXCESS));
    let how = match (above.whole_interval(), above.bound()) {
        // The low end too: rounded by the interval, `2.4 [2.0, 2.8]` read
        // as reaching p = 2 (its low end was 2.0019).
        (true, _) => format!(
            "even at the interval's low end ({} > {limit})",
            precision::shown_above(s.ci_low, limit * (1.0 + INTERVAL_EXCESS))
        ),
        (false, "p") => format!(
            "at the median ({median}: efficiency {}% > 100.5%)",
            precision::shown_above(100.0 * s.value / limit, 100.0 * (1.0 + MEDIAN_EXCESS)),
        ),
        (false, _) => format!(
            "at the median ({median}: {}% above them, more than 0.5%)",
            precision::shown_above(100.0 * (s.value / limit - 1.0), 100.0 * MEDIAN_EXCESS),
        ),
    };
    Some(format!(
        "{}: speedup {} exceeds {bound} {how}: suspect, not a result \
         (something slowed the sequential baseline: another process, or threads of a backend measured \
         before it still running)",
        stats.cell,
        precision::interval(s.value, s.ci_low, s.ci_high),
    ))
}

/// The models fitted to each parallel backend's speedups (`summary.tex`
/// names a macro after each parameter). Amdahl's law is about a fixed
/// problem, Gustafson's about one that grows with p; the USL describes either.
pub fn fitted_models(experiment: &Experiment) -> [Model; 2] {
    if experiment.inputs.is_weak() {
        [Model::Gustafson, Model::Usl]
    } else {
        [Model::Amdahl, Model::Usl]
    }
}

/// The chunk size that stands for a backend in speedup and comparison
/// charts: `Auto` when the experiment lists it (what a user gets without
/// tuning), otherwise the first listed size. `None` for backends without one.
pub fn representative_chunk(experiment: &Experiment, backend: BackendKind) -> Option<ChunkSize> {
    if !backend.uses_chunk_size() {
        return None;
    }
    let chunks = &experiment.chunk_sizes;
    Some(if chunks.contains(&ChunkSize::Auto) { ChunkSize::Auto } else { chunks[0] })
}

/// The speedup points `(workers, S)` of a backend at a chunk size.
pub fn speedup_points(cells: &[CellStats], backend: BackendKind, chunk: Option<ChunkSize>) -> Vec<(f64, Estimate)> {
    cells
        .iter()
        .filter(|c| c.cell.backend == backend && c.cell.chunk == chunk)
        .filter_map(|c| Some((c.cell.workers as f64, c.speedup?)))
        .collect()
}

fn fitted_series(experiment: &Experiment, cells: &[CellStats], fit_max_workers: usize) -> Vec<Series> {
    experiment
        .backends
        .as_slice()
        .iter()
        .filter(|backend| backend.is_parallel())
        .map(|&backend| {
            let chunk = representative_chunk(experiment, backend);
            let in_range = |c: &&CellStats| {
                c.cell.backend == backend && c.cell.chunk == chunk && c.cell.workers <= fit_max_workers
            };
            // p = 1 is never a fit point (every model has S(1) = 1): a
            // suspect speedup there weakens no fit, and goes unmentioned.
            let suspect_left_out: Vec<usize> = cells
                .iter()
                .filter(in_range)
                .filter(|c| c.speedup_exceeds_workers() && c.cell.workers > 1)
                .map(|c| c.cell.workers)
                .collect();
            let results: Vec<CellStats> =
                cells.iter().filter(in_range).filter(|c| !c.speedup_exceeds_workers()).cloned().collect();
            let points: Vec<(f64, f64)> = speedup_points(&results, backend, chunk)
                .into_iter()
                .map(|(workers, speedup)| (workers, speedup.value))
                .collect();
            let mut series =
                Series { backend, chunk, fit_max_workers, fits: Vec::new(), not_fitted: Vec::new(), suspect_left_out };
            for model in fitted_models(experiment) {
                let needed = model.param_names().len() + SPARE_FIT_POINTS;
                if stats::models::informative_points(&points) < needed {
                    let workers: Vec<String> =
                        points.iter().filter(|(p, _)| *p != 1.0).map(|(p, _)| p.to_string()).collect();
                    // Said in words: "this series has 1 (2)" left a reader to guess
                    // that 1 counts worker counts and 2 is one of them.
                    let found = match workers.len() {
                        0 => "no worker count".to_owned(),
                        n => sweep::output::counted(n, "worker count"),
                    };
                    let at = (!workers.is_empty()).then(|| format!("p = {}", workers.join(", ")));
                    let details: Vec<String> = at.into_iter().chain(series.left_out()).collect();
                    let details = if details.is_empty() { String::new() } else { format!(" ({})", details.join("; ")) };
                    series.not_fitted.push(format!(
                        "{model} not fitted: speedups at {found} 1 < p ≤ {fit_max_workers}{details}, {needed} or \
                         more needed ({} + {SPARE_FIT_POINTS}; every model has S(1) = 1)",
                        sweep::output::counted(model.param_names().len(), "parameter"),
                    ));
                    continue;
                }
                match stats::fit(model, &points) {
                    Ok(fit) => series.fits.push(fit),
                    Err(error) => series.not_fitted.push(format!("{model} not fitted: {error}")),
                }
            }
            series
        })
        .collect()
}

/// The most speedup `tasks` equal tasks allow on `workers` workers,
/// `n/⌈n/p⌉`: the busiest worker runs `⌈n/p⌉` of them whatever the
/// scheduler does.
///
/// # Examples
///
/// ```
/// use bench_harness::analysis::granularity_bound;
/// assert_eq!(granularity_bound(20, 16), 10.0); // 4 workers run 2 tasks
/// assert_eq!(granularity_bound(20, 4), 4.0);
/// ```
///
/// # Panics
///
/// When `workers` is zero.
pub fn granularity_bound(tasks: usize, workers: usize) -> f64 {
    tasks as f64 / tasks.div_ceil(workers) as f64
}

/// Whether [`granularity_bound`] caps the experiment's speedup at `workers`
/// by more than run-to-run noise: a fixed problem (weak scaling gives each
/// worker whole shares) of fewer than 8 tasks per worker that do not
/// divide evenly (from 8 on, the cap is within 11 % of p).
pub fn granularity_binds(experiment: &Experiment, workers: usize) -> bool {
    let tasks = experiment.inputs.len();
    !experiment.inputs.is_weak() && workers > 1 && !tasks.is_multiple_of(workers) && tasks < 8 * workers
}

fn general_warnings(experiment: &Experiment, logical_cores: usize) -> Vec<String> {
    let mut warnings = Vec::new();
    let over: Vec<String> =
        experiment.workers.as_slice().iter().filter(|&&w| w > logical_cores).map(ToString::to_string).collect();
    if !over.is_empty() {
        warnings.push(format!(
            "oversubscribed: {} worker(s) exceed the machine's {logical_cores} logical cores; \
             those threads share cores (hollow markers on charts)",
            over.join(", ")
        ));
    }
    let tasks = experiment.inputs.len();
    let uneven: Vec<String> = experiment
        .workers
        .as_slice()
        .iter()
        .filter(|&&w| granularity_binds(experiment, w))
        .map(|&w| format!("{w} workers: S ≤ {}/{} = {:.2}", tasks, tasks.div_ceil(w), granularity_bound(tasks, w)))
        .collect();
    if !uneven.is_empty() {
        warnings.push(format!(
            "{tasks} equal inputs do not divide evenly into rounds, which caps speedup at n/⌈n/p⌉ \
             (the dashed granularity bound on the speedup chart): {}",
            uneven.join("; ")
        ));
    }
    if experiment.repetitions.get() < FEW_REPETITIONS {
        warnings.push(format!(
            "only {} repetitions per cell: bootstrap intervals are rough (use at least {FEW_REPETITIONS})",
            experiment.repetitions.get()
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn experiment() -> Experiment {
        testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(1000), \
             workers: [1, 2, 4], chunk_sizes: [Fixed(10), Auto], repetitions: 3, \
             backends: [Sequential, Pool, StdScope])])",
        )
    }

    /// Samples where a cell at `p` workers takes `1 / speedup(p)` seconds
    /// (times a little noise that keeps the repetitions distinct).
    fn samples(experiment: &Experiment, speedup: impl Fn(f64) -> f64) -> Vec<Sample> {
        testing::samples(experiment, 3, |cell, repetition| {
            1.0 / speedup(cell.workers as f64) * (1.0 + 0.001 * f64::from(repetition))
        })
    }

    /// The sequential baseline and the pool at 2 workers, 8 repetitions each.
    fn eight_rounds_at_two_workers() -> Experiment {
        testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), \
             workers: [2], repetitions: 8, backends: [Sequential, Pool])])",
        )
    }

    /// The referee's PerWorker Spin run warned "pool ×1: speedup 1.0 [0.4,
    /// 1.6] exceeds its 1 worker(s) at the median (efficiency above 100.5%)"
    /// beside a table's `100 [40, 160]%`: rounded by its interval, the
    /// median showed no excess. The flag now quotes the median with the
    /// digits that show it; the estimate keeps its interval's rounding.
    #[test]
    fn a_median_flag_shows_the_excess_its_rounded_estimate_hides() {
        let experiment = testing::experiment(
            "(experiments: [(name: \"t\", workload: Spin(duration_us: 20), inputs: Count(10), \
             workers: [1], repetitions: 8, backends: [Sequential, Pool])])",
        );
        let t1 = [0.4, 0.6, 0.8, 0.985, 0.987, 1.3, 1.8, 2.5];
        let samples =
            testing::samples(&experiment, 8, |cell, r| if cell.backend.is_parallel() { t1[r as usize] } else { 1.0 });
        let analysis = analyze(&experiment, &samples, 2);
        let speedup = analysis.cells[1].speedup.unwrap();
        assert_eq!(analysis.cells[1].speedup_above_workers(), Some(AboveWorkers::Median), "{speedup:?}");
        let warning = analysis.warnings.iter().find(|w| w.starts_with("pool ×1 chunk auto: speedup ")).unwrap();
        let rounded = stats::precision::interval(speedup.value, speedup.ci_low, speedup.ci_high);
        assert!(rounded.starts_with("1.0 ["), "{rounded}: the case where rounding hides the excess");
        assert!(
            warning.contains(&format!(
                "speedup {rounded} exceeds its 1 worker(s) at the median (1.014: efficiency 101.4% > 100.5%)"
            )),
            "{warning}"
        );
    }

    #[test]
    fn speedup_efficiency_and_overhead_follow_the_samples() {
        let experiment = experiment();
        // Amdahl with serial fraction 0.2.
        let amdahl = |p: f64| 1.0 / (0.2 + 0.8 / p);
        let analysis = analyze(&experiment, &samples(&experiment, amdahl), 8);
        assert_eq!(analysis.cells.len(), 1 + 3 * 2 + 3);
        let pool4 =
            analysis.cell(&Cell { backend: BackendKind::Pool, workers: 4, chunk: Some(ChunkSize::Auto) }).unwrap();
        let speedup = pool4.speedup.unwrap();
        assert!((speedup.value - amdahl(4.0)).abs() < 1e-9);
        assert!(speedup.ci_low <= speedup.value && speedup.value <= speedup.ci_high);
        assert!((pool4.efficiency.unwrap() - amdahl(4.0) / 4.0).abs() < 1e-9);
        assert!((pool4.karp_flatt.unwrap() - 0.2).abs() < 1e-6);
        // Medians carry the 1.001 noise factor of repetition 1:
        // Tp - T1/p per input = (0.4 - 0.25) s × 1.001 / 1000 inputs = 150.15 µs.
        let overhead = pool4.overhead_per_task_ns.unwrap();
        assert!((overhead.value - 150_150.0).abs() < 1e-3, "{overhead:?}");
        assert!(overhead.ci_low <= overhead.value && overhead.value <= overhead.ci_high);
        assert!(!pool4.oversubscribed, "4 workers on 8 cores");
        assert!(analysis.baseline().unwrap().overhead_per_task_ns.is_none());

        // Karp–Flatt and overhead exist only for 1 < p ≤ cores.
        let on_two_cores = analyze(&experiment, &samples(&experiment, amdahl), 2);
        let at = |workers| {
            on_two_cores.cell(&Cell { backend: BackendKind::Pool, workers, chunk: Some(ChunkSize::Auto) }).unwrap()
        };
        assert!(at(4).oversubscribed && at(4).speedup.is_some() && at(4).efficiency.is_some());
        for workers in [1, 4] {
            assert_eq!((at(workers).karp_flatt, at(workers).overhead_per_task_ns), (None, None), "p = {workers}");
        }
        assert!(at(2).karp_flatt.is_some() && at(2).overhead_per_task_ns.is_some());

        // A map slower than the loop (S < 1) has overhead but no serial fraction.
        let slow = analyze(&experiment, &samples(&experiment, |p| if p > 1.0 { 0.01 } else { 1.0 }), 8);
        let pool2 = slow.cell(&Cell { backend: BackendKind::Pool, workers: 2, chunk: Some(ChunkSize::Auto) }).unwrap();
        assert!(pool2.speedup.unwrap().value < 0.02);
        assert!(pool2.karp_flatt.is_none() && pool2.overhead_per_task_ns.is_some());
    }

    #[test]
    fn fits_recover_the_serial_fraction_of_each_representative_series() {
        let experiment = testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(1000), \
             workers: [1, 2, 3, 4], chunk_sizes: [Fixed(10), Auto], repetitions: 3, \
             backends: [Sequential, Pool, StdScope])])",
        );
        let analysis = analyze(&experiment, &samples(&experiment, |p| 1.0 / (0.1 + 0.9 / p)), 8);
        let backends: Vec<_> = analysis.series.iter().map(|s| (s.backend, s.chunk)).collect();
        assert_eq!(backends, [(BackendKind::Pool, Some(ChunkSize::Auto)), (BackendKind::StdScope, None)]);
        for series in &analysis.series {
            let amdahl = series.fits.iter().find(|f| f.model == Model::Amdahl).unwrap();
            assert!((amdahl.params[0].value - 0.1).abs() < 1e-3, "{amdahl:?}");
            assert!((amdahl.predict(4.0) - 1.0 / (0.1 + 0.9 / 4.0)).abs() < 1e-3);
            // Three points beyond p = 1: enough for Amdahl's one parameter + 2, not for USL's two.
            assert_eq!(series.fits.len(), 1);
            assert_eq!(
                series.not_fitted,
                ["USL not fitted: speedups at 3 worker counts 1 < p ≤ 8 (p = 2, 3, 4), 4 or more needed \
                  (2 parameters + 2; every model has S(1) = 1)"]
            );
        }
        assert!(analysis.warnings.iter().any(|w| w.contains("only 3 repetitions")), "{:?}", analysis.warnings);
        assert!(!analysis.warnings.iter().any(|w| w.contains("oversubscribed")));

        assert!(!analysis.warnings.iter().any(|w| w.contains("divide evenly")), "1000 inputs: many rounds");

        // On 2 cores only p = 1, 2 count by default: no model is fitted.
        let on_two_cores = analyze(&experiment, &samples(&experiment, |p| p), 2);
        assert!(on_two_cores.series.iter().all(|s| s.fits.is_empty() && s.not_fitted.len() == 2));
        assert!(on_two_cores.series[0].not_fitted[0].ends_with(
            ": speedups at 1 worker count 1 < p ≤ 2 (p = 2), 3 or more needed (1 parameter + 2; every model \
             has S(1) = 1)"
        ));
        // p = 1 is no evidence: 1, 2 and 4 workers are two points, too few for Amdahl's 1 + 2.
        let one_two_four = self::experiment();
        let sparse = analyze(&one_two_four, &samples(&one_two_four, |p| 1.0 / (0.1 + 0.9 / p)), 8);
        assert!(sparse.series.iter().all(|s| s.fits.is_empty()), "{:?}", sparse.series);
        assert!(
            sparse.series[0].not_fitted[0].contains(": speedups at 2 worker counts 1 < p ≤ 8 (p = 2, 4), 3 or more"),
            "{:?}",
            sparse.series[0]
        );
        assert!(!on_two_cores.warnings.iter().any(|w| w.contains("fits include oversubscribed")));
        // Asked for explicitly, oversubscribed points are fitted, with a warning.
        let explicit = Experiment { fit_max_workers: Some(4), ..experiment.clone() };
        // (Busy work on 2 cores: S = p beyond them would be suspect, and left out.)
        let oversubscribed = analyze(&explicit, &samples(&explicit, |p| p.min(1.9)), 2);
        assert_eq!(oversubscribed.series[0].fits.len(), 1);
        assert!(oversubscribed.warnings.iter().any(|w| w.contains("fits include oversubscribed")));
    }

    #[test]
    fn speedup_spread_pairs_samples_of_the_same_round() {
        let experiment = eight_rounds_at_two_workers();
        // T1 drifts with the round exactly as T2 does: every pair has S = 2,
        // although both cells' times spread by 70%.
        let drift = |r: u32| 1.0 + 0.1 * f64::from(r);
        let samples = testing::samples(&experiment, 8, |cell, repetition| drift(repetition) / cell.workers as f64);
        let analysis = analyze(&experiment, &samples, 2);
        let pool = &analysis.cells[1];
        assert_eq!(pool.speedup_spread, Some(0.0));
        assert_eq!(analysis.cells[0].speedup_spread, None, "the baseline has no speedup");
        // Unpaired noise in T2 shows up: S(r) = 2 / drift(r).
        let noisy: Vec<Sample> = samples
            .iter()
            .map(|s| Sample { seconds: if s.cell.workers == 2 { s.seconds } else { 1.0 }, ..s.clone() })
            .collect();
        let per_round: Vec<f64> = (0..8).map(|r| 2.0 / drift(r)).collect();
        let expected = (stats::quantile(&per_round, 0.75).unwrap() - stats::quantile(&per_round, 0.25).unwrap())
            / stats::median(&per_round).unwrap();
        let spread = analyze(&experiment, &noisy, 2).cells[1].speedup_spread.unwrap();
        assert!((spread - expected).abs() < 1e-12 && spread > 0.2, "{spread} vs {expected}");
    }

    /// Only intervals wholly above p used to be flagged: `2.4 [1.9, 9.2]` at
    /// p = 2 was reported as a result.
    #[test]
    fn a_median_speedup_above_p_is_suspect_even_when_its_interval_reaches_p() {
        let experiment = eight_rounds_at_two_workers();
        // T2 spread so widely that the interval of S = 1/T2 reaches below 2
        // while its median, 1/0.42, is above it.
        let t2 = [0.2, 0.3, 0.4, 0.41, 0.42, 0.6, 0.7, 0.8];
        let samples = testing::samples(&experiment, 8, |cell, r| if cell.workers == 2 { t2[r as usize] } else { 1.0 });
        let analysis = analyze(&experiment, &samples, 2);
        let pool = &analysis.cells[1];
        let speedup = pool.speedup.unwrap();
        assert!(speedup.value > 2.0 && speedup.ci_low < 2.0, "{speedup:?}");
        assert_eq!(pool.speedup_above_workers(), Some(AboveWorkers::Median));
        assert!(pool.speedup_exceeds_workers());
        assert!(
            analysis.warnings.iter().any(|w| w.starts_with("pool ×2 chunk auto: speedup ")
                && w.contains(
                    "exceeds its 2 worker(s) at the median (2.4: efficiency 120% > 100.5%): suspect, not a result"
                )),
            "{:?}",
            analysis.warnings
        );

        // Wholly above p: the stronger flag; at or below p (rounding aside): none.
        let at = |t2: f64| {
            let samples = testing::samples(&experiment, 8, |cell, r| {
                (if cell.workers == 2 { t2 } else { 1.0 }) * (1.0 + 0.001 * f64::from(r))
            });
            analyze(&experiment, &samples, 2).cells[1].speedup_above_workers()
        };
        assert_eq!(at(0.25), Some(AboveWorkers::Interval));
        assert_eq!(at(0.5), None);
        // A median a hair above p, its interval reaching below: S = p by
        // chance (efficiency 100.2%), not a suspect speedup.
        let hair = [0.496, 0.497, 0.498, 0.499, 0.4995, 0.501, 0.502, 0.504];
        let samples =
            testing::samples(&experiment, 8, |cell, r| if cell.workers == 2 { hair[r as usize] } else { 1.0 });
        let stats = &analyze(&experiment, &samples, 2).cells[1];
        let speedup = stats.speedup.unwrap();
        assert!(speedup.value > 2.0 && speedup.ci_low < 2.0, "{speedup:?}");
        assert_eq!(stats.speedup_above_workers(), None, "{speedup:?}");
        assert_eq!(at(1.0 / 3.0 * 1.5), None);
    }

    /// "speedup 2.4 [2.0, 2.8] exceeds its 2 worker(s) even at the
    /// interval's low end": the low end, 2.0019, rounded to p itself.
    #[test]
    fn a_speedup_wholly_above_p_quotes_its_low_end_above_p() {
        let experiment = eight_rounds_at_two_workers();
        let samples =
            testing::samples(&experiment, 8, |cell, r| 1.0 / cell.workers as f64 * (1.0 + 0.01 * f64::from(r)));
        let mut pool = analyze(&experiment, &samples, 2).cells[1].clone();
        pool.speedup = Some(Estimate { value: 2.4, ci_low: 2.0019, ci_high: 2.8 });
        assert_eq!(pool.speedup_above_workers(), Some(AboveWorkers::Interval));
        let warning = suspect_warning(&pool).unwrap();
        assert!(
            warning.starts_with(
                "pool ×2 chunk auto: speedup 2.4 [2.0, 2.8] exceeds its 2 worker(s) even at the interval's low end \
                 (2.002 > 2): suspect, not a result"
            ),
            "{warning}"
        );
    }

    /// S = 3.7 at p = 4 on 2 cores was reported as a result: only p bounded
    /// the speedup. Busy work cannot beat the cores; sleeping work can.
    #[test]
    fn a_cpu_bound_speedup_above_the_cores_is_suspect_a_sleeping_one_is_not() {
        let config = |workload: &str| {
            testing::experiment(&format!(
                "(experiments: [(name: \"t\", workload: {workload}, inputs: Count(1000), \
                 workers: [1, 2, 4], repetitions: 5, backends: [Sequential, Pool])])"
            ))
        };
        let speedup = |p: f64| if p > 2.0 { 3.7 } else { p * 0.98 };
        for workload in ["Spin(duration_us: 500)", "Square", "SpinIters(iterations: 10)"] {
            let experiment = config(workload);
            let analysis = analyze(&experiment, &samples(&experiment, speedup), 2);
            let at_four = analysis.cells.iter().find(|c| c.cell.workers == 4).unwrap();
            assert_eq!(at_four.speedup_above_workers(), Some(AboveWorkers::IntervalCores), "{workload}");
            assert_eq!(AboveWorkers::IntervalCores.mark(), "S > cores");
            assert!(
                analysis.warnings.iter().any(|w| w.contains("exceeds the machine's 2 logical core(s)")),
                "{workload}: {:?}",
                analysis.warnings
            );
            let at_two = analysis.cells.iter().find(|c| c.cell.workers == 2).unwrap();
            assert_eq!(at_two.speedup_above_workers(), None);
            // On 8 cores the same speedup at p = 4 is a result.
            let roomy = analyze(&experiment, &samples(&experiment, speedup), 8);
            assert!(roomy.cells.iter().all(|c| c.speedup_above_workers().is_none()), "{workload}");
        }
        // Sleepers overlap beyond the cores (the seed tutorial's 16 on 2 cores reach S ≈ 10).
        for workload in ["Sleep(duration_us: 5000)", "Command(program: \"true\", args: [])"] {
            let experiment = config(workload);
            let analysis = analyze(&experiment, &samples(&experiment, speedup), 2);
            assert!(analysis.cells.iter().all(|c| c.speedup_above_workers().is_none()), "{workload}");
        }
    }

    /// Every point S = 1.05·p is suspect, yet Amdahl and USL were fitted to
    /// them and reported as clean numbers (s = 0.0000 ± 0.0034).
    #[test]
    fn fits_use_only_speedups_that_are_not_suspect() {
        let experiment = testing::experiment(
            "(experiments: [(name: \"t\", workload: Spin(duration_us: 500), inputs: Count(1000), \
             workers: [1, 2, 3, 4, 5, 6], repetitions: 3, backends: [Sequential, Pool])])",
        );
        let all_suspect = analyze(&experiment, &samples(&experiment, |p| if p > 1.0 { 1.05 * p } else { 1.0 }), 8);
        let series = &all_suspect.series[0];
        assert!(series.fits.is_empty(), "{:?}", series.fits);
        assert_eq!(series.suspect_left_out, [2, 3, 4, 5, 6]);
        assert!(
            series.not_fitted.iter().all(|r| r.contains(
                ": speedups at no worker count 1 < p ≤ 8 (suspect speedups at p = 2, 3, 4, 5, 6 left out), "
            )),
            "{:?}",
            series.not_fitted
        );
        // One suspect point among Amdahl ones (s = 0.1): the fit is made from
        // the others and still finds s = 0.1.
        let amdahl = |p: f64| if p == 4.0 { 4.5 } else { 1.0 / (0.1 + 0.9 / p) };
        let one_suspect = analyze(&experiment, &samples(&experiment, amdahl), 8);
        let series = &one_suspect.series[0];
        assert_eq!(series.suspect_left_out, [4]);
        let fit = series.fits.iter().find(|f| f.model == Model::Amdahl).unwrap();
        assert!((fit.params[0].value - 0.1).abs() < 0.002, "{:?}", fit.params);
    }

    #[test]
    fn few_inputs_per_worker_warn_about_the_partial_last_round() {
        let experiment = testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(20), \
             workers: [1, 4, 16], repetitions: 5, backends: [Sequential, Pool])])",
        );
        let warnings = general_warnings(&experiment, 64);
        let expected = "20 equal inputs do not divide evenly into rounds, which caps speedup at n/⌈n/p⌉ \
                        (the dashed granularity bound on the speedup chart): 16 workers: S ≤ 20/2 = 10.00";
        assert!(warnings.iter().any(|w| w == expected), "{warnings:?}");
    }

    #[test]
    fn a_single_worker_count_gets_no_fits_and_outliers_are_warned_about() {
        let experiment = eight_rounds_at_two_workers();
        let mut samples = testing::samples(&experiment, 8, |_, repetition| 1.0 + 0.01 * f64::from(repetition % 3));
        samples[3].seconds = 50.0;
        let analysis = analyze(&experiment, &samples, 4);
        assert!(analysis.series.is_empty());
        assert!(!analysis.warnings.iter().any(|w| w.contains("fits")), "{:?}", analysis.warnings);
        let baseline = analysis.baseline().unwrap();
        assert_eq!(baseline.outliers.total(), 1);
        assert_eq!(baseline.seconds.n, 8, "the outlier is kept");
        let flagged: Vec<Cell> = analysis.outlier_cells().map(|c| c.cell).collect();
        assert_eq!(flagged, [baseline.cell]);
    }
}
