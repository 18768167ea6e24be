//! Adversarial input iterators and callbacks against the maps' late
//! settings and inline (direct) runs: iterators that are not fused, that
//! lie about their length, and progress callbacks that panic while the
//! consumer is computing items itself.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{panic_message, quiet_intentional_panics, within, INTENTIONAL};
use pool::{Chunking, Progress, ThreadPool};

const LIMIT: Duration = Duration::from_secs(60);

/// Yields `0..first`, then `None`, then (wrongly, but legally) more items:
/// a map must end at the first `None`, as `Iterator::fuse` would.
struct NotFused {
    next: u64,
    first: u64,
}

impl Iterator for NotFused {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let x = self.next;
        self.next += 1;
        if x == self.first {
            None
        } else {
            Some(x)
        }
    }
}

const NONE_AT: [u64; 5] = [0, 1, 5, 777, 20_000];
const LATE: [Option<Chunking>; 3] = [None, Some(Chunking::Fixed(3)), Some(Chunking::Auto)];

#[test]
fn ordered_maps_end_at_the_first_none_of_an_input_that_is_not_fused() {
    within(LIMIT, "not fused, ordered", || {
        let pool = ThreadPool::new(2).unwrap();
        for first in NONE_AT {
            for late in LATE {
                let mut map = pool.map(|x: u64| x, NotFused { next: 0, first });
                let mut got: Vec<u64> = map.by_ref().take(2).collect();
                if let Some(c) = late {
                    map = map.chunk_size(c).window(2);
                }
                got.extend(map.by_ref());
                // Asked again after the end: still the end.
                assert_eq!(map.next(), None);
                let extra = got.iter().find(|&&x| x >= first);
                assert!(
                    got == (0..first).collect::<Vec<_>>(),
                    "input ended (None) at {first}, late {late:?}: the map yielded {} items, e.g. {extra:?} from after the end",
                    got.len()
                );

                let mut try_map = pool.try_map(|x: u64| x, NotFused { next: 0, first });
                let mut n = try_map.by_ref().take(3).count() as u64;
                if let Some(c) = late {
                    try_map = try_map.chunk_size(c);
                }
                n += try_map.by_ref().inspect(|r| assert!(r.is_ok())).count() as u64;
                assert!(n == first && try_map.next().is_none(), "try_map: {n} items from {first} before the None");
            }
        }
    });
}

#[test]
fn unordered_maps_end_at_the_first_none_of_an_input_that_is_not_fused() {
    within(LIMIT, "not fused, unordered", || {
        let pool = ThreadPool::new(2).unwrap();
        for first in NONE_AT {
            for late in LATE {
                let mut unordered = pool.map_unordered(|x: u64| x, NotFused { next: 0, first });
                let mut seen: Vec<usize> = unordered.by_ref().take(3).map(|(i, _)| i).collect();
                if let Some(c) = late {
                    unordered = unordered.chunk_size(c).window(1);
                }
                seen.extend(unordered.by_ref().map(|(i, _)| i));
                seen.sort_unstable();
                assert!(
                    seen == (0..first as usize).collect::<Vec<_>>(),
                    "unordered: {} items from {first}",
                    seen.len()
                );
                assert!(unordered.next().is_none());
            }
        }
    });
}

/// Claims an exact length it does not have.
struct Liar {
    left: u64,
    claim: usize,
}

impl Iterator for Liar {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        self.left = self.left.checked_sub(1)?;
        Some(self.left)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claim, Some(self.claim))
    }
}

#[test]
fn an_input_that_lies_about_its_length_is_still_mapped_whole() {
    within(LIMIT, "lying size_hint", || {
        let pool = ThreadPool::new(2).unwrap();
        for (left, claim) in [(1000u64, 0usize), (1000, 3), (10, 1 << 40), (5000, usize::MAX)] {
            let expected: Vec<u64> = (0..left).rev().collect();
            // Pushed one by one: `collect` would reserve the claimed length
            // (the map passes the input's bounds on, as `Iterator::map` does).
            let mut map = pool.map(|x: u64| x, Liar { left, claim });
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(map.next().unwrap());
            }
            let map = map.chunk_size(Chunking::Auto).window(3);
            for x in map {
                got.push(x);
            }
            assert_eq!(got, expected, "claim {claim}");
            let mut unordered = pool.map_unordered(|x: u64| x, Liar { left, claim }).chunk_size(2);
            let first = unordered.next();
            let unordered = unordered.chunk_size(Chunking::Auto);
            let n = first.into_iter().chain(unordered).count();
            assert_eq!(n as u64, left, "claim {claim}");
        }
    });
}

/// A progress callback that panics while the consumer runs items itself:
/// the map (which re-raises panics) reports it, `done` keeps counting for
/// the callback attached next, and the pool is unharmed.
#[test]
fn a_progress_callback_panicking_during_inline_runs_is_reported_once() {
    quiet_intentional_panics();
    within(LIMIT, "panicking callback inline", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 400_000;
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        let mut map = pool.map(|x: u64| x, 0..N).on_progress(move |p: Progress| {
            if c.fetch_add(1, Ordering::SeqCst) == 2 {
                panic!("{INTENTIONAL}: callback at {}", p.done);
            }
        });
        let mut got = 0u64;
        let mut panics = 0;
        loop {
            match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(Some(_)) => got += 1,
                Ok(None) => break,
                Err(payload) => {
                    assert!(panic_message(&*payload).unwrap().contains("callback at"));
                    panics += 1;
                }
            }
        }
        assert_eq!(panics, 1, "the callback panicked once");
        // Items of a chunk whose callback panicked may be lost to that
        // panic (they are reported as the failure), never duplicated.
        assert!(got <= N, "{got} items from {N} inputs");
        assert_eq!(pool.map(|x: u64| x, 0..1000u64).sum::<u64>(), 499_500);
    });
}

/// A feedback loop: each input is made from the last result (adaptive
/// sampling, inputs read from a channel the consumer feeds). The pool's
/// documented way, `map_unordered` with `chunk_size(1).window(1)`, hands
/// out each result before it reads the next input, in input order.
#[test]
fn a_feedback_loop_gets_each_result_before_the_map_reads_the_next_input() {
    let steps = within(LIMIT, "a feedback loop", || {
        let pool = ThreadPool::new(2).unwrap();
        let (feed, inputs) = std::sync::mpsc::channel::<u64>();
        feed.send(1).unwrap();
        let mut results = pool.map_unordered(|x: u64| x * 2, inputs).chunk_size(1).window(1);
        let mut steps = Vec::new();
        for i in 0..10 {
            let (index, y) = results.next().expect("a result for every input fed");
            assert_eq!(index, i, "in input order");
            let y = y.unwrap();
            steps.push(y);
            feed.send(y).unwrap();
        }
        steps
    });
    assert_eq!(steps, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
}
