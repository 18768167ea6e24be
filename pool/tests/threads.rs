//! No thread outlives the last handle to its pool: after every pool (and
//! every map, which holds its pool) is dropped, the process has exactly
//! the threads it had before, whatever path the pools took. One test in
//! its own binary, since it counts the whole process's threads.

#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{settle_threads, threads};
use pool::ThreadPool;

mod common;

#[test]
fn no_thread_outlives_the_last_pool_handle() {
    let before = threads();
    // Each path runs twice, so a thread started once per process (as the
    // watchdog used to be) shows up as well as one per pool.
    for _ in 0..2 {
        // A map used up, then the pool dropped.
        let pool = ThreadPool::new(3).unwrap();
        assert_eq!(pool.map(|x: u64| x * x, 0..10_000u64).sum::<u64>(), (0..10_000u64).map(|x| x * x).sum());
        assert!(threads() >= before + 3, "the workers should be running");
        drop(pool);
        assert_eq!(settle_threads(before), before, "after a used-up map");

        // A map dropped half read, after its pool's handle: the map held
        // the pool, so its drop is the last.
        let pool = ThreadPool::new(2).unwrap();
        let mut map = pool.map(|x: u64| x + 1, 0..1_000_000u64).chunk_size(64);
        assert_eq!(map.nth(100), Some(101));
        let mut unordered = pool.map_unordered(|x: u64| x, 0..1_000_000u64);
        assert!(unordered.next().is_some());
        drop(pool);
        drop(map);
        assert!(threads() > before, "the unordered map still holds the pool");
        drop(unordered);
        assert_eq!(settle_threads(before), before, "after maps dropped mid-iteration");

        // shutdown_now with work queued, then the last handle dropped.
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let ran = Arc::clone(&ran);
                pool.submit(move || ran.fetch_add(1, Ordering::Relaxed))
            })
            .collect();
        pool.shutdown_now();
        drop(handles);
        drop(pool);
        assert_eq!(settle_threads(before), before, "after shutdown_now");

        // Nested maps, scopes, map_collect, a start handler.
        let pool = ThreadPool::builder().num_workers(2).start_handler(|_| {}).build().unwrap();
        let inner = pool.clone();
        let sums: Vec<u64> = pool.map(move |n: u64| inner.map(|x: u64| x, 0..n).sum(), 0..20u64).collect();
        assert_eq!(sums[4], 6);
        let data = [1u64, 2, 3];
        let total: u64 = pool.scope(|s| s.map(|i: usize| data[i], 0..3).sum());
        assert_eq!(total, 6);
        assert_eq!(pool.map_collect(|x: u64| x * 2, 0..100u64)[99], 198);
        drop(pool);
        assert_eq!(settle_threads(before), before, "after nested maps, scopes and map_collect");
    }
}
