//! Metrics: off by default, per-worker and per-task numbers when on, reset.

mod common;

use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::rendezvous;
use pool::ThreadPool;

fn metered(n: usize) -> ThreadPool {
    ThreadPool::builder().num_workers(n).metrics(true).build().unwrap()
}

#[test]
fn metrics_are_none_when_off() {
    let pool = ThreadPool::new(2).unwrap();
    pool.submit(|| ()).wait().unwrap();
    assert!(pool.metrics().is_none());
    pool.reset_metrics(); // harmless without metrics
    assert!(pool.metrics().is_none());
}

#[test]
fn counts_tasks_and_busy_time_per_worker() {
    let n = 3;
    let pool = metered(n);
    let arrived = Arc::new(AtomicUsize::new(0));
    // One rendezvous task per worker, so every worker runs at least one.
    let mut handles: Vec<_> = (0..n)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            pool.submit(move || assert!(rendezvous(&arrived, n)))
        })
        .collect();
    handles.extend((0..27).map(|_| pool.submit(|| thread::sleep(Duration::from_micros(50)))));
    for handle in handles {
        handle.wait().unwrap();
    }
    let m = pool.metrics().unwrap();
    assert_eq!(m.workers.len(), n);
    assert_eq!(m.total_tasks(), 30);
    assert_eq!(m.tasks.len(), 30);
    for (index, worker) in m.workers.iter().enumerate() {
        assert_eq!(worker.worker, index);
        assert!(worker.tasks > 0, "worker {index} ran nothing: {m:?}");
        assert!(worker.busy_ns > 0, "worker {index} ran tasks but has no busy time");
        let own: Vec<_> = m.tasks.iter().filter(|t| t.worker == index).collect();
        assert_eq!(own.len() as u64, worker.tasks);
        assert_eq!(own.iter().map(|t| t.run_ns).sum::<u64>(), worker.busy_ns);
    }
    assert_eq!(m.total_busy_ns(), m.workers.iter().map(|w| w.busy_ns).sum::<u64>());
}

#[test]
fn counts_are_exact_as_soon_as_tasks_are_waited() {
    // A waiter must not observe its task finished before the task is
    // counted (the count and the result should agree).
    let pool = metered(1);
    for i in 1..=2000u64 {
        pool.submit(|| ()).wait().unwrap();
        assert_eq!(pool.metrics().unwrap().total_tasks(), i, "task {i} finished but is not counted yet");
    }
}

#[test]
fn run_time_covers_the_work_and_wait_time_the_queueing() {
    let pool = metered(1);
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let blocker = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
    });
    let queued = pool.submit(|| thread::sleep(Duration::from_millis(5)));
    // The 20 ms count from when the blocker is known to be running.
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    thread::sleep(Duration::from_millis(20));
    release.send(()).unwrap();
    blocker.wait().unwrap();
    queued.wait().unwrap();

    let m = pool.metrics().unwrap();
    assert_eq!(m.tasks.len(), 2);
    // The blocked task ran >= 20 ms; the queued one waited behind it that
    // long, then slept 5 ms.
    let longest_run = m.tasks.iter().map(|t| t.run_ns).max().unwrap();
    assert!(longest_run >= 20_000_000, "{m:?}");
    assert!(m.tasks.iter().any(|t| t.wait_ns >= 20_000_000 && t.run_ns >= 5_000_000), "{m:?}");
    assert!(m.mean_run_ns() >= 12_500_000.0, "{}", m.mean_run_ns());
    assert!(m.mean_wait_ns() >= 10_000_000.0, "{}", m.mean_wait_ns());
}

#[test]
fn run_time_is_at_least_the_sleep_inside_each_task() {
    let pool = metered(2);
    let handles: Vec<_> = (0..6).map(|_| pool.submit(|| thread::sleep(Duration::from_millis(3)))).collect();
    for handle in handles {
        handle.wait().unwrap();
    }
    let m = pool.metrics().unwrap();
    assert_eq!(m.tasks.len(), 6);
    assert!(m.tasks.iter().all(|t| t.run_ns >= 3_000_000), "{:?}", m.tasks);
}

#[test]
fn reset_clears_everything_and_recording_goes_on() {
    let pool = metered(2);
    for handle in (0..10).map(|_| pool.submit(|| thread::sleep(Duration::from_micros(100)))).collect::<Vec<_>>() {
        handle.wait().unwrap();
    }
    assert_eq!(pool.metrics().unwrap().total_tasks(), 10);
    pool.reset_metrics();
    let m = pool.metrics().unwrap();
    assert_eq!(m.total_tasks(), 0);
    assert_eq!(m.total_busy_ns(), 0);
    assert!(m.tasks.is_empty());
    assert_eq!(m.mean_run_ns(), 0.0);
    assert_eq!(m.workers.len(), 2, "workers are still listed after a reset");

    pool.submit(|| thread::sleep(Duration::from_micros(100))).wait().unwrap();
    assert_eq!(pool.metrics().unwrap().total_tasks(), 1);
}

/// Metrics time what the workers run: on a pool with a start handler,
/// where the consumer never runs a chunk itself, that is every chunk.
#[test]
fn a_map_is_timed_per_chunk() {
    let pool = ThreadPool::builder().num_workers(2).metrics(true).start_handler(|_| {}).build().unwrap();
    assert_eq!(pool.map(|x: u32| x, 0..90u32).chunk_size(10).count(), 90);
    assert_eq!(pool.metrics().unwrap().total_tasks(), 9);
}
