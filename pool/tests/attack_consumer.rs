//! Adversarial tests, from outside the crate, of settings changed after
//! iteration has begun, of chunks the consumer runs itself, of
//! `Map::fold`, and of the workers' queue order. (Written against an
//! earlier engine that took queued chunks back and ran cheap items inline;
//! the promises tested here hold for the current one too.)
//!
//! Scenarios that abort the process when they fail (a panic while
//! unwinding, a stack overflow) run in a child process: the test binary
//! re-runs itself on that one test (see [`common::in_child`]).

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{in_child, panic_message, quiet_intentional_panics, within, INTENTIONAL};
use pool::{Chunking, Progress, ThreadPool};

const LIMIT: Duration = Duration::from_secs(60);

/// Blocks the item it is asked to block until released, after saying it
/// started: with one worker, that chunk runs and every later chunk stays
/// queued, unstarted.
struct Gate {
    at: u64,
    started: AtomicBool,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Gate {
    fn new(at: u64) -> (Arc<Gate>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (Arc::new(Gate { at, started: AtomicBool::new(false), release: Mutex::new(rx) }), tx)
    }

    fn pass(&self, x: u64) {
        if x == self.at {
            self.started.store(true, Ordering::SeqCst);
            let _ = self.release.lock().unwrap().recv();
        }
    }

    fn wait_started(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.started.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the gated item never started");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// An input whose `Drop` always panics (also while unwinding): `f` defuses
/// it with `mem::forget`.
struct Bomb(u64);

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{INTENTIONAL}: bomb {} dropped", self.0);
    }
}

fn defuse(bomb: Bomb) -> u64 {
    let x = bomb.0;
    std::mem::forget(bomb);
    x
}

// ---------------------------------------------------------------------------
// Direct runs: cheap items computed on the consumer.
// ---------------------------------------------------------------------------

/// Whether the consumer computes some of a map's chunks itself (it runs
/// the head when no worker has started it) depends on timing, which a busy
/// machine can disturb. Runs `attempt` (which says whether its map ran
/// items on the consumer) until one does, up to `tries` times; says
/// whether one did.
fn with_an_inline_map(tries: usize, mut attempt: impl FnMut() -> bool) -> bool {
    for _ in 0..tries {
        if attempt() {
            return true;
        }
    }
    eprintln!("note: no map went inline in {tries} tries (a busy machine?): the inline case was not exercised");
    false
}

/// Counts calls of `f` made on the thread that created it (the consumer).
#[derive(Clone)]
struct OnConsumer {
    consumer: thread::ThreadId,
    count: Arc<AtomicUsize>,
}

impl OnConsumer {
    fn new() -> OnConsumer {
        OnConsumer { consumer: thread::current().id(), count: Arc::new(AtomicUsize::new(0)) }
    }

    /// Counts this call if it runs on the consumer; says whether it does.
    fn note(&self) -> bool {
        let here = thread::current().id() == self.consumer;
        if here {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
        here
    }

    fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Every item has been handed out: `done` must have reached the total,
/// also when the consumer never asks past the last item (`zip` with an
/// input of the same length, as the crate's own front-page example does).
#[test]
fn progress_reaches_the_total_when_exactly_every_item_is_taken() {
    within(LIMIT, "progress after zip", || {
        let pool = ThreadPool::new(2).unwrap();
        const N: usize = 200_000;
        let xs: Vec<u64> = (0..N as u64).collect();
        with_an_inline_map(20, || {
            let last = Arc::new(AtomicUsize::new(0));
            let sink = Arc::clone(&last);
            // Only a map that computes its last item on the consumer (in a
            // direct run) tests the case.
            let last_inline = Arc::new(AtomicBool::new(false));
            let consumer = OnConsumer::new();
            let (l, c) = (Arc::clone(&last_inline), consumer.clone());
            let f = move |x: u64| {
                if c.note() && x == N as u64 - 1 {
                    l.store(true, Ordering::SeqCst);
                }
                x + 1
            };
            let map = pool.map(f, 0..N as u64).on_progress(move |p: Progress| {
                sink.fetch_max(p.done, Ordering::SeqCst);
            });
            let mut n = 0;
            for (x, y) in xs.iter().zip(map) {
                assert_eq!(x + 1, y);
                n += 1;
            }
            assert_eq!(n, N);
            // The map is gone: nothing can report the rest later.
            assert_eq!(last.load(Ordering::SeqCst), N, "done stopped short although every item was handed out");
            last_inline.load(Ordering::SeqCst)
        });
    });
}

thread_local! {
    /// Set by the pool's `start_handler` on each worker: the per-worker
    /// state `Builder::start_handler` is documented for.
    static WORKER_STATE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn pool_with_worker_state(workers: usize) -> ThreadPool {
    ThreadPool::builder().num_workers(workers).start_handler(|i| WORKER_STATE.with(|s| s.set(Some(i)))).build().unwrap()
}

/// `Builder::start_handler` is "the place to ... set up thread-local
/// state", and `map` documents no other thread `f` could run on; so `f`
/// may rely on that state. Cheap items computed on the consumer find none.
/// (Either `map` should say that `f` may run on the caller's thread, and
/// how to prevent it, or it should not.)
#[test]
fn f_sees_the_state_start_handler_set_up() {
    within(LIMIT, "start_handler state", || {
        let pool = pool_with_worker_state(2);
        let missing = Arc::new(AtomicUsize::new(0));
        let m = Arc::clone(&missing);
        let f = move |x: u64| {
            if WORKER_STATE.with(std::cell::Cell::get).is_none() {
                m.fetch_add(1, Ordering::SeqCst);
            }
            x
        };
        assert_eq!(pool.map(f, 0..1_000_000u64).sum::<u64>(), 499_999_500_000);
        let n = missing.load(Ordering::SeqCst);
        assert_eq!(n, 0, "{n} of 10^6 items ran where start_handler never ran");
    });
}

/// The way to keep `f` on the workers: a fixed chunk size never runs
/// inline, also after a late change of settings.
#[test]
fn fixed_chunk_sizes_keep_f_on_the_workers() {
    within(LIMIT, "fixed chunks stay on workers", || {
        let pool = pool_with_worker_state(2);
        let missing = Arc::new(AtomicUsize::new(0));
        let m = Arc::clone(&missing);
        let f = move |x: u64| {
            if WORKER_STATE.with(std::cell::Cell::get).is_none() {
                m.fetch_add(1, Ordering::SeqCst);
            }
            x
        };
        assert_eq!(pool.map(f.clone(), 0..300_000u64).chunk_size(1000).sum::<u64>(), 44_999_850_000);
        let mut late = pool.map(f.clone(), 0..300_000u64).chunk_size(7);
        assert_eq!(late.by_ref().take(1000).count(), 1000);
        assert_eq!(late.chunk_size(5000).count(), 299_000);
        assert_eq!(pool.try_map(f.clone(), 0..300_000u64).chunk_size(64).filter(Result::is_ok).count(), 300_000);
        assert_eq!(pool.map_unordered(f, 0..300_000u64).count(), 300_000);
        assert_eq!(missing.load(Ordering::SeqCst), 0, "f ran off the workers");
    });
}

/// Dropping a map in the middle of a direct run leaves the pool usable,
/// computes nothing more and stops reporting.
#[test]
fn dropping_a_map_mid_direct_run_stops_it_cleanly() {
    within(LIMIT, "drop mid direct run", || {
        let pool = ThreadPool::new(2).unwrap();
        with_an_inline_map(20, || {
            let calls = Arc::new(AtomicUsize::new(0));
            let inline = OnConsumer::new();
            let (c, i) = (Arc::clone(&calls), inline.clone());
            let reports = Arc::new(AtomicUsize::new(0));
            let r = Arc::clone(&reports);
            let f = move |x: u64| {
                c.fetch_add(1, Ordering::SeqCst);
                i.note();
                x
            };
            let mut map = pool.map(f, 0..10_000_000u64).on_progress(move |_| {
                r.fetch_add(1, Ordering::SeqCst);
            });
            for x in 0..50_000 {
                assert_eq!(map.next(), Some(x));
            }
            drop(map);
            thread::sleep(Duration::from_millis(20));
            let (calls_then, reports_then) = (calls.load(Ordering::SeqCst), reports.load(Ordering::SeqCst));
            thread::sleep(Duration::from_millis(50));
            assert_eq!(calls.load(Ordering::SeqCst), calls_then, "items still computed after the map was dropped");
            assert_eq!(reports.load(Ordering::SeqCst), reports_then, "progress still reported after the drop");
            assert!(calls_then < 10_000_000, "the whole input was computed");
            assert_eq!(pool.map(|x: u64| x * 2, 0..1000u64).sum::<u64>(), 999_000);
            inline.get() > 0
        });
    });
}

/// `fold` (through `sum`, `try_fold`-free paths) with a panicking
/// accumulator: the panic reaches the caller, and the pool works on.
#[test]
fn fold_with_a_panicking_accumulator_leaves_the_pool_usable() {
    quiet_intentional_panics();
    within(LIMIT, "panicking fold", || {
        for workers in [1, 2] {
            let pool = ThreadPool::new(workers).unwrap();
            let calls = Arc::new(AtomicUsize::new(0));
            let c = Arc::clone(&calls);
            let map = pool.map(
                move |x: u64| {
                    c.fetch_add(1, Ordering::SeqCst);
                    x
                },
                0..1_000_000u64,
            );
            let outcome = panic::catch_unwind(AssertUnwindSafe(move || {
                map.fold(0u64, |acc, x| {
                    if x == 300_000 {
                        panic!("{INTENTIONAL}: accumulator at {x}");
                    }
                    acc + x
                })
            }));
            let payload = outcome.expect_err("the accumulator's panic was lost");
            assert_eq!(panic_message(&*payload), Some("intentional: accumulator at 300000"));
            thread::sleep(Duration::from_millis(20));
            let after = calls.load(Ordering::SeqCst);
            thread::sleep(Duration::from_millis(30));
            assert_eq!(calls.load(Ordering::SeqCst), after, "the abandoned map kept computing");
            // The pool is whole: every worker still takes work.
            let n: u64 = pool.map(|x: u64| x, 0..100_000u64).sum();
            assert_eq!(n, 4_999_950_000);
            assert_eq!(pool.map(|x: u64| x, 0..64u64).chunk_size(1).count(), 64);
        }
    });
}

/// `fold` over a map whose `f` panics at one item re-raises that item's
/// payload, whoever computed it, and the items before it were folded.
#[test]
fn fold_re_raises_fs_panic_at_its_item() {
    quiet_intentional_panics();
    within(LIMIT, "fold with panicking f", || {
        let pool = ThreadPool::new(2).unwrap();
        for at in [0u64, 1, 7, 1000, 123_456] {
            let seen = Arc::new(AtomicUsize::new(0));
            let s = Arc::clone(&seen);
            let map = pool.map(
                move |x: u64| {
                    if x == at {
                        panic!("{INTENTIONAL}: f at {x}");
                    }
                    x
                },
                0..200_000u64,
            );
            let outcome = panic::catch_unwind(AssertUnwindSafe(move || {
                map.for_each(|x| {
                    assert_eq!(x as usize, s.fetch_add(1, Ordering::SeqCst));
                })
            }));
            let payload = outcome.expect_err("f's panic was lost");
            assert_eq!(panic_message(&*payload), Some(format!("intentional: f at {at}").as_str()));
            assert_eq!(seen.load(Ordering::SeqCst), at as usize, "items before the panicking one");
        }
    });
}

// ---------------------------------------------------------------------------
// Settings changed while chunks are queued (they run as they were cut).
// ---------------------------------------------------------------------------

/// Inputs in chunks queued before a late `chunk_size` (which run as they
/// were cut), left unread when the map is dropped: their `Drop` panics are
/// user code like any other and must not abort the process (inputs still
/// in queued chunks are dropped under panic guards).
#[test]
fn inputs_queued_before_late_settings_then_dropped_unread_cost_a_panic_not_the_process() {
    in_child("inputs_queued_before_late_settings_then_dropped_unread_cost_a_panic_not_the_process", || {
        quiet_intentional_panics();
        let pool = ThreadPool::new(1).unwrap();
        let (gate, release) = Gate::new(1);
        let g = Arc::clone(&gate);
        let f = move |b: Bomb| {
            let x = defuse(b);
            g.pass(x);
            x
        };
        // A lazy input: the user's iterator itself holds no bombs.
        let mut map = pool.map(f, (0..100u64).map(Bomb)).chunk_size(1).window(8);
        assert_eq!(map.next(), Some(0));
        gate.wait_started();
        // Chunks 2..=8 stay queued behind the blocked chunk 1, as cut.
        let map = map.chunk_size(10);
        let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(map)));
        // One panic at most reaches the caller; the process lives on.
        drop(dropped);
        release.send(()).unwrap();
        assert_eq!(pool.map(|x: u64| x, 0..10u64).count(), 10);
    });
}

/// Inputs with a panicking `Drop`, in chunks queued before late settings
/// and cut after them, are each given to `f` exactly once (never dropped
/// by the pool on the way).
#[test]
fn inputs_with_a_panicking_drop_survive_late_settings() {
    quiet_intentional_panics();
    within(LIMIT, "bombs recut", || {
        let pool = ThreadPool::new(1).unwrap();
        let (gate, release) = Gate::new(1);
        let g = Arc::clone(&gate);
        let f = move |b: Bomb| {
            let x = defuse(b);
            g.pass(x);
            x
        };
        let mut map = pool.map(f, (0..100u64).map(Bomb)).chunk_size(1).window(8);
        assert_eq!(map.next(), Some(0));
        gate.wait_started();
        let mut map = map.chunk_size(3).window(2);
        release.send(()).unwrap();
        let mut got = vec![0];
        let mut k = 0;
        while let Some(x) = map.next() {
            got.push(x);
            k += 1;
            map = match k % 3 {
                0 => map.chunk_size(1 + k % 5),
                1 => map.window(1 + k % 4),
                _ => map,
            };
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}

/// `mem::forget` of a map after late settings: no hang, no use of freed
/// memory (the queued chunks own what they use), and the pool goes on.
#[test]
fn forgetting_a_map_after_late_settings_neither_hangs_nor_breaks_the_pool() {
    within(LIMIT, "forget after late settings", || {
        for kind in 0..3 {
            let pool = ThreadPool::new(1).unwrap();
            let (gate, release) = Gate::new(1);
            let g = Arc::clone(&gate);
            let f = move |x: u64| {
                g.pass(x);
                vec![x; 3]
            };
            let done = Arc::new(AtomicUsize::new(0));
            let d = Arc::clone(&done);
            let report = move |p: Progress| {
                d.store(p.done, Ordering::SeqCst);
            };
            match kind {
                0 => {
                    let mut map = pool.map(f, 0..100u64).chunk_size(1).window(8).on_progress(report);
                    assert_eq!(map.next(), Some(vec![0; 3]));
                    gate.wait_started();
                    let mut map = map.chunk_size(4);
                    release.send(()).unwrap();
                    assert_eq!(map.next(), Some(vec![1; 3]));
                    std::mem::forget(map.window(2));
                }
                1 => {
                    let mut map = pool.try_map(f, 0..100u64).chunk_size(1).window(8).on_progress(report);
                    assert_eq!(map.next(), Some(Ok(vec![0; 3])));
                    gate.wait_started();
                    let map = map.window(1);
                    release.send(()).unwrap();
                    std::mem::forget(map);
                }
                _ => {
                    let mut map = pool.map_unordered(f, 0..100u64).chunk_size(1).window(8).on_progress(report);
                    // Unordered: whichever item completes first (the consumer may run
                    // a later chunk itself), but never the gated one.
                    let (i, first) = map.next().map(|(i, r)| (i, r.unwrap())).unwrap();
                    assert_eq!((i != 1, first), (true, vec![i as u64; 3]));
                    gate.wait_started();
                    let map = map.chunk_size(Chunking::Auto);
                    release.send(()).unwrap();
                    std::mem::forget(map);
                }
            }
            // The forgotten map's queued chunks still run (or not) without
            // harm; the pool serves others meanwhile.
            assert_eq!(pool.map(|x: u64| x + 1, 0..1000u64).sum::<u64>(), 500_500);
            let h = pool.submit(|| 7);
            assert_eq!(h.wait(), Ok(7));
            assert!(done.load(Ordering::SeqCst) <= 100);
        }
    });
}

/// Late settings on scoped maps over borrowed data, with the borrowed
/// data checked afterwards (the scope must wait for every chunk, also the
/// ones queued before the settings changed, and those cancelled).
#[test]
fn scoped_maps_with_borrowed_data_and_late_settings() {
    within(LIMIT, "scoped late settings", || {
        let pool = ThreadPool::new(2).unwrap();
        let data: Vec<u64> = (0..5000).map(|x| x * 3).collect();
        let total = AtomicUsize::new(0);
        let sums = pool.scope(|s| {
            let mut ordered = s.map(|i: usize| data[i] + 1, 0..data.len()).on_progress(|p| {
                total.fetch_max(p.done, Ordering::SeqCst);
            });
            let mut got = Vec::new();
            for k in 0..data.len() {
                got.push(ordered.next().unwrap());
                if k % 700 == 0 {
                    ordered = ordered.chunk_size(1 + k % 9).window(1 + k % 3);
                } else if k % 700 == 350 {
                    ordered = ordered.chunk_size(Chunking::Auto);
                }
            }
            assert_eq!(ordered.next(), None);
            drop(ordered);
            let mut unordered = s.map_unordered(|i: usize| data[i], 0..data.len()).window(3);
            let mut seen = vec![false; data.len()];
            let mut k = 0;
            while let Some((i, v)) = unordered.next() {
                assert_eq!(v.unwrap(), data[i]);
                assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
                k += 1;
                if k % 500 == 0 {
                    unordered = unordered.chunk_size(k % 13 + 1);
                }
            }
            assert!(seen.iter().all(|&s| s));
            // Left half-read: the scope waits for what is running.
            let mut abandoned = s.try_map(|i: usize| data[i], 0..data.len()).chunk_size(1);
            assert_eq!(abandoned.next(), Some(Ok(0)));
            let abandoned = abandoned.chunk_size(50);
            std::mem::forget(abandoned);
            got.iter().sum::<u64>()
        });
        assert_eq!(sums, data.iter().map(|x| x + 1).sum::<u64>());
        assert_eq!(total.load(Ordering::SeqCst), data.len());
    });
}

/// A late, smaller window and chunk size also bound how far ahead of the
/// consumer the inputs are read, once the chunks queued before are handed out
/// (16 chunks of 50 were read before the change: gone after 1000 items).
#[test]
fn a_late_smaller_window_bounds_the_read_ahead() {
    within(LIMIT, "late window bounds read-ahead", || {
        for kind in 0..3 {
            let pool = ThreadPool::new(2).unwrap();
            let (inputs, pulled) = common::Counted::new(0..100_000u64);
            let slow = |x: u64| {
                common::pause_us(20);
                x
            };
            let mut handed_out = 0usize;
            let mut worst = 0usize;
            let mut check = |handed_out: usize| {
                worst = worst.max(pulled.load(Ordering::SeqCst).saturating_sub(handed_out));
            };
            match kind {
                0 => {
                    let mut map = pool.map(slow, inputs).chunk_size(50).window(16);
                    map.next();
                    let mut map = map.window(1).chunk_size(5);
                    for _ in 0..1000 {
                        map.next();
                        handed_out += 1;
                    }
                    for _ in 0..300 {
                        map.next();
                        handed_out += 1;
                        check(handed_out + 1);
                    }
                }
                1 => {
                    let mut map = pool.try_map(slow, inputs).chunk_size(50).window(16);
                    map.next();
                    let mut map = map.window(1).chunk_size(5);
                    for _ in 0..1000 {
                        map.next();
                        handed_out += 1;
                    }
                    for _ in 0..300 {
                        map.next();
                        handed_out += 1;
                        check(handed_out + 1);
                    }
                }
                _ => {
                    let mut map = pool.map_unordered(slow, inputs).chunk_size(50).window(16);
                    map.next();
                    let mut map = map.window(1).chunk_size(5);
                    for _ in 0..1000 {
                        map.next();
                        handed_out += 1;
                    }
                    for _ in 0..300 {
                        map.next();
                        handed_out += 1;
                        check(handed_out + 1);
                    }
                }
            }
            // One chunk of 5 queued or running, plus the one being handed
            // out, plus a chunk cut before the change still draining.
            assert!(worst <= 5 + 5 + 50, "kind {kind}: read {worst} inputs ahead with window(1).chunk_size(5)");
        }
    });
}

/// `window(usize::MAX)` and `chunk_size(usize::MAX)` set mid-iteration on
/// a finite input: everything once, in order, `len()` exact throughout.
#[test]
fn huge_settings_mid_iteration() {
    within(LIMIT, "huge settings", || {
        let pool = ThreadPool::new(2).unwrap();
        let mut map = pool.map(|x: u32| x ^ 1, 0..20_000u32).chunk_size(7);
        for x in 0..100 {
            assert_eq!(map.next(), Some(x ^ 1));
        }
        let mut map = map.window(usize::MAX);
        assert_eq!(map.len(), 19_900);
        for x in 100..5000 {
            assert_eq!(map.next(), Some(x ^ 1));
        }
        let mut map = map.chunk_size(usize::MAX);
        assert_eq!(map.len(), 15_000);
        for x in 5000..6000 {
            assert_eq!(map.next(), Some(x ^ 1));
        }
        let map = map.chunk_size(Chunking::Auto).window(1);
        assert_eq!(map.len(), 14_000);
        assert!(map.eq((6000..20_000).map(|x| x ^ 1)));
        let mut unordered = pool.map_unordered(|x: u32| x, 0..10_000u32).window(usize::MAX);
        let mut seen = vec![false; 10_000];
        for _ in 0..10 {
            let (i, _) = unordered.next().unwrap();
            seen[i] = true;
        }
        let unordered = unordered.chunk_size(usize::MAX);
        assert_eq!(unordered.len(), 9990);
        for (i, v) in unordered {
            assert_eq!(v, Ok(i as u32));
            assert!(!std::mem::replace(&mut seen[i], true));
        }
        assert!(seen.iter().all(|&s| s));
    });
}

/// A late `window(1)` while the consumer is far ahead of nothing: maps
/// nested in a task of another map, both with late settings, on one worker
/// and on two.
#[test]
fn nested_maps_with_late_settings() {
    for workers in [1, 2] {
        let out = within(LIMIT, "nested late settings", move || {
            let pool = ThreadPool::new(workers).unwrap();
            let inner = pool.clone();
            let f = move |n: u64| {
                let mut m = inner.map(|x: u64| x * x, 0..n);
                let first: u64 = m.by_ref().take((n / 2) as usize).sum();
                let m = m.chunk_size(3).window(1);
                first + m.sum::<u64>()
            };
            let mut outer = pool.map(f, 0..60u64).chunk_size(2);
            let mut got = Vec::new();
            for _ in 0..20 {
                got.push(outer.next().unwrap());
            }
            let outer = outer.chunk_size(Chunking::Auto).window(1);
            got.extend(outer);
            got
        });
        let expected: Vec<u64> = (0..60u64).map(|n| (0..n).map(|x| x * x).sum()).collect();
        assert_eq!(out, expected, "{workers} workers");
    }
}

// ---------------------------------------------------------------------------
// Queue order.
// ---------------------------------------------------------------------------

/// Recursive fork-join: each task submits one half to the pool, computes
/// the other itself and waits for the first. A worker that waits runs
/// queued jobs meanwhile; with a FIFO local deque it takes the oldest (an
/// unrelated, large subtree) instead of the one it waits for, nesting
/// waits on its stack until it overflows. rayon-style LIFO for the owner
/// keeps the nesting at the tree's depth.
fn tree(pool: ThreadPool, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let other = pool.clone();
    let half = pool.submit(move || tree(other, depth - 1));
    let mine = tree(pool, depth - 1);
    mine + half.wait().expect("subtree")
}

#[test]
fn recursive_fork_join_does_not_overflow_a_workers_stack() {
    in_child("recursive_fork_join_does_not_overflow_a_workers_stack", || {
        within(LIMIT, "recursive fork-join", || {
            for workers in [1, 2] {
                let pool = ThreadPool::new(workers).unwrap();
                let p = pool.clone();
                assert_eq!(pool.submit(move || tree(p, 14)).wait(), Ok(1 << 14), "{workers} workers");
            }
        });
    });
}

// ---------------------------------------------------------------------------
// shutdown_now while a map runs inline.
// ---------------------------------------------------------------------------

/// `shutdown_now` "stops now, for every handle: ... maps yield
/// `Cancelled`". A map computing cheap items on its consumer must stop
/// too, not run its whole input there after the pool was shut down. (It
/// notices when it next measures the workers, whose chunk is cancelled:
/// measured here at 50k-560k items after the shutdown, in a debug build.)
#[test]
fn shutdown_now_stops_a_map_running_inline() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now vs inline map", || {
        const N: u64 = 20_000_000;
        const SLACK: u64 = N / 2;
        with_an_inline_map(10, || {
            let pool = ThreadPool::new(2).unwrap();
            let inline = OnConsumer::new();
            let i = inline.clone();
            let f = move |x: u64| {
                i.note();
                x
            };
            // `Map` (direct runs, re-raises `Cancelled` as a panic), then
            // `TryMap` (inline chunks, yields it).
            let mut map = pool.map(f.clone(), 0..N);
            for x in 0..100_000 {
                assert_eq!(map.next(), Some(x));
            }
            let went_inline = inline.get() > 0;
            pool.shutdown_now();
            let mut after = 0u64;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                for _ in map {
                    after += 1;
                }
            }));
            assert!(outcome.is_err(), "the map ran all {N} inputs after shutdown_now ({after} items)");
            assert!(after < SLACK, "{after} items computed after shutdown_now returned");

            let pool = ThreadPool::new(2).unwrap();
            let mut map = pool.try_map(f, 0..N);
            for x in 0..100_000 {
                assert_eq!(map.next(), Some(Ok(x)));
            }
            pool.shutdown_now();
            let mut after = 0u64;
            let mut cancelled = false;
            for result in map {
                match result {
                    Ok(_) => after += 1,
                    Err(e) => {
                        assert_eq!(e, pool::TaskError::Cancelled);
                        cancelled = true;
                        break;
                    }
                }
            }
            assert!(cancelled, "the map ran all {N} inputs after shutdown_now");
            assert!(after < SLACK, "{after} items computed after shutdown_now returned");
            went_inline
        });
    });
}

/// `shutdown_now` with chunks of a `MapUnordered` still queued: they are
/// cancelled, and the map must say so (`Cancelled` at their indices) or
/// end, not wait for completions that will never come.
#[test]
fn unordered_map_after_shutdown_now_reports_cancelled_chunks() {
    within(Duration::from_secs(20), "unordered after shutdown_now", || {
        let pool = ThreadPool::new(1).unwrap();
        let slow = |x: u64| {
            thread::sleep(Duration::from_millis(5));
            x
        };
        let mut map = pool.map_unordered(slow, 0..100u64).chunk_size(1);
        // Unordered: the first item to complete, whichever it is (the
        // consumer may run a later chunk itself while the worker runs 0).
        let (first, result) = map.next().unwrap();
        assert!(result.is_ok());
        pool.shutdown_now();
        let mut seen = [false; 100];
        seen[first] = true;
        let mut cancelled = 0;
        for (i, result) in map {
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
            assert!(result.is_ok() || result == Err(pool::TaskError::Cancelled));
            cancelled += usize::from(result.is_err());
        }
        // The queued chunks come back cancelled; inputs not yet read are
        // not read (`shutdown_now`'s contract), so some indices never come.
        assert!(cancelled > 0, "no chunk reported cancelled");
        assert!(seen.iter().filter(|&&s| s).count() < 100, "inputs read after shutdown_now");
    });
}

/// Like `quiet_intentional_panics`, for the `u16` payloads raised on
/// purpose below (not strings, so that hook prints them).
fn quiet_u16_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<u16>().is_none() {
                previous(info);
            }
        }));
    });
}

/// A panic in `f` keeps its payload's type whoever computed the item: a
/// worker, an inline chunk, or a direct run on the consumer (`next` and
/// the `fold` loop alike).
#[test]
fn payload_types_survive_direct_runs_and_fold() {
    quiet_u16_panics();
    within(LIMIT, "payload types inline", || {
        let pool = ThreadPool::new(2).unwrap();
        for at in [0u64, 3, 5000, 150_000] {
            let f = move |x: u64| {
                if x == at {
                    panic::panic_any(at as u16);
                }
                x
            };
            let mut map = pool.map(f, 0..200_000u64);
            for x in 0..at {
                assert_eq!(map.next(), Some(x));
            }
            let payload = panic::catch_unwind(AssertUnwindSafe(|| map.next())).expect_err("the item panics");
            assert_eq!(payload.downcast_ref::<u16>(), Some(&(at as u16)), "next() at {at}");
            // The map goes on after the panicking item.
            assert_eq!(map.next(), Some(at + 1));
            drop(map);
            let payload = panic::catch_unwind(AssertUnwindSafe(|| pool.map(f, 0..200_000u64).count()))
                .expect_err("the fold loop re-raises");
            assert_eq!(payload.downcast_ref::<u16>(), Some(&(at as u16)), "fold at {at}");
            let failed: Vec<_> = pool.try_map(f, 0..200_000u64).enumerate().filter(|(_, r)| r.is_err()).collect();
            assert_eq!(failed.len(), 1);
            let (i, error) = failed.into_iter().next().unwrap();
            assert_eq!(i as u64, at);
            let panic = error.unwrap_err().into_panic().expect("a panic");
            assert_eq!(panic.downcast_ref::<u16>(), Some(&(at as u16)), "try_map at {at}");
        }
    });
}

/// The same through nested maps, the documented way to nest ("Nested
/// use" in the README): each item of a two-item map runs a two-item map
/// of its own, 12 levels deep (4096 leaves), fixed chunks of 1.
fn nested(pool: ThreadPool, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let inner = pool.clone();
    pool.map(move |_| nested(inner.clone(), depth - 1), 0..2u32).chunk_size(1).sum()
}

#[test]
fn recursive_nested_maps_do_not_overflow_a_workers_stack() {
    in_child("recursive_nested_maps_do_not_overflow_a_workers_stack", || {
        within(LIMIT, "recursive nested maps", || {
            for workers in [1, 2] {
                let pool = ThreadPool::new(workers).unwrap();
                let p = pool.clone();
                assert_eq!(pool.submit(move || nested(p, 12)).wait(), Ok(1 << 12), "{workers} workers");
            }
        });
    });
}
