//! The defects of issue 9, each as found from outside the crate: panicking
//! `Drop`s, head-of-line latency, late settings, lost panic payloads,
//! shared-pool cancellation.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{quiet_intentional_panics, INTENTIONAL};
use pool::{TaskError, ThreadPool};

const LONG: Duration = Duration::from_secs(20);

/// Panics when dropped.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("{INTENTIONAL} bomb");
    }
}

/// Waits for `handle` with a deadline, so a hang fails the test instead of
/// stalling the run.
fn wait_within<T>(handle: pool::TaskHandle<T>) -> Result<T, TaskError> {
    match handle.wait_timeout(LONG) {
        Ok(result) => result,
        Err(_) => panic!("task did not finish within {LONG:?}: a worker died or hung"),
    }
}

#[test]
fn an_abandoned_result_that_panics_in_drop_does_not_kill_the_worker() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(1).unwrap();
    drop(pool.submit(|| {
        thread::sleep(Duration::from_millis(50));
        Bomb
    }));
    // The only worker must survive to run this.
    assert_eq!(wait_within(pool.submit(|| 7)), Ok(7));
}

#[test]
fn a_capture_that_panics_in_drop_is_reported_and_the_worker_survives() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(1).unwrap();
    let bomb = Bomb;
    let ran = wait_within(pool.submit(move || {
        let _keep = &bomb;
        5
    }));
    // The value was computed, but dropping the closure's captures panicked:
    // the task reports that panic.
    assert_eq!(ran.unwrap_err().panic_message(), Some(format!("{INTENTIONAL} bomb").as_str()));

    // A cancelled task drops its captures without running: same guard.
    let (release, gate) = mpsc::channel::<()>();
    let blocker = pool.submit(move || gate.recv().ok());
    let bomb = Bomb;
    let queued = pool.submit(move || {
        let _keep = &bomb;
    });
    queued.cancel();
    release.send(()).unwrap();
    assert_eq!(wait_within(queued).unwrap_err().panic_message(), Some(format!("{INTENTIONAL} bomb").as_str()));
    assert_eq!(wait_within(blocker), Ok(Some(())));
    assert_eq!(wait_within(pool.submit(|| 1)), Ok(1));
}

#[test]
fn a_scope_whose_dropped_task_result_panics_in_drop_returns_and_re_raises() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(1).unwrap();
    let (done, finished) = mpsc::channel();
    let runner = pool.clone();
    thread::spawn(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            runner.scope(|s| {
                // Dropped before the task finishes: the worker drops the Bomb.
                drop(s.submit(|| {
                    thread::sleep(Duration::from_millis(20));
                    Bomb
                }));
                // Dropped after: the body's thread drops it.
                let h = s.submit(|| Bomb);
                while !h.is_finished() {
                    thread::yield_now();
                }
                drop(h);
            })
        }));
        done.send(outcome.is_err()).unwrap();
    });
    let panicked = finished.recv_timeout(LONG).expect("the scope hung");
    assert!(panicked, "the Drop panics were lost");
    assert_eq!(wait_within(pool.submit(|| 3)), Ok(3));
}

/// Every chunk's callback panics, so every item fails. The pool's start
/// handler keeps the chunks on its one worker, one after another: were the
/// consumer to run one at the same time, the two chunks' counts could meet
/// in a single call of the callback (calls never overlap), and only the
/// chunk making that call would fail.
#[test]
fn a_panicking_progress_callback_is_reported_and_the_worker_survives() {
    quiet_intentional_panics();
    let pool = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
    let out: Vec<Result<u32, TaskError>> =
        pool.try_map(|x: u32| x, 0..6u32).chunk_size(2).on_progress(|_| panic!("{INTENTIONAL} progress")).collect();
    assert_eq!(out.len(), 6);
    assert!(out.iter().all(|r| r.as_ref().unwrap_err().panic_message().is_some()));
    assert_eq!(wait_within(pool.submit(|| 2)), Ok(2));
}

#[test]
fn the_ordered_map_hands_out_item_zero_as_soon_as_it_is_done() {
    // Two workers, item 0 takes 10 ms, the others 200 ms: item 0 must not
    // wait for its neighbours (it did, 400 ms, with half-window batching).
    let pool = ThreadPool::new(2).unwrap();
    let f = |i: u64| {
        thread::sleep(Duration::from_millis(if i == 0 { 10 } else { 200 }));
        i
    };
    // Up to three tries, so one unlucky scheduling delay on a loaded
    // machine does not fail it; the old behaviour took 400 ms every time.
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut map = pool.map(f, 0..16u64).chunk_size(1);
        assert_eq!(map.next(), Some(0));
        times.push(start.elapsed());
        // Dropping the map cancels the queued items; let the running ones
        // finish so the next try starts on an idle pool.
        drop(map);
        if times.last() < Some(&Duration::from_millis(50)) {
            break;
        }
        thread::sleep(Duration::from_millis(300));
    }
    assert!(times.iter().any(|t| *t < Duration::from_millis(50)), "item 0 took {times:?}");
}

#[test]
fn a_map_whose_later_items_wait_for_the_consumer_does_not_stall() {
    // Items 1.. block until the consumer has seen item 0.
    let pool = ThreadPool::new(2).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&seen);
    let f = move |i: u64| {
        if i > 0 {
            let deadline = Instant::now() + LONG;
            while flag.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
        }
        i
    };
    let start = Instant::now();
    let mut map = pool.map(f, 0..8u64).chunk_size(1);
    assert_eq!(map.next(), Some(0));
    seen.store(1, Ordering::SeqCst);
    assert_eq!(map.collect::<Vec<_>>(), (1..8).collect::<Vec<_>>());
    assert!(start.elapsed() < Duration::from_secs(5), "stalled for {:?}", start.elapsed());
}

#[test]
fn progress_attached_after_iteration_started_still_reaches_the_total() {
    let pool = ThreadPool::new(2).unwrap();
    let last = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut map = pool.map(|x: u32| x, 0..1000u32).chunk_size(10);
    assert_eq!(map.next(), Some(0));
    let (last2, calls2) = (Arc::clone(&last), Arc::clone(&calls));
    let map = map.on_progress(move |p| {
        assert_eq!(p.total, Some(1000));
        last2.fetch_max(p.done, Ordering::SeqCst);
        calls2.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(map.count(), 999);
    assert_eq!(last.load(Ordering::SeqCst), 1000);
    assert!(calls.load(Ordering::SeqCst) >= 1);
}

#[test]
fn progress_attached_after_everything_finished_is_told_at_once() {
    let pool = ThreadPool::new(1).unwrap();
    let mut map = pool.map(|x: u32| x, 0..4u32).chunk_size(4);
    assert_eq!(map.next(), Some(0));
    let last = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&last);
    let map = map.on_progress(move |p| seen.store(p.done, Ordering::SeqCst));
    assert_eq!(last.load(Ordering::SeqCst), 4);
    assert_eq!(map.count(), 3);
}

#[test]
fn panic_payloads_keep_their_type() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();

    // TaskHandle, like std's JoinHandle.
    let error = pool.submit(|| panic::panic_any(3i32)).wait().unwrap_err();
    assert_eq!(error.panic_message(), Some("non-string panic payload"));
    assert_eq!(error.into_panic().unwrap().downcast_ref::<i32>(), Some(&3));

    // `map` re-raises the original payload.
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.map(|x: i32| if x == 2 { panic::panic_any(x * 10) } else { x }, 0..4).for_each(drop);
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<i32>(), Some(&20));

    // `try_map` keeps it in the error.
    let errors: Vec<TaskError> = pool.try_map(|x: u8| panic::panic_any(x), 0..3u8).filter_map(Result::err).collect();
    let payloads: Vec<u8> =
        errors.into_iter().map(|e| *e.into_panic().unwrap().downcast_ref::<u8>().unwrap()).collect();
    assert_eq!(payloads, [0, 1, 2]);

    // A scope re-raises an unobserved task's payload as is, not re-wrapped.
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|| panic::panic_any(7u64));
        })
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<u64>(), Some(&7));
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| drop(s.submit(|| -> u8 { panic::panic_any(8u16) })));
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<u16>(), Some(&8));
}

#[test]
fn shutdown_now_through_a_shared_handle_cancels_for_everyone() {
    let pool = ThreadPool::new(1).unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let running = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.recv().ok()
    });
    let queued: Vec<_> = (0..10).map(|i| pool.submit(move || i)).collect();
    started.recv().unwrap();
    let other = pool.clone();
    let stopper = thread::spawn(move || other.shutdown_now());
    // Once the shutdown has begun, a new submission is cancelled before
    // `submit` returns: wait for that before releasing the running task, so
    // the queued ones cannot start first.
    let deadline = Instant::now() + LONG;
    loop {
        let probe = pool.submit(|| 0);
        if probe.is_finished() {
            assert_eq!(probe.wait(), Err(TaskError::Cancelled));
            break;
        }
        assert!(Instant::now() < deadline, "shutdown_now never took effect");
        thread::sleep(Duration::from_millis(1));
    }
    release.send(()).unwrap();
    stopper.join().unwrap();
    assert_eq!(wait_within(running), Ok(Some(())));
    for handle in queued {
        assert_eq!(wait_within(handle), Err(TaskError::Cancelled));
    }
    // Later work on any handle is cancelled at once, never left hanging.
    assert_eq!(wait_within(pool.submit(|| 1)), Err(TaskError::Cancelled));
    let results: Vec<_> = pool.try_map(|x: u8| x, 0..5u8).collect();
    assert!(results.iter().all(|r| *r == Err(TaskError::Cancelled)), "{results:?}");
}

#[test]
fn a_map_keeps_the_pool_alive_after_the_last_user_handle_is_dropped() {
    let pool = ThreadPool::new(2).unwrap();
    let map = pool.map(|x: u64| x * 2, 0..1000u64).chunk_size(7);
    drop(pool);
    assert_eq!(map.sum::<u64>(), 999 * 1000);
}

#[test]
fn maps_over_exact_size_inputs_know_their_length() {
    let pool = ThreadPool::new(2).unwrap();
    let mut map = pool.map(|x: u32| x, 0..100u32).chunk_size(7);
    assert_eq!(map.len(), 100);
    map.next();
    assert_eq!(map.len(), 99);
    let mut unordered = pool.map_unordered(|x: u32| x, vec![1, 2, 3]);
    assert_eq!(unordered.len(), 3);
    unordered.next();
    assert_eq!(unordered.len(), 2);
}

#[test]
fn nested_maps_share_the_pool_through_cheap_handles() {
    let pool = ThreadPool::new(2).unwrap();
    let inner = pool.clone();
    let sums: Vec<u64> = pool
        .map(
            move |n: u64| {
                let innermost = inner.clone();
                inner.map(move |k: u64| innermost.map(|x: u64| x, 0..k).sum::<u64>(), 0..n).sum()
            },
            0..6u64,
        )
        .collect();
    let expected: Vec<u64> = (0..6u64).map(|n| (0..n).map(|k| (0..k).sum::<u64>()).sum()).collect();
    assert_eq!(sums, expected);
}

#[test]
fn cheap_items_keep_their_order_failures_and_progress_whoever_runs_them() {
    // Tiny items under automatic chunking: the consumer may run chunks
    // itself; nothing observable may change.
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let n = 600_000u64;
    let bad = |x: u64| x % 100_003 == 7;
    let last = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&last);
    let mut count = 0u64;
    for (i, r) in pool
        .try_map(move |x: u64| if bad(x) { panic::panic_any(x) } else { x ^ 1 }, 0..n)
        .on_progress(move |p| {
            seen.fetch_max(p.done, Ordering::SeqCst);
        })
        .enumerate()
    {
        let x = i as u64;
        if bad(x) {
            assert_eq!(r.unwrap_err().into_panic().unwrap().downcast_ref::<u64>(), Some(&x));
        } else {
            assert_eq!(r.unwrap(), x ^ 1);
        }
        count += 1;
    }
    assert_eq!(count, n);
    assert_eq!(last.load(Ordering::SeqCst), n as usize);

    // A panic in the caller's input iterator is the caller's, not an item's.
    let inputs = (0..n).map(|x| if x == 400_000 { panic!("{INTENTIONAL} input") } else { x });
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| pool.try_map(|x: u64| x, inputs).count()));
    let payload = outcome.expect_err("the input iterator's panic was swallowed");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some(format!("{INTENTIONAL} input").as_str()));
}

#[test]
fn a_cheap_ordered_map_yields_everything_in_order_and_raises_at_the_right_item() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let n = 700_000u64;
    let last = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&last);
    let mut expected = 0u64;
    for y in pool.map(|x: u64| x.wrapping_mul(3), 0..n).on_progress(move |p| {
        seen.fetch_max(p.done, Ordering::SeqCst);
    }) {
        assert_eq!(y, expected * 3);
        expected += 1;
    }
    assert_eq!(expected, n);
    assert_eq!(last.load(Ordering::SeqCst), n as usize);

    let mut yielded = 0u64;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        for y in pool.map(|x: u64| if x == 600_000 { panic::panic_any(x) } else { x }, 0..n) {
            assert_eq!(y, yielded);
            yielded += 1;
        }
    }));
    assert_eq!(outcome.unwrap_err().downcast_ref::<u64>(), Some(&600_000));
    assert_eq!(yielded, 600_000);
}

#[test]
fn a_task_dropping_the_last_handle_does_not_wait_for_a_worker_waiting_on_it() {
    // Worker 1 waits for task `a`; `a`, on worker 0, drops the last handle.
    // Joining worker 1 from there would never return.
    let pool = ThreadPool::new(2).unwrap();
    let last = pool.clone();
    let a = pool.submit(move || {
        thread::sleep(Duration::from_millis(30));
        drop(last);
        5
    });
    let b = pool.submit(move || a.wait());
    drop(pool);
    assert_eq!(wait_within(b), Ok(Ok(5)));
}

#[test]
fn shutdown_now_from_a_task_does_not_wait_for_a_worker_waiting_on_it() {
    // `a` shuts down only once `b` runs: a `b` still queued would be
    // cancelled by the shutdown (its contract), and a sleep is no proof
    // that the other worker took `b` (under valgrind it often had not).
    let pool = ThreadPool::new(2).unwrap();
    let shared = pool.clone();
    let (started, b_runs) = mpsc::channel();
    let a = pool.submit(move || {
        b_runs.recv_timeout(LONG).expect("b never started");
        shared.shutdown_now();
        5
    });
    let b = pool.submit(move || {
        started.send(()).unwrap();
        a.wait()
    });
    assert_eq!(wait_within(b), Ok(Ok(5)));
    // A later shutdown from outside still joins the workers.
    pool.shutdown_now();
}

#[test]
fn unread_results_and_inputs_that_panic_in_drop_cost_one_panic_not_the_process() {
    // A chunk holds many values; a `Vec` of them would abort at the second
    // panicking `Drop`. Whoever drops them gets one panic (or none, when it
    // is a worker dropping results nobody will read).
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    for chunk in [1, 10, 100] {
        let mut results = pool.map(|_: u32| Bomb, 0..400u32).chunk_size(chunk);
        let first = results.next();
        assert!(panic::catch_unwind(AssertUnwindSafe(move || drop(first))).is_err());
        // The rest of this chunk, and finished chunks, are dropped here.
        let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(results)));
        if chunk > 1 {
            assert!(dropped.is_err(), "the rest of the first chunk panics when dropped");
        }

        let mut unordered = pool.map_unordered(|_: u32| Bomb, 0..400u32).chunk_size(chunk);
        let first = unordered.next();
        assert!(panic::catch_unwind(AssertUnwindSafe(move || drop(first))).is_err());
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(unordered)));

        // Inputs that panic in drop, in chunks cancelled unread.
        let mut inputs = pool.map(|b: Bomb| std::mem::forget(b), (0..400).map(|_| Bomb)).chunk_size(chunk);
        inputs.next();
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(inputs)));
    }
    assert_eq!(wait_within(pool.submit(|| 9)), Ok(9));
}

#[test]
fn scoped_maps_and_handles_forgotten_or_leaked_never_outlive_what_they_borrow() {
    // Run under valgrind (scripts/pool-valgrind.sh): every chunk of a map
    // that is forgotten, leaked or left in an `Rc` cycle still runs before
    // the scope returns, while `data` and `hits` are alive.
    use std::cell::RefCell;
    use std::rc::Rc;
    struct Cycle<'a>(RefCell<Option<Rc<Cycle<'a>>>>, #[allow(dead_code)] pool::ScopedTaskHandle<'a, u64>);
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..10 {
        let data = vec![7u64; 64];
        let hits = AtomicUsize::new(0);
        pool.scope(|s| {
            let mut forgotten = s.map(|i: usize| data[i], 0..64).chunk_size(1).on_progress(|p| {
                hits.fetch_add(p.done.min(1), Ordering::Relaxed);
            });
            forgotten.next();
            std::mem::forget(forgotten);
            std::mem::forget(s.submit(|| data.iter().sum::<u64>()));
            let mut unordered = s.map_unordered(|i: usize| data[i], 0..64).chunk_size(1);
            unordered.next();
            std::mem::forget(unordered);
            let leaked = Box::leak(Box::new(s.map(|i: usize| data[i], 0..64).chunk_size(1)));
            leaked.next();
            // Created here, driven in a task; created and forgotten in a task.
            let elsewhere = s.map(|i: usize| data[i], 0..64).chunk_size(2);
            s.spawn(move || assert_eq!(elsewhere.sum::<u64>(), 7 * 64));
            s.spawn(|| {
                let mut inner = s.map(|i: usize| data[i].max(hits.load(Ordering::Relaxed) as u64), 0..64).chunk_size(1);
                inner.next();
                std::mem::forget(inner);
            });
            let cycle = Rc::new(Cycle(RefCell::new(None), s.submit(|| data[0])));
            *cycle.0.borrow_mut() = Some(Rc::clone(&cycle));
        });
        drop(data);
    }
    assert_eq!(wait_within(pool.submit(|| 3)), Ok(3));
}

#[test]
fn shutdown_now_racing_submit_map_and_scope_from_several_threads() {
    quiet_intentional_panics();
    for round in 0..10 {
        let pool = ThreadPool::new(2).unwrap();
        let users: Vec<_> = (0..3u64)
            .map(|k| {
                let pool = pool.clone();
                thread::spawn(move || {
                    for i in 0..30u64 {
                        // Any outcome but a crash or a hang: values, Cancelled,
                        // a cancelled map's or scope's panic.
                        let _ = panic::catch_unwind(AssertUnwindSafe(|| match (i + k) % 3 {
                            0 => drop(pool.submit(move || i).wait()),
                            1 => drop(pool.map(|x: u64| x, 0..100u64).count()),
                            _ => {
                                let local = [i; 10];
                                pool.scope(|s| {
                                    s.spawn(|| assert_eq!(local.len(), 10));
                                    let _ = s.submit(|| local[0]).wait();
                                    s.map(|x: usize| local[x], 0..10).count()
                                });
                            }
                        }));
                    }
                })
            })
            .collect();
        if round % 2 == 0 {
            thread::sleep(Duration::from_micros(200));
        }
        pool.shutdown_now();
        for user in users {
            user.join().unwrap();
        }
    }
}
