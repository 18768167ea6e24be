//! Per-task and per-worker timings, recorded when the pool is built with
//! [`Builder::metrics(true)`](crate::Builder::metrics).
//!
//! Each worker writes only its own slot, so recording costs two clock reads
//! and an uncontended lock per task; with metrics off it costs one branch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long one task waited in a queue and how long it ran.
///
/// ```
/// let pool = pool::ThreadPool::builder().num_workers(1).metrics(true).build().unwrap();
/// pool.submit(|| std::thread::sleep(std::time::Duration::from_millis(2))).wait().unwrap();
/// let timing: pool::TaskTiming = pool.metrics().unwrap().tasks[0];
/// assert!(timing.run_ns >= 2_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTiming {
    /// The worker that ran it.
    pub worker: usize,
    /// From submission to the start of its run, in nanoseconds.
    pub wait_ns: u64,
    /// Its run time, in nanoseconds.
    pub run_ns: u64,
}

/// What one worker did.
///
/// ```
/// let pool = pool::ThreadPool::builder().num_workers(2).metrics(true).build().unwrap();
/// let stats: Vec<pool::WorkerStats> = pool.metrics().unwrap().workers;
/// assert_eq!(stats.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// The worker's index, `0..num_workers`.
    pub worker: usize,
    /// Tasks it ran.
    pub tasks: u64,
    /// Total time spent running tasks, in nanoseconds.
    pub busy_ns: u64,
}

/// A copy of the pool's metrics at one moment.
///
/// A map's chunks count as one task each, so its task timings are per
/// chunk (chunks its consumer ran itself are not counted).
///
/// ```
/// let pool = pool::ThreadPool::builder().num_workers(2).metrics(true).build().unwrap();
/// for _ in 0..4 { pool.submit(|| ()).wait().unwrap(); }
/// let m: pool::MetricsSnapshot = pool.metrics().unwrap();
/// assert_eq!((m.total_tasks(), m.tasks.len()), (4, 4));
/// assert!(m.mean_run_ns() >= 0.0 && m.mean_wait_ns() >= 0.0 && m.total_busy_ns() > 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    /// One entry per worker.
    pub workers: Vec<WorkerStats>,
    /// Every task recorded since the pool started (or the last reset), in
    /// no particular order.
    pub tasks: Vec<TaskTiming>,
}

impl MetricsSnapshot {
    /// Tasks run by all workers.
    pub fn total_tasks(&self) -> u64 {
        self.workers.iter().map(|w| w.tasks).sum()
    }

    /// Busy time summed over workers, in nanoseconds.
    pub fn total_busy_ns(&self) -> u64 {
        self.workers.iter().map(|w| w.busy_ns).sum()
    }

    /// Mean queue wait per task, in nanoseconds (0 when no task ran).
    pub fn mean_wait_ns(&self) -> f64 {
        mean(self.tasks.iter().map(|t| t.wait_ns))
    }

    /// Mean run time per task, in nanoseconds (0 when no task ran).
    pub fn mean_run_ns(&self) -> f64 {
        mean(self.tasks.iter().map(|t| t.run_ns))
    }
}

fn mean(values: impl ExactSizeIterator<Item = u64>) -> f64 {
    let n = values.len();
    if n == 0 {
        0.0
    } else {
        values.map(|v| v as f64).sum::<f64>() / n as f64
    }
}

struct WorkerSlot {
    tasks: AtomicU64,
    busy_ns: AtomicU64,
    timings: Mutex<Vec<TaskTiming>>,
}

pub(crate) struct Metrics {
    workers: Vec<WorkerSlot>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Metrics {
    pub(crate) fn new(num_workers: usize) -> Self {
        Metrics {
            workers: (0..num_workers)
                .map(|_| WorkerSlot {
                    tasks: AtomicU64::new(0),
                    busy_ns: AtomicU64::new(0),
                    timings: Mutex::new(Vec::new()),
                })
                .collect(),
        }
    }

    pub(crate) fn record(&self, worker: usize, enqueued_at: Option<Instant>, start: Instant, end: Instant) {
        let slot = &self.workers[worker];
        let run_ns = nanos(end - start);
        slot.tasks.fetch_add(1, Ordering::Relaxed);
        slot.busy_ns.fetch_add(run_ns, Ordering::Relaxed);
        let wait_ns = enqueued_at.map_or(0, |q| nanos(start.saturating_duration_since(q)));
        slot.timings.lock().push(TaskTiming { worker, wait_ns, run_ns });
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let mut snapshot = MetricsSnapshot::default();
        for (worker, slot) in self.workers.iter().enumerate() {
            snapshot.workers.push(WorkerStats {
                worker,
                tasks: slot.tasks.load(Ordering::Relaxed),
                busy_ns: slot.busy_ns.load(Ordering::Relaxed),
            });
            snapshot.tasks.extend_from_slice(&slot.timings.lock());
        }
        snapshot
    }

    pub(crate) fn reset(&self) {
        for slot in &self.workers {
            slot.tasks.store(0, Ordering::Relaxed);
            slot.busy_ns.store(0, Ordering::Relaxed);
            slot.timings.lock().clear();
        }
    }
}
