//! The ordered lazy map: order under random durations, how far ahead it
//! reads, huge inputs, panics at their item, `try_map`, dropping early.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{durations, in_child, pause_us, quiet_intentional_panics, within, Counted, PanicsAt, INTENTIONAL};
use pool::{Chunking, TaskError, ThreadPool, MAX_AUTO_CHUNK};

const CHUNKINGS: [Chunking; 5] =
    [Chunking::Fixed(1), Chunking::Fixed(3), Chunking::Fixed(16), Chunking::Fixed(1000), Chunking::Auto];

// Miri runs about a thousand times slower, and what costs most there is
// not an item but a chunk: each one is a task that a worker steals from the
// deques and polls for after (every step interpreted), about a third of a
// second under Miri, and automatic chunks stay at one item there (its
// virtual clock charges 5 µs per basic block, so every item looks slow).
// So under Miri the inputs are cut to a dozen or two items (still several
// chunks at the small fixed sizes) and the pools to at most 2 workers;
// every assertion is the same.

/// A large input, run in automatic chunks (not under Miri: see below).
const BIG: u64 = 100_000;
/// The small inputs' length (Miri interprets every item and every unwind).
const SMALL: u64 = if cfg!(miri) { 12 } else { 1000 };
/// Results taken from an endless map (its laziness is the point).
const TAKE: usize = if cfg!(miri) { 20 } else { 1000 };
/// The most workers a pool gets: with more, Miri interprets more idle
/// workers polling the deques.
const MAX_WORKERS: usize = if cfg!(miri) { 2 } else { 4 };

fn f(x: u64) -> u64 {
    x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 7
}

#[test]
fn results_come_in_input_order_under_random_durations() {
    let workers: &[usize] = if cfg!(miri) { &[1, 2] } else { &[1, 2, 4] };
    for &workers in workers {
        let pool = ThreadPool::new(workers).unwrap();
        for (seed, chunking) in CHUNKINGS.into_iter().enumerate() {
            let n = if cfg!(miri) { 12 } else { 240 };
            let pauses = durations(seed as u64 + 1, n, 200);
            let out: Vec<u64> = pool
                .map(
                    move |i: usize| {
                        pause_us(pauses[i]);
                        f(i as u64)
                    },
                    0..n,
                )
                .chunk_size(chunking)
                .collect();
            let expected: Vec<u64> = (0..n as u64).map(f).collect();
            assert_eq!(out, expected, "{workers} workers, {chunking:?}");
        }
    }
}

#[test]
fn an_empty_input_gives_an_empty_output() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(pool.map(f, Vec::new()).count(), 0);
    assert_eq!(pool.map(f, Vec::new()).chunk_size(4).count(), 0);
}

/// Consumes `map` slowly, checking after every item that no more than
/// `window` chunks plus the chunk being drained were read ahead.
fn check_read_ahead(pulled: &AtomicUsize, results: impl Iterator<Item = u64>, window: usize, chunk: usize) -> usize {
    let ahead = (window + 1) * chunk;
    assert!(
        pulled.load(Ordering::SeqCst) <= ahead,
        "read {} before any result was consumed",
        pulled.load(Ordering::SeqCst)
    );
    let mut consumed = 0;
    for (i, value) in results.enumerate() {
        assert_eq!(value, f(i as u64));
        consumed += 1;
        if i % 16 == 0 {
            // Consume slowly, giving the pool every chance to read ahead.
            thread::sleep(Duration::from_millis(1));
        }
        let read = pulled.load(Ordering::SeqCst);
        assert!(
            read <= consumed + ahead,
            "read {read} inputs with {consumed} consumed (window {window}, chunk {chunk})"
        );
    }
    consumed
}

#[test]
fn map_reads_at_most_a_window_of_chunks_ahead() {
    let pool = ThreadPool::new(MAX_WORKERS).unwrap();
    // Under Miri still more than the largest window's worth of chunks.
    let n = if cfg!(miri) { 24 } else { 400 };
    for (window, chunk) in [(1, 1), (2, 5), (3, 8), (8, 2)] {
        let (inputs, pulled) = Counted::new(0..n as u64);
        let results = pool.map(f, inputs).window(window).chunk_size(chunk);
        thread::sleep(Duration::from_millis(5));
        assert_eq!(check_read_ahead(&pulled, results, window, chunk), n);
    }
}

#[test]
fn try_map_and_unordered_read_at_most_a_window_of_chunks_ahead() {
    let pool = ThreadPool::new(MAX_WORKERS).unwrap();
    let (window, chunk) = (2, 4);
    let n = if cfg!(miri) { 40 } else { 200 };
    let (inputs, pulled) = Counted::new(0..n as u64);
    let results = pool.try_map(f, inputs).window(window).chunk_size(chunk).map(Result::unwrap);
    assert_eq!(check_read_ahead(&pulled, results, window, chunk), n);

    let (inputs, pulled) = Counted::new(0..n as u64);
    let ahead = (window + 1) * chunk;
    let mut consumed = 0;
    for (i, result) in pool.map_unordered(f, inputs).window(window).chunk_size(chunk) {
        assert_eq!(result, Ok(f(i as u64)));
        consumed += 1;
        assert!(pulled.load(Ordering::SeqCst) <= consumed + ahead);
    }
    assert_eq!(consumed, n);
}

#[test]
fn mapping_a_huge_generated_input_is_lazy() {
    let out = within(Duration::from_secs(20), "taking results of a map over 0..u64::MAX", || {
        let pool = ThreadPool::new(2).unwrap();
        let (inputs, pulled) = Counted::new(0..u64::MAX);
        let out: Vec<u64> = pool.map(|x| x * 3, inputs).window(4).take(TAKE).collect();
        (out, pulled.load(Ordering::SeqCst))
    });
    let (values, pulled) = out;
    assert_eq!(values, (0..TAKE as u64).map(|x| x * 3).collect::<Vec<_>>());
    // Automatic chunks never exceed MAX_AUTO_CHUNK, so at most the window
    // plus the chunk being drained can have been read.
    assert!(pulled <= TAKE + 5 * MAX_AUTO_CHUNK, "pulled {pulled} inputs for {TAKE} results");
}

#[test]
fn mapping_an_unbounded_input_is_lazy() {
    // `0..` has no upper bound at all (its size hint saturates), unlike
    // `0..u64::MAX`; `collect` asks for size hints while items are in flight.
    let (ordered, unordered, pulled) = within(Duration::from_secs(20), "taking results of a map over 0..", || {
        let pool = ThreadPool::new(2).unwrap();
        let (inputs, pulled) = Counted::new(0u64..);
        let ordered: Vec<u64> = pool.map(|x| x + 1, inputs).window(4).take(TAKE).collect();
        let unordered: Vec<(usize, Result<u64, TaskError>)> =
            pool.map_unordered(|x| x + 1, 0u64..).take(TAKE).collect();
        (ordered, unordered, pulled.load(Ordering::SeqCst))
    });
    assert_eq!(ordered, (1..=TAKE as u64).collect::<Vec<_>>());
    assert!(pulled <= TAKE + 5 * MAX_AUTO_CHUNK, "pulled {pulled} inputs for {TAKE} results");
    assert_eq!(unordered.len(), TAKE);
    assert!(unordered.iter().all(|(i, r)| *r == Ok(*i as u64 + 1)));
}

#[test]
fn size_hint_of_an_unbounded_map_saturates() {
    let pool = ThreadPool::new(2).unwrap();
    let mut ordered = pool.try_map(|x: u64| x, 0u64..).chunk_size(4);
    assert_eq!(ordered.next(), Some(Ok(0)));
    assert_eq!(ordered.size_hint(), (usize::MAX, None));
    let mut unordered = pool.map_unordered(|x: u64| x, 0u64..).chunk_size(4);
    assert!(unordered.next().is_some());
    assert_eq!(unordered.size_hint(), (usize::MAX, None));
}

#[test]
fn a_panic_in_f_surfaces_at_its_item() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(MAX_WORKERS.min(3)).unwrap();
    // The bad input falls inside a chunk of 3 and of 16, not at its start.
    let (n, bad) = if cfg!(miri) { (24u64, 10u64) } else { (100, 37) };
    for chunking in CHUNKINGS {
        let mut seen = Vec::new();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let results = pool
                .map(
                    move |x: u64| {
                        if x == bad {
                            panic!("{INTENTIONAL}: bad input {x}");
                        }
                        f(x)
                    },
                    0..n,
                )
                .chunk_size(chunking);
            for value in results {
                seen.push(value);
            }
        }));
        let payload = outcome.expect_err("the panic in f must reach the consumer");
        let message = common::panic_message(&*payload).expect("a string message");
        assert!(message.contains(&format!("bad input {bad}")), "{chunking:?}: {message}");
        assert_eq!(seen, (0..bad).map(f).collect::<Vec<_>>(), "{chunking:?}: the items before it");
    }
    // The pool survived.
    assert_eq!(pool.map(f, 0..10u64).count(), 10);
}

#[test]
fn try_map_errs_exactly_at_the_panicking_indices() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(MAX_WORKERS.min(3)).unwrap();
    let n = if cfg!(miri) { 24 } else { 200 };
    // Panics at the first and last inputs, and at several in between.
    let bad = move |x: u64| x % 7 == 3 || x == 0 || x == n - 1;
    for chunking in CHUNKINGS {
        let out: Vec<Result<u64, TaskError>> = pool
            .try_map(
                move |x: u64| {
                    if bad(x) {
                        panic!("{INTENTIONAL} at {x}");
                    }
                    f(x)
                },
                0..n,
            )
            .chunk_size(chunking)
            .collect();
        assert_eq!(out.len(), n as usize);
        for (x, result) in (0..n).zip(out) {
            if bad(x) {
                assert_eq!(common::by_message(result), Err(Some(format!("{INTENTIONAL} at {x}"))), "{chunking:?}");
            } else {
                assert_eq!(result, Ok(f(x)), "{chunking:?}");
            }
        }
    }
}

#[test]
fn dropping_a_map_early_cancels_the_rest_and_does_not_hang() {
    let (ran, pulled) = within(Duration::from_secs(20), "dropping a half-consumed map", || {
        let pool = ThreadPool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (inputs, pulled) = Counted::new(0..10_000u64);
        let counter = Arc::clone(&ran);
        let mut results = pool
            .map(
                move |x| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(1));
                    x
                },
                inputs,
            )
            .chunk_size(1)
            .window(4);
        assert_eq!(results.by_ref().take(3).collect::<Vec<_>>(), [0, 1, 2]);
        drop(results);
        // Anything still queued was cancelled; give the workers time to
        // (wrongly) run it before counting.
        thread::sleep(Duration::from_millis(20));
        drop(pool);
        (ran.load(Ordering::SeqCst), pulled.load(Ordering::SeqCst))
    });
    // Read ahead: the window (4) plus the chunk being drained.
    assert!(pulled <= 3 + 5, "pulled {pulled}");
    assert!(ran <= pulled, "ran {ran} of {pulled} pulled");
}

#[test]
fn a_map_dropped_before_use_reads_and_runs_nothing() {
    let pool = ThreadPool::new(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let (inputs, pulled) = Counted::new(0..100u64);
    let counter = Arc::clone(&ran);
    drop(pool.map(
        move |x| {
            counter.fetch_add(1, Ordering::SeqCst);
            x
        },
        inputs,
    ));
    drop(pool);
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn size_hint_counts_what_is_left() {
    let pool = ThreadPool::new(2).unwrap();
    let mut results = pool.map(f, 0..50u64).chunk_size(4);
    assert_eq!(results.size_hint(), (50, Some(50)));
    results.by_ref().take(10).for_each(drop);
    assert_eq!(results.size_hint(), (40, Some(40)));
    assert_eq!(results.count(), 40);
}

#[test]
#[should_panic(expected = "chunk size must be at least 1")]
fn chunk_size_zero_is_refused() {
    let pool = ThreadPool::new(1).unwrap();
    let _ = pool.map(f, 0..4u64).chunk_size(0);
}

/// The refusals of `chunk_size(0)` and `window(0)` point at the caller's
/// line, where the mistake is, not into the pool: for every map flavour.
#[test]
#[cfg_attr(miri, ignore = "runs in a child process, which Miri cannot start")]
fn a_zero_chunk_size_or_window_panics_at_the_callers_line() {
    // In a process of its own: the panic hook is the whole process's.
    in_child("a_zero_chunk_size_or_window_panics_at_the_callers_line", zero_settings_panic_at_the_callers_line);
}

fn zero_settings_panic_at_the_callers_line() {
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    let seen: Seen = Default::default();
    let hook_seen = std::sync::Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let at = info.location().map_or_else(String::new, |l| l.file().to_owned());
        hook_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(at);
    }));
    let pool = ThreadPool::new(1).unwrap();
    let attempts: [&dyn Fn(); 4] = [
        &|| drop(pool.map(f, 0..4u64).chunk_size(0)),
        &|| drop(pool.map(f, 0..4u64).window(0)),
        &|| drop(pool.try_map(f, 0..4u64).chunk_size(0)),
        &|| drop(pool.map_unordered(f, 0..4u64).window(0)),
    ];
    for attempt in attempts {
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(attempt)).is_err());
    }
    std::panic::set_hook(previous);
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(seen.iter().all(|file| file.ends_with("tests/map.rs")), "{seen:?}");
}

#[test]
#[should_panic(expected = "window must hold at least 1 chunk")]
fn window_zero_is_refused() {
    let pool = ThreadPool::new(1).unwrap();
    let _ = pool.map(f, 0..4u64).window(0);
}

#[test]
fn inputs_need_not_be_send_only_their_items() {
    // The input iterator stays on the consumer's thread: one that holds an
    // `Rc` (not `Send`) is fine as long as the items it yields are `Send`.
    let pool = ThreadPool::new(2).unwrap();
    let table = std::rc::Rc::new(vec![5u64, 6, 7, 8]);
    let inputs = (0..4).map(move |i| table[i]);
    let out: Vec<u64> = pool.map(f, inputs).chunk_size(1).collect();
    assert_eq!(out, [5u64, 6, 7, 8].map(f));
}

#[test]
fn a_finished_map_keeps_returning_none() {
    let pool = ThreadPool::new(2).unwrap();
    let mut ordered = pool.map(f, 0..3u64);
    assert_eq!(ordered.by_ref().count(), 3);
    assert_eq!(ordered.next(), None);
    assert_eq!(ordered.next(), None);
    let mut unordered = pool.map_unordered(f, 0..3u64);
    assert_eq!(unordered.by_ref().count(), 3);
    assert!(unordered.next().is_none());
}

/// How many items [`Boastful`] yields: outside Miri, more than a chunk
/// buffer's first reservation (`MAX_AUTO_CHUNK`), so that filling a huge
/// fixed-size chunk has to grow the buffer while the input claims to hold
/// far more than it does.
const BOASTFUL: u64 = if cfg!(miri) { 12 } else { 100_000 };

/// Claims far more items than it yields.
struct Boastful(u64);

impl Iterator for Boastful {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        (self.0 < BOASTFUL).then(|| {
            self.0 += 1;
            self.0
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX / 4, None)
    }
}

#[test]
fn extreme_settings_and_lying_size_hints_are_harmless() {
    let pool = ThreadPool::new(2).unwrap();
    let n = if cfg!(miri) { 12 } else { 1000 };
    assert_eq!(pool.map(|x: u32| x, 0..n).chunk_size(usize::MAX).count(), n as usize);
    assert_eq!(pool.map(|x: u32| x, 0..n).window(usize::MAX).count(), n as usize);
    let unordered = pool.map_unordered(|x: u32| x, 0..n).window(usize::MAX).chunk_size(1);
    assert_eq!(unordered.count(), n as usize);
    // A size_hint is not to be trusted: no capacity overflow, no huge reservation.
    let sum = BOASTFUL * (BOASTFUL + 1) / 2;
    assert_eq!(pool.map(|x| x, Boastful(0)).sum::<u64>(), sum);
    assert_eq!(pool.map(|x| x, Boastful(0)).chunk_size(usize::MAX).sum::<u64>(), sum);
    assert_eq!(pool.try_map(|x| x, Boastful(0)).chunk_size(1000).count(), BOASTFUL as usize);
    assert_eq!(pool.map_unordered(|x| x, Boastful(0)).count(), BOASTFUL as usize);
}

/// Drives `next` to the end, catching panics; returns the items and the
/// number of panics.
fn drain_catching<T>(mut next: impl FnMut() -> Option<T>) -> (Vec<T>, usize) {
    let (mut items, mut panics) = (Vec::new(), 0);
    loop {
        match panic::catch_unwind(AssertUnwindSafe(&mut next)) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, panics),
            Err(_) => panics += 1,
        }
    }
}

#[test]
fn a_panicking_input_iterator_raises_once_and_loses_no_item() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    // Small inputs in fixed chunks; a big one in automatic chunks, which
    // grow until the panic falls inside a large one. Not the big one under
    // Miri: its virtual clock charges 5 µs per basic block, so automatic
    // chunks never grow past one item there, and the big input would be
    // tens of thousands of one-item tasks. A panic while a large chunk's
    // inputs are being taken is still checked there, by the chunks of 16
    // and 1000 of the small input.
    let cases: &[(u64, u64)] = if cfg!(miri) {
        &[(SMALL, SMALL / 2), (SMALL, 1)]
    } else {
        &[(SMALL, SMALL / 2), (SMALL, 1), (BIG, BIG - BIG / 10)]
    };
    for &(n, at) in cases {
        let expected: Vec<u64> = (1..n).filter(|&x| x != at).collect();
        let chunkings: &[Chunking] = if n > SMALL { &[Chunking::Auto] } else { &CHUNKINGS };
        for &chunking in chunkings {
            let mut map = pool.map(|x| x, PanicsAt { next: 0, n, at }).chunk_size(chunking);
            assert_eq!(drain_catching(|| map.next()), (expected.clone(), 1), "map, {chunking:?}, n {n}");
            let mut map = pool.try_map(|x| x, PanicsAt { next: 0, n, at }).chunk_size(chunking);
            let (items, panics) = drain_catching(|| map.next());
            assert_eq!((items.into_iter().map(Result::unwrap).collect::<Vec<_>>(), panics), (expected.clone(), 1));
            let mut map = pool.map_unordered(|x| x, PanicsAt { next: 0, n, at }).chunk_size(chunking);
            let (items, panics) = drain_catching(|| map.next());
            let mut items: Vec<u64> = items.into_iter().map(|(_, r)| r.unwrap()).collect();
            items.sort_unstable();
            assert_eq!((items, panics), (expected.clone(), 1), "unordered, {chunking:?}");
        }
    }
}

/// A map that keeps every worker busy for as long as it runs must still
/// take turns with other work queued on its pool: a task submitted
/// meanwhile, and a second map, finish while the first map goes on. With
/// a start handler the consumer never runs `f` itself, so the worker is
/// the only place either map's chunks can run.
#[test]
fn a_busy_endless_map_takes_turns_with_other_work() {
    let pool = Arc::new(ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pulled = Arc::new(AtomicUsize::new(0));
    let endless = {
        let (pool, stop, pulled) = (Arc::clone(&pool), Arc::clone(&stop), Arc::clone(&pulled));
        thread::spawn(move || {
            let slow = |x: u64| {
                pause_us(if cfg!(miri) { 1 } else { 200 });
                x
            };
            for _ in pool.map(slow, 0u64..).chunk_size(1).window(64) {
                pulled.fetch_add(1, Ordering::SeqCst);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        })
    };
    while pulled.load(Ordering::SeqCst) < 3 {
        thread::yield_now();
    }
    let other = Arc::clone(&pool);
    let (submitted, mapped) = within(Duration::from_secs(20), "other work beside a busy endless map", move || {
        let submitted = other.submit(|| 42).wait();
        let mapped: Vec<u64> = other.map(|x: u64| x + 1, 0..10u64).collect();
        (submitted, mapped)
    });
    stop.store(true, Ordering::SeqCst);
    endless.join().unwrap();
    assert_eq!(submitted, Ok(42));
    assert_eq!(mapped, (1..=10).collect::<Vec<u64>>());
}

/// A chunk whose `f` waits for a task helps with queued work meanwhile,
/// which may be its own map's chunks; it must get back to its wait once
/// that task is done, not go on running chunks of an endless map whose
/// lane never empties (item 0 would then never come out).
#[test]
#[cfg_attr(miri, ignore)]
fn a_chunk_waiting_inside_its_map_gets_back_to_its_wait() {
    let pool = Arc::new(ThreadPool::new(2).unwrap());
    let slow = pool.submit(|| pause_us(100_001));
    thread::sleep(Duration::from_millis(10));
    let slot = Arc::new(std::sync::Mutex::new(Some(slow)));
    let mapped = Arc::clone(&pool);
    within(Duration::from_secs(20), "item 0, whose f waits for a task", move || {
        let f = move |x: u64| {
            if x == 0 {
                let slow = slot.lock().unwrap().take().unwrap();
                slow.wait().unwrap();
            } else {
                pause_us(301);
            }
            x
        };
        mapped.map_unordered(f, 0u64..).chunk_size(1).window(64).find(|(i, _)| *i == 0).map(|(i, _)| i)
    });
}
