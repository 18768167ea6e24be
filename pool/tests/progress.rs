//! `on_progress`: increasing `done`, ending at the total, which is known
//! exactly when the input knows its length.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{quiet_intentional_panics, within, INTENTIONAL};
use pool::{Progress, TaskError, ThreadPool};

/// The progress reports of one map, in the order the callback saw them.
type Log = Arc<Mutex<Vec<Progress>>>;

fn recorder() -> (Log, impl Fn(Progress) + Send + Sync + 'static) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    (log, move |p| sink.lock().unwrap().push(p))
}

fn check(log: &[Progress], n: usize, total: Option<usize>) {
    assert!(!log.is_empty(), "the callback was never called");
    assert!(log.iter().all(|p| p.total == total), "totals: {log:?}");
    let done: Vec<usize> = log.iter().map(|p| p.done).collect();
    if let Some(at) = done.windows(2).position(|w| w[0] >= w[1]) {
        panic!("done must increase at every call, but report {} said {} after {}", at + 1, done[at + 1], done[at]);
    }
    assert_eq!(*done.last().unwrap(), n, "the last report must say everything is done");
}

#[test]
fn exact_size_input_reports_its_total() {
    let pool = ThreadPool::new(2).unwrap();
    for size in [1, 3, 40, 500] {
        let (log, callback) = recorder();
        let out: Vec<u32> = pool.map(|x: u32| x + 1, 0..200u32).chunk_size(size).on_progress(callback).collect();
        assert_eq!(out.len(), 200);
        check(&log.lock().unwrap(), 200, Some(200));
    }
}

#[test]
fn unknown_length_input_reports_no_total() {
    let pool = ThreadPool::new(2).unwrap();
    let (log, callback) = recorder();
    let inputs = (0..300u32).filter(|x| x % 3 == 0);
    let out: Vec<u32> = pool.map(|x| x * 2, inputs).chunk_size(4).on_progress(callback).collect();
    assert_eq!(out.len(), 100);
    check(&log.lock().unwrap(), 100, None);
}

#[test]
fn try_map_and_unordered_report_progress_too() {
    let pool = ThreadPool::new(2).unwrap();
    let (log, callback) = recorder();
    assert_eq!(pool.try_map(|x: u8| x, 0..50u8).chunk_size(2).on_progress(callback).count(), 50);
    check(&log.lock().unwrap(), 50, Some(50));

    let (log, callback) = recorder();
    assert_eq!(pool.map_unordered(|x: u8| x, 0..50u8).chunk_size(3).on_progress(callback).count(), 50);
    check(&log.lock().unwrap(), 50, Some(50));
}

#[test]
fn auto_chunking_reports_every_item() {
    let pool = ThreadPool::new(2).unwrap();
    let (log, callback) = recorder();
    assert_eq!(pool.map(|x: u64| x, 0..5000u64).on_progress(callback).count(), 5000);
    check(&log.lock().unwrap(), 5000, Some(5000));
}

#[test]
fn done_increases_strictly_and_ends_at_total() {
    // Many one-item chunks finishing on two workers at once, and a callback
    // that takes a moment (as drawing a progress bar does): the reports
    // must still arrive in increasing order (a bar never goes backwards)
    // and the last one must be the total.
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..20 {
        let log: Log = Arc::default();
        let sink = Arc::clone(&log);
        let callback = move |p: Progress| {
            // Odd reports take a few microseconds longer to "draw".
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_micros(2 + 5 * (p.done as u64 % 2)) {
                std::hint::spin_loop();
            }
            sink.lock().unwrap().push(p);
        };
        assert_eq!(pool.map(|x: u32| x, 0..500u32).chunk_size(1).on_progress(callback).count(), 500);
        check(&log.lock().unwrap(), 500, Some(500));
    }
}

/// Chunks that finish while a call runs are reported together by the next
/// one (see `on_progress`), so 8 chunks make at most 8 calls, the last
/// with every item done.
#[test]
fn a_scoped_map_may_report_into_a_borrowed_counter() {
    let pool = ThreadPool::new(2).unwrap();
    let calls = AtomicUsize::new(0);
    let last = AtomicUsize::new(0);
    let items: Vec<u32> = (0..64).collect();
    let sum: u32 = pool.scope(|s| {
        s.map(|x: &u32| *x, &items)
            .chunk_size(8)
            .on_progress(|p| {
                calls.fetch_add(1, Ordering::SeqCst);
                last.store(p.done, Ordering::SeqCst);
            })
            .sum()
    });
    assert_eq!(sum, (0..64).sum());
    assert!((1..=8).contains(&calls.load(Ordering::SeqCst)), "at most one report per chunk");
    assert_eq!(last.load(Ordering::SeqCst), 64, "the last report has every item");
}

/// Checks that a failing progress callback is reported at the items of
/// its chunk, and that every other item still arrives with its value.
fn check_callback_failure(results: &[(usize, Result<u32, TaskError>)]) {
    assert_eq!(results.len(), 10, "{results:?}");
    let failed: Vec<usize> = results.iter().filter(|(_, r)| r.is_err()).map(|(i, _)| *i).collect();
    assert!(!failed.is_empty(), "the callback's panic was lost: {results:?}");
    for (i, result) in results {
        match result {
            Ok(value) => assert_eq!(*value, *i as u32),
            Err(error) => assert_eq!(error.panic_message(), Some(format!("{INTENTIONAL} progress").as_str())),
        }
    }
}

#[test]
fn a_panicking_callback_fails_its_chunk_without_hanging() {
    quiet_intentional_panics();
    let (ordered, unordered) = within(Duration::from_secs(5), "maps whose progress callback panics", || {
        let pool = ThreadPool::new(2).unwrap();
        let callback = |p: Progress| {
            if p.done == 4 {
                panic!("{INTENTIONAL} progress");
            }
        };
        let ordered: Vec<_> =
            pool.try_map(|x: u32| x, 0..10u32).chunk_size(2).on_progress(callback).enumerate().collect();
        let unordered: Vec<_> = pool.map_unordered(|x: u32| x, 0..10u32).chunk_size(2).on_progress(callback).collect();
        (ordered, unordered)
    });
    check_callback_failure(&ordered);
    check_callback_failure(&unordered);
}

#[test]
fn a_callback_that_waits_on_the_pool_does_not_deadlock_against_its_own_map() {
    // The first report waits for a task queued before the map. Waiting on a
    // worker runs queued jobs meanwhile, which include this map's chunks:
    // their reports must not wait for the one in progress.
    within(Duration::from_secs(20), "a waiting progress callback", || {
        let pool = ThreadPool::new(2).unwrap();
        let gate = pool.submit(|| std::thread::sleep(Duration::from_millis(100)));
        let gate = Mutex::new(Some(gate));
        let (log, record) = recorder();
        let n = pool
            .map(|x: u64| x, 0..200u64)
            .chunk_size(1)
            .on_progress(move |p| {
                let first = gate.lock().unwrap().take();
                if let Some(gate) = first {
                    gate.wait().unwrap();
                }
                record(p);
            })
            .count();
        assert_eq!(n, 200);
        check(&log.lock().unwrap(), 200, Some(200));
    });
}

#[test]
fn the_final_count_is_reported_before_the_map_ends_even_when_reports_coalesce() {
    // A slow callback: chunks finishing meanwhile only add to the count,
    // which the reporter (or the consumer, at the end) reports afterwards.
    for _ in 0..3 {
        let pool = ThreadPool::new(4).unwrap();
        let (log, record) = recorder();
        let slow = move |p: Progress| {
            std::thread::sleep(Duration::from_millis(2));
            record(p);
        };
        let n = pool.map(|x: u32| x, 0..64u32).chunk_size(1).on_progress(slow).count();
        assert_eq!(n, 64);
        check(&log.lock().unwrap(), 64, Some(64));
        let mut unordered = pool.map_unordered(|x: u32| x, 0..64u32).chunk_size(1);
        let (log, record) = recorder();
        unordered = unordered.on_progress(move |p| {
            std::thread::sleep(Duration::from_millis(2));
            record(p);
        });
        assert_eq!(unordered.count(), 64);
        check(&log.lock().unwrap(), 64, Some(64));
    }
}

/// A slow callback with a map that keeps finishing chunks: the thread
/// that reported kept reporting for as long as the count moved, so its own
/// chunk's results waited with it, for ever on an endless input (after
/// 50,000 items of a `map_unordered`, index 0 had not come out). A report
/// is now made once; the count it missed goes with the next one. Counted
/// in calls, not items or time: a chunk now waits out one call (while it
/// lasts, nobody else reports), so within hundreds of calls every early
/// index is out, where the old reporter made every call itself.
#[test]
fn a_slow_callback_holds_back_no_chunk() {
    let pool = ThreadPool::new(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let mut seen = [false; 10];
    let map = pool.map_unordered(|x: usize| x, 0..usize::MAX).chunk_size(1).on_progress(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
    });
    for (index, result) in map {
        assert_eq!(result, Ok(index));
        if let Some(seen) = seen.get_mut(index) {
            *seen = true;
        }
        if calls.load(Ordering::SeqCst) >= 300 {
            break;
        }
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "held back over 300 calls: {missing:?}");
}
