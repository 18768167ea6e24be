//! Property tests: for arbitrary inputs, chunk sizes and windows, every map
//! flavour agrees with the sequential map.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use common::{quiet_intentional_panics, INTENTIONAL};
use pool::ThreadPool;
use proptest::prelude::*;

/// One pool for all cases: building a pool per case would test thread
/// start-up more than the maps.
fn pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::new(3).unwrap())
}

fn f(x: i32) -> i64 {
    i64::from(x) * 3 - 7
}

/// Panics on multiples of 5, so `try_map` has failures to place.
fn partial_f(x: i32) -> i64 {
    if x % 5 == 0 {
        panic!("{INTENTIONAL} {x}");
    }
    f(x)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn map_equals_the_sequential_map(xs in prop::collection::vec(any::<i32>(), 0..300), chunk in 1usize..50, window in 1usize..8) {
        let got: Vec<i64> = pool().map(f, xs.clone()).chunk_size(chunk).window(window).collect();
        prop_assert_eq!(got, xs.iter().copied().map(f).collect::<Vec<_>>());
    }

    #[test]
    fn try_map_equals_the_sequential_map(xs in prop::collection::vec(-1000i32..1000, 0..300), chunk in 1usize..50, window in 1usize..8) {
        quiet_intentional_panics();
        let got: Vec<Result<i64, Option<String>>> = pool().try_map(partial_f, xs.clone()).chunk_size(chunk).window(window).map(common::by_message).collect();
        let expected: Vec<Result<i64, Option<String>>> = xs
            .iter()
            .map(|&x| panic::catch_unwind(AssertUnwindSafe(|| partial_f(x))).map_err(|_| Some(format!("{INTENTIONAL} {x}"))))
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn unordered_equals_the_sequential_map(xs in prop::collection::vec(any::<i32>(), 0..300), chunk in 1usize..50, window in 1usize..8) {
        let mut got: Vec<(usize, i64)> = pool()
            .map_unordered(f, xs.clone())
            .chunk_size(chunk)
            .window(window)
            .map(|(i, r)| (i, r.unwrap()))
            .collect();
        got.sort_unstable();
        prop_assert_eq!(got, xs.iter().copied().map(f).enumerate().collect::<Vec<_>>());
    }

    #[test]
    fn auto_chunked_map_equals_the_sequential_map(xs in prop::collection::vec(any::<i32>(), 0..2000), window in 1usize..8) {
        let got: Vec<i64> = pool().map(f, xs.clone()).window(window).collect();
        prop_assert_eq!(got, xs.iter().copied().map(f).collect::<Vec<_>>());
    }
}
