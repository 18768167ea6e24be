//! `ThreadPool::map_collect`: indexed inputs mapped straight into a `Vec`.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pool::ThreadPool;

/// Sizes of the larger cases: smaller under Miri, which interprets every
/// item, so that this file runs there in about a minute. Both still cut
/// many chunks per worker, the case the in-place writes must get right.
const LARGE: usize = if cfg!(miri) { 1_000 } else { 10_000 };
const MEDIUM: usize = if cfg!(miri) { 100 } else { 1_000 };

#[test]
fn results_are_in_input_order_for_ranges_slices_and_vecs() {
    for workers in [1, 2, 3] {
        let pool = ThreadPool::new(workers).unwrap();
        // Under Miri 257 items still cut 8 chunks per worker, with a short
        // last one.
        for n in [0u64, 1, 2, 7, 100, if cfg!(miri) { 257 } else { 10_001 }] {
            let expected: Vec<u64> = (0..n).map(|x| x * x).collect();
            assert_eq!(pool.map_collect(|x: u64| x * x, 0..n), expected, "range, n {n}, {workers} workers");
            let inputs: Vec<u64> = (0..n).collect();
            assert_eq!(pool.map_collect(|x: &u64| x * x, &inputs), expected, "vec, n {n}");
            assert_eq!(pool.map_collect(|x: &u64| x * x, inputs.as_slice()), expected, "slice, n {n}");
        }
    }
}

#[test]
fn signed_and_narrow_ranges_cover_every_value() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(pool.map_collect(|x: i8| x, -128i8..127), (-128i8..127).collect::<Vec<_>>());
    assert_eq!(pool.map_collect(|x: i64| x, -5i64..5), (-5i64..5).collect::<Vec<_>>());
    assert_eq!(pool.map_collect(|x: u8| x, 250u8..255), vec![250, 251, 252, 253, 254]);
}

#[test]
fn borrows_from_the_caller_and_calls_f_once_per_input() {
    let pool = ThreadPool::new(2).unwrap();
    let offset = String::from("offset");
    let calls = AtomicUsize::new(0);
    let out = pool.map_collect(
        |i: usize| {
            calls.fetch_add(1, Ordering::Relaxed);
            offset.len() + i
        },
        0..MEDIUM,
    );
    assert_eq!(calls.load(Ordering::Relaxed), MEDIUM);
    assert!(out.iter().enumerate().all(|(i, &v)| v == i + 6));
}

#[test]
fn a_panic_is_re_raised_and_the_pool_keeps_working() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let at = MEDIUM as u32 / 2;
    let caught = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        pool.map_collect(
            |x: u32| if x == at { panic!("{} at {at}", common::INTENTIONAL) } else { x.to_string() },
            0..MEDIUM as u32,
        )
    }));
    let payload = caught.unwrap_err();
    let message = common::panic_message(&*payload).unwrap_or("<not a string>");
    // The original panic, not a wrapper around it.
    assert_eq!(message, format!("{} at {at}", common::INTENTIONAL));
    assert_eq!(pool.map_collect(|x: u32| x + 1, 0..3u32), [1, 2, 3]);
}

#[test]
fn inclusive_ranges_cover_both_ends() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(pool.map_collect(|x: u8| x, 0..=u8::MAX), (0..=u8::MAX).collect::<Vec<_>>());
    assert_eq!(pool.map_collect(|x: i8| x, i8::MIN..=i8::MAX), (i8::MIN..=i8::MAX).collect::<Vec<_>>());
    #[allow(clippy::reversed_empty_ranges)]
    let empty = pool.map_collect(|x: u32| x, 5..=4u32);
    assert!(empty.is_empty());
    assert_eq!(pool.map_collect(|x: u64| x * 2, 7..=7u64), [14]);
}

/// Counts its drops per element, to prove none is dropped twice.
struct Tracked(u64, Arc<Vec<AtomicUsize>>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1[self.0 as usize].fetch_add(1, Ordering::SeqCst);
    }
}

fn tracked(n: u64) -> (Vec<Tracked>, Arc<Vec<AtomicUsize>>) {
    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    ((0..n).map(|i| Tracked(i, Arc::clone(&drops))).collect(), drops)
}

#[test]
fn a_vec_by_value_moves_each_element_into_f_once() {
    let pool = ThreadPool::new(3).unwrap();
    let (inputs, drops) = tracked(LARGE as u64);
    let out: Vec<u64> = pool.map_collect(|t: Tracked| t.0 * 3, inputs);
    assert_eq!(out, (0..LARGE as u64).map(|i| i * 3).collect::<Vec<_>>());
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) == 1), "an element was dropped twice or never");

    // Strings, moved and returned.
    let words: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let out = pool.map_collect(|w: String| w + "!", words);
    assert_eq!(out[42], "42!");
}

#[test]
fn a_panic_mapping_a_vec_by_value_never_drops_an_element_twice() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let (inputs, drops) = tracked(LARGE as u64);
    let at = LARGE / 2;
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        pool.map_collect(
            |t: Tracked| {
                if t.0 == at as u64 {
                    panic!("{} at {at}", common::INTENTIONAL);
                }
                t.0
            },
            inputs,
        )
    }));
    assert!(outcome.is_err());
    // Elements passed to `f` were dropped once (the panicking one while
    // unwinding); those never reached are leaked, not dropped.
    assert_eq!(drops[at].load(Ordering::SeqCst), 1);
    assert!(drops.iter().all(|d| d.load(Ordering::SeqCst) <= 1), "an element was dropped twice");
}

/// Counts its drops in the shared counter.
struct Tally(Arc<AtomicUsize>);

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_drops_the_results_written_and_the_inputs_not_taken() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    for failing in [0, 1, MEDIUM / 2, MEDIUM - 1] {
        let inputs_dropped = Arc::new(AtomicUsize::new(0));
        let outputs_made = Arc::new(AtomicUsize::new(0));
        let outputs_dropped = Arc::new(AtomicUsize::new(0));
        let inputs: Vec<(usize, Tally)> = (0..MEDIUM).map(|i| (i, Tally(Arc::clone(&inputs_dropped)))).collect();
        let (made, dropped) = (Arc::clone(&outputs_made), Arc::clone(&outputs_dropped));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.map_collect(
                move |(i, _input): (usize, Tally)| {
                    assert_ne!(i, failing, "{} at {i}", common::INTENTIONAL);
                    made.fetch_add(1, Ordering::SeqCst);
                    Tally(Arc::clone(&dropped))
                },
                inputs,
            )
        }));
        assert!(outcome.is_err());
        assert_eq!(inputs_dropped.load(Ordering::SeqCst), MEDIUM, "every input dropped once (failing at {failing})");
        assert_eq!(outputs_dropped.load(Ordering::SeqCst), outputs_made.load(Ordering::SeqCst), "results dropped");
    }
}

#[test]
fn map_collect_on_a_shut_down_pool_panics_instead_of_returning_unwritten_results() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown_now();
    // Every task is cancelled before it runs: no result exists. This used
    // to return 1000 uninitialised `String`s.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| pool.map_collect(|x: u64| x.to_string(), 0..1000u64)));
    let payload = outcome.unwrap_err();
    let message = common::panic_message(&*payload).unwrap_or_default();
    assert!(message.contains("shut down before every item ran"), "{message}");
}

#[cfg(target_pointer_width = "64")]
#[test]
fn results_too_big_to_hold_are_a_clear_panic() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    // 2^64 - 1 results cannot be allocated: refused before any runs (it
    // panicked with a bare "capacity overflow", and shorter ones aborted).
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| pool.map_collect(|x: u64| x as u8, 0..u64::MAX).len()));
    let payload = outcome.unwrap_err();
    let message = common::panic_message(&*payload).unwrap_or_default();
    assert!(message.contains("map_collect: no room for 18446744073709551615 results of 1 bytes each"), "{message}");
}
