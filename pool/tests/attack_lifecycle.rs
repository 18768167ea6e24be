//! Outside attacks on the pool's life cycle, through the public API only:
//! nothing the library made (threads, queued work, waiters) outlives the
//! last handle to a pool, in every way that handle can go away; two of
//! everything at once; extreme sizes; every value made dropped exactly once
//! under panics and `shutdown_now`.
//!
//! Tests that count the process's threads run in a child process of their
//! own ([`common::in_child`]), since the other tests of this binary start
//! and stop pools meanwhile. Every scenario that could hang runs under a
//! generous deadlock guard ([`common::within`]); nothing asserts on timing.

#![cfg(target_os = "linux")]

mod common;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    in_child, panic_message, quiet_intentional_panics, settle_threads, threads, within, Counted, XorShift, INTENTIONAL,
};
use pool::{Chunking, TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Counts values made and dropped, per id, so that a value dropped twice
/// or never is named.
struct Ledger {
    made: Vec<AtomicUsize>,
    dropped: Vec<AtomicUsize>,
    computed: Vec<AtomicUsize>,
}

impl Ledger {
    fn new(n: usize) -> Arc<Ledger> {
        let zeros = || (0..n).map(|_| AtomicUsize::new(0)).collect();
        Arc::new(Ledger { made: zeros(), dropped: zeros(), computed: zeros() })
    }

    fn make(self: &Arc<Self>, id: usize, bomb: bool) -> Tracked {
        self.made[id].fetch_add(1, Ordering::SeqCst);
        Tracked { id, bomb, ledger: Arc::clone(self) }
    }

    fn computed(&self, id: usize) {
        self.computed[id].fetch_add(1, Ordering::SeqCst);
    }

    /// Every value made was dropped exactly once; every input computed at
    /// most once.
    fn assert_settled(&self, what: &str) {
        for id in 0..self.made.len() {
            let made = self.made[id].load(Ordering::SeqCst);
            let dropped = self.dropped[id].load(Ordering::SeqCst);
            assert_eq!(made, dropped, "{what}: id {id} made {made} times, dropped {dropped}");
            let computed = self.computed[id].load(Ordering::SeqCst);
            assert!(computed <= 1, "{what}: input {id} computed {computed} times");
        }
    }
}

/// A value whose drop is counted, and panics if it is a bomb.
struct Tracked {
    id: usize,
    bomb: bool,
    ledger: Arc<Ledger>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.dropped[self.id].fetch_add(1, Ordering::SeqCst);
        if self.bomb && !thread::panicking() {
            panic!("{INTENTIONAL}: drop of {}", self.id);
        }
    }
}

/// A one-worker-busy pool: `workers` workers, one of them held by a task
/// until the returned sender sends (or is dropped).
fn hold_one_worker(pool: &ThreadPool) -> (mpsc::Sender<()>, pool::TaskHandle<()>) {
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let held = pool.submit(move || {
        started_tx.send(()).unwrap();
        let _ = gate.recv();
    });
    started.recv().unwrap();
    (release, held)
}

/// Returns once `shutdown_now` has begun on `pool` (called on another
/// thread): a task submitted from then on is cancelled at once, while one
/// submitted before is only queued (and is cancelled here by hand).
fn wait_for_shutdown(pool: &ThreadPool) {
    loop {
        let probe = pool.submit(|| ());
        if probe.is_finished() {
            assert_eq!(probe.wait(), Err(TaskError::Cancelled));
            return;
        }
        probe.cancel();
        thread::sleep(Duration::from_millis(1));
    }
}

// ---------------------------------------------------------------------------
// 1. Nothing global outlives its owner
// ---------------------------------------------------------------------------

/// `shutdown_now` must cancel a queued task even while a running task polls
/// that task's handle with timed waits (timed waits never help): the other
/// workers leave at once, so only the shutdown itself can cancel it.
#[test]
fn shutdown_now_while_a_running_task_polls_a_queued_one_with_timeouts() {
    within(LIMIT, "shutdown_now with a task polling a queued task", || {
        let pool = ThreadPool::new(2).unwrap();
        let (release, held) = hold_one_worker(&pool);
        let (queued_tx, queued_rx) = mpsc::channel::<pool::TaskHandle<u32>>();
        let (polling_tx, polling) = mpsc::channel::<()>();
        // The poller takes the second worker and waits for a task that can
        // only be queued behind it.
        let poller = pool.submit(move || {
            let mut handle = queued_rx.recv().unwrap();
            polling_tx.send(()).unwrap();
            loop {
                match handle.wait_timeout(Duration::from_millis(1)) {
                    Ok(outcome) => return outcome,
                    Err(again) => handle = again,
                }
            }
        });
        let queued = pool.submit(|| 7u32);
        // Both workers are busy: `queued` sits in the shared queue.
        queued_tx.send(queued).unwrap();
        polling.recv().unwrap();
        let shutter = {
            let pool = pool.clone();
            thread::spawn(move || pool.shutdown_now())
        };
        // Let the shutdown start, then free the held worker: it leaves.
        wait_for_shutdown(&pool);
        release.send(()).unwrap();
        shutter.join().unwrap();
        assert_eq!(held.wait(), Ok(()));
        assert_eq!(poller.wait(), Ok(Err(TaskError::Cancelled)));
    });
}

/// The same, with the polled task queued on the polling worker's own deque
/// (it submitted the task itself, then polls `is_finished`): on one worker
/// nobody else could ever run it; on two, the other worker leaves at the
/// shutdown without stealing it.
#[test]
fn shutdown_now_while_a_task_polls_its_own_nested_task() {
    within(LIMIT, "shutdown_now with a task polling its own nested task", || {
        for workers in [1, 2] {
            let pool = ThreadPool::new(workers).unwrap();
            // On two workers, hold the other one so the nested task stays queued.
            let other = (workers == 2).then(|| hold_one_worker(&pool));
            let (polling_tx, polling) = mpsc::channel::<()>();
            let (go_tx, go) = mpsc::channel::<()>();
            let inner = pool.clone();
            let poller = pool.submit(move || {
                let handle = inner.submit(|| 7u32);
                drop(inner);
                polling_tx.send(()).unwrap();
                go.recv().unwrap();
                while !handle.is_finished() {
                    thread::sleep(Duration::from_millis(1));
                }
                handle.wait()
            });
            polling.recv().unwrap();
            let shutter = {
                let pool = pool.clone();
                thread::spawn(move || pool.shutdown_now())
            };
            wait_for_shutdown(&pool);
            go_tx.send(()).unwrap();
            if let Some((release, held)) = other {
                release.send(()).unwrap();
                assert_eq!(held.wait(), Ok(()));
            }
            shutter.join().unwrap();
            assert_eq!(poller.wait(), Ok(Err(TaskError::Cancelled)), "{workers} worker(s)");
        }
    });
}

thread_local! {
    static KEPT: RefCell<Option<ThreadPool>> = const { RefCell::new(None) };
}

/// The last handle to a pool dropped by a thread-local destructor, on a
/// plain thread and on a worker of another pool: the pool's workers must
/// still stop (and nothing may abort on a thread being torn down).
#[test]
fn the_last_handle_dropped_by_a_thread_local_destructor() {
    in_child("the_last_handle_dropped_by_a_thread_local_destructor", || {
        let before = threads();
        let exited = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&exited);
        let pool = ThreadPool::builder()
            .num_workers(3)
            .exit_handler(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let handle = pool.clone();
        drop(pool);
        thread::spawn(move || KEPT.with(|k| *k.borrow_mut() = Some(handle))).join().unwrap();
        assert_eq!(settle_threads(before), before, "after a plain thread's TLS destructor");
        assert_eq!(exited.load(Ordering::SeqCst), 3);

        // A worker of pool `a` keeps the last handle to pool `b` in a
        // thread-local; `a` is then dropped, so the worker exits.
        let a = ThreadPool::new(1).unwrap();
        let b = ThreadPool::new(2).unwrap();
        let sum: u64 = b.map(|x: u64| x, 0..100u64).sum();
        assert_eq!(sum, 4950);
        a.submit(move || KEPT.with(|k| *k.borrow_mut() = Some(b))).wait().unwrap();
        drop(a);
        assert_eq!(settle_threads(before), before, "after a worker's TLS destructor");
    });
}

/// The last handle dropped from inside one of the pool's own tasks, and
/// the last map iterated and dropped inside one: the workers are not joined
/// (a worker cannot join itself) but must still leave, and the handles kept
/// outside must still resolve.
#[test]
fn pools_dropped_from_their_own_workers_leave_no_thread() {
    in_child("pools_dropped_from_their_own_workers_leave_no_thread", || {
        let before = threads();
        for round in 0..20 {
            let pool = ThreadPool::new(3).unwrap();
            let (release, gate) = mpsc::channel::<()>();
            let blocked = pool.submit(move || gate.recv().map(|()| 1u32));
            let queued: Vec<_> = (0..50u32).map(|i| pool.submit(move || i)).collect();
            let (go_tx, go) = mpsc::channel::<()>();
            let last = pool.clone();
            let dropper = pool.submit(move || {
                go.recv().unwrap();
                drop(last);
            });
            drop(pool);
            go_tx.send(()).unwrap();
            dropper.wait().unwrap();
            // The pool is gone for its users, but the blocked task's handle
            // still resolves once released, and so do the queued ones.
            release.send(()).unwrap();
            assert_eq!(blocked.wait(), Ok(Ok(1)));
            for (i, handle) in queued.into_iter().enumerate() {
                assert_eq!(handle.wait(), Ok(i as u32));
            }
            assert_eq!(settle_threads(before), before, "round {round}: after a task dropped the last handle");

            // A map moved into a task of its own pool, half read there, then
            // dropped there as the last handle.
            let pool = ThreadPool::new(2).unwrap();
            let map = pool.map(|x: u64| x * 2, 0..1_000_000u64).chunk_size(16);
            let (go_tx, go) = mpsc::channel::<()>();
            let got = pool.submit(move || {
                go.recv().unwrap();
                let mut map = map;
                map.nth(10)
            });
            drop(pool);
            go_tx.send(()).unwrap();
            assert_eq!(got.wait(), Ok(Some(20)));
            assert_eq!(settle_threads(before), before, "round {round}: after a map dropped on a worker");

            // shutdown_now from inside a task; a task submitted after it,
            // holding a handle, is cancelled and its closure dropped.
            let pool = ThreadPool::new(2).unwrap();
            let a = pool.clone();
            let first = pool.submit(move || a.shutdown_now());
            assert_eq!(first.wait(), Ok(()));
            let b = pool.clone();
            let late = pool.submit(move || drop(b));
            drop(pool);
            assert_eq!(late.wait(), Err(TaskError::Cancelled));
            assert_eq!(settle_threads(before), before, "round {round}: after shutdown_now from a task");
        }
    });
}

/// 1000 pools made and dropped in a loop, each a different way, leave the
/// thread count where it was.
#[test]
fn a_thousand_pools_made_and_dropped_leave_no_thread() {
    in_child("a_thousand_pools_made_and_dropped_leave_no_thread", || {
        let before = threads();
        for i in 0..1000u64 {
            let pool = ThreadPool::new(1 + (i % 3) as usize).unwrap();
            match i % 5 {
                0 => {}
                1 => assert_eq!(pool.submit(move || i).wait(), Ok(i)),
                2 => {
                    let mut map = pool.map(|x: u64| x + 1, 0..).chunk_size(4);
                    assert_eq!(map.next(), Some(1));
                    drop(pool);
                    drop(map);
                    continue;
                }
                3 => pool.shutdown_now(),
                _ => {
                    let handle = pool.submit(|| thread::sleep(Duration::from_micros(50)));
                    drop(pool);
                    assert_eq!(handle.wait(), Ok(()));
                    continue;
                }
            }
            drop(pool);
        }
        assert_eq!(settle_threads(before), before);
    });
}

/// A builder whose `start_handler` panics (every worker), and builds that
/// fail after starting some workers: no thread survives either.
#[test]
fn failed_builds_and_panicking_start_handlers_leave_no_thread() {
    in_child("failed_builds_and_panicking_start_handlers_leave_no_thread", || {
        quiet_intentional_panics();
        let before = threads();
        for _ in 0..20 {
            let pool = ThreadPool::builder()
                .num_workers(4)
                .start_handler(|i| panic!("{INTENTIONAL}: start handler {i}"))
                .exit_handler(|i| panic!("{INTENTIONAL}: exit handler {i}"))
                .build()
                .unwrap();
            assert_eq!(pool.map(|x: u32| x + 1, 0..100).sum::<u32>(), 5050);
            drop(pool);
            assert_eq!(settle_threads(before), before, "after panicking handlers");
            // The thread name hook panics on the third worker, after two
            // were started: the panic leaves `build`, and those two must
            // not be left running.
            let outcome = panic::catch_unwind(|| {
                ThreadPool::builder()
                    .num_workers(4)
                    .thread_name(|i| if i == 2 { panic!("{INTENTIONAL}: name {i}") } else { format!("w{i}") })
                    .build()
            });
            assert!(outcome.is_err());
            assert_eq!(settle_threads(before), before, "after a panicking thread-name hook");
            // A name std cannot give a thread, on the third worker: an
            // error naming it, not std's panic, and no worker left.
            let refused = ThreadPool::builder()
                .num_workers(4)
                .thread_name(|i| if i == 2 { "w\0two".to_owned() } else { format!("w{i}") })
                .build()
                .map(drop)
                .unwrap_err();
            assert!(
                matches!(&refused, pool::BuildError::ThreadName { worker: 2, name } if name == "w\0two"),
                "{refused:?}"
            );
            assert!(refused.to_string().contains("NUL"), "{refused}");
            assert_eq!(settle_threads(before), before, "after a name holding NUL");
        }
    });
}

/// A thousand workers: built, used for a map and a scope, and dropped.
#[test]
fn a_thousand_workers() {
    in_child("a_thousand_workers", || {
        let before = threads();
        let started = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&started);
        let pool = ThreadPool::builder()
            .num_workers(1000)
            .stack_size(64 << 10)
            .start_handler(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        assert_eq!(threads(), before + 1000);
        // Small work: with 1000 workers on a small machine every wake-up
        // wave costs workers × workers idle polls (seconds in a debug build).
        let sum: u64 = pool.map(|x: u64| x, 0..5000u64).chunk_size(50).sum();
        assert_eq!(sum, 5000 * 4999 / 2);
        let total = pool.map_collect(|x: u64| x, 0..5000u64).into_iter().sum::<u64>();
        assert_eq!(total, 5000 * 4999 / 2);
        let local = [3u64; 4];
        assert_eq!(pool.scope(|s| s.map(|i: usize| local[i], 0..4).sum::<u64>()), 12);
        drop(pool);
        assert_eq!(started.load(Ordering::SeqCst), 1000);
        assert_eq!(settle_threads(before), before);
    });
}

/// A task handle kept after its pool is gone: its wait returns (value,
/// panic, or cancelled), also from another thread, also with timeouts.
#[test]
fn handles_outlive_their_pool_and_still_resolve() {
    quiet_intentional_panics();
    within(LIMIT, "handles after the pool is gone", || {
        let pool = ThreadPool::new(1).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let blocked = pool.submit(move || gate.recv().map(|()| "released"));
        let queued = pool.submit(|| 5u8);
        let panicking = pool.submit(|| -> u8 { panic!("{INTENTIONAL}: task") });
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            release.send(()).unwrap();
        });
        // Dropping the last handle finishes what is queued: it returns
        // once the released task and the queued ones have run.
        drop(pool);
        releaser.join().unwrap();
        assert_eq!(blocked.wait_timeout(Duration::from_secs(10)).ok(), Some(Ok(Ok("released"))));
        assert_eq!(thread::spawn(move || queued.wait()).join().unwrap(), Ok(5));
        assert!(panicking.wait().unwrap_err().is_panic());

        // After shutdown_now with a held worker, the queued handle says
        // cancelled, whoever asks and however late.
        let pool = ThreadPool::new(1).unwrap();
        let (release, held) = hold_one_worker(&pool);
        let queued: Vec<_> = (0..10).map(|i| pool.submit(move || i)).collect();
        let shutter = {
            let pool = pool.clone();
            thread::spawn(move || pool.shutdown_now())
        };
        wait_for_shutdown(&pool);
        release.send(()).unwrap();
        shutter.join().unwrap();
        drop(pool);
        assert_eq!(held.wait(), Ok(()));
        for handle in queued {
            assert!(handle.is_finished());
            assert_eq!(handle.wait(), Err(TaskError::Cancelled));
        }
    });
}

static SLOT: Mutex<Option<ThreadPool>> = Mutex::new(None);

/// `shutdown_now` from two outside threads and from inside a task at the
/// same moment; then the last handle, kept in a global, dropped by a
/// worker's exit handler (on a worker, so not joined): every call
/// returns, every handle resolves, no thread is left.
#[test]
fn racing_shutdowns_and_a_last_handle_dropped_by_an_exit_handler() {
    in_child("racing_shutdowns_and_a_last_handle_dropped_by_an_exit_handler", || {
        let before = threads();
        for round in 0..50 {
            let pool = ThreadPool::builder()
                .num_workers(3)
                .exit_handler(|_| drop(SLOT.lock().unwrap().take()))
                .build()
                .unwrap();
            let barrier = Arc::new(Barrier::new(3));
            let inside = {
                let (pool2, barrier) = (pool.clone(), Arc::clone(&barrier));
                pool.submit(move || {
                    barrier.wait();
                    pool2.shutdown_now();
                })
            };
            let queued: Vec<_> = (0..100u32).map(|i| pool.submit(move || i)).collect();
            let outside: Vec<_> = (0..2)
                .map(|_| {
                    let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
                    thread::spawn(move || {
                        // One of them arrives late, after the others began.
                        barrier.wait();
                        pool.shutdown_now();
                        pool.shutdown_now();
                    })
                })
                .collect();
            for t in outside {
                t.join().unwrap();
            }
            assert_eq!(inside.wait(), Ok(()));
            for (i, handle) in queued.into_iter().enumerate() {
                match handle.wait() {
                    Ok(v) => assert_eq!(v, i as u32),
                    Err(e) => assert_eq!(e, TaskError::Cancelled),
                }
            }
            // The outside calls joined the workers; this drops the last handle.
            drop(pool);
            assert_eq!(settle_threads(before), before, "round {round}: after racing shutdowns");

            // Now the exit handler drops the last handle itself.
            let pool = ThreadPool::builder()
                .num_workers(2)
                .exit_handler(|_| drop(SLOT.lock().unwrap().take()))
                .build()
                .unwrap();
            *SLOT.lock().unwrap() = Some(pool.clone());
            let last = pool.clone();
            drop(pool);
            // A task shuts the pool down and drops its handle: only the
            // slot's is left, and an exit handler drops it on a worker.
            last.submit({
                let last = last.clone();
                move || last.shutdown_now()
            })
            .wait()
            .unwrap();
            drop(last);
            assert_eq!(settle_threads(before), before, "round {round}: last handle dropped by an exit handler");
            assert!(SLOT.lock().unwrap().is_none());
        }
    });
}

/// Eight threads use one pool at once, each through its own clone and with
/// every kind of call, and each drops its clone when done: whichever is
/// last joins the workers, and nothing is left.
#[test]
fn eight_threads_share_one_pool_and_the_last_one_out_joins_it() {
    in_child("eight_threads_share_one_pool_and_the_last_one_out_joins_it", || {
        let before = threads();
        for _ in 0..5 {
            let pool = ThreadPool::new(3).unwrap();
            let start = Arc::new(Barrier::new(8));
            let users: Vec<_> = (0..8u64)
                .map(|t| {
                    let (pool, start) = (pool.clone(), Arc::clone(&start));
                    thread::spawn(move || {
                        start.wait();
                        let n = 2000 + 100 * t;
                        let expected: u64 = (0..n).map(|x| x * t).sum();
                        let ordered: u64 = pool.map(move |x: u64| x * t, 0..n).sum();
                        let mut unordered: Vec<(usize, u64)> =
                            pool.map_unordered(move |x: u64| x * t, 0..n).map(|(i, r)| (i, r.unwrap())).collect();
                        unordered.sort_unstable();
                        let collected = pool.map_collect(|x: u64| x * t, 0..n);
                        let local = [t; 10];
                        let scoped: u64 = pool.scope(|s| s.map(|i: usize| local[i], 0..10).sum());
                        let inner = pool.clone();
                        let nested = pool.submit(move || inner.map(|x: u64| x, 0..100u64).sum::<u64>()).wait().unwrap();
                        drop(pool);
                        assert_eq!(ordered, expected);
                        assert_eq!(unordered.iter().map(|&(_, v)| v).sum::<u64>(), expected);
                        assert!(unordered.iter().enumerate().all(|(k, &(i, _))| k == i));
                        assert_eq!(collected.iter().sum::<u64>(), expected);
                        assert_eq!((scoped, nested), (10 * t, 4950));
                    })
                })
                .collect();
            drop(pool);
            for user in users {
                user.join().unwrap();
            }
            assert_eq!(settle_threads(before), before);
        }
    });
}

// ---------------------------------------------------------------------------
// 2. Two of everything at once
// ---------------------------------------------------------------------------

/// Two maps of every flavour on one pool, consumed by hand in turns (one
/// `next` each), on one worker with and without a start handler (with
/// one, the consumer never runs `f`, so each map waits on the worker that
/// the other map's chunks also need); then one dropped midway while the
/// other finishes.
#[test]
fn two_maps_on_one_pool_interleaved_by_hand() {
    within(LIMIT, "two maps interleaved", || {
        for handler in [false, true] {
            let builder = ThreadPool::builder().num_workers(1);
            let builder = if handler { builder.start_handler(|_| {}) } else { builder };
            let pool = builder.build().unwrap();
            for chunking in [Chunking::Auto, Chunking::Fixed(1), Chunking::Fixed(7)] {
                let n = 500u64;
                let mut a = pool.map(|x: u64| x * 2, 0..n).chunk_size(chunking);
                let mut b = pool.try_map(|x: u64| x * 3, 0..n).chunk_size(chunking).window(1);
                let mut c = pool.map_unordered(|x: u64| x + 1, 0..n).chunk_size(chunking);
                let mut seen = vec![false; n as usize];
                for x in 0..n {
                    assert_eq!(a.next(), Some(x * 2), "{chunking:?}");
                    assert_eq!(b.next(), Some(Ok(x * 3)), "{chunking:?}");
                    let (i, r) = c.next().unwrap();
                    assert_eq!(r, Ok(i as u64 + 1));
                    assert!(!std::mem::replace(&mut seen[i], true));
                }
                assert!((a.next(), b.next(), c.next()) == (None, None, None));
                // One dropped half read while the other goes on.
                let mut a = pool.map(|x: u64| x, 0..n).chunk_size(chunking);
                let mut b = pool.map(|x: u64| x, 0..n).chunk_size(chunking);
                for x in 0..n / 2 {
                    assert_eq!((a.next(), b.next()), (Some(x), Some(x)));
                }
                drop(a);
                assert!(b.eq(n / 2..n));
            }
        }
    });
}

/// Maps nested across two pools, each with one worker and a start handler
/// (so no consumer that is not one of a pool's workers runs its `f`): a
/// task on `a` consumes a map on `b` whose `f` consumes a map on `a`, and
/// the other way round, at the same time; each pool's only worker waits
/// on the other's.
#[test]
fn maps_nested_across_two_one_worker_pools_with_start_handlers() {
    within(LIMIT, "maps nested across two pools", || {
        let a = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
        let b = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
        let cross = |outer: &ThreadPool, inner: &ThreadPool| {
            let (outer2, inner) = (outer.clone(), inner.clone());
            outer.submit(move || {
                let inner2 = outer2.clone();
                inner
                    .map(move |n: u64| inner2.map(|x: u64| x, 0..n).chunk_size(3).sum::<u64>(), 0..30u64)
                    .chunk_size(2)
                    .collect::<Vec<u64>>()
            })
        };
        let (ab, ba) = (cross(&a, &b), cross(&b, &a));
        let expected: Vec<u64> = (0..30u64).map(|n| n * n.saturating_sub(1) / 2).collect();
        assert_eq!(ab.wait().unwrap(), expected);
        assert_eq!(ba.wait().unwrap(), expected);
    });
}

// ---------------------------------------------------------------------------
// 3. Extremes
// ---------------------------------------------------------------------------

/// 10^12 lazily generated inputs, `take(10)`: every flavour (with a
/// progress callback, fixed chunks, a scope) returns promptly, having read
/// only a bounded number of inputs.
#[test]
fn a_trillion_lazy_inputs_with_take_ten_read_a_bounded_prefix() {
    within(LIMIT, "10^12 inputs, take(10)", || {
        const N: u64 = 1_000_000_000_000;
        // A window of automatic chunks, plus the chunk being handed out.
        let bound = |workers: usize| (4 * workers + 2) * pool::MAX_AUTO_CHUNK;
        let pool = ThreadPool::new(2).unwrap();
        let expected: Vec<u64> = (0..10).map(|x| x + 1).collect();

        let (inputs, pulled) = Counted::new((0..N).map(|x| x + 1));
        let seen = Arc::new(AtomicUsize::new(0));
        let progress = Arc::clone(&seen);
        let out: Vec<u64> = pool
            .map(|x| x, inputs)
            .on_progress(move |p| {
                progress.fetch_max(p.done, Ordering::SeqCst);
            })
            .take(10)
            .collect();
        assert_eq!(out, expected);
        assert!(pulled.load(Ordering::SeqCst) <= bound(2), "map pulled {}", pulled.load(Ordering::SeqCst));

        let (inputs, pulled) = Counted::new((0..N).map(|x| x + 1));
        let out: Vec<u64> = pool.try_map(|x| x, inputs).chunk_size(1000).take(10).map(Result::unwrap).collect();
        assert_eq!(out, expected);
        assert!(pulled.load(Ordering::SeqCst) <= 1000 * (4 * 2 + 2));

        let (inputs, pulled) = Counted::new((0..N).map(|x| (x, 1u64)));
        let out: Vec<u64> = pool.starmap(|x: u64, y: u64| x + y, inputs).take(10).collect();
        assert_eq!(out, expected);
        assert!(pulled.load(Ordering::SeqCst) <= bound(2));

        let (inputs, pulled) = Counted::new((0..N).map(|x| x + 1));
        let out: Vec<(usize, Result<u64, TaskError>)> = pool.map_unordered(|x| x, inputs).take(10).collect();
        assert_eq!(out.len(), 10);
        assert!(out.iter().all(|(i, r)| r == &Ok(*i as u64 + 1)));
        assert!(pulled.load(Ordering::SeqCst) <= bound(2));

        let offset = 1u64;
        let (inputs, pulled) = Counted::new(0..N);
        let out: Vec<u64> = pool.scope(|s| s.map(|x: u64| x + offset, inputs).take(10).collect());
        assert_eq!(out, expected);
        assert!(pulled.load(Ordering::SeqCst) <= bound(2));
        assert!(seen.load(Ordering::SeqCst) <= bound(2));
    });
}

/// Values whose every drop panics, through every path a value takes at
/// once: inputs, results, results never read, handles never waited on,
/// captures of cancelled tasks; the pool stays usable and each value is
/// dropped exactly once.
#[test]
fn every_value_panicking_in_drop_is_dropped_exactly_once_and_the_pool_survives() {
    quiet_intentional_panics();
    within(LIMIT, "all bombs", || {
        let pool = ThreadPool::new(2).unwrap();
        let n = 300;
        let ledger = Ledger::new(4 * n);
        let (l1, l2) = (Arc::clone(&ledger), Arc::clone(&ledger));
        // Half read, then dropped: the results still queued are bombs too.
        let mut map = pool
            .map(
                move |t: Tracked| {
                    let id = t.id;
                    l1.computed(id);
                    // The input's own bomb goes off here, caught.
                    assert!(panic::catch_unwind(AssertUnwindSafe(move || drop(t))).is_err());
                    l1.make(n + id, true)
                },
                (0..n).map(|i| ledger.make(i, true)).collect::<Vec<_>>(),
            )
            .chunk_size(5);
        for _ in 0..n / 2 {
            let item = map.next().unwrap();
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| drop(item)));
            assert!(outcome.is_err(), "the bomb went off in the consumer's hands");
        }
        // Unread results are dropped one by one under guards: at most one
        // panic comes out of the drop (documented), never an abort.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(map)));
        // Handles never waited on, whose results are bombs: dropped on the
        // worker, or (documented) by the handle's dropper if the task had
        // already finished, whose panic it then is.
        for i in 0..n {
            let l2 = Arc::clone(&l2);
            let handle = pool.submit(move || l2.make(2 * n + i, true));
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(handle)));
        }
        // Captures of tasks cancelled by shutdown_now, behind a held worker.
        let (release, held) = hold_one_worker(&pool);
        let (release2, held2) = hold_one_worker(&pool);
        let cancelled: Vec<_> = (0..n)
            .map(|i| {
                let bomb = ledger.make(3 * n + i, true);
                // The whole value, not just its (copied) field.
                pool.submit(move || std::convert::identity(bomb).id)
            })
            .collect();
        let shutter = {
            let pool = pool.clone();
            thread::spawn(move || pool.shutdown_now())
        };
        wait_for_shutdown(&pool);
        release.send(()).unwrap();
        release2.send(()).unwrap();
        shutter.join().unwrap();
        assert_eq!((held.wait(), held2.wait()), (Ok(()), Ok(())));
        // A cancelled task whose capture panics in `Drop` reports that panic
        // (the capture is dropped under a guard, on whichever thread cancels).
        for (i, handle) in cancelled.into_iter().enumerate() {
            let error = handle.wait().unwrap_err();
            let expected = format!("drop of {}", 3 * n + i);
            assert!(error.panic_message().is_some_and(|m| m.ends_with(&expected)), "task {i}");
        }
        drop(pool);
        ledger.assert_settled("bombs everywhere");
        // A fresh pool works as ever.
        assert_eq!(ThreadPool::new(2).unwrap().map(|x: u32| x, 0..10).sum::<u32>(), 45);
    });
}

// ---------------------------------------------------------------------------
// 4. Exactly once under shutdown_now at random moments
// ---------------------------------------------------------------------------

/// `map_collect` over owned inputs, with `shutdown_now` called at a random
/// item from inside `f` (on a worker) or from another thread: either every
/// result comes back, or it panics saying the pool was shut down; either
/// way each input is computed at most once and every value made (inputs,
/// results) is dropped exactly once.
#[test]
fn map_collect_over_owned_inputs_with_shutdown_now_at_random_moments() {
    quiet_intentional_panics();
    within(LIMIT, "map_collect with shutdown_now", || {
        let mut rng = XorShift::new(0x5eed);
        for round in 0..60 {
            let n = 50 + rng.below(400) as usize;
            let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
            let ledger = Ledger::new(2 * n);
            let inputs: Vec<Tracked> = (0..n).map(|i| ledger.make(i, false)).collect();
            let at = rng.below(n as u64) as usize;
            let from_inside = round % 2 == 0;
            let shutter = pool.clone();
            let outside = (!from_inside).then(|| {
                let pool = pool.clone();
                let delay = rng.below(300);
                thread::spawn(move || {
                    thread::sleep(Duration::from_micros(delay));
                    pool.shutdown_now();
                })
            });
            let l = Arc::clone(&ledger);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.map_collect(
                    move |t: Tracked| {
                        l.computed(t.id);
                        if from_inside && t.id == at {
                            shutter.shutdown_now();
                        }
                        thread::sleep(Duration::from_micros(2));
                        l.make(n + t.id, false)
                    },
                    inputs,
                )
            }));
            if let Some(t) = outside {
                t.join().unwrap();
            }
            match outcome {
                Ok(results) => {
                    assert_eq!(results.len(), n);
                    assert!(results.iter().enumerate().all(|(i, r)| r.id == n + i));
                }
                Err(payload) => {
                    let message = panic_message(&*payload).unwrap_or_default();
                    assert!(message.contains("shut down before every item ran"), "round {round}: {message}");
                }
            }
            drop(pool);
            ledger.assert_settled(&format!("round {round}"));
        }
    });
}

/// Scoped tasks (`spawn` and `submit`) and a scoped map whose closures
/// own counted values, with `shutdown_now` from one of the tasks at a
/// random moment: the scope returns or raises the cancellation, and each
/// value is dropped exactly once either way.
#[test]
fn scoped_tasks_and_maps_owning_values_with_shutdown_now_at_random_moments() {
    quiet_intentional_panics();
    within(LIMIT, "scope with shutdown_now", || {
        let mut rng = XorShift::new(77);
        for round in 0..60 {
            let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
            let n = 100;
            let ledger = Ledger::new(2 * n);
            let at = rng.below(n as u64) as usize;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.scope(|s| {
                    let mut handles = Vec::new();
                    for i in 0..n {
                        let value = ledger.make(i, false);
                        let shut = (i == at).then(|| pool.clone());
                        if i % 2 == 0 {
                            s.spawn(move || {
                                if let Some(pool) = shut {
                                    pool.shutdown_now();
                                }
                                drop(value);
                            });
                        } else {
                            handles.push(s.submit(move || {
                                if let Some(pool) = shut {
                                    pool.shutdown_now();
                                }
                                value
                            }));
                        }
                    }
                    let l = Arc::clone(&ledger);
                    let mapped: Vec<_> = s.try_map(move |i: usize| l.make(n + i, false), 0..n).chunk_size(3).collect();
                    for handle in handles {
                        match handle.wait() {
                            Ok(value) => assert!(value.id < n),
                            Err(e) => assert_eq!(e, TaskError::Cancelled),
                        }
                    }
                    mapped.len()
                })
            }));
            if let Err(payload) = outcome {
                let message = panic_message(&*payload).unwrap_or_default().to_owned();
                assert!(message.contains("cancelled by shutdown_now"), "round {round}: {message}");
            }
            drop(pool);
            ledger.assert_settled(&format!("round {round}"));
        }
    });
}
