//! Running an experiment: warm-up, timed repetitions, raw samples.
//!
//! Every timed repetition becomes one [`Sample`]; nothing is aggregated or
//! dropped here, so statistics and reports can always be recomputed from the
//! samples alone.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError};
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

/// How many runs (warm-up and timed) [`measure`] will make, for progress bars.
pub fn run_count(experiment: &Experiment) -> u64 {
    let per_cell = u64::from(experiment.warmup) + u64::from(experiment.repetitions.get());
    cells(experiment).len() as u64 * per_cell
}

/// Measures every cell of `experiment`, calling `on_run` after each run
/// (warm-up or timed). `Named` workloads and backends come from `registry`.
/// Results of every run are checked against the sequential ones when the
/// workload is deterministic, and by the workload's own check if it has one;
/// a workload's per-run setup runs before each run, outside the timing.
///
/// Cells are measured round-robin (every cell once per round, warm-up rounds
/// first) rather than one after the other, so slow drifts of the machine —
/// frequency scaling, other processes — spread over all cells instead of
/// biasing whichever cell ran at the wrong moment. Each backend is started
/// once per worker count, before the first round, and shared by its cells.
/// Samples are returned grouped by cell, in [`cells`] order.
pub fn measure(
    experiment: &Experiment,
    registry: &Registry,
    on_run: &mut dyn FnMut(&Cell),
) -> Result<Vec<Sample>, MeasureError> {
    let workload = &experiment.workload;
    let deterministic = registry.is_deterministic(workload);
    let cells = cells(experiment);
    // One input set per worker count: all the same, except for weak scaling.
    let inputs: BTreeMap<usize, Arc<[f64]>> =
        cells.iter().map(|cell| (cell.workers, experiment.inputs.values_for(cell.workers).into())).collect();
    let mut backends = BTreeMap::new();
    for cell in &cells {
        if let Entry::Vacant(slot) = backends.entry((cell.backend, cell.workers)) {
            slot.insert(Backend::start(cell.backend, cell.workers, registry)?);
        }
    }
    // Expected results per input count. The very first run is the
    // sequential cell's and defines them for the one-worker size; the larger
    // sizes of weak scaling get an untimed sequential run of their own.
    let mut references: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for (&workers, inputs) in inputs.iter().filter(|(_, inputs)| inputs.len() != experiment.inputs.len()) {
        let cell = Cell { backend: BackendKind::Sequential, workers, chunk: None };
        let task = registry.task(workload, inputs).map_err(|reason| MeasureError::Workload { cell, reason })?;
        let results =
            Backend::Sequential.run(&task, inputs, None).map_err(|reason| MeasureError::Workload { cell, reason })?;
        references.insert(inputs.len(), results);
    }
    let mut samples = Vec::new();
    for round in 0..experiment.warmup + experiment.repetitions.get() {
        for &cell in &cells {
            let backend = &backends[&(cell.backend, cell.workers)];
            let inputs = &inputs[&cell.workers];
            let task = registry.task(workload, inputs).map_err(|reason| MeasureError::Workload { cell, reason })?;
            let start = Instant::now();
            let results =
                backend.run(&task, inputs, cell.chunk).map_err(|reason| MeasureError::Workload { cell, reason })?;
            let seconds = start.elapsed().as_secs_f64();
            drop(task);
            registry
                .check_results(workload, inputs, &results)
                .map_err(|message| MeasureError::Check { cell, message })?;
            match references.get(&inputs.len()) {
                None => {
                    references.insert(inputs.len(), results);
                }
                Some(expected) => check_results(deterministic, cell, expected, &results)?,
            }
            if let Some(repetition) = round.checked_sub(experiment.warmup) {
                samples.push(Sample { experiment: experiment.name.to_string(), cell, repetition, seconds });
            }
            on_run(&cell);
        }
    }
    let position = |cell: &Cell| cells.iter().position(|c| c == cell);
    samples.sort_by_key(|s| (position(&s.cell), s.repetition));
    Ok(samples)
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
        assert_eq!(run_count(&experiment), 7 * 5);
    }

    #[test]
    fn measure_keeps_every_timed_repetition_and_reports_every_run() {
        let experiment = experiment("[Sequential, Pool, Rayon]", "[1, 2]", "[Fixed(7)]");
        let mut runs = Vec::new();
        let samples = measure(&experiment, &Registry::new(), &mut |cell| runs.push(*cell)).unwrap();
        assert_eq!(runs.len() as u64, run_count(&experiment));
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
    fn wrong_results_are_reported_with_the_cell_and_index() {
        let cell = Cell { backend: BackendKind::Pool, workers: 2, chunk: Some(ChunkSize::Auto) };
        let error = check_results(true, cell, &[1.0, 4.0], &[1.0, 5.0]).unwrap_err();
        assert_eq!(error.to_string(), "pool ×2 chunk auto returned a wrong result for input #1: expected 4, got 5");
        assert!(check_results(true, cell, &[1.0], &[1.0, 2.0]).is_err());
    }
}
