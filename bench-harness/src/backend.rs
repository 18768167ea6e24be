//! The implementations a workload's map runs on.
//!
//! A [`Backend`] is started before each timed run and stopped after it,
//! both outside the timed region, so thread-pool start-up is not charged to
//! the map. `StdScope` is the exception by nature: `std::thread::scope`
//! spawns its threads on every run, and that cost is part of what it is
//! compared for.
//!
//! A started backend's threads are all running before it is used, and all
//! gone once it is dropped: idle workers that still spin (rayon's look for
//! work a while before they sleep) would otherwise share the cores with
//! whatever is timed next.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::config::{BackendKind, ChunkSize, Pinning};
use crate::custom::{Job, Registry, RunFn};
use crate::workload::{Task, WorkloadError};

/// Where the workers of one backend go: worker `i` of `workers` onto one of
/// the cores this process may run on, per [`Pinning`].
#[derive(Debug, Clone)]
pub struct Placement {
    cores: Vec<core_affinity::CoreId>,
    workers: usize,
    pinning: Pinning,
    /// Workers whose pinning the OS refused.
    failures: Arc<AtomicUsize>,
}

impl Placement {
    /// The placement of `workers` threads; `None` for [`Pinning::None`].
    /// Errors when pinning is asked for but the OS does not say which
    /// cores the process may use.
    pub fn new(pinning: Pinning, workers: usize) -> Result<Option<Placement>, BackendError> {
        if pinning == Pinning::None {
            return Ok(None);
        }
        let cores = core_affinity::get_core_ids().filter(|cores| !cores.is_empty()).ok_or(BackendError::Pinning {
            pinning,
            message: "the OS does not report which cores this process may run on".to_owned(),
        })?;
        Ok(Some(Placement { cores, workers, pinning, failures: Arc::new(AtomicUsize::new(0)) }))
    }

    /// The index (among the allowed cores) worker `worker` goes to.
    pub fn core_index(&self, worker: usize) -> usize {
        let n = self.cores.len();
        match self.pinning {
            Pinning::None | Pinning::Cores => worker % n,
            // Evenly spaced over the allowed cores: 2 workers on 8 cores go
            // to cores 0 and 4, away from each other's caches and SMT sibling.
            Pinning::Spread => (worker * n / self.workers.max(1)) % n,
        }
    }

    /// Pins the calling thread as worker `worker`; a refusal is counted.
    pub fn pin(&self, worker: usize) {
        if !core_affinity::set_for_current(self.cores[self.core_index(worker)]) {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Errors when the OS refused to pin any worker so far.
    pub fn check(&self) -> Result<(), BackendError> {
        match self.failures.load(Ordering::Relaxed) {
            0 => Ok(()),
            failed => Err(BackendError::Pinning {
                pinning: self.pinning,
                message: format!("the OS refused to pin {}", sweep::output::counted(failed, "worker thread")),
            }),
        }
    }
}

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
    /// Workers could not be pinned as the experiment asks.
    #[error("cannot pin workers ({pinning}): {message}")]
    Pinning {
        /// The pinning asked for.
        pinning: Pinning,
        /// What went wrong.
        message: String,
    },
}

/// A started backend, ready to map a workload over inputs repeatedly.
/// Dropping it stops it and returns once its threads have exited.
pub struct Backend {
    kind: Kind,
    placement: Option<Placement>,
}

/// Counts the workers that have started running, so that a backend is
/// handed out only once all of them are up.
#[derive(Default)]
struct Started {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Started {
    fn one_more(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    fn wait_for(&self, workers: usize) {
        let count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.changed.wait_while(count, |count| *count < workers).unwrap_or_else(PoisonError::into_inner));
    }
}

/// What a worker runs as it starts: pinning, if asked for, then counting in.
fn start_hook(placement: Option<Placement>, started: &Arc<Started>) -> impl Fn(usize) + Send + Sync + 'static {
    let started = Arc::clone(started);
    move |worker| {
        if let Some(placement) = &placement {
            placement.pin(worker);
        }
        started.one_more();
    }
}

enum Kind {
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
    /// A dedicated rayon pool with exactly `workers` threads. Rayon detaches
    /// its threads and lets them go after the pool is dropped; the harness
    /// spawns them itself (rayon's `spawn_handler`) to join them.
    Rayon {
        /// `None` only while the backend is being dropped.
        pool: Option<rayon::ThreadPool>,
        /// The pool's threads.
        threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    },
    /// A backend of yours, from [`Registry::backend`]; its threads are its
    /// own, so the harness does not pin them.
    Named(Box<RunFn>),
}

impl Backend {
    /// Starts a backend of the given kind with `workers` threads (ignored
    /// by `Sequential`), its workers pinned per `pinning`: the pool and
    /// rayon pin each worker as it starts (their start handlers),
    /// `StdScope` pins each thread it spawns. The sequential loop runs on
    /// the caller's thread and is never pinned, nor are the threads of a
    /// `Named` backend (from `registry`), which are its own.
    pub fn start(
        kind: BackendKind,
        workers: usize,
        pinning: Pinning,
        registry: &Registry,
    ) -> Result<Backend, BackendError> {
        let pinned = kind.is_parallel() && !matches!(kind, BackendKind::Named(_));
        let placement = if pinned { Placement::new(pinning, workers)? } else { None };
        let started = Arc::new(Started::default());
        let kind = match kind {
            BackendKind::Named(name) => Kind::Named(
                registry
                    .start_backend(name, workers)
                    .ok_or_else(|| BackendError::Unregistered { name: name.as_str().to_owned() })?,
            ),
            BackendKind::Sequential => Kind::Sequential,
            BackendKind::Pool | BackendKind::PoolCollect => {
                let pool = pool::ThreadPool::builder()
                    .num_workers(workers)
                    .thread_name(|i| format!("bench-pool-{i}"))
                    .start_handler(start_hook(placement.clone(), &started))
                    .build()
                    .map_err(|error| BackendError::Pool { workers, message: error.to_string() })?;
                // The pool's drop joins its workers.
                if kind == BackendKind::Pool {
                    Kind::Pool(pool)
                } else {
                    Kind::PoolCollect(pool)
                }
            }
            BackendKind::StdScope => Kind::StdScope { workers },
            BackendKind::Rayon => {
                let threads = Arc::new(Mutex::new(Vec::with_capacity(workers)));
                let spawned = Arc::clone(&threads);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .thread_name(|i| format!("bench-rayon-{i}"))
                    .start_handler(start_hook(placement.clone(), &started))
                    .spawn_handler(move |thread| {
                        let mut builder = std::thread::Builder::new();
                        if let Some(name) = thread.name() {
                            builder = builder.name(name.to_owned());
                        }
                        let handle = builder.spawn(|| thread.run())?;
                        spawned.lock().unwrap_or_else(PoisonError::into_inner).push(handle);
                        Ok(())
                    })
                    .build()
                    .map_err(|reason| BackendError::Rayon { workers, reason })?;
                Kind::Rayon { pool: Some(pool), threads }
            }
        };
        if matches!(kind, Kind::Pool(_) | Kind::PoolCollect(_) | Kind::Rayon { .. }) {
            started.wait_for(workers);
        }
        Ok(Backend { kind, placement })
    }

    /// Errors when the OS refused to pin a worker so far (always `Ok`
    /// without pinning).
    pub fn check_pinning(&self) -> Result<(), BackendError> {
        self.placement.as_ref().map_or(Ok(()), Placement::check)
    }

    /// Maps `task` over `inputs` and returns the results in input order.
    ///
    /// `chunk` is `None` for backends that take no chunk size. The first
    /// failing task's error is returned.
    pub fn run(&self, task: &Task, inputs: &Arc<[f64]>, chunk: Option<ChunkSize>) -> Result<Vec<f64>, WorkloadError> {
        match &self.kind {
            Kind::Sequential => inputs.iter().enumerate().map(|(index, &x)| task(index, x)).collect(),
            Kind::Pool(pool) => run_on_pool(pool, task, inputs, chunk),
            Kind::PoolCollect(pool) => run_on_pool_collect(pool, task, inputs),
            Kind::StdScope { workers } => run_on_scope(*workers, task, inputs, self.placement.as_ref()),
            Kind::Rayon { pool: None, .. } => unreachable!("the pool is taken only by drop"),
            Kind::Rayon { pool: Some(pool), .. } => pool.install(|| {
                let tasks = inputs.par_iter().enumerate();
                let task = |(index, &x): (usize, &f64)| task(index, x);
                match chunk {
                    Some(ChunkSize::Fixed(size)) => tasks.with_min_len(size).map(task).collect(),
                    Some(ChunkSize::Auto) | None => tasks.map(task).collect(),
                }
            }),
            Kind::Named(run) => {
                let job = Job::new(inputs, task);
                let results = run(&job);
                job.finish(results)
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Kind::Rayon { pool, threads } = &mut self.kind {
            // Dropping the pool tells its threads to leave; joining waits
            // until they have.
            drop(pool.take());
            let threads = std::mem::take(&mut *threads.lock().unwrap_or_else(PoisonError::into_inner));
            for thread in threads {
                let _ = thread.join();
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
/// rather than copying them. The rare error travels boxed: every result
/// crosses from a worker's core to the consumer's in a chunk buffer, and a
/// `Result<f64, WorkloadError>` is ten times the size of the `f64` (rayon's
/// collect, the comparison, writes only the `f64`s, in place).
fn run_on_pool(
    pool: &pool::ThreadPool,
    task: &Task,
    inputs: &Arc<[f64]>,
    chunk: Option<ChunkSize>,
) -> Result<Vec<f64>, WorkloadError> {
    let shared_task = Arc::clone(task);
    let task = move |(index, x): (usize, f64)| shared_task(index, x).map_err(Box::new);
    let shared = Arc::clone(inputs);
    let pairs = (0..inputs.len()).map(move |index| (index, shared[index]));
    let map = pool.map(task, pairs);
    let chunking = match chunk {
        Some(ChunkSize::Fixed(size)) => pool::Chunking::Fixed(size),
        Some(ChunkSize::Auto) | None => pool::Chunking::Auto,
    };
    map.chunk_size(chunking).map(|result| result.map_err(|error| *error)).collect()
}

/// Static partition: `workers` scoped threads, each mapping one contiguous
/// block of `ceil(n / workers)` inputs (fewer threads when there are fewer
/// inputs than workers).
fn run_on_scope(
    workers: usize,
    task: &Task,
    inputs: &[f64],
    placement: Option<&Placement>,
) -> Result<Vec<f64>, WorkloadError> {
    let block = inputs.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(block)
            .enumerate()
            .map(|(block_index, xs)| {
                scope.spawn(move || {
                    if let Some(placement) = placement {
                        placement.pin(block_index);
                    }
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
        let workload = Workload::Square.task();
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
                let backend = Backend::start(kind, workers, Pinning::None, &Registry::new()).unwrap();
                for chunk in [None, Some(ChunkSize::Fixed(1)), Some(ChunkSize::Fixed(10)), Some(ChunkSize::Auto)] {
                    let results = backend.run(&workload, &inputs, chunk).unwrap();
                    assert_eq!(results, expected, "{kind} with {workers} workers, chunk {chunk:?}");
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pinned_workers_run_on_their_core_on_every_backend() {
        // Each task runs a child process, which inherits the affinity of the
        // worker thread that spawned it, and prints the one core it may run
        // on (-1 when it may run on several).
        let script = "awk '/^Cpus_allowed_list/ { print ($2 ~ /^[0-9]+$/) ? $2 : -1 }' /proc/self/status";
        let workload =
            Workload::Command { program: "sh".into(), args: vec!["-c".into(), script.into()], timeout_s: None }.task();
        let inputs: Arc<[f64]> = (0..12).map(f64::from).collect();
        let allowed: Vec<usize> = core_affinity::get_core_ids().unwrap().into_iter().map(|c| c.id).collect();
        for kind in [BackendKind::Pool, BackendKind::PoolCollect, BackendKind::StdScope, BackendKind::Rayon] {
            let unpinned = Backend::start(kind, 2, Pinning::None, &Registry::new()).unwrap();
            let cores = unpinned.run(&workload, &inputs, Some(ChunkSize::Fixed(1))).unwrap();
            if allowed.len() > 1 {
                assert!(cores.iter().all(|&c| c == -1.0), "{kind} unpinned: {cores:?}");
            }
            for pinning in [Pinning::Cores, Pinning::Spread] {
                let backend = Backend::start(kind, 2, pinning, &Registry::new()).unwrap();
                let placement = Placement::new(pinning, 2).unwrap().unwrap();
                let expected: Vec<f64> = (0..2).map(|w| allowed[placement.core_index(w)] as f64).collect();
                let cores = backend.run(&workload, &inputs, Some(ChunkSize::Fixed(1))).unwrap();
                assert!(
                    cores.iter().all(|c| expected.contains(c)),
                    "{kind} {pinning}: {cores:?}, expected {expected:?}"
                );
                backend.check_pinning().unwrap();
            }
        }
    }

    #[test]
    fn spread_spaces_workers_evenly_and_cores_packs_them() {
        let placement = |pinning, workers| Placement {
            cores: (0..8).map(|id| core_affinity::CoreId { id }).collect(),
            workers,
            pinning,
            failures: Arc::default(),
        };
        let indices = |p: &Placement| (0..p.workers).map(|w| p.core_index(w)).collect::<Vec<_>>();
        assert_eq!(indices(&placement(Pinning::Spread, 2)), [0, 4]);
        assert_eq!(indices(&placement(Pinning::Spread, 4)), [0, 2, 4, 6]);
        assert_eq!(indices(&placement(Pinning::Cores, 4)), [0, 1, 2, 3]);
        assert_eq!(indices(&placement(Pinning::Cores, 10))[8..], [0, 1], "wraps around");
        assert_eq!(indices(&placement(Pinning::Spread, 16)).iter().filter(|&&i| i == 0).count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_task_fails_the_run_on_every_backend() {
        let workload =
            Workload::Command { program: "sh".into(), args: vec!["-c".into(), "exit 7".into()], timeout_s: None }
                .task();
        let (inputs, _) = squares(3);
        for kind in [
            BackendKind::Sequential,
            BackendKind::Pool,
            BackendKind::PoolCollect,
            BackendKind::StdScope,
            BackendKind::Rayon,
        ] {
            let backend = Backend::start(kind, 2, Pinning::None, &Registry::new()).unwrap();
            let error = backend.run(&workload, &inputs, Some(ChunkSize::Fixed(1))).unwrap_err();
            assert!(error.to_string().contains("exit status: 7"), "{kind}: {error}");
        }
    }
}

/// The threads of this process before a backend of the user's started,
/// to wait for those it started to leave: the harness joins its own
/// backends' threads, a user's backend may not (a rayon `ThreadPool`
/// dropped leaves its threads to exit in their own time).
#[derive(Debug)]
pub struct ThreadCensus {
    /// Thread ids (Linux: `/proc/self/task`); `None` where unknown.
    before: Option<BTreeSet<u64>>,
}

impl ThreadCensus {
    /// How long threads still exiting get to leave: a joined thread is
    /// listed a moment longer, an unjoined pool's threads exit when next
    /// scheduled. A thread still there after this is a pool kept for the
    /// process.
    pub const LINGER: Duration = Duration::from_secs(1);

    /// The threads there are now.
    pub fn take() -> Self {
        Self { before: thread_ids() }
    }

    /// Waits (up to [`ThreadCensus::LINGER`]) until every thread started
    /// since the census has left. Only a thread there all along is waited
    /// for: one that another part of the process started and ended
    /// meanwhile is not this backend's.
    pub fn wait_for_new_threads(&self) {
        let Some(before) = &self.before else { return };
        let deadline = Instant::now() + Self::LINGER;
        let mut left: Option<BTreeSet<u64>> = None;
        loop {
            let Some(now) = thread_ids() else { return };
            let new: BTreeSet<u64> = now.difference(before).copied().collect();
            let still = match left {
                None => new,
                Some(left) => left.intersection(&new).copied().collect(),
            };
            if still.is_empty() || Instant::now() >= deadline {
                return;
            }
            left = Some(still);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The ids of this process's threads, where the system lists them.
fn thread_ids() -> Option<BTreeSet<u64>> {
    let entries = std::fs::read_dir("/proc/self/task").ok()?;
    Some(entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
}
