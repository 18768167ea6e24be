//! Running an experiment: warm-up, timed repetitions, raw samples.
//!
//! Every timed repetition becomes one [`Sample`]; nothing is aggregated or
//! dropped here, so statistics and reports can always be recomputed from the
//! samples alone.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError, ThreadCensus};
use crate::config::{BackendKind, ChunkSize, Experiment};
use crate::custom::Registry;
use crate::workload::WorkloadError;

/// One measurement cell: a backend at one worker count and chunk size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    /// Which implementation runs the map.
    pub backend: BackendKind,
    /// Worker threads (1 for `Sequential`).
    pub workers: usize,
    /// Chunk size, for the backends that take one.
    pub chunk: Option<ChunkSize>,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.chunk {
            Some(chunk) => write!(f, "{} ×{} chunk {chunk}", self.backend, self.workers),
            None if self.backend.is_parallel() => write!(f, "{} ×{}", self.backend, self.workers),
            None => write!(f, "{}", self.backend),
        }
    }
}

/// One timed repetition of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The experiment's name.
    pub experiment: String,
    /// The cell measured.
    #[serde(flatten)]
    pub cell: Cell,
    /// 0-based index among the cell's timed repetitions.
    pub repetition: u32,
    /// Wall-clock time of the whole map, in seconds.
    pub seconds: f64,
}

impl Sample {
    /// Refuses a time no run could have measured (negative, zero, NaN,
    /// infinite, or longer than 30 years): a saved file with one was
    /// edited or damaged, and every statistic drawn from it would be
    /// nonsense (a zero makes every speedup infinite).
    pub fn check(&self) -> anyhow::Result<()> {
        const MOST: f64 = 1e9;
        // The clock counts nanoseconds: a positive time below one (5e-324 s,
        // a subnormal) passed, and made the speedup infinite all the same.
        const LEAST: f64 = 1e-9;
        anyhow::ensure!(
            self.seconds >= LEAST && self.seconds < MOST,
            "{} repetition {}: {:?} s is not a measured time (each sample is a wall time of {LEAST:e} s or more \
             and below {MOST:e} s); \
             the file was edited or damaged",
            self.cell,
            self.repetition,
            self.seconds
        );
        Ok(())
    }
}

/// Why an experiment could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// A backend could not be started.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A task failed (for example an external command exited with an error).
    #[error("{cell}: {reason}")]
    Workload {
        /// The cell being run.
        cell: Cell,
        /// The task's error.
        reason: WorkloadError,
    },
    /// The workload or the backend panicked.
    #[error("{cell} panicked: {message}")]
    Panicked {
        /// The cell being run.
        cell: Cell,
        /// The panic's message.
        message: String,
    },
    /// The workload's own check refused a run's results.
    #[error("{cell}: the workload's check failed: {message}")]
    Check {
        /// The cell being run.
        cell: Cell,
        /// The check's explanation.
        message: String,
    },
    /// A backend returned results that differ from the sequential ones: a bug
    /// in that backend, and a reason to distrust its timings.
    #[error("{cell} returned a wrong result for input #{index}: expected {expected}, got {got}")]
    WrongResult {
        /// The cell being run.
        cell: Cell,
        /// Position of the first differing result (or the length, if the count differs).
        index: usize,
        /// The sequential result.
        expected: f64,
        /// The backend's result.
        got: f64,
    },
    /// A sample could not be recorded (e.g. `samples.csv` is not writable).
    #[error("recording a sample of {cell}: {reason}")]
    Record {
        /// The cell of the sample.
        cell: Cell,
        /// Why it could not be recorded.
        reason: std::io::Error,
    },
}

/// What the caller sees while an experiment is measured, and how it stops it.
pub trait Observer {
    /// Called after every run, warm-up or timed (for progress bars).
    fn run_done(&mut self, _cell: &Cell) {}
    /// Called with every timed sample as soon as it is taken, before the
    /// next run starts (to persist it).
    fn sample_taken(&mut self, _sample: &Sample) -> std::io::Result<()> {
        Ok(())
    }
    /// Asked before every run: `true` ends the measurement after the run
    /// that just finished, with the samples taken so far.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything and never stops.
impl Observer for () {}

/// The samples of an experiment: all of them, or those taken before a stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Every timed sample (those given as already measured included),
    /// grouped by cell in [`cells`] order, then by repetition.
    pub samples: Vec<Sample>,
    /// Whether every cell has all its repetitions.
    pub complete: bool,
}

/// The cells of an experiment, `Sequential` first, then each other backend
/// in file order over workers × chunk sizes.
pub fn cells(experiment: &Experiment) -> Vec<Cell> {
    let mut cells = vec![Cell { backend: BackendKind::Sequential, workers: 1, chunk: None }];
    for &backend in experiment.backends.as_slice() {
        if !backend.is_parallel() {
            continue;
        }
        for &workers in experiment.workers.as_slice() {
            if backend.uses_chunk_size() {
                cells.extend(experiment.chunk_sizes.iter().map(|&chunk| Cell { backend, workers, chunk: Some(chunk) }));
            } else {
                cells.push(Cell { backend, workers, chunk: None });
            }
        }
    }
    cells
}

/// Timed repetitions already measured per cell, from `done`.
fn done_counts(done: &[Sample]) -> BTreeMap<Cell, u32> {
    let mut counts = BTreeMap::new();
    for sample in done {
        *counts.entry(sample.cell).or_insert(0) += 1;
    }
    counts
}

/// How many runs (warm-up and timed) [`measure`] will make when the samples
/// in `done` are already measured, for progress bars.
pub fn run_count(experiment: &Experiment, done: &[Sample]) -> u64 {
    let counts = done_counts(done);
    let repetitions = experiment.repetitions.get();
    cells(experiment)
        .iter()
        .map(|cell| repetitions.saturating_sub(counts.get(cell).copied().unwrap_or(0)))
        .filter(|&missing| missing > 0)
        .map(|missing| u64::from(experiment.warmup) + u64::from(missing))
        .sum()
}

/// Measures every cell of `experiment` that still lacks repetitions, given
/// the samples already measured in `done` (empty for a fresh run; the
/// samples of an interrupted run to resume it; their repetitions must be
/// `0..k` per cell). `Named` workloads and backends come from `registry`.
/// Results of every run are checked against the sequential ones (of the
/// same input count) when the workload is deterministic, and by the
/// workload's own check if it has one; a workload's per-run setup runs
/// before each run, outside the timing.
///
/// Cells are measured round-robin (every cell once per round, warm-up rounds
/// first) rather than one after the other, so slow drifts of the machine —
/// frequency scaling, other processes — spread over all cells instead of
/// biasing whichever cell ran at the wrong moment. A backend is started for
/// each run and stopped after it, outside the timing: no thread of one cell
/// runs while another is timed.
///
/// Every timed sample goes to [`Observer::sample_taken`] as soon as it is
/// taken; [`Observer::should_stop`] ends the measurement between runs.
pub fn measure(
    experiment: &Experiment,
    registry: &Registry,
    done: Vec<Sample>,
    observer: &mut dyn Observer,
) -> Result<Measurement, MeasureError> {
    let cells = cells(experiment);
    let counts = done_counts(&done);
    let repetitions = experiment.repetitions.get();
    let have = |cell: &Cell| counts.get(cell).copied().unwrap_or(0);
    let active: Vec<Cell> = cells.iter().copied().filter(|cell| have(cell) < repetitions).collect();
    let mut samples = done;
    if active.is_empty() {
        return Ok(Measurement { samples, complete: true });
    }

    let workload = &experiment.workload;
    let deterministic = registry.is_deterministic(workload);
    // One input set per worker count: all the same, except for weak scaling.
    let inputs: BTreeMap<usize, Arc<[f64]>> =
        cells.iter().map(|cell| (cell.workers, experiment.inputs.values_for(cell.workers).into())).collect();
    let sequential = Cell { backend: BackendKind::Sequential, workers: 1, chunk: None };
    // Each run gets a fresh backend and a fresh task (the workload's per-run
    // setup), both untimed, and its results pass the workload's own check,
    // if it has one. The backend is stopped before anything else is timed:
    // its threads have exited when `run` returns.
    let run = |cell: Cell, inputs: &Arc<[f64]>| -> Result<(Vec<f64>, f64), MeasureError> {
        // A user's backend may leave its threads running (the harness's
        // own are joined): the next cell must not be timed beside them.
        let census = matches!(cell.backend, BackendKind::Named(_)).then(ThreadCensus::take);
        let backend = Backend::start(cell.backend, cell.workers, experiment.pinning, registry)?;
        let task = registry.task(workload, inputs).map_err(|reason| MeasureError::Workload { cell, reason })?;
        let start = Instant::now();
        // Workloads and backends of users' own may panic: report it as this
        // cell's failure instead of tearing the process down.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| backend.run(&task, inputs, cell.chunk)))
            .map_err(|payload| MeasureError::Panicked { cell, message: panic_message(payload.as_ref()) })?
            .map_err(|reason| MeasureError::Workload { cell, reason })?;
        let seconds = start.elapsed().as_secs_f64();
        drop(task);
        backend.check_pinning().map_err(MeasureError::Backend)?;
        drop(backend);
        if let Some(census) = census {
            // Threads that stay longer are a pool kept for the process
            // (rayon's global one, made on first use), idle between runs.
            census.wait_for_new_threads();
        }
        registry.check_results(workload, inputs, &results).map_err(|message| MeasureError::Check { cell, message })?;
        Ok((results, seconds))
    };
    // The sequential results of each input count are the reference every
    // backend must match. The very first run is usually the sequential
    // cell's and defines them for the one-worker size; the larger sizes of
    // weak scaling, and every size when the sequential cell is done already
    // (a resumed run), get an untimed sequential run of their own.
    let mut references: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for inputs in inputs.values() {
        let first_run_defines_it = active[0] == sequential && inputs.len() == experiment.inputs.len();
        if !first_run_defines_it && !references.contains_key(&inputs.len()) {
            references.insert(inputs.len(), run(sequential, inputs)?.0);
        }
    }

    let mut complete = true;
    'rounds: for round in 0..experiment.warmup + repetitions {
        let repetition = round.checked_sub(experiment.warmup);
        for &cell in &active {
            if repetition.is_some_and(|r| r < have(&cell)) {
                continue;
            }
            if observer.should_stop() {
                complete = false;
                break 'rounds;
            }
            let cell_inputs = &inputs[&cell.workers];
            let (results, seconds) = run(cell, cell_inputs)?;
            match references.get(&cell_inputs.len()) {
                None => {
                    references.insert(cell_inputs.len(), results);
                }
                Some(expected) => check_results(deterministic, cell, expected, &results)?,
            }
            if let Some(repetition) = repetition {
                let sample = Sample { experiment: experiment.name.to_string(), cell, repetition, seconds };
                observer.sample_taken(&sample).map_err(|reason| MeasureError::Record { cell, reason })?;
                samples.push(sample);
            }
            observer.run_done(&cell);
        }
    }
    let position = |cell: &Cell| cells.iter().position(|c| c == cell);
    samples.sort_by_key(|s| (position(&s.cell), s.repetition));
    Ok(Measurement { samples, complete })
}

/// The text of a panic's payload (`panic!` with a message gives a `&str`
/// or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

fn check_results(deterministic: bool, cell: Cell, expected: &[f64], got: &[f64]) -> Result<(), MeasureError> {
    if got.len() != expected.len() {
        return Err(MeasureError::WrongResult {
            cell,
            index: got.len().min(expected.len()),
            expected: expected.len() as f64,
            got: got.len() as f64,
        });
    }
    if !deterministic {
        return Ok(());
    }
    match expected.iter().zip(got).position(|(e, g)| e.to_bits() != g.to_bits()) {
        Some(index) => Err(MeasureError::WrongResult { cell, index, expected: expected[index], got: got[index] }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Plan;
    use std::path::Path;

    fn experiment(backends: &str, workers: &str, chunks: &str) -> Experiment {
        let text = format!(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(50), workers: {workers}, \
             chunk_sizes: {chunks}, repetitions: 3, warmup: 2, backends: {backends})])"
        );
        Plan::parse(&text, Path::new("test.ron")).unwrap().experiments.remove(0)
    }

    #[test]
    fn cells_put_sequential_first_and_sweep_chunks_only_where_they_apply() {
        let experiment = experiment("[Pool, StdScope, Sequential]", "[2, 1]", "[Fixed(4), Auto]");
        let cells = cells(&experiment);
        let described: Vec<String> = cells.iter().map(ToString::to_string).collect();
        assert_eq!(
            described,
            [
                "sequential",
                "pool ×1 chunk 4",
                "pool ×1 chunk auto",
                "pool ×2 chunk 4",
                "pool ×2 chunk auto",
                "std-scope ×1",
                "std-scope ×2",
            ]
        );
        assert_eq!(run_count(&experiment, &[]), 7 * 5);
    }

    /// Records runs and samples; stops after `stop_after` runs.
    #[derive(Default)]
    struct Recorder {
        runs: Vec<Cell>,
        taken: Vec<Sample>,
        stop_after: Option<usize>,
    }

    impl Observer for Recorder {
        fn run_done(&mut self, cell: &Cell) {
            self.runs.push(*cell);
        }
        fn sample_taken(&mut self, sample: &Sample) -> std::io::Result<()> {
            self.taken.push(sample.clone());
            Ok(())
        }
        fn should_stop(&self) -> bool {
            self.stop_after.is_some_and(|n| self.runs.len() >= n)
        }
    }

    #[test]
    fn measure_keeps_every_timed_repetition_and_reports_every_run() {
        let experiment = experiment("[Sequential, Pool, Rayon]", "[1, 2]", "[Fixed(7)]");
        let mut recorder = Recorder::default();
        let measurement = measure(&experiment, &Registry::new(), Vec::new(), &mut recorder).unwrap();
        assert!(measurement.complete);
        let (runs, samples) = (recorder.runs, measurement.samples);
        assert_eq!(runs.len() as u64, run_count(&experiment, &[]));
        assert_eq!(recorder.taken.len(), samples.len(), "every sample is handed over as it is taken");
        // Round-robin: every round visits every cell once, in the same order.
        let cells = cells(&experiment);
        for round in runs.chunks(cells.len()) {
            assert_eq!(round, cells);
        }
        assert_eq!(samples.len(), 5 * 3);
        for cell in cells {
            let repetitions: Vec<u32> = samples.iter().filter(|s| s.cell == cell).map(|s| s.repetition).collect();
            assert_eq!(repetitions, [0, 1, 2], "{cell}");
        }
        assert!(samples.iter().all(|s| s.seconds > 0.0 && s.experiment == "t"));
    }

    #[test]
    fn a_stopped_measurement_keeps_its_samples_and_resumes_without_remeasuring() {
        let experiment = experiment("[Sequential, Pool]", "[1, 2]", "[Auto]");
        // 3 cells, 2 warm-up rounds + 3 timed: stop after 2 + 1.5 rounds.
        let mut first = Recorder { stop_after: Some(3 * 2 + 4), ..Recorder::default() };
        let partial = measure(&experiment, &Registry::new(), Vec::new(), &mut first).unwrap();
        assert!(!partial.complete);
        assert_eq!(partial.samples.len(), 4, "one full timed round and one run of the next");
        let position = |s: &Sample| (cells(&experiment).iter().position(|c| *c == s.cell), s.repetition);
        let mut taken = first.taken.clone();
        taken.sort_by_key(position);
        assert_eq!(taken, partial.samples, "the observer saw exactly the samples returned");
        assert_eq!(run_count(&experiment, &partial.samples), 3 * 2 + 9 - 4);

        let mut second = Recorder::default();
        let resumed = measure(&experiment, &Registry::new(), partial.samples.clone(), &mut second).unwrap();
        assert!(resumed.complete);
        assert_eq!(resumed.samples.len(), 9);
        assert_eq!(second.taken.len(), 5, "only the missing repetitions are measured");
        for sample in &partial.samples {
            assert!(resumed.samples.contains(sample), "kept: {sample:?}");
        }
        for cell in cells(&experiment) {
            let repetitions: Vec<u32> =
                resumed.samples.iter().filter(|s| s.cell == cell).map(|s| s.repetition).collect();
            assert_eq!(repetitions, [0, 1, 2], "{cell}");
        }
        let mut third = Recorder::default();
        let done = measure(&experiment, &Registry::new(), resumed.samples.clone(), &mut third).unwrap();
        assert!(done.complete && third.runs.is_empty() && done.samples == resumed.samples);
    }

    #[test]
    fn wrong_results_are_reported_with_the_cell_and_index() {
        let cell = Cell { backend: BackendKind::Pool, workers: 2, chunk: Some(ChunkSize::Auto) };
        let error = check_results(true, cell, &[1.0, 4.0], &[1.0, 5.0]).unwrap_err();
        assert_eq!(error.to_string(), "pool ×2 chunk auto returned a wrong result for input #1: expected 4, got 5");
        assert!(check_results(true, cell, &[1.0], &[1.0, 2.0]).is_err());
    }
}
