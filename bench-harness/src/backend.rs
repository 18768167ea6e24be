//! The implementations a workload's map runs on.
//!
//! A [`Backend`] is built once per measurement cell, outside the timed region,
//! so thread-pool start-up is not charged to the map. `StdScope` is the
//! exception by nature: `std::thread::scope` spawns its threads on every run,
//! and that cost is part of what it is compared for.

use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::config::{BackendKind, ChunkSize};
use crate::custom::{Job, Registry, RunFn};
use crate::workload::{Task, WorkloadError};

/// Why a backend could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The project's pool refused to start.
    #[error("cannot start the pool with {workers} workers: {message}")]
    Pool {
        /// Requested worker count.
        workers: usize,
        /// The pool's reason.
        message: String,
    },
    /// A `Named` backend is not in the registry.
    #[error("backend {name:?} is not registered here; it is defined by a bench of your own")]
    Unregistered {
        /// The name in the configuration.
        name: String,
    },
    /// Rayon refused to start its pool.
    #[error("cannot start a rayon pool with {workers} threads: {reason}")]
    Rayon {
        /// Requested thread count.
        workers: usize,
        /// Rayon's reason.
        reason: rayon::ThreadPoolBuildError,
    },
}

/// A started backend, ready to map a workload over inputs repeatedly.
pub enum Backend {
    /// A loop on the calling thread.
    Sequential,
    /// This project's pool, through its lazy ordered `map`.
    Pool(pool::ThreadPool),
    /// This project's pool, through `map_collect`.
    PoolCollect(pool::ThreadPool),
    /// `std::thread::scope`, one contiguous block of inputs per thread.
    StdScope {
        /// Number of threads spawned per run.
        workers: usize,
    },
    /// A dedicated rayon pool with exactly `workers` threads.
    Rayon(rayon::ThreadPool),
    /// A backend of yours, from [`Registry::backend`].
    Named(Box<RunFn>),
}

impl Backend {
    /// Starts a backend of the given kind with `workers` threads
    /// (ignored by `Sequential`); `Named` backends come from `registry`.
    pub fn start(kind: BackendKind, workers: usize, registry: &Registry) -> Result<Backend, BackendError> {
        Ok(match kind {
            BackendKind::Named(name) => Backend::Named(
                registry
                    .start_backend(name, workers)
                    .ok_or_else(|| BackendError::Unregistered { name: name.as_str().to_owned() })?,
            ),
            BackendKind::Sequential => Backend::Sequential,
            BackendKind::Pool | BackendKind::PoolCollect => {
                let pool = pool::ThreadPool::builder()
                    .num_workers(workers)
                    .thread_name(|i| format!("bench-pool-{i}"))
                    .build()
                    .map_err(|error| BackendError::Pool { workers, message: error.to_string() })?;
                if kind == BackendKind::Pool {
                    Backend::Pool(pool)
                } else {
                    Backend::PoolCollect(pool)
                }
            }
            BackendKind::StdScope => Backend::StdScope { workers },
            BackendKind::Rayon => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("bench-rayon-{i}"))
                    .build()
                    .map_err(|reason| BackendError::Rayon { workers, reason })?;
                Backend::Rayon(pool)
            }
        })
    }

    /// Maps `task` over `inputs` and returns the results in input order.
    ///
    /// `chunk` is `None` for backends that take no chunk size. The first
    /// failing task's error is returned.
    pub fn run(&self, task: &Task, inputs: &Arc<[f64]>, chunk: Option<ChunkSize>) -> Result<Vec<f64>, WorkloadError> {
        match self {
            Backend::Sequential => inputs.iter().enumerate().map(|(index, &x)| task(index, x)).collect(),
            Backend::Pool(pool) => run_on_pool(pool, task, inputs, chunk),
            Backend::PoolCollect(pool) => run_on_pool_collect(pool, task, inputs),
            Backend::StdScope { workers } => run_on_scope(*workers, task, inputs),
            Backend::Rayon(pool) => pool.install(|| {
                let tasks = inputs.par_iter().enumerate();
                let task = |(index, &x): (usize, &f64)| task(index, x);
                match chunk {
                    Some(ChunkSize::Fixed(size)) => tasks.with_min_len(size).map(task).collect(),
                    Some(ChunkSize::Auto) | None => tasks.map(task).collect(),
                }
            }),
            Backend::Named(run) => {
                let job = Job::new(inputs, task);
                let results = run(&job);
                job.finish(results)
            }
        }
    }
}

/// Inputs with their indices, for `map_collect`.
struct Enumerated<'a>(&'a [f64]);

impl<'a> pool::Indexed for Enumerated<'a> {
    type Item = (usize, &'a f64);
    fn len(&self) -> usize {
        self.0.len()
    }
    fn get(&self, index: usize) -> (usize, &'a f64) {
        (index, &self.0[index])
    }
}

/// `pool.map_collect` writing plain `f64`s in place, as rayon's collect into
/// `Result<Vec<_>, _>` does; a `Vec<Result<..>>` would be several times
/// wider and need a second, serial pass. A failure leaves NaN in its slot
/// and is reported instead of the values.
fn run_on_pool_collect(pool: &pool::ThreadPool, task: &Task, inputs: &[f64]) -> Result<Vec<f64>, WorkloadError> {
    let first_error = Mutex::new(None);
    let values = pool.map_collect(
        |(index, x): (usize, &f64)| {
            task(index, *x).unwrap_or_else(|error| {
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(error);
                }
                f64::NAN
            })
        },
        Enumerated(inputs),
    );
    match first_error.into_inner() {
        Ok(Some(error)) => Err(error),
        _ => Ok(values),
    }
}

/// `pool.map` over `(index, x)` pairs; the pool needs `'static` tasks, so the
/// closure and the input iterator share the task and inputs by `Arc`
/// rather than copying them.
fn run_on_pool(
    pool: &pool::ThreadPool,
    task: &Task,
    inputs: &Arc<[f64]>,
    chunk: Option<ChunkSize>,
) -> Result<Vec<f64>, WorkloadError> {
    let shared_task = Arc::clone(task);
    let task = move |(index, x): (usize, f64)| shared_task(index, x);
    let shared = Arc::clone(inputs);
    let pairs = (0..inputs.len()).map(move |index| (index, shared[index]));
    let map = pool.map(task, pairs);
    match chunk {
        Some(ChunkSize::Fixed(size)) => map.chunk_size(size).collect(),
        Some(ChunkSize::Auto) | None => map.chunking(pool::Chunking::Auto).collect(),
    }
}

/// Static partition: `workers` scoped threads, each mapping one contiguous
/// block of `ceil(n / workers)` inputs (fewer threads when there are fewer
/// inputs than workers).
fn run_on_scope(workers: usize, task: &Task, inputs: &[f64]) -> Result<Vec<f64>, WorkloadError> {
    let block = inputs.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(block)
            .enumerate()
            .map(|(block_index, xs)| {
                scope.spawn(move || {
                    let first = block_index * block;
                    xs.iter().enumerate().map(|(offset, &x)| task(first + offset, x)).collect::<Result<Vec<f64>, _>>()
                })
            })
            .collect();
        let mut results = Vec::with_capacity(inputs.len());
        for handle in handles {
            // A panic in a workload is a bug in the harness; let it propagate.
            let block_results = handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            results.extend(block_results?);
        }
        Ok(results)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    fn squares(n: usize) -> (Arc<[f64]>, Vec<f64>) {
        let inputs: Arc<[f64]> = (0..n).map(|i| i as f64 - 3.5).collect();
        let expected = inputs.iter().map(|x| x * x).collect();
        (inputs, expected)
    }

    #[test]
    fn every_backend_returns_results_in_input_order() {
        let task = Workload::Square.task();
        let (inputs, expected) = squares(37);
        let kinds = [
            BackendKind::Sequential,
            BackendKind::Pool,
            BackendKind::PoolCollect,
            BackendKind::StdScope,
            BackendKind::Rayon,
        ];
        for kind in kinds {
            for workers in [1, 3, 64] {
                let backend = Backend::start(kind, workers, &Registry::new()).unwrap();
                for chunk in [None, Some(ChunkSize::Fixed(1)), Some(ChunkSize::Fixed(10)), Some(ChunkSize::Auto)] {
                    let results = backend.run(&task, &inputs, chunk).unwrap();
                    assert_eq!(results, expected, "{kind} with {workers} workers, chunk {chunk:?}");
                }
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_task_fails_the_run_on_every_backend() {
        let task = Workload::Command { program: "sh".into(), args: vec!["-c".into(), "exit 7".into()] }.task();
        let (inputs, _) = squares(3);
        for kind in [
            BackendKind::Sequential,
            BackendKind::Pool,
            BackendKind::PoolCollect,
            BackendKind::StdScope,
            BackendKind::Rayon,
        ] {
            let backend = Backend::start(kind, 2, &Registry::new()).unwrap();
            let error = backend.run(&task, &inputs, Some(ChunkSize::Fixed(1))).unwrap_err();
            assert!(error.to_string().contains("exit status: 7"), "{kind}: {error}");
        }
    }
}
