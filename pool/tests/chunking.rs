//! Fixed and automatic chunking give the right results, and automatic
//! chunking really batches cheap items.
//!
//! Under Miri, which runs about a thousand times slower and where every
//! chunk's task costs a good fraction of a second, the inputs are a few
//! dozen items; the assertions stay. (Miri's virtual clock charges 5 µs
//! per basic block, so there every item looks slow and automatic chunks
//! stay at one item: a task per item.)

use pool::{Chunking, ThreadPool};

#[test]
fn fixed_chunk_sizes_give_correct_results() {
    let pool = ThreadPool::new(2).unwrap();
    let n: u64 = if cfg!(miri) { 13 } else { 250 };
    let expected: Vec<u64> = (0..n).map(|x| x * 3 + 1).collect();
    // Including 1, sizes that do not divide n, exactly n, and bigger than n.
    for size in [1, 2, 3, 7, 64, n as usize, 1000] {
        let ordered: Vec<u64> = pool.map(|x| x * 3 + 1, 0..n).chunk_size(size).collect();
        assert_eq!(ordered, expected, "chunk size {size}");
        let tried: Vec<u64> = pool.try_map(|x| x * 3 + 1, 0..n).chunk_size(size).map(Result::unwrap).collect();
        assert_eq!(tried, expected, "try_map, chunk size {size}");
        let mut unordered: Vec<(usize, u64)> = pool
            .map_unordered(|x| x * 3 + 1, 0..n)
            .chunk_size(Chunking::Fixed(size))
            .map(|(i, r)| (i, r.unwrap()))
            .collect();
        unordered.sort_unstable();
        assert_eq!(unordered, expected.iter().copied().enumerate().collect::<Vec<_>>(), "unordered, chunk size {size}");
    }
}

#[test]
fn auto_chunking_on_a_million_items_is_correct() {
    let pool = ThreadPool::new(2).unwrap();
    let n: u64 = if cfg!(miri) { 40 } else { 1_000_000 };
    let out: Vec<u64> = pool.map(|x| x * x, 0..n).collect();
    assert_eq!(out.len(), n as usize);
    assert!(out.iter().enumerate().all(|(i, &v)| v == (i as u64) * (i as u64)));
}

/// On a pool with a start handler every chunk is a task run by a worker
/// (elsewhere the consumer may run any number of them itself), so the task
/// count is the chunk count.
#[test]
#[cfg_attr(
    miri,
    ignore = "a performance property at scale (100k items): Miri's clock says nothing about chunk run times, and \
              auto-sized chunks go through the same code in auto_chunking_on_a_million_items_is_correct"
)]
fn auto_chunking_batches_cheap_items() {
    let pool = ThreadPool::builder().num_workers(2).metrics(true).start_handler(|_| {}).build().unwrap();
    let n = 100_000u64;
    let sum: u64 = pool.map(|x| x * x, 0..n).sum();
    assert_eq!(sum, (0..n).map(|x| x * x).sum::<u64>());
    let tasks = pool.metrics().unwrap().total_tasks();
    assert!(tasks >= 1, "the map ran no tasks?");
    assert!(tasks * 100 < n, "{tasks} tasks for {n} cheap items: auto chunking did not batch");
}

/// On a pool with a start handler `f` stays on the workers, so every chunk
/// is one task run there.
#[test]
fn fixed_chunking_runs_one_task_per_chunk() {
    let pool = ThreadPool::builder().num_workers(2).metrics(true).start_handler(|_| {}).build().unwrap();
    let n: u64 = if cfg!(miri) { 20 } else { 100 };
    for (n, size) in [(n, 1usize), (n, 7), (n, n as usize), (10, 64)] {
        pool.reset_metrics();
        assert_eq!(pool.map(|x| x + 1, 0..n).chunk_size(size).count(), n as usize);
        let expected = (n as usize).div_ceil(size) as u64;
        assert_eq!(pool.metrics().unwrap().total_tasks(), expected, "n {n}, chunk {size}");
    }
}

/// Which thread computed each item: the consumer's, or a worker's.
fn on_consumer(pool: &ThreadPool, n: u64, pause: std::time::Duration, chunking: Chunking) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let consumer = std::thread::current().id();
    let here = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&here);
    let f = move |x: u64| {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        if std::thread::current().id() == consumer {
            seen.fetch_add(1, Ordering::Relaxed);
        }
        x
    };
    assert_eq!(pool.map(f, 0..n).chunk_size(chunking).count(), n as usize);
    here.load(Ordering::Relaxed)
}

/// The consumer runs the head chunk itself when no worker has started it:
/// with the only worker blocked, every chunk runs on the consumer, in
/// order, and the map does not wait for the worker.
#[test]
fn the_consumer_runs_the_head_when_no_worker_has_started_it() {
    let pool = ThreadPool::new(1).unwrap();
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let blocker = pool.submit(move || blocked.recv().ok());
    let n = if cfg!(miri) { 30 } else { 100 };
    for chunking in [Chunking::Fixed(1), Chunking::Fixed(7), Chunking::Auto] {
        assert_eq!(on_consumer(&pool, n, std::time::Duration::ZERO, chunking), n as usize, "{chunking:?}");
    }
    release.send(()).unwrap();
    assert_eq!(blocker.wait(), Ok(Some(())));
}

/// A pool with a start handler keeps `f` on its workers: the consumer
/// waits for them instead, however cheap the items.
#[test]
fn a_start_handler_keeps_f_off_the_consumer() {
    let pool = ThreadPool::builder().num_workers(2).start_handler(|_| {}).build().unwrap();
    let n = if cfg!(miri) { 30 } else { 20_000 };
    for chunking in [Chunking::Fixed(1), Chunking::Fixed(100), Chunking::Auto] {
        assert_eq!(on_consumer(&pool, n, std::time::Duration::ZERO, chunking), 0, "{chunking:?}");
    }
}
