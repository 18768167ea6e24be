//! Evaluating a space on the pool: skip what is already on disk, run the
//! rest (in any order), append each record as it arrives, show progress.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use pool::ThreadPool;

use crate::point::{Point, PointId};
use crate::space::Space;
use crate::store::{Header, Record, ResultsWriter, SyncPolicy};

/// Which point indices of a space a run covers.
#[derive(Clone, Default)]
pub enum Selection {
    /// Every point.
    #[default]
    All,
    /// These indices (out-of-range ones are ignored).
    Indices(Vec<usize>),
    /// Indices for which the predicate holds, e.g. `|i| i % n == k` for a
    /// shard; checked lazily, so nothing is materialised.
    Filter(Arc<dyn Fn(usize) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("All"),
            Selection::Indices(indices) => write!(f, "Indices({} points)", indices.len()),
            Selection::Filter(_) => f.write_str("Filter(..)"),
        }
    }
}

impl Selection {
    /// The selected indices of a space of `len` points, in increasing order
    /// for `All` and `Filter`, as given for `Indices`.
    pub fn indices(&self, len: usize) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Selection::All => Box::new(0..len),
            Selection::Indices(indices) => Box::new(indices.iter().copied().filter(move |i| *i < len)),
            Selection::Filter(keep) => Box::new((0..len).filter(move |i| keep(*i))),
        }
    }
}

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Points per task; `None` lets the pool choose. Large chunks lower
    /// overhead for cheap points but put more points in flight (lost on a
    /// crash, and reported later).
    pub chunk_size: Option<usize>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Recompute points whose latest record is a failure.
    pub retry_failed: bool,
    /// The points this run is responsible for.
    pub selection: Selection,
    /// When [`run_to_file`] flushes records to the disk.
    pub sync: SyncPolicy,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            chunk_size: Some(1),
            progress: true,
            retry_failed: false,
            selection: Selection::All,
            sync: SyncPolicy::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    /// Selected points.
    pub selected: usize,
    /// Selected points skipped because a result was already on disk.
    pub skipped: usize,
    /// Points evaluated in this run.
    pub computed: usize,
    /// Of those, how many failed.
    pub failed: usize,
    /// Wall-clock time of the evaluation.
    pub elapsed: Duration,
}

/// Evaluates `evaluate` at one point, timing it and turning a panic into a
/// failure so the sweep goes on.
fn evaluate_point<F>(space: &Space, evaluate: &F, index: usize) -> Option<Record>
where
    F: Fn(&Point) -> Result<serde_json::Value, String>,
{
    let point = space.point(index)?;
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| evaluate(&point))).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        Err(format!("panicked: {message}"))
    });
    Some(Record { index, id: point.id(), point, outcome, duration_ms: started.elapsed().as_secs_f64() * 1e3 })
}

fn progress_bar(total: usize, enabled: bool) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} points ({rate}, ETA {eta}) {msg}",
    );
    if let Ok(style) = style {
        // indicatif's own {per_sec} prints four decimals; one is plenty.
        bar.set_style(style.with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.1} points/s", state.per_sec());
        }));
    }
    bar
}

/// Runs `evaluate` on the pool at every selected point whose identity is not
/// in `skip`, handing each record to `sink` as soon as it is complete
/// (completion order, not index order).
///
/// `evaluate` returns the value or an error message; a panic in it is
/// recorded as a failure.
pub fn run<F>(
    space: &Space,
    evaluate: F,
    skip: &HashSet<PointId>,
    options: &RunOptions,
    mut sink: impl FnMut(Record) -> anyhow::Result<()>,
) -> anyhow::Result<RunSummary>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    let len = space.validate()?;
    let pool = ThreadPool::new(options.workers).map_err(|e| anyhow::anyhow!("{e}"))?;
    let selected = options.selection.indices(len).count();
    let is_pending = |i: &usize| space.point(*i).is_some_and(|p| !skip.contains(&p.id()));
    // One cheap pass to size the progress bar; points are generated, not stored.
    let pending = options.selection.indices(len).filter(is_pending).count();
    let bar = progress_bar(pending, options.progress);

    let shared_space = Arc::new(space.clone());
    let task = move |index: usize| evaluate_point(&shared_space, &evaluate, index);
    let inputs = options.selection.indices(len).filter(is_pending);
    let mut map = pool.map_unordered(task, inputs);
    if let Some(size) = options.chunk_size {
        map = map.chunk_size(size);
    }
    let started = Instant::now();
    let (mut computed, mut failed) = (0, 0);
    for (_, result) in map {
        let record =
            result.map_err(|e| anyhow::anyhow!("a worker was lost: {e}"))?.context("a selected index has no point")?;
        computed += 1;
        if !record.is_ok() {
            failed += 1;
            bar.set_message(format!("{failed} failed"));
        }
        sink(record)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(RunSummary { selected, skipped: selected - pending, computed, failed, elapsed: started.elapsed() })
}

/// Runs a sweep into the results file at `path`, resuming it: points with a
/// result already in the file are skipped (failed ones too, unless
/// `options.retry_failed`). Refuses a file that belongs to another sweep.
///
/// Returns the summary and any warnings from reading the existing file.
pub fn run_to_file<F>(
    path: &Path,
    header: &Header,
    evaluate: F,
    options: &RunOptions,
) -> anyhow::Result<(RunSummary, Vec<String>)>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    let (mut writer, existing) = ResultsWriter::open_with(path, header, options.sync)?;
    let skip = existing.finished_ids(options.retry_failed);
    let summary = run(&header.space, evaluate, &skip, options, |record| writer.append(&record).map_err(Into::into))?;
    writer.close()?;
    Ok((summary, existing.warnings))
}

/// Runs a sweep in memory and returns one record per selected point, in
/// index order.
pub fn run_collect<F>(space: &Space, evaluate: F, options: &RunOptions) -> anyhow::Result<Vec<Record>>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    let mut records = Vec::new();
    run(space, evaluate, &HashSet::new(), options, |record| {
        records.push(record);
        Ok(())
    })?;
    records.sort_by_key(|r| r.index);
    Ok(records)
}
