//! Adversarial tests, from outside the crate, of task handles after the
//! lock-free `ResultCell` hand-off (state atomic + `sleeping` flag), and of
//! maps whose chunks now travel inside their task's closure (the consumer
//! runs a chunk no worker has taken itself; unordered chunks report
//! through a `Report` that says "cancelled" when dropped unrun).
//!
//! Every scenario runs under a deadlock guard ([`common::within`]) and
//! counts the values it makes and drops, so a lost wake-up fails as a
//! timeout and a double drop or a leak fails as a count mismatch. Races
//! are looped a few hundred times; nothing asserts on timing.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{panic_message, quiet_intentional_panics, within, XorShift, INTENTIONAL};
use pool::{TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Counts values made and dropped.
#[derive(Default)]
struct Counts {
    made: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counts {
    fn new() -> Arc<Counts> {
        Arc::new(Counts::default())
    }

    fn make(self: &Arc<Self>, id: u64, bomb: bool) -> Tracked {
        self.made.fetch_add(1, Ordering::SeqCst);
        Tracked { id, bomb, counts: Arc::clone(self) }
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Every value made was dropped exactly once (call once the pool is
    /// joined and every handle is gone).
    fn assert_settled(&self, what: &str) {
        let (made, dropped) = (self.made(), self.dropped());
        assert_eq!(made, dropped, "{what}: {made} values made, {dropped} dropped");
    }
}

/// A counted value; a bomb's `Drop` panics after counting the drop.
struct Tracked {
    id: u64,
    bomb: bool,
    counts: Arc<Counts>,
}

impl Tracked {
    fn defuse(mut self) -> u64 {
        self.bomb = false;
        self.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let before = self.counts.dropped.fetch_add(1, Ordering::SeqCst);
        assert!(before < self.counts.made(), "more drops than values made: a value dropped twice");
        if self.bomb && !thread::panicking() {
            panic!("{INTENTIONAL}: bomb {} dropped", self.id);
        }
    }
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tracked({})", self.id)
    }
}

/// A few spins, so the worker's completion lands at varied points of the
/// waiter's protocol.
fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// A pool whose only worker is held until the sender is used (or dropped).
fn held_pool() -> (ThreadPool, mpsc::Sender<()>, pool::TaskHandle<()>) {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let holder = pool.submit(move || {
        started_tx.send(()).unwrap();
        let _ = rx.recv();
    });
    started_rx.recv().unwrap();
    (pool, tx, holder)
}

// ---------------------------------------------------------------------------
// TaskHandle: waits, drops and cancels racing the worker
// ---------------------------------------------------------------------------

/// Every kind of wait (untimed, zero, one-nanosecond, long timeouts,
/// repeated; polling `is_finished`) racing the task's completion gets the
/// task's value exactly once and never hangs (a lost wake-up of the
/// lock-free hand-off would hang here).
#[test]
fn every_kind_of_wait_racing_completion_gets_the_value_once() {
    within(LIMIT, "waits racing completion", || {
        let pool = ThreadPool::new(2).unwrap();
        let counts = Counts::new();
        let mut rng = XorShift::new(17);
        for round in 0..2000u64 {
            let handles: Vec<_> = (0..4u64)
                .map(|k| {
                    let c = Arc::clone(&counts);
                    let work = rng.below(2_000);
                    pool.submit(move || {
                        spin(work);
                        c.make(round * 4 + k, false)
                    })
                })
                .collect();
            for (k, handle) in handles.into_iter().enumerate() {
                let id = round * 4 + k as u64;
                let got = match (round + k as u64) % 6 {
                    0 => handle.wait(),
                    1 => {
                        let mut h = handle;
                        loop {
                            match h.wait_timeout(Duration::ZERO) {
                                Ok(r) => break r,
                                Err(back) => h = back,
                            }
                        }
                    }
                    2 => {
                        let mut h = handle;
                        loop {
                            match h.wait_timeout(Duration::from_nanos(1)) {
                                Ok(r) => break r,
                                Err(back) => h = back,
                            }
                        }
                    }
                    3 => handle.wait_timeout(Duration::from_secs(50)).expect("a 50 s timed wait timed out"),
                    4 => {
                        while !handle.is_finished() {
                            thread::yield_now();
                        }
                        handle.wait_timeout(Duration::ZERO).expect("finished, yet a zero wait timed out")
                    }
                    _ => {
                        // A short timed wait that may sleep, then an untimed one.
                        match handle.wait_timeout(Duration::from_micros(rng.below(50))) {
                            Ok(r) => r,
                            Err(back) => back.wait(),
                        }
                    }
                };
                assert_eq!(got.map(Tracked::defuse), Ok(id));
            }
        }
        drop(pool);
        assert_eq!(counts.made(), 8000);
        counts.assert_settled("results");
    });
}

/// Waiters on other threads (so the waiter, not the consumer, sleeps on
/// the cell) racing completions: each gets its value, none hangs.
#[test]
fn outside_waiters_sleeping_on_the_cell_are_always_woken() {
    within(LIMIT, "sleeping waiters", || {
        let pool = ThreadPool::new(2).unwrap();
        let counts = Counts::new();
        for round in 0..400u64 {
            let go = Arc::new(AtomicBool::new(false));
            let handles: Vec<_> = (0..3u64)
                .map(|k| {
                    let (c, go) = (Arc::clone(&counts), Arc::clone(&go));
                    pool.submit(move || {
                        while !go.load(Ordering::SeqCst) {
                            std::hint::spin_loop();
                        }
                        spin(k * 300);
                        c.make(round * 3 + k, false)
                    })
                })
                .collect();
            let waiters: Vec<_> = handles
                .into_iter()
                .enumerate()
                .map(|(k, h)| {
                    thread::spawn(move || {
                        let r = if k == 1 {
                            match h.wait_timeout(Duration::from_secs(50)) {
                                Ok(r) => r,
                                Err(_) => panic!("a 50 s timed wait timed out"),
                            }
                        } else {
                            h.wait()
                        };
                        r.map(Tracked::defuse)
                    })
                })
                .collect();
            // Let some waiters reach the condition variable first.
            if round % 2 == 0 {
                thread::yield_now();
            }
            go.store(true, Ordering::SeqCst);
            for (k, w) in waiters.into_iter().enumerate() {
                assert_eq!(w.join().unwrap(), Ok(round * 3 + k as u64));
            }
        }
        drop(pool);
        counts.assert_settled("results");
    });
}

/// A handle dropped before, during or after its task completes: the task
/// still runs (dropping does not cancel), and its value is dropped exactly
/// once, whoever drops it. Values whose `Drop` panics cost one panic at
/// most (where the dropper is this thread), never a double drop, a leak,
/// or a dead worker.
#[test]
fn handles_dropped_before_during_and_after_completion_drop_each_value_once() {
    quiet_intentional_panics();
    within(LIMIT, "dropped handles", || {
        let pool = ThreadPool::new(2).unwrap();
        let counts = Counts::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut rng = XorShift::new(5);
        let mut panics_here = 0;
        for round in 0..3000u64 {
            let c = Arc::clone(&counts);
            let r = Arc::clone(&ran);
            let work = rng.below(3_000);
            let bomb = round % 3 == 0;
            let handle = pool.submit(move || {
                spin(work);
                r.fetch_add(1, Ordering::SeqCst);
                c.make(round, bomb)
            });
            match round % 4 {
                0 => {}
                1 => spin(rng.below(3_000)),
                2 => {
                    while !handle.is_finished() {
                        thread::yield_now();
                    }
                }
                _ => {
                    match handle.wait_timeout(Duration::ZERO) {
                        // Finished already: the value is ours.
                        Ok(r) => assert_eq!(r.map(Tracked::defuse), Ok(round)),
                        // Dropped right after a failed zero wait.
                        Err(back) => {
                            if panic::catch_unwind(AssertUnwindSafe(move || drop(back))).is_err() {
                                assert!(bomb, "a drop panicked for a value that is not a bomb");
                                panics_here += 1;
                            }
                        }
                    }
                    continue;
                }
            }
            if panic::catch_unwind(AssertUnwindSafe(move || drop(handle))).is_err() {
                assert!(bomb, "a drop panicked for a value that is not a bomb");
                panics_here += 1;
            }
        }
        // Every task ran: dropping a handle does not cancel.
        drop(pool);
        assert_eq!(ran.load(Ordering::SeqCst), 3000);
        assert_eq!(counts.made(), 3000);
        counts.assert_settled("results of dropped handles");
        assert!(panics_here <= 750, "{panics_here}");
    });
}

/// `cancel` called from two threads at once while the worker may be
/// starting the task, and a third thread waiting: the outcome is the value
/// or `Cancelled`, the same for everyone; the closure's captures are
/// dropped exactly once either way.
#[test]
fn cancel_from_several_threads_races_the_worker_and_the_waiter() {
    within(LIMIT, "cancel races", || {
        let pool = ThreadPool::new(1).unwrap();
        let (captures, results) = (Counts::new(), Counts::new());
        let mut cancelled = 0;
        let mut rng = XorShift::new(99);
        for round in 0..1500u64 {
            let capture = captures.make(round, false);
            let c = Arc::clone(&results);
            let handle = pool.submit(move || {
                let id = capture.id;
                c.make(id, false)
            });
            let (a, b) = (rng.below(500), rng.below(500));
            thread::scope(|s| {
                let h = &handle;
                s.spawn(move || {
                    spin(a);
                    h.cancel();
                });
                s.spawn(move || {
                    spin(b);
                    h.cancel();
                    h.cancel();
                });
                let _ = h.is_finished();
            });
            match handle.wait() {
                Ok(v) => assert_eq!(v.defuse(), round),
                Err(e) => {
                    assert_eq!(e, TaskError::Cancelled);
                    cancelled += 1;
                }
            }
        }
        drop(pool);
        captures.assert_settled("captures");
        results.assert_settled("results");
        assert_eq!(results.made() + cancelled, 1500);
    });
}

/// `shutdown_now` racing waits of every kind, cancels and handle drops
/// from several threads: every outcome is the task's value or
/// `Cancelled`, nothing hangs, every capture and result is dropped once,
/// and the pool refuses work afterwards.
#[test]
fn shutdown_now_racing_waits_cancels_and_drops_settles_every_value() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now vs handles", || {
        let (captures, results) = (Counts::new(), Counts::new());
        let mut rng = XorShift::new(3);
        for round in 0..150u64 {
            let pool = ThreadPool::new(2).unwrap();
            let handles: Vec<_> = (0..24u64)
                .map(|k| {
                    let capture = captures.make(k, k % 7 == 3);
                    let c = Arc::clone(&results);
                    let work = rng.below(4_000);
                    pool.submit(move || {
                        spin(work);
                        let id = capture.id;
                        // The capture (a bomb, for some) is dropped here,
                        // inside the guarded call: its panic is the task's.
                        drop(capture);
                        c.make(id, false)
                    })
                })
                .collect();
            let delay = rng.below(20_000);
            let stopper = {
                let pool = pool.clone();
                thread::spawn(move || {
                    spin(delay);
                    pool.shutdown_now();
                })
            };
            let mut by_thread: Vec<Vec<(u64, pool::TaskHandle<Tracked>)>> = (0..3).map(|_| Vec::new()).collect();
            for (k, h) in handles.into_iter().enumerate() {
                by_thread[k % 3].push((k as u64, h));
            }
            let waiters: Vec<_> = by_thread
                .into_iter()
                .enumerate()
                .map(|(t, hs)| {
                    thread::spawn(move || {
                        for (k, h) in hs {
                            let outcome = match (k + t as u64) % 5 {
                                0 => Some(h.wait()),
                                1 => {
                                    let mut h = h;
                                    loop {
                                        match h.wait_timeout(Duration::ZERO) {
                                            Ok(r) => break Some(r),
                                            Err(back) => h = back,
                                        }
                                        thread::yield_now();
                                    }
                                }
                                2 => {
                                    h.cancel();
                                    Some(h.wait())
                                }
                                3 => {
                                    drop(h);
                                    None
                                }
                                _ => Some(match h.wait_timeout(Duration::from_micros(30)) {
                                    Ok(r) => r,
                                    Err(back) => back.wait(),
                                }),
                            };
                            match outcome {
                                None => {}
                                Some(Ok(v)) => assert_eq!(v.defuse(), k),
                                Some(Err(TaskError::Cancelled)) => {}
                                Some(Err(e)) => {
                                    assert!(k % 7 == 3, "task {k}: {e:?}");
                                    assert!(e.panic_message().is_some_and(|m| m.contains("bomb")), "{e:?}");
                                }
                            }
                        }
                    })
                })
                .collect();
            stopper.join().unwrap();
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(pool.submit(|| 1).wait(), Err(TaskError::Cancelled), "round {round}");
            drop(pool);
        }
        captures.assert_settled("captures");
        results.assert_settled("results");
    });
}

/// A task waiting on a task it submitted, on a one-worker pool: timed
/// waits (zero, tiny, longer, repeated) only wait, so they time out, the
/// handle comes back intact, and an untimed wait then runs the task here.
#[test]
fn timed_waits_on_the_only_worker_time_out_then_an_untimed_wait_runs_the_task() {
    within(LIMIT, "timed waits on a worker", || {
        let pool = ThreadPool::new(1).unwrap();
        let counts = Counts::new();
        for round in 0..20u64 {
            let p = pool.clone();
            let c = Arc::clone(&counts);
            let outcome = pool
                .submit(move || {
                    let c2 = Arc::clone(&c);
                    let mut inner = p.submit(move || c2.make(round, false));
                    for timeout in [Duration::ZERO, Duration::from_nanos(1), Duration::from_micros(200), Duration::ZERO]
                    {
                        assert!(!inner.is_finished(), "the queued task ran while its only worker was busy");
                        inner = match inner.wait_timeout(timeout) {
                            Ok(r) => panic!("a timed wait on the only worker ran the task: {r:?}"),
                            Err(back) => back,
                        };
                    }
                    inner.wait().map(Tracked::defuse)
                })
                .wait();
            assert_eq!(outcome, Ok(Ok(round)));
        }
        drop(pool);
        counts.assert_settled("inner results");
    });
}

/// `shutdown_now` documents: "Whatever is submitted afterwards is
/// cancelled at once." That includes work submitted by a task still
/// running on a worker after it called `shutdown_now` (its own doc example
/// calls it from a task).
#[test]
fn submit_from_a_worker_after_shutdown_now_is_cancelled_at_once() {
    within(LIMIT, "submit after shutdown_now on a worker", || {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let outcome = pool
            .submit(move || {
                p.shutdown_now();
                let late = p.submit(|| 2);
                let finished_at_once = late.is_finished();
                (finished_at_once, late.wait())
            })
            .wait();
        assert_eq!(outcome, Ok((true, Err(TaskError::Cancelled))));
    });
}

// ---------------------------------------------------------------------------
// Scoped handles
// ---------------------------------------------------------------------------

/// Scoped handles borrowing the caller's data, waited on in every way,
/// cancelled, or dropped unread (some finished, some not), racing the
/// workers: the scope returns every value once, drops each result once,
/// and re-raises the panic of a task whose handle was dropped unread,
/// with its original payload.
#[test]
fn scoped_handles_borrowing_data_race_their_tasks_and_settle() {
    quiet_intentional_panics();
    within(LIMIT, "scoped handles", || {
        let pool = ThreadPool::new(2).unwrap();
        let results = Counts::new();
        let mut rng = XorShift::new(11);
        for round in 0..400u64 {
            let data: Vec<u64> = (0..8).map(|i| round * 100 + i).collect();
            let hits = AtomicUsize::new(0);
            let panicker = round % 5 == 0;
            let works: Vec<u64> = (0..8).map(|_| rng.below(2_000)).collect();
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.scope(|s| {
                    let (data, hits, results, works) = (&data, &hits, &results, &works);
                    let handles: Vec<_> = (0..8usize)
                        .map(|i| {
                            s.submit(move || {
                                spin(works[i]);
                                hits.fetch_add(1, Ordering::SeqCst);
                                if panicker && i == 7 {
                                    panic!("{INTENTIONAL}: scoped task {}", data[i]);
                                }
                                results.make(data[i], false)
                            })
                        })
                        .collect();
                    let mut got = Vec::new();
                    for (i, h) in handles.into_iter().enumerate() {
                        match i % 4 {
                            0 => got.push(h.wait().map(Tracked::defuse)),
                            1 => {
                                let mut h = h;
                                let r = loop {
                                    match h.wait_timeout(Duration::from_nanos(1)) {
                                        Ok(r) => break r,
                                        Err(back) => h = back,
                                    }
                                };
                                got.push(r.map(Tracked::defuse));
                            }
                            2 => {
                                h.cancel();
                                match h.wait() {
                                    Ok(v) => got.push(Ok(v.defuse())),
                                    Err(e) => assert_eq!(e, TaskError::Cancelled),
                                }
                            }
                            // Dropped unread: finished or not.
                            _ => drop(h),
                        }
                    }
                    got
                })
            }));
            match outcome {
                Ok(got) => {
                    assert!(!panicker, "round {round}: the dropped handle's panic was not re-raised");
                    for r in got {
                        let v = r.expect("scoped task failed");
                        assert_eq!(v / 100, round);
                    }
                }
                Err(payload) => {
                    assert!(panicker, "round {round}: unexpected scope panic");
                    let message = panic_message(&*payload).unwrap_or_default().to_owned();
                    assert_eq!(message, format!("{INTENTIONAL}: scoped task {}", round * 100 + 7));
                }
            }
            // The scope joined everything: the borrowed counter is final.
            assert!(hits.load(Ordering::SeqCst) <= 8);
            assert_eq!(results.made(), results.dropped(), "round {round}: scope returned with a result undropped");
        }
        drop(pool);
        results.assert_settled("scoped results");
    });
}

// ---------------------------------------------------------------------------
// Maps with one-item chunks and small windows
// ---------------------------------------------------------------------------

/// Which flavour of map a scenario drives.
#[derive(Clone, Copy, Debug)]
enum Flavour {
    Ordered,
    Try,
    Unordered,
}

const FLAVOURS: [Flavour; 3] = [Flavour::Ordered, Flavour::Try, Flavour::Unordered];

/// Takes up to `max` items from a map of the given flavour as
/// `(index, Result<id, message or cancelled>)`, catching `Map`'s re-raised
/// panics (its item index is then the position). Returns the items and
/// whether the map ended.
type Got = Vec<(usize, Result<u64, Option<String>>)>;

fn outcome_of(r: Result<Tracked, TaskError>) -> Result<u64, Option<String>> {
    r.map(Tracked::defuse).map_err(|e| e.panic_message().map(str::to_owned))
}

/// `f` for the map tests: counts the call, panics for `panics(id)`,
/// else makes a counted result.
fn map_f(
    results: &Arc<Counts>,
    calls: &Arc<AtomicUsize>,
    panics: fn(u64) -> bool,
) -> impl Fn(Tracked) -> Tracked + Send + Sync + Clone + 'static {
    let (results, calls) = (Arc::clone(results), Arc::clone(calls));
    move |x: Tracked| {
        let id = x.defuse();
        calls.fetch_add(1, Ordering::SeqCst);
        if panics(id) {
            panic!("{INTENTIONAL}: f({id})");
        }
        results.make(id, false)
    }
}

/// Pool-level maps of every flavour with one-item chunks and windows of
/// 1..=3, dropped after taking a few items (some `f` panic, some inputs'
/// `Drop` panics): each item handed out is the right one, in order for
/// ordered maps, each index at most once; once the pool is joined every
/// input and every result was dropped exactly once.
#[test]
fn one_item_chunk_maps_dropped_midway_settle_every_input_and_result() {
    quiet_intentional_panics();
    within(LIMIT, "maps dropped midway", || {
        let (inputs, results) = (Counts::new(), Counts::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut rng = XorShift::new(23);
        for round in 0..300u64 {
            let flavour = FLAVOURS[(round % 3) as usize];
            let workers = 1 + (round / 3 % 2) as usize;
            let window = 1 + (round / 6 % 3) as usize;
            let pool = ThreadPool::new(workers).unwrap();
            let n = 24u64;
            let take = rng.below(n) as usize;
            let ins = Arc::clone(&inputs);
            let xs = (0..n).map(move |i| ins.make(i, i % 11 == 5));
            let f = map_f(&results, &calls, |id| id % 7 == 2);
            let mut got: Got = Vec::new();
            match flavour {
                Flavour::Ordered => {
                    let mut map = pool.map(f, xs).chunk_size(1).window(window);
                    for i in 0..take {
                        match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                            Ok(Some(v)) => got.push((i, Ok(v.defuse()))),
                            Ok(None) => break,
                            Err(p) => got.push((i, Err(panic_message(&*p).map(str::to_owned)))),
                        }
                    }
                    drop(map);
                }
                Flavour::Try => {
                    let mut map = pool.try_map(f, xs).chunk_size(1).window(window);
                    for i in 0..take {
                        match map.next() {
                            Some(r) => got.push((i, outcome_of(r))),
                            None => break,
                        }
                    }
                    drop(map);
                }
                Flavour::Unordered => {
                    let mut map = pool.map_unordered(f, xs).chunk_size(1).window(window);
                    for _ in 0..take {
                        match map.next() {
                            Some((i, r)) => got.push((i, outcome_of(r))),
                            None => break,
                        }
                    }
                    drop(map);
                }
            }
            drop(pool);
            let mut seen = vec![false; n as usize];
            for (i, r) in &got {
                assert!(!std::mem::replace(&mut seen[*i], true), "{flavour:?}: index {i} twice");
                let id = *i as u64;
                if id % 7 == 2 {
                    assert_eq!(r, &Err(Some(format!("{INTENTIONAL}: f({id})"))), "{flavour:?}");
                } else {
                    assert_eq!(r, &Ok(id), "{flavour:?}");
                }
            }
            assert_eq!(got.len(), take, "{flavour:?}: the map ended early");
            inputs.assert_settled(&format!("round {round} {flavour:?} inputs"));
            results.assert_settled(&format!("round {round} {flavour:?} results"));
        }
    });
}

/// `shutdown_now` from another thread after the consumer took `k` items,
/// with one-item chunks and windows of 1..=3: the map hands out what it
/// had, then at least one `Cancelled`, then ends, never hangs; each index
/// at most once (ordered flavours: in order, with no gap); every input and
/// result dropped exactly once, also when inputs' `Drop` panics.
#[test]
fn shutdown_now_mid_iteration_of_one_item_chunk_maps_reports_and_ends() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown mid-iteration", || {
        let (inputs, results) = (Counts::new(), Counts::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut rng = XorShift::new(41);
        for round in 0..300u64 {
            let flavour = [Flavour::Try, Flavour::Unordered][(round % 2) as usize];
            let window = 1 + (round / 2 % 3) as usize;
            let workers = 1 + (round / 6 % 2) as usize;
            let pool = ThreadPool::new(workers).unwrap();
            let n = 1_000u64;
            let k = rng.below(20) as usize;
            let read_before = inputs.made();
            let ins = Arc::clone(&inputs);
            let xs = (0..n).map(move |i| ins.make(i, i % 5 == 4));
            let f = map_f(&results, &calls, |id| id % 13 == 6);
            let mut got: Got = Vec::new();
            match flavour {
                Flavour::Try => {
                    let mut map = pool.try_map(f, xs).chunk_size(1).window(window);
                    for i in 0..k {
                        got.push((i, outcome_of(map.next().unwrap())));
                    }
                    let p = pool.clone();
                    thread::spawn(move || p.shutdown_now()).join().unwrap();
                    for (i, r) in (k..).zip(map) {
                        got.push((i, outcome_of(r)));
                        assert!(got.len() < 100, "the map read on after shutdown_now");
                    }
                }
                _ => {
                    let mut map = pool.map_unordered(f, xs).chunk_size(1).window(window);
                    for _ in 0..k {
                        let (i, r) = map.next().unwrap();
                        got.push((i, outcome_of(r)));
                    }
                    let p = pool.clone();
                    thread::spawn(move || p.shutdown_now()).join().unwrap();
                    for (i, r) in map {
                        got.push((i, outcome_of(r)));
                        assert!(got.len() < 100, "the map read on after shutdown_now");
                    }
                }
            }
            drop(pool);
            let mut seen = vec![false; n as usize];
            for (i, r) in &got {
                assert!(!std::mem::replace(&mut seen[*i], true), "{flavour:?}: index {i} twice");
                let id = *i as u64;
                match r {
                    Err(None) => {} // cancelled
                    Err(Some(m)) => assert_eq!(m, &format!("{INTENTIONAL}: f({id})")),
                    Ok(v) => {
                        assert_eq!(*v, id);
                        assert!(id % 13 != 6, "f({id}) should have panicked");
                    }
                }
            }
            // Whatever was read was reported: the indices handed out are
            // a prefix (every input read became a chunk).
            let reported = seen.iter().filter(|&&s| s).count();
            assert!(seen[..reported].iter().all(|&s| s), "{flavour:?} round {round}: a gap in {seen:?}");
            assert!(got.iter().any(|(_, r)| r == &Err(None)), "{flavour:?} round {round}: nothing cancelled: {got:?}");
            inputs.assert_settled(&format!("round {round} {flavour:?} inputs"));
            // Every input read was reported (a value, a panic or cancelled).
            assert_eq!(
                reported,
                inputs.made() - read_before,
                "{flavour:?} round {round}: inputs read but not reported"
            );
            results.assert_settled(&format!("round {round} {flavour:?} results"));
        }
        inputs.assert_settled("inputs");
    });
}

/// Scoped maps of every flavour over borrowed counted data, one-item
/// chunks, a window of 1 or 2, dropped midway with panicking `f`: the
/// scope ends, and every result was dropped exactly once when it does.
#[test]
fn scoped_one_item_chunk_maps_dropped_midway_settle_before_the_scope_ends() {
    quiet_intentional_panics();
    within(LIMIT, "scoped maps dropped midway", || {
        let pool = ThreadPool::new(2).unwrap();
        let results = Counts::new();
        for round in 0..60u64 {
            let flavour = FLAVOURS[(round % 3) as usize];
            let window = 1 + (round / 3 % 2) as usize;
            let data: Vec<u64> = (0..30).map(|i| i * 3).collect();
            let take = (round % 11) as usize;
            let f = |i: usize| {
                if i % 9 == 4 {
                    panic!("{INTENTIONAL}: scoped f({i})");
                }
                results.make(data[i], false)
            };
            let got: Vec<(usize, Result<u64, Option<String>>)> = pool.scope(|s| match flavour {
                Flavour::Ordered => {
                    let mut map = s.map(f, 0..data.len()).chunk_size(1).window(window);
                    let mut got = Vec::new();
                    for i in 0..take {
                        match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                            Ok(Some(v)) => got.push((i, Ok(v.defuse()))),
                            Ok(None) => break,
                            Err(p) => got.push((i, Err(panic_message(&*p).map(str::to_owned)))),
                        }
                    }
                    got
                }
                Flavour::Try => s
                    .try_map(f, 0..data.len())
                    .chunk_size(1)
                    .window(window)
                    .take(take)
                    .enumerate()
                    .map(|(i, r)| (i, outcome_of(r)))
                    .collect(),
                Flavour::Unordered => s
                    .map_unordered(f, 0..data.len())
                    .chunk_size(1)
                    .window(window)
                    .take(take)
                    .map(|(i, r)| (i, outcome_of(r)))
                    .collect(),
            });
            assert_eq!(results.made(), results.dropped(), "{flavour:?} round {round}: the scope ended first");
            assert_eq!(got.len(), take);
            for (i, r) in got {
                if i % 9 == 4 {
                    assert_eq!(r, Err(Some(format!("{INTENTIONAL}: scoped f({i})"))));
                } else {
                    assert_eq!(r, Ok(data[i]));
                }
            }
        }
    });
}

/// Nested maps of every flavour inside tasks of a one-worker pool, with
/// one-item chunks and a window of 1, some dropped midway, some with
/// panicking `f`: the only worker runs everything (waiting runs queued
/// work), nothing hangs, each result is right and dropped once.
#[test]
fn nested_one_item_chunk_maps_inside_tasks_of_a_one_worker_pool() {
    quiet_intentional_panics();
    within(LIMIT, "nested maps, one worker", || {
        let pool = ThreadPool::new(1).unwrap();
        let results = Counts::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..12u64)
            .map(|t| {
                let p = pool.clone();
                let f = map_f(&results, &calls, |id| id % 10 == 7);
                let c = Arc::new(Counts::default());
                pool.submit(move || {
                    let xs = {
                        let c = Arc::clone(&c);
                        move |n: u64| (0..n).map(move |i| c.make(i, false))
                    };
                    let n = 20;
                    let take = (t % 5 + 1) as usize * 4;
                    let mut sum = 0u64;
                    match t % 3 {
                        0 => {
                            let mut map = p.map(f, xs(n)).chunk_size(1).window(1);
                            for _ in 0..take {
                                match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                                    Ok(Some(v)) => sum += v.defuse(),
                                    Ok(None) => break,
                                    Err(_) => sum += 1000,
                                }
                            }
                        }
                        1 => {
                            for r in p.try_map(f, xs(n)).chunk_size(1).window(1).take(take) {
                                sum += r.map_or(1000, Tracked::defuse);
                            }
                        }
                        _ => {
                            for (_, r) in p.map_unordered(f, xs(n)).chunk_size(1).window(1).take(take) {
                                sum += r.map_or(1000, Tracked::defuse);
                            }
                        }
                    }
                    // Inputs of the nested map: all settled once it is gone.
                    assert_eq!(c.made(), c.dropped(), "nested inputs");
                    (take, sum)
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            let (take, sum) = h.wait().unwrap();
            // Ordered flavours hand out exactly the first `take` items (a
            // panic counts 1000); the unordered one some `take` of the 20.
            let expected: u64 = (0..take as u64).map(|i| if i % 10 == 7 { 1000 } else { i }).sum();
            if t % 3 != 2 {
                assert_eq!(sum, expected, "task {t}");
            } else {
                assert!(sum >= (0..take as u64).sum::<u64>(), "task {t}: {sum}");
            }
        }
        drop(pool);
        results.assert_settled("nested results");
    });
}

/// `shutdown_now` documents that a map "reads no input after this: it
/// hands out what it had already queued or computed, then one more input
/// reported cancelled (`Map` raises the cancelled panic there), and
/// ends". A `try_map` consumed by a task on the pool's only worker, whose
/// `f` calls `shutdown_now` at item 3: the last item must be `Cancelled`.
#[test]
fn a_nested_map_on_a_worker_reports_its_last_input_cancelled_after_shutdown_now() {
    within(LIMIT, "nested map after shutdown_now", || {
        let pool = ThreadPool::new(1).unwrap();
        let p = pool.clone();
        let got = pool
            .submit(move || {
                let stopper = p.clone();
                let f = move |x: u64| {
                    if x == 3 {
                        stopper.shutdown_now();
                    }
                    x
                };
                p.try_map(f, 0..1_000u64).chunk_size(1).window(2).collect::<Vec<_>>()
            })
            .wait()
            .unwrap();
        assert!(got.len() < 1_000, "the map read every input after shutdown_now");
        assert_eq!(got.last(), Some(&Err(TaskError::Cancelled)), "{got:?}");
    });
}

/// The control for the test above: the same map consumed off the pool
/// (here `f` may run on the worker or on the consumer) does report its
/// last input cancelled after `f` calls `shutdown_now`.
#[test]
fn a_map_consumed_off_the_pool_reports_its_last_input_cancelled_after_shutdown_now() {
    within(LIMIT, "map after shutdown_now", || {
        for _ in 0..50 {
            let pool = ThreadPool::new(1).unwrap();
            let stopper = pool.clone();
            let f = move |x: u64| {
                if x == 3 {
                    stopper.shutdown_now();
                }
                x
            };
            let got: Vec<_> = pool.try_map(f, 0..1_000u64).chunk_size(1).window(2).collect();
            assert!(got.len() < 10, "the map read on after shutdown_now: {got:?}");
            assert_eq!(got.last(), Some(&Err(TaskError::Cancelled)), "{got:?}");
            assert_eq!(got[..4], [Ok(0), Ok(1), Ok(2), Ok(3)]);
        }
    });
}

/// `TaskHandle` documents where an unread value is dropped: on the worker
/// (its `Drop` panic caught there) if the handle was dropped first, and on
/// the thread dropping the handle (its panic that thread's) if the task had
/// already finished. Either way it is dropped exactly once.
#[test]
fn a_dropped_handle_drops_its_value_where_documented() {
    quiet_intentional_panics();
    within(LIMIT, "drop site", || {
        // Finished first: the dropper drops the value and gets its panic.
        let pool = ThreadPool::new(1).unwrap();
        let counts = Counts::new();
        let c = Arc::clone(&counts);
        let handle = pool.submit(move || c.make(0, true));
        while !handle.is_finished() {
            thread::yield_now();
        }
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || drop(handle)));
        assert!(outcome.is_err(), "the value's Drop panic belongs to the thread dropping the handle");
        counts.assert_settled("value dropped by the handle's dropper");

        // Dropped first: the worker drops the value and keeps its panic.
        let counts = Counts::new();
        let c = Arc::clone(&counts);
        let (release, gate) = mpsc::channel::<()>();
        let handle = pool.submit(move || {
            gate.recv().ok();
            c.make(1, true)
        });
        drop(handle);
        release.send(()).unwrap();
        drop(pool);
        counts.assert_settled("value dropped by the worker");
    });
}

// ---------------------------------------------------------------------------
// Start handler: f stays on the workers
// ---------------------------------------------------------------------------

/// On a pool with a start handler, `f` never runs on the consumer's
/// thread, whatever the flavour, with one-item chunks and a window of 1
/// (the consumer needs every head at once), with the only worker held
/// busy first (no worker has started anything: the consumer would run the
/// head itself), maps dropped midway and a `shutdown_now` mid-iteration.
#[test]
fn with_a_start_handler_f_never_runs_on_the_consumer_even_when_it_waits_on_a_held_worker() {
    within(LIMIT, "start handler", || {
        let offenders = Arc::new(Mutex::new(Vec::new()));
        for round in 0..12u64 {
            let pool = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
            // Hold the only worker until the map has queued its window.
            let (tx, rx) = mpsc::channel::<()>();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let holder = pool.submit(move || {
                started_tx.send(()).unwrap();
                let _ = rx.recv();
            });
            started_rx.recv().unwrap();
            let consumer = thread::current().id();
            let o = Arc::clone(&offenders);
            let f = move |x: u64| {
                if thread::current().id() == consumer {
                    o.lock().unwrap().push(x);
                }
                x
            };
            let release = thread::spawn(move || {
                thread::sleep(Duration::from_millis(2));
                tx.send(()).unwrap();
            });
            let n = 40u64;
            match round % 3 {
                0 => {
                    let mut map = pool.map(f, 0..n).chunk_size(1).window(1);
                    assert_eq!(map.by_ref().take(10).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
                    if round % 2 == 0 {
                        assert_eq!(map.sum::<u64>(), (10..n).sum::<u64>());
                    }
                }
                1 => {
                    let mut map = pool.try_map(f, 0..n).chunk_size(1).window(2);
                    assert!(map.by_ref().take(5).all(|r| r.is_ok()));
                    pool.shutdown_now();
                    for r in map {
                        assert!(r.is_ok() || r == Err(TaskError::Cancelled), "{r:?}");
                    }
                }
                _ => {
                    let mut map = pool.map_unordered(f, 0..n).chunk_size(1).window(1);
                    let first: Vec<_> = map.by_ref().take(7).collect();
                    assert_eq!(first.len(), 7);
                    if round % 2 == 1 {
                        assert_eq!(map.count(), (n - 7) as usize);
                    }
                }
            }
            release.join().unwrap();
            let _ = holder.wait();
        }
        let offenders = offenders.lock().unwrap();
        assert!(offenders.is_empty(), "f ran on the consumer for inputs {offenders:?}");
    });
}

/// The same for scoped maps over borrowed data: the scope's body is the
/// consumer, and `f` must never run on it.
#[test]
fn with_a_start_handler_scoped_maps_never_run_f_on_the_scope_body() {
    within(LIMIT, "start handler, scoped", || {
        let pool = ThreadPool::builder().num_workers(2).start_handler(|_| {}).build().unwrap();
        let body = thread::current().id();
        let offenders = AtomicUsize::new(0);
        let data: Vec<u64> = (0..200).collect();
        for round in 0..20usize {
            let f = |i: usize| {
                if thread::current().id() == body {
                    offenders.fetch_add(1, Ordering::SeqCst);
                }
                data[i]
            };
            let window = 1 + round % 2;
            let total: u64 = pool.scope(|s| match round % 3 {
                0 => s.map(f, 0..data.len()).chunk_size(1).window(window).sum(),
                1 => s.try_map(f, 0..data.len()).chunk_size(1).window(window).map(Result::unwrap).sum(),
                _ => s.map_unordered(f, 0..data.len()).chunk_size(1).window(window).map(|(_, r)| r.unwrap()).sum(),
            });
            assert_eq!(total, (0..200).sum::<u64>());
        }
        assert_eq!(offenders.load(Ordering::SeqCst), 0, "f ran on the scope's body");
    });
}

/// A held-worker pool whose handles are dropped, cancelled and waited on
/// while the only worker is busy, then released: queued handles report
/// exactly what happened to them.
#[test]
fn queued_handles_behind_a_held_worker_report_cancel_and_drop_exactly() {
    within(LIMIT, "held worker", || {
        let counts = Counts::new();
        for _ in 0..30 {
            let (pool, tx, holder) = held_pool();
            let make = |id| {
                let c = Arc::clone(&counts);
                pool.submit(move || c.make(id, false))
            };
            let (a, b, c, d) = (make(0), make(1), make(2), make(3));
            b.cancel();
            assert!(b.is_finished(), "a cancelled queued task is finished");
            drop(c);
            let d = d.wait_timeout(Duration::ZERO).expect_err("ran while the only worker was held");
            tx.send(()).unwrap();
            holder.wait().unwrap();
            assert_eq!(a.wait().map(Tracked::defuse), Ok(0));
            assert_eq!(b.wait().map(Tracked::defuse), Err(TaskError::Cancelled));
            assert_eq!(d.wait().map(Tracked::defuse), Ok(3));
            drop(pool);
        }
        // Values 0, 2 (dropped on the worker) and 3 per round.
        assert_eq!(counts.made(), 90);
        counts.assert_settled("held-worker results");
    });
}

/// `wait_timeout` runs no other queued task, even on a worker, whatever the
/// timeout: `Duration::MAX`, past what an `Instant` holds, used to become
/// the untimed wait, which does (the waiting worker ran the task it waited
/// for, queued on its own deque). Another worker must run it.
#[test]
fn a_timed_wait_never_runs_queued_tasks_even_for_ever() {
    for timeout in [Duration::from_secs(3600), Duration::MAX] {
        let pool = ThreadPool::new(2).unwrap();
        let inner = pool.clone();
        let (waiter, runner) = within(Duration::from_secs(60), "the timed wait", move || {
            pool.submit(move || {
                let handle = inner.submit(|| thread::current().id());
                let Ok(ran_on) = handle.wait_timeout(timeout) else { panic!("not finished in time") };
                let ran_on = ran_on.unwrap();
                (thread::current().id(), ran_on)
            })
            .wait()
            .unwrap()
        });
        assert_ne!(waiter, runner, "{timeout:?}: the waiting worker ran the task itself");
    }
}
