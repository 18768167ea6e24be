//! `map_unordered`: every index once with its value, in completion order.

mod common;

use std::time::Duration;

use common::{durations, pause_us, quiet_intentional_panics, INTENTIONAL};
use pool::{Chunking, TaskError, ThreadPool};

#[test]
fn every_index_comes_exactly_once_with_its_value() {
    // Under Miri (about a thousand times slower, where every chunk's task
    // costs a good fraction of a second) fewer items and workers, still
    // several chunks at every fixed size but the largest.
    let pool = ThreadPool::new(if cfg!(miri) { 2 } else { 3 }).unwrap();
    let n = if cfg!(miri) { 30 } else { 300 };
    for (seed, chunking) in
        [Chunking::Fixed(1), Chunking::Fixed(7), Chunking::Fixed(500), Chunking::Auto].into_iter().enumerate()
    {
        let pauses = durations(seed as u64 + 10, n, 200);
        let inputs: Vec<i64> = (0..n as i64).map(|i| i * 5 - 700).collect();
        let mut seen = vec![0u32; n];
        for (i, result) in pool
            .map_unordered(
                move |x: i64| {
                    pause_us(pauses[((x + 700) / 5) as usize]);
                    x * x
                },
                inputs.clone(),
            )
            .chunk_size(chunking)
        {
            seen[i] += 1;
            assert_eq!(result, Ok(inputs[i] * inputs[i]), "index {i}, {chunking:?}");
        }
        assert!(seen.iter().all(|&c| c == 1), "{chunking:?}: counts {seen:?}");
    }
}

#[test]
fn a_late_input_that_finishes_first_comes_first() {
    let pool = ThreadPool::new(2).unwrap();
    let order: Vec<usize> = pool
        .map_unordered(
            |i: usize| {
                if i == 0 {
                    std::thread::sleep(Duration::from_millis(100));
                }
                i
            },
            0..8,
        )
        .chunk_size(1)
        .window(16)
        .map(|(i, r)| {
            assert_eq!(r, Ok(i));
            i
        })
        .collect();
    assert_ne!(order[0], 0, "the slow first input should not come first: {order:?}");
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..8).collect::<Vec<_>>());
}

#[test]
fn panics_are_reported_at_their_index() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let mut results: Vec<(usize, Result<u32, TaskError>)> = pool
        .map_unordered(
            |x: u32| {
                if x % 4 == 1 {
                    panic!("{INTENTIONAL} {x}");
                }
                x + 1
            },
            0..40u32,
        )
        .chunk_size(3)
        .collect();
    results.sort_by_key(|(i, _)| *i);
    assert_eq!(results.len(), 40);
    for (i, result) in results {
        let x = i as u32;
        let expected = if x % 4 == 1 { Err(Some(format!("{INTENTIONAL} {x}"))) } else { Ok(x + 1) };
        assert_eq!(common::by_message(result), expected);
    }
}

#[test]
fn dropping_an_unordered_map_early_does_not_hang() {
    let pool = ThreadPool::new(2).unwrap();
    let mut results = pool
        .map_unordered(
            |x: u64| {
                std::thread::sleep(Duration::from_micros(300));
                x
            },
            0..10_000u64,
        )
        .chunk_size(2);
    assert!(results.next().is_some());
    drop(results);
    // The pool is free again for new work.
    assert_eq!(pool.submit(|| 7).wait(), Ok(7));
}
