//! Second outside-user attack (issue 9): the machinery added by the fixes
//! of the first one — direct runs in legs, inline chunks, the process-wide
//! watchdog, `shutdown_now` stopping an inline map, `start_handler` pools —
//! attacked through the public API only.
//!
//! Whether a map goes inline is decided by timing, which a busy machine
//! (2 cores, debug build, other jobs) can disturb. So the tests assert what
//! must hold in every placement (every item exactly once, in order;
//! progress monotone and complete; no hang), and assert the placement only
//! with generous bounds.

mod common;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{panic_message, within, INTENTIONAL};
use pool::{Progress, TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(30);

thread_local! {
    /// Set on the thread that consumes the map under test.
    static CONSUMER: Cell<bool> = const { Cell::new(false) };
}

fn mark_consumer() {
    CONSUMER.with(|c| c.set(true));
}

fn on_consumer() -> bool {
    CONSUMER.with(Cell::get)
}

/// A progress log that checks, as it goes, that `done` only grows.
#[derive(Clone, Default)]
struct Log {
    last: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    shrank: Arc<AtomicBool>,
}

impl Log {
    fn callback(&self) -> impl Fn(Progress) + Send + Sync + 'static {
        let log = self.clone();
        move |p: Progress| {
            let previous = log.last.swap(p.done, Ordering::SeqCst);
            if p.done < previous {
                log.shrank.store(true, Ordering::SeqCst);
            }
            if let Some(total) = p.total {
                assert!(p.done <= total, "done {} above total {total}", p.done);
            }
            log.calls.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn check(&self, n: usize) {
        assert!(!self.shrank.load(Ordering::SeqCst), "progress went backwards");
        assert_eq!(self.last.load(Ordering::SeqCst), n, "progress did not end at the number of items");
    }
}

/// Keeps the output readable: panics raised on purpose, and the cancelled
/// panic a `Map` raises after `shutdown_now`, are not printed.
fn quiet_intentional_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    common::quiet_intentional_panics();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if panic_message(info.payload()) != Some("task was cancelled before it ran") {
                previous(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------
// A consumer that pauses between `next()` calls.
// ---------------------------------------------------------------------------

/// The consumer sleeps 5 ms every 20 000 items: the watchdog sees no leg
/// finish and flags the map, so runs end early and the timing samples
/// include the pauses. Every item must still come exactly once, in order;
/// progress must only grow and end at n; and once the pauses stop, the
/// cheap items must come back to the consumer instead of staying on the
/// workers for good.
#[test]
fn a_pausing_consumer_gets_every_item_once_and_cheap_items_come_back_inline() {
    within(LIMIT, "pausing consumer", || {
        mark_consumer();
        let pool = ThreadPool::new(2).unwrap();
        const PAUSED: u64 = 200_000;
        const TAIL: u64 = 400_000;
        const N: u64 = PAUSED + TAIL;
        let inline_in_tail = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&inline_in_tail);
        let log = Log::default();
        let f = move |x: u64| {
            if x >= PAUSED + TAIL / 2 && on_consumer() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            x.wrapping_mul(3)
        };
        let mut map = pool.map(f, 0..N).on_progress(log.callback());
        for x in 0..N {
            if x < PAUSED && x % 20_000 == 19_999 {
                thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(map.next(), Some(x.wrapping_mul(3)), "item {x}");
        }
        assert_eq!(map.next(), None);
        drop(map);
        log.check(N as usize);
        let inline = inline_in_tail.load(Ordering::Relaxed);
        // Cheap (a multiply) and unpaused for the last 200 000 items: they
        // should be mostly inline. Only "some" is asserted (a busy machine
        // can keep a map on the workers for a while), but none at all means
        // the pauses sent the map to the workers for good.
        eprintln!("inline in the unpaused second half of the tail: {inline} of {}", TAIL / 2);
        assert!(inline > 0, "after the consumer stopped pausing, no cheap item ran inline again");
    });
}

/// The same pauses with `try_map` (inline chunks) and through `fold`.
#[test]
fn a_pausing_consumer_try_map_and_fold() {
    within(LIMIT, "pausing consumer (try_map, fold)", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 200_000;
        let log = Log::default();
        let mut next = 0u64;
        for result in pool.try_map(|x: u64| x + 1, 0..N).on_progress(log.callback()) {
            if next % 25_000 == 24_999 {
                thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(result, Ok(next + 1), "item {next}");
            next += 1;
        }
        assert_eq!(next, N);
        log.check(N as usize);

        // `fold`: the accumulator pauses, inside the input's own loop.
        let log = Log::default();
        let (count, sum) =
            pool.map(|x: u64| x * 2, 0..N).on_progress(log.callback()).fold((0u64, 0u64), |(c, s), y| {
                if c % 25_000 == 24_999 {
                    thread::sleep(Duration::from_millis(5));
                }
                assert_eq!(y, 2 * c, "fold out of order at {c}");
                (c + 1, s + y)
            });
        assert_eq!((count, sum), (N, N * (N - 1)));
        log.check(N as usize);
    });
}

// ---------------------------------------------------------------------------
// Many maps inline at once: one watchdog thread serves them all.
// ---------------------------------------------------------------------------

/// Six consumer threads, one shared 2-worker pool, each map cheap for its
/// first items then slow (200 µs sleeps) for 150 items. The single watchdog
/// must move every map's slow items back to the workers promptly: each map
/// computes only a few of its slow items on its consumer.
#[test]
fn many_maps_inline_at_once_all_move_slow_items_back() {
    within(LIMIT, "many inline maps turning slow", || {
        let pool = ThreadPool::new(2).unwrap();
        const CHEAP: u64 = 100_000;
        const SLOW: u64 = 150;
        let consumers: Vec<_> = (0..6)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    mark_consumer();
                    let slow_here = Arc::new(AtomicUsize::new(0));
                    let cheap_late_inline = Arc::new(AtomicBool::new(false));
                    let (s, c) = (Arc::clone(&slow_here), Arc::clone(&cheap_late_inline));
                    let f = move |x: u64| {
                        if x < CHEAP {
                            if x > CHEAP - 1000 && on_consumer() {
                                c.store(true, Ordering::Relaxed);
                            }
                        } else {
                            if on_consumer() {
                                s.fetch_add(1, Ordering::Relaxed);
                            }
                            thread::sleep(Duration::from_micros(200));
                        }
                        x
                    };
                    let mut expected = 0u64;
                    for y in pool.map(f, 0..CHEAP + SLOW) {
                        assert_eq!(y, expected);
                        expected += 1;
                    }
                    assert_eq!(expected, CHEAP + SLOW);
                    (slow_here.load(Ordering::Relaxed), cheap_late_inline.load(Ordering::Relaxed))
                })
            })
            .collect();
        let results: Vec<(usize, bool)> = consumers.into_iter().map(|t| t.join().unwrap()).collect();
        eprintln!("(slow items on the consumer, inline at the end of the cheap part) per map: {results:?}");
        // The watchdog flags within ~2 ms, the flag is read every 16 items:
        // a few dozen at most. Half the slow items means the map was not
        // moved back at all. About one map in 30 is not, today, when its
        // slow items were in a chunk taken back from the workers (see
        // `slow_items_in_taken_back_inputs_stay_on_the_consumer`): so this
        // asserts that most maps were moved back, by the one watchdog.
        let stuck = results.iter().filter(|(slow, _)| *slow >= SLOW as usize / 2).count();
        assert!(stuck <= 2, "{stuck} of 6 maps ran half their slow items on their consumer: {results:?}");
    });
}

/// Many cheap maps inline at once, with consumers preempted all the time
/// (8 consumers on a 2-core machine): the watchdog's flags are false alarms
/// there. Every map must still be right, and a false alarm must not send a
/// cheap map to the workers for good: some items of each map's last part
/// still run on its consumer.
#[test]
fn false_alarms_do_not_send_cheap_maps_to_the_workers_for_good() {
    within(LIMIT, "false alarms", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 300_000;
        let consumers: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    mark_consumer();
                    let late_inline = Arc::new(AtomicUsize::new(0));
                    let l = Arc::clone(&late_inline);
                    let f = move |x: u64| {
                        if x >= N - N / 4 && on_consumer() {
                            l.fetch_add(1, Ordering::Relaxed);
                        }
                        x ^ 0x55
                    };
                    let sum: u64 = pool.map(f, 0..N).sum();
                    assert_eq!(sum, (0..N).map(|x| x ^ 0x55).sum::<u64>());
                    for (expected, y) in pool.map(|x: u64| x, 0..N / 4).enumerate() {
                        assert_eq!(y, expected as u64);
                    }
                    late_inline.load(Ordering::Relaxed)
                })
            })
            .collect();
        let inline: Vec<usize> = consumers.into_iter().map(|t| t.join().unwrap()).collect();
        eprintln!("inline items in the last quarter per map: {inline:?}");
        assert!(inline.iter().any(|&n| n > 0), "no map had any cheap item inline in its last quarter: {inline:?}");
    });
}

// ---------------------------------------------------------------------------
// Cheap and slow items in bursts, and a slow progress callback.
// ---------------------------------------------------------------------------

/// Bursts of 5 000 cheap items and 20 slow ones (100 µs), alternating: the
/// map flips between inline and the workers many times. Every item must
/// come once, in order, progress must be exact, and the slow items must
/// mostly go to the workers.
#[test]
fn items_alternating_cheap_and_slow_in_bursts() {
    within(LIMIT, "bursts", || {
        mark_consumer();
        let pool = ThreadPool::new(2).unwrap();
        const BURST: u64 = 5_020;
        const N: u64 = 10 * BURST;
        let slow_inline = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&slow_inline);
        let f = move |x: u64| {
            if x % BURST >= BURST - 20 {
                if on_consumer() {
                    s.fetch_add(1, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_micros(100));
            }
            x * 7
        };
        for round in 0..2 {
            slow_inline.store(0, Ordering::Relaxed);
            let log = Log::default();
            let map = pool.map(f.clone(), 0..N).on_progress(log.callback());
            if round == 0 {
                let got: Vec<u64> = map.collect();
                assert_eq!(got, (0..N).map(|x| x * 7).collect::<Vec<_>>());
            } else {
                let mut expected = 0;
                map.for_each(|y| {
                    assert_eq!(y, expected * 7);
                    expected += 1;
                });
                assert_eq!(expected, N);
            }
            log.check(N as usize);
            let slow = slow_inline.load(Ordering::Relaxed);
            eprintln!("round {round}: {slow} of 200 slow items on the consumer");
        }
        // `try_map` too.
        let got: Vec<_> = pool.try_map(f, 0..N).collect();
        assert_eq!(got, (0..N).map(|x| Ok(x * 7)).collect::<Vec<_>>());
    });
}

/// A progress callback that sleeps 2 ms runs on the consumer during inline
/// legs, longer than the watchdog's period: no lost or repeated count, no
/// endless flip-flop (the map ends in reasonable time), every item once.
#[test]
fn a_progress_callback_that_sleeps_during_inline_legs() {
    within(LIMIT, "sleeping progress callback", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 300_000;
        let log = Log::default();
        let inner = log.callback();
        let slow_callback = move |p: Progress| {
            thread::sleep(Duration::from_millis(2));
            inner(p);
        };
        let started = Instant::now();
        let mut expected = 0;
        for y in pool.map(|x: u64| x + 5, 0..N).on_progress(slow_callback) {
            assert_eq!(y, expected + 5);
            expected += 1;
        }
        let took = started.elapsed();
        assert_eq!(expected, N);
        log.check(N as usize);
        let calls = log.calls.load(Ordering::SeqCst);
        eprintln!("{calls} progress calls in {took:?}");
        // Each call costs 2 ms on someone's thread: a report per leg
        // (~10 µs of items) would be thousands of calls and seconds.
        assert!(took < Duration::from_secs(10), "the map took {took:?} with {calls} progress calls");
    });
}

// ---------------------------------------------------------------------------
// Panics in the middle of a leg.
// ---------------------------------------------------------------------------

/// `f` panics at every 3 000th item, in the middle of legs; the consumer
/// catches the panic at that item and keeps iterating. `Map` must re-raise
/// at exactly those items, yield every other item once in order, and
/// progress must still end at n.
#[test]
fn panics_mid_leg_then_iterating_on() {
    quiet_intentional_panics();
    within(LIMIT, "panics mid-leg", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 60_000;
        let f = |x: u64| {
            if x % 3_000 == 1_500 {
                panic::panic_any(format!("{INTENTIONAL} {x}"));
            }
            x
        };
        let log = Log::default();
        let mut map = pool.map(f, 0..N).on_progress(log.callback());
        for x in 0..N {
            match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(got) => {
                    assert_ne!(x % 3_000, 1_500, "item {x} should have panicked");
                    assert_eq!(got, Some(x));
                }
                Err(payload) => {
                    assert_eq!(x % 3_000, 1_500, "unexpected panic at item {x}");
                    assert_eq!(panic_message(&*payload), Some(format!("{INTENTIONAL} {x}").as_str()));
                }
            }
        }
        assert_eq!(map.next(), None);
        drop(map);
        log.check(N as usize);

        let log = Log::default();
        let got: Vec<_> = pool.try_map(f, 0..N).on_progress(log.callback()).collect();
        assert_eq!(got.len(), N as usize);
        for (x, result) in got.into_iter().enumerate() {
            let x = x as u64;
            match result {
                Ok(y) => assert_eq!(y, x),
                Err(e) => {
                    assert_eq!(x % 3_000, 1_500, "unexpected error at item {x}");
                    assert_eq!(e.panic_message(), Some(format!("{INTENTIONAL} {x}").as_str()));
                }
            }
        }
        log.check(N as usize);
    });
}

// ---------------------------------------------------------------------------
// Nested maps on the same pool.
// ---------------------------------------------------------------------------

/// `f` itself maps on the same pool, mostly cheaply: every 500th item runs
/// a nested map (which, itself cheap, may go inline on whatever thread runs
/// the outer item, possibly the outer consumer mid-leg). With 1 and 2
/// workers, no deadlock and right results.
#[test]
fn nested_maps_inline_inside_inline() {
    within(LIMIT, "nested inline maps", || {
        for workers in [1, 2] {
            let pool = ThreadPool::new(workers).unwrap();
            let inner_pool = pool.clone();
            let f = move |x: u64| {
                if x.is_multiple_of(500) {
                    let inner: u64 = inner_pool.map(move |y: u64| y + x, 0..2_000u64).sum();
                    let again: u64 = inner_pool.try_map(|y: u64| y, 0..300u64).map(Result::unwrap).sum();
                    inner + again
                } else {
                    x
                }
            };
            let expected =
                |x: u64| if x.is_multiple_of(500) { (0..2_000).map(|y| y + x).sum::<u64>() + 299 * 300 / 2 } else { x };
            const N: u64 = 50_000;
            let mut next = 0;
            for y in pool.map(f.clone(), 0..N) {
                assert_eq!(y, expected(next), "item {next} with {workers} workers");
                next += 1;
            }
            assert_eq!(next, N);
            let sum: u64 = pool.map(f, 0..N).sum();
            assert_eq!(sum, (0..N).map(expected).sum::<u64>(), "{workers} workers");
        }
    });
}

// ---------------------------------------------------------------------------
// shutdown_now while inline.
// ---------------------------------------------------------------------------

/// Another thread calls `shutdown_now` while the consumer computes cheap
/// items inline. The map must end (no hang), with the cancelled panic
/// (`Map`) / `Cancelled` (`TryMap`), and compute only a bounded number of
/// items after `shutdown_now` returned (the current leg or inline chunk,
/// not the rest of a 10^12-item input).
#[test]
fn shutdown_now_from_another_thread_while_inline() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now from another thread", || {
        for try_map in [false, true] {
            let pool = ThreadPool::new(2).unwrap();
            let shut = Arc::new(AtomicBool::new(false));
            let after = Arc::new(AtomicUsize::new(0));
            let (s, a) = (Arc::clone(&shut), Arc::clone(&after));
            let f = move |x: u64| {
                if s.load(Ordering::Relaxed) {
                    a.fetch_add(1, Ordering::Relaxed);
                }
                x
            };
            let stopper = {
                let pool = pool.clone();
                let shut = Arc::clone(&shut);
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(30));
                    pool.shutdown_now();
                    shut.store(true, Ordering::SeqCst);
                })
            };
            const N: u64 = 1 << 40;
            let mut yielded = 0u64;
            if try_map {
                let mut cancelled = false;
                for result in pool.try_map(f, 0..N) {
                    match result {
                        Ok(y) => assert_eq!(y, yielded),
                        Err(e) => {
                            assert_eq!(e, TaskError::Cancelled);
                            cancelled = true;
                            break;
                        }
                    }
                    yielded += 1;
                }
                assert!(cancelled, "try_map ended without Cancelled");
            } else {
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                    for y in pool.map(f, 0..N) {
                        assert_eq!(y, yielded);
                        yielded += 1;
                    }
                }));
                let payload = outcome.expect_err("map ended without the cancelled panic");
                let message = panic_message(&*payload).unwrap_or("<not a string>");
                assert!(message.contains("cancelled"), "unexpected panic: {message}");
            }
            stopper.join().unwrap();
            let after = after.load(Ordering::Relaxed);
            eprintln!("try_map={try_map}: {yielded} items yielded, {after} computed after shutdown_now returned");
            // A leg is at most 4096 items, an inline chunk at most ~12k of
            // these; 100k is generous and far below "the rest of the input".
            assert!(after < 100_000, "{after} items computed after shutdown_now returned (try_map={try_map})");
        }
    });
}

/// `f`, running inline on the consumer, calls `shutdown_now` itself.
#[test]
fn shutdown_now_from_inside_f_on_the_consumer() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now from f", || {
        let pool = ThreadPool::new(2).unwrap();
        let handle = pool.clone();
        let f = move |x: u64| {
            if x == 200_000 {
                handle.shutdown_now();
            }
            x
        };
        let mut seen = 0u64;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            for y in pool.map(f, 0..10_000_000u64) {
                assert_eq!(y, seen);
                seen += 1;
            }
        }));
        assert!(outcome.is_err(), "the map ran on to the end after shutdown_now");
        assert!(seen > 200_000 - 1 && seen < 400_000, "{seen} items yielded");
        // The pool is shut: new work is cancelled, and nothing hangs.
        assert_eq!(pool.submit(|| 1).wait(), Err(TaskError::Cancelled));
    });
}

// ---------------------------------------------------------------------------
// start_handler pools, huge inputs, dropped pools, maps changing threads.
// ---------------------------------------------------------------------------

/// A pool built with `start_handler` must never run `f` on the consumer,
/// whichever way the map is consumed, also for cheap items and nested maps.
#[test]
fn with_a_start_handler_f_never_runs_on_the_consumer() {
    within(LIMIT, "start_handler", || {
        mark_consumer();
        let pool = ThreadPool::builder().num_workers(2).start_handler(|_| mark_consumer_is_worker()).build().unwrap();
        let on_consumer_count = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&on_consumer_count);
        let f = move |x: u64| {
            if on_consumer() || !is_worker() {
                c.fetch_add(1, Ordering::Relaxed);
            }
            x
        };
        const N: u64 = 300_000;
        assert_eq!(pool.map(f.clone(), 0..N).sum::<u64>(), N * (N - 1) / 2);
        assert_eq!(pool.map(f.clone(), 0..N).count(), N as usize);
        for (expected, y) in pool.map(f.clone(), 0..N).enumerate() {
            assert_eq!(y, expected as u64);
        }
        assert!(pool.try_map(f.clone(), 0..N).enumerate().all(|(i, r)| r == Ok(i as u64)));
        assert_eq!(pool.map_collect(f.clone(), 0..N).len(), N as usize);
        let inner = pool.clone();
        let g = f.clone();
        let nested: u64 =
            pool.map(move |x: u64| if x.is_multiple_of(1000) { inner.map(g.clone(), 0..100).sum() } else { x }, 0..N / 10).sum();
        assert!(nested > 0);
        let scoped: u64 = pool.scope(|s| s.map(f.clone(), 0..N).sum());
        assert_eq!(scoped, N * (N - 1) / 2);
        assert_eq!(on_consumer_count.load(Ordering::Relaxed), 0, "f ran off the workers of a start_handler pool");
    });
}

thread_local! {
    static WORKER: Cell<bool> = const { Cell::new(false) };
}

fn mark_consumer_is_worker() {
    WORKER.with(|w| w.set(true));
}

fn is_worker() -> bool {
    WORKER.with(Cell::get)
}

/// A 2^62-item input, `take(n)`, then the map dropped mid-run, many times:
/// each ends promptly, reads only a bounded number of inputs past n, and
/// reports `done` between n and the inputs read.
#[test]
fn huge_inputs_take_then_drop() {
    within(LIMIT, "huge take", || {
        let pool = ThreadPool::new(2).unwrap();
        for n in [1usize, 17, 1000, 65_537, 1_000_000] {
            let (input, pulled) = common::Counted::new(0..1u64 << 62);
            let log = Log::default();
            let got: Vec<u64> = pool.map(|x: u64| x + 1, input).on_progress(log.callback()).take(n).collect();
            assert_eq!(got.len(), n);
            assert!(got.iter().enumerate().all(|(i, &y)| y == i as u64 + 1));
            let pulled = pulled.load(Ordering::SeqCst);
            let done = log.last.load(Ordering::SeqCst);
            assert!(!log.shrank.load(Ordering::SeqCst));
            assert!(done >= n && done <= pulled, "n {n}: done {done}, pulled {pulled}");
            // The window (8 chunks) of at most 64Ki items, or a direct
            // run's leg: far below 2^62.
            assert!(pulled < n + 1_000_000, "n {n}: pulled {pulled}");
        }
        // And through `fold` with a short-circuit-free consumer: `zip`.
        let zipped = pool.map(|x: u64| x * 2, 0..1u64 << 62).zip(0..123_457u64).filter(|(a, b)| *a == 2 * b).count();
        assert_eq!(zipped, 123_457);
    });
}

/// The map holds the pool's last handle while running inline, and is then
/// dropped — on the consumer, on another thread, and on a worker of the
/// very pool it holds the last handle of.
#[test]
fn maps_holding_the_last_pool_handle() {
    within(LIMIT, "last pool handle", || {
        // Dropped on the consumer mid-run.
        let mut map = ThreadPool::new(2).unwrap().map(|x: u64| x, 0..u64::MAX);
        for x in 0..300_000 {
            assert_eq!(map.next(), Some(x));
        }
        drop(map);

        // Moved to another thread mid-run, continued there, dropped there.
        let mut map = ThreadPool::new(2).unwrap().map(|x: u64| x * 3, 0..u64::MAX);
        for x in 0..100_000 {
            assert_eq!(map.next(), Some(x * 3));
        }
        let done = thread::spawn(move || {
            for x in 100_000..400_000 {
                assert_eq!(map.next(), Some(x * 3));
            }
            drop(map);
            true
        });
        assert!(done.join().unwrap());

        // Moved into a task of its own pool, and the caller's handle
        // dropped: the task holds the last handle, and drops it on a worker.
        let pool = ThreadPool::new(2).unwrap();
        let mut map = pool.map(|x: u64| x + 1, 0..u64::MAX);
        for x in 0..100_000 {
            assert_eq!(map.next(), Some(x + 1));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let task = pool.submit(move || {
            let mut ok = true;
            for x in 100_000..300_000 {
                ok &= map.next() == Some(x + 1);
            }
            drop(map);
            tx.send(ok).unwrap();
        });
        drop(task);
        drop(pool);
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(true));
    });
}

/// Dropping a map from inside its own `f`'s side effects is impossible,
/// but another thread can own the map's input: an input iterator whose
/// `next` blocks on another thread mid-leg must not make the watchdog
/// lose or repeat items (the leg just overruns, and the map goes on).
#[test]
fn an_input_that_blocks_mid_leg() {
    within(LIMIT, "blocking input", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: u64 = 200_000;
        let input = (0..N).inspect(|x| {
            if x % 40_000 == 39_999 {
                thread::sleep(Duration::from_millis(5));
            }
        });
        let log = Log::default();
        let got: Vec<u64> = pool.map(|x: u64| x, input).on_progress(log.callback()).collect();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        log.check(N as usize);
        let sum: u64 = pool
            .map(
                |x: u64| x,
                (0..N).inspect(|x| {
                    if x % 40_000 == 39_999 {
                        thread::sleep(Duration::from_millis(5))
                    }
                }),
            )
            .sum();
        assert_eq!(sum, N * (N - 1) / 2);
    });
}

/// `fold` (here `sum`) while another thread calls `shutdown_now`: the
/// input's own loop must stop too, with the cancelled panic.
#[test]
fn shutdown_now_stops_fold_too() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now vs fold", || {
        let pool = ThreadPool::new(2).unwrap();
        let stopper = {
            let pool = pool.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(30));
                pool.shutdown_now();
            })
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| pool.map(|x: u64| x & 1, 0..1u64 << 40).sum::<u64>()));
        stopper.join().unwrap();
        let payload = outcome.expect_err("the fold ran to the end of 2^40 items after shutdown_now");
        let message = panic_message(&*payload).unwrap_or("<not a string>");
        assert!(message.contains("cancelled"), "unexpected panic: {message}");
    });
}

/// `len()` of a map over an exact-size input stays exact item by item,
/// across direct runs, legs cut by the watchdog (pauses, slow bursts),
/// chunks on the workers and panics caught mid-leg.
#[test]
fn len_stays_exact_across_legs_and_placements() {
    quiet_intentional_panics();
    within(LIMIT, "exact len", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: usize = 120_000;
        let f = |x: usize| {
            if x % 30_000 < 10 {
                thread::sleep(Duration::from_micros(100));
            }
            if x % 20_000 == 777 {
                panic!("{INTENTIONAL} {x}");
            }
            x
        };
        let mut map = pool.map(f, 0..N);
        let mut tried = pool.try_map(f, (0..N).collect::<Vec<_>>());
        for x in 0..N {
            assert_eq!(map.len(), N - x, "Map before item {x}");
            assert_eq!(tried.len(), N - x, "TryMap before item {x}");
            if x % 40_000 == 39_999 {
                thread::sleep(Duration::from_millis(3));
            }
            let got = panic::catch_unwind(AssertUnwindSafe(|| map.next()));
            assert_eq!(got.is_err(), x % 20_000 == 777, "Map item {x}");
            if let Ok(got) = got {
                assert_eq!(got, Some(x));
            }
            let got = tried.next().expect("TryMap ended early");
            assert_eq!(got.is_err(), x % 20_000 == 777, "TryMap item {x}");
        }
        assert_eq!((map.len(), tried.len()), (0, 0));
        assert!(map.next().is_none() && tried.next().is_none());
    });
}

// ---------------------------------------------------------------------------
// Defects this attack found, fixed since; kept as regression tests.
// ---------------------------------------------------------------------------

/// Inputs taken back from the workers (a late `window`, or a switch to
/// inline with chunks still queued) are run by the consumer in inline
/// chunks that the watchdog cannot stop (`Feeder::run_inline` sets
/// `may_stop` only for inputs still in the iterator). If items turn slow
/// there, the whole chunk — up to ~12k items — runs on the consumer while
/// the workers idle. Here all 100 slow (300 µs) items run on the consumer
/// for some offsets; the watchdog should leave a few dozen at most.
#[test]
fn slow_items_in_taken_back_inputs_stay_on_the_consumer() {
    within(LIMIT, "slow taken-back inputs", || {
        mark_consumer();
        let pool = ThreadPool::new(2).unwrap();
        let mut worst = Vec::new();
        for k in (2..9u64).cycle().take(21) {
            const X: u64 = 200_000;
            let first_slow = X + k * 12_288 + 5_000;
            let slow_inline = Arc::new(AtomicUsize::new(0));
            let s = Arc::clone(&slow_inline);
            let f = move |x: u64| {
                if (first_slow..first_slow + 100).contains(&x) {
                    if on_consumer() {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_micros(300));
                }
                x
            };
            let mut map = pool.map(f, 0..400_000u64);
            for x in 0..X {
                assert_eq!(map.next(), Some(x));
            }
            // Takes back what no worker started; the map then re-measures
            // the workers, finds the items cheap and goes inline again,
            // taking back the chunks queued meanwhile.
            let map = map.window(8);
            assert_eq!(map.count(), 200_000);
            worst.push(slow_inline.load(Ordering::Relaxed));
        }
        eprintln!("slow items on the consumer per offset: {worst:?}");
        assert!(worst.iter().all(|&n| n < 50), "slow items ran on the consumer: {worst:?} (of 100 each)");
    });
}

/// The watchdog promises slow items cost "about a period" (1 ms) on the
/// consumer, but its flag is read only every 16 items: items that turn
/// 1 ms slow cost up to ~16 ms on the consumer per burst (measured: 8-13
/// of every 30 such items in bursts, for `Map::next`, `fold` and
/// `TryMap`), while the workers idle. Expected: ~2-3 per burst.
#[test]
fn slow_items_cost_about_a_period_on_the_consumer() {
    within(LIMIT, "slow item granularity", || {
        mark_consumer();
        let pool = ThreadPool::new(2).unwrap();
        const BURST: u64 = 30_030;
        let slow_inline = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&slow_inline);
        let f = move |x: u64| {
            if x % BURST >= BURST - 30 {
                if on_consumer() {
                    s.fetch_add(1, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(1));
            }
            x
        };
        let mut counts = Vec::new();
        for mode in 0..3 {
            slow_inline.store(0, Ordering::Relaxed);
            let n = match mode {
                0 => pool.map(f.clone(), 0..5 * BURST).count(),
                1 => pool.map(f.clone(), 0..5 * BURST).by_ref().map(|_| 1).sum(),
                _ => pool.try_map(f.clone(), 0..5 * BURST).count(),
            };
            assert_eq!(n as u64, 5 * BURST);
            counts.push(slow_inline.load(Ordering::Relaxed));
        }
        eprintln!(
            "slow (1 ms) items on the consumer, of 150 in 5 bursts: fold {}, next {}, try_map {}",
            counts[0], counts[1], counts[2]
        );
        // Per burst: up to `WATCH_EVERY` (4) items before the flag is
        // read, plus the watchdog's delay (one to two periods; three on a
        // loaded CI machine): about 9 at worst, 45 for the 5 bursts. Reading
        // the flag every 16 items (40-65 here) or not at all (150) fails.
        assert!(counts.iter().all(|&n| n <= 45), "slow items on the consumer (fold, next, try_map): {counts:?} of 150");
    });
}

/// A progress callback that takes longer than the watchdog's period once
/// (here 3 ms, when `done` first passes 300 000) runs on the consumer
/// between two legs (`TryMap::end_leg`: after `watch.end_leg()`, before
/// `watch.start_leg()`). The watchdog flags the map meanwhile and drops it
/// from its list; `start_leg` then clears the flag and the run goes on
/// with the next leg unwatched. Items that turn slow in that leg (here 300
/// items of 500 µs, from just after the callback) all run on the
/// consumer: 150 ms instead of ~1 ms before moving to the workers (with a
/// callback that returns at once: ~10 items).
#[test]
fn a_slow_progress_callback_does_not_unwatch_the_next_leg() {
    within(LIMIT, "slow callback unwatches", || {
        mark_consumer();
        let pool = ThreadPool::new(2).unwrap();
        let mut counts = Vec::new();
        for _ in 0..3 {
            let slow_from = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX));
            let slow_inline = Arc::new(AtomicUsize::new(0));
            let (from, s) = (Arc::clone(&slow_from), Arc::clone(&slow_inline));
            let f = move |x: u64| {
                let first = from.load(Ordering::SeqCst);
                if (first..first.saturating_add(300)).contains(&x) {
                    if on_consumer() {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_micros(500));
                }
                x
            };
            let from = Arc::clone(&slow_from);
            let callback = move |p: Progress| {
                if p.done >= 300_000 && from.load(Ordering::SeqCst) == u64::MAX && on_consumer() {
                    from.store(p.done as u64 + 20, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(3));
                }
            };
            let mut map = pool.map(f, 0..600_000u64).on_progress(callback);
            let mut n = 0;
            while map.next().is_some() {
                n += 1;
            }
            assert_eq!(n, 600_000);
            if slow_from.load(Ordering::SeqCst) != u64::MAX {
                // The callback ran on the consumer: the case under test.
                counts.push(slow_inline.load(Ordering::Relaxed));
            }
        }
        eprintln!("slow items on the consumer after a 3 ms callback, of 300: {counts:?}");
        assert!(counts.iter().all(|&n| n < 100), "slow items ran on the consumer: {counts:?} of 300");
    });
}

/// Under load, a `Map` over an endless (or any unexhausted) input
/// sometimes yields `None` in the middle, and `fold`-based consumers
/// (`count`, `sum`) silently stop there: a wrong result, not a panic. It
/// happens when a direct run starts (`TryMap::next_indexed` ->
/// `start_direct`: `watch.start_leg()` clears the flag, then `arm()`) and
/// the watchdog sets `overrun` before the first `next_direct` check, which
/// refuses the first item when the leg is a multiple of 16 (64, 512, 4096
/// are); `next_indexed` then returns `None` as if the inputs had ended.
/// Seen at item 8 of fresh maps (the first direct run after the worker
/// chunks of size 1), at about 1 in 40 000 maps with 8 consumers and 2
/// spinning threads on 2 cores; and 13 of 40 runs of `attack2_idle` with 3
/// busy processes beside it. The map then goes on (the next `next()` yields
/// the item), so it is a spurious `None`, not a lost item.
#[test]
fn a_map_never_yields_a_spurious_none() {
    within(LIMIT, "spurious None", || {
        let stop = Arc::new(AtomicBool::new(false));
        let hogs: Vec<_> = (0..2)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let pool = ThreadPool::new(2).unwrap();
        let failures = Arc::new(Mutex::new(Vec::new()));
        let failed = Arc::new(AtomicBool::new(false));
        let consumers: Vec<_> = (0..8)
            .map(|c| {
                let (pool, failures, failed) = (pool.clone(), Arc::clone(&failures), Arc::clone(&failed));
                thread::spawn(move || {
                    let started = Instant::now();
                    let mut maps = 0usize;
                    while started.elapsed() < Duration::from_secs(4) && !failed.load(Ordering::Relaxed) {
                        maps += 1;
                        if c % 2 == 0 {
                            let mut map = pool.map(|x: u64| x, 0..u64::MAX);
                            for x in 0..40u64 {
                                if map.next() != Some(x) {
                                    failures.lock().unwrap().push(format!("next() gave None at item {x} (map {maps})"));
                                    failed.store(true, Ordering::Relaxed);
                                    break;
                                }
                            }
                        } else {
                            let n = pool.map(|x: u64| x, 0..40u64).count();
                            if n != 40 {
                                failures.lock().unwrap().push(format!("count() gave {n} of 40 (map {maps})"));
                                failed.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    maps
                })
            })
            .collect();
        let maps: usize = consumers.into_iter().map(|c| c.join().unwrap()).sum();
        stop.store(true, Ordering::Relaxed);
        for hog in hogs {
            hog.join().unwrap();
        }
        let failures = failures.lock().unwrap();
        assert!(failures.is_empty(), "{} maps, spurious ends: {failures:?}", maps);
    });
}

/// Several ordered maps from several threads share a 2-worker pool: 6
/// maps × a window of 8 chunks is a backlog above 8 per worker, so workers
/// take injector jobs in batches (`registry.rs`, `find_work`:
/// `steal_batch_and_pop` into the worker's local deque). A batch then waits
/// in a busy worker's deque while the other worker goes on with newer
/// injector jobs (it looks at the injector before its peers' deques), so a
/// map's head chunk runs after its later ones: seen as
/// `[1, 2, 3, 4, 5, 6, 7, 0, 8, ...]` and `[4, 5, 6, 7, 0, 1, 2, 3, ...]`,
/// item 0 handed out at 78 ms where the others got theirs at 7-56 ms: the
/// map waits for up to 8 items instead of 1 (issue 9, "never waits for
/// more than it must"). Expected: each map's items start roughly in order
/// (item 0 among the first 3 of its items to start).
#[test]
fn concurrent_maps_start_their_head_chunk_first() {
    within(LIMIT, "queue order across maps", || {
        let pool = ThreadPool::new(2).unwrap();
        let mut late_heads = Vec::new();
        for round in 0..3 {
            let order = Arc::new(Mutex::new(Vec::new()));
            let maps: Vec<_> = (0..6u64)
                .map(|m| {
                    let (pool, order) = (pool.clone(), Arc::clone(&order));
                    thread::spawn(move || {
                        let f = move |x: u64| {
                            order.lock().unwrap().push((m, x));
                            thread::sleep(Duration::from_millis(3));
                            x
                        };
                        let got: Vec<u64> = pool.map(f, 0..16u64).chunk_size(1).collect();
                        assert_eq!(got, (0..16).collect::<Vec<_>>());
                    })
                })
                .collect();
            for map in maps {
                map.join().unwrap();
            }
            let order = order.lock().unwrap();
            for m in 0..6u64 {
                let started: Vec<u64> = order.iter().filter(|(map, _)| *map == m).map(|(_, x)| *x).collect();
                let head_at = started.iter().position(|&x| x == 0).expect("item 0 ran");
                if head_at >= 3 {
                    late_heads.push(format!("round {round}, map {m}: {started:?}"));
                }
            }
        }
        assert!(late_heads.is_empty(), "maps whose item 0 started after 3 of their later items: {late_heads:#?}");
    });
}

/// After `shutdown_now`, a `TryMap` or `MapUnordered` does not end: it
/// goes on reading its input and yields one `Cancelled` per remaining
/// input, each spawned as a task that is cancelled at once (chunks stay
/// 1 item: failed chunks are never timed). Measured (debug): 5 000 000
/// inputs take 7.3 s for a new `try_map` on a shut pool, 7.9 s for
/// `map_unordered`; an input of 2^40 never ends. A consumer that collects
/// every result (`collect::<Vec<Result<..>>>`, `filter_map(Result::ok)`)
/// hangs. Expected: once the pool is shut, the map ends after the
/// `Cancelled` of what it had queued (or yields a single `Cancelled` for
/// the rest), like Python's `Executor.map` refusing new work after
/// `shutdown`.
#[test]
fn maps_on_a_shut_pool_end() {
    within(Duration::from_secs(10), "maps after shutdown_now", || {
        let pool = ThreadPool::new(2).unwrap();
        let mut map = pool.try_map(|x: u64| x, 0..1u64 << 40);
        for x in 0..100_000 {
            assert_eq!(map.next(), Some(Ok(x)));
        }
        pool.shutdown_now();
        let after = map.filter(Result::is_err).take(2_000_000).count();
        assert!(after < 1_000_000, "{after} Cancelled results after shutdown_now");
        let fresh = pool.map_unordered(|x: u64| x, 0..1u64 << 40).take(2_000_000).count();
        assert!(fresh < 1_000_000, "{fresh} results from a map_unordered on a shut pool");
    });
}

/// `shutdown_now` between two `next()` calls of a `TryMap` running inline:
/// the map hands out what it had computed, then computes one more whole
/// inline chunk on the consumer (12 288 items of `u64` here, every time)
/// before it yields `Cancelled`: `TryMap::next_indexed` runs
/// `Feeder::run_inline` while the placement says inline, without asking
/// `Spawner::may_run_inline` (which turns false at shutdown). `Map` stops
/// within its current leg (17-322 items measured). Expected: no new chunk
/// after `shutdown_now` returned.
#[test]
fn try_map_computes_nothing_new_after_shutdown_now() {
    within(LIMIT, "try_map after shutdown_now", || {
        let mut computed_after = Vec::new();
        for _ in 0..3 {
            let pool = ThreadPool::new(2).unwrap();
            let shut = Arc::new(AtomicBool::new(false));
            let after = Arc::new(AtomicUsize::new(0));
            let (s, a) = (Arc::clone(&shut), Arc::clone(&after));
            let f = move |x: u64| {
                if s.load(Ordering::Relaxed) {
                    a.fetch_add(1, Ordering::Relaxed);
                }
                x
            };
            let mut map = pool.try_map(f, 0..5_000_000u64);
            for x in 0..100_000 {
                assert_eq!(map.next(), Some(Ok(x)));
            }
            pool.shutdown_now();
            shut.store(true, Ordering::SeqCst);
            assert!(map.any(|r| r == Err(TaskError::Cancelled)), "no Cancelled after shutdown_now");
            computed_after.push(after.load(Ordering::Relaxed));
        }
        assert!(
            computed_after.iter().all(|&n| n < 1000),
            "items computed after shutdown_now returned: {computed_after:?}"
        );
    });
}

/// Every input is computed exactly once — not twice (a chunk taken back
/// after a worker started it) nor never — through pauses, slow bursts
/// that cut legs, and late `window` / `chunk_size` changes that take
/// queued chunks back, on `Map`, its `fold` and `TryMap`.
#[test]
fn every_input_is_computed_exactly_once_through_takebacks_and_cut_legs() {
    within(LIMIT, "exactly once", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: usize = 150_000;
        for kind in 0..3 {
            let calls: Arc<Vec<std::sync::atomic::AtomicU8>> = Arc::new((0..N).map(|_| Default::default()).collect());
            let c = Arc::clone(&calls);
            let f = move |x: usize| {
                c[x].fetch_add(1, Ordering::Relaxed);
                if x % 25_000 >= 24_990 {
                    thread::sleep(Duration::from_micros(200));
                }
                x
            };
            match kind {
                0 => {
                    let mut map = pool.map(f, 0..N);
                    let mut expected = 0;
                    for round in 0..6 {
                        for _ in 0..20_000 {
                            assert_eq!(map.next(), Some(expected));
                            expected += 1;
                        }
                        thread::sleep(Duration::from_millis(2));
                        map = match round % 3 {
                            0 => map.window(1 + round),
                            1 => map.chunk_size(pool::Chunking::Auto),
                            _ => map.chunk_size(500 + round),
                        };
                    }
                    for y in map {
                        assert_eq!(y, expected);
                        expected += 1;
                    }
                    assert_eq!(expected, N);
                }
                1 => {
                    let mut map = pool.map(f, 0..N);
                    for x in 0..30_000 {
                        assert_eq!(map.next(), Some(x));
                    }
                    let sum: usize = map.window(3).sum();
                    assert_eq!(sum, (30_000..N).sum::<usize>());
                }
                _ => {
                    let mut map = pool.try_map(f, 0..N);
                    for x in 0..40_000 {
                        assert_eq!(map.next(), Some(Ok(x)));
                    }
                    let map = map.window(2).chunk_size(pool::Chunking::Auto);
                    assert!(map.enumerate().all(|(i, r)| r == Ok(i + 40_000)));
                }
            }
            let wrong: Vec<(usize, u8)> = calls
                .iter()
                .enumerate()
                .map(|(i, n)| (i, n.load(Ordering::Relaxed)))
                .filter(|&(_, n)| n != 1)
                .take(10)
                .collect();
            assert!(wrong.is_empty(), "kind {kind}: inputs computed other than once (index, times): {wrong:?}");
        }
    });
}
