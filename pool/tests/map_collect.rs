//! `ThreadPool::map_collect`: indexed inputs mapped straight into a `Vec`.

mod common;

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};

use pool::ThreadPool;

#[test]
fn results_are_in_input_order_for_ranges_slices_and_vecs() {
    for workers in [1, 2, 3] {
        let pool = ThreadPool::new(workers).unwrap();
        for n in [0u64, 1, 2, 7, 100, 10_001] {
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
        0..1000usize,
    );
    assert_eq!(calls.load(Ordering::Relaxed), 1000);
    assert!(out.iter().enumerate().all(|(i, &v)| v == i + 6));
}

#[test]
fn a_panic_is_re_raised_and_the_pool_keeps_working() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let caught = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        pool.map_collect(
            |x: u32| if x == 500 { panic!("{} at 500", common::INTENTIONAL) } else { x.to_string() },
            0..1000u32,
        )
    }));
    let payload = caught.unwrap_err();
    let message = common::panic_message(&*payload).unwrap_or("<not a string>");
    // The original panic, not a wrapper around it.
    assert_eq!(message, format!("{} at 500", common::INTENTIONAL));
    assert_eq!(pool.map_collect(|x: u32| x + 1, 0..3u32), [1, 2, 3]);
}
