//! Dropping a pool finishes queued work and joins the workers;
//! `shutdown_now` cancels what has not started.

mod common;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{rendezvous, within};
use pool::{TaskError, ThreadPool};

const LONG: Duration = Duration::from_secs(10);

#[test]
fn dropping_the_pool_finishes_every_queued_task() {
    let pool = ThreadPool::new(2).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let counter = Arc::clone(&counter);
        // Handles dropped: only the pool's drop can wait for these.
        pool.submit(move || {
            thread::sleep(Duration::from_micros(50));
            counter.fetch_add(1, Ordering::SeqCst);
        });
    }
    drop(pool);
    assert_eq!(counter.load(Ordering::SeqCst), 100);
}

#[test]
fn dropping_the_last_handle_finishes_queued_tasks() {
    let pool = ThreadPool::new(3).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    for _ in 0..60 {
        let counter = Arc::clone(&counter);
        pool.submit(move || counter.fetch_add(1, Ordering::SeqCst));
    }
    drop(pool);
    assert_eq!(counter.load(Ordering::SeqCst), 60);
}

/// Counts, through a clone of an `Arc`, the worker threads that have
/// exited: its destructor runs when the thread that owns it ends.
struct ExitWitness(Arc<AtomicUsize>);

impl Drop for ExitWitness {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static WITNESS: RefCell<Option<ExitWitness>> = const { RefCell::new(None) };
}

#[test]
fn dropping_the_pool_joins_its_workers() {
    let n = 3;
    let pool = ThreadPool::new(n).unwrap();
    let exited = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    // One task per worker leaves a witness in that worker's thread-locals.
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let exited = Arc::clone(&exited);
            let arrived = Arc::clone(&arrived);
            pool.submit(move || {
                WITNESS.with(|w| *w.borrow_mut() = Some(ExitWitness(exited)));
                rendezvous(&arrived, n)
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.wait(), Ok(true));
    }
    assert_eq!(exited.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&exited), 1 + n);

    drop(pool);
    // Joined means the threads have ended, thread-locals included.
    assert_eq!(exited.load(Ordering::SeqCst), n, "drop returned before every worker exited");
    assert_eq!(Arc::strong_count(&exited), 1);
}

#[test]
fn shutdown_now_cancels_queued_tasks_and_lets_the_running_one_finish() {
    let pool = ThreadPool::new(1).unwrap();
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, gate) = mpsc::channel::<()>();
    let running = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
        "finished"
    });
    let ran = Arc::new(AtomicBool::new(false));
    let queued: Vec<_> = (0..10)
        .map(|i| {
            let ran = Arc::clone(&ran);
            pool.submit(move || {
                ran.store(true, Ordering::SeqCst);
                i
            })
        })
        .collect();
    started.recv_timeout(LONG).unwrap();

    // shutdown_now blocks until the running task ends, so it runs on its
    // own thread; the running task is released once it has had ample time
    // to raise the cancel flag.
    let stopper = thread::spawn(move || pool.shutdown_now());
    thread::sleep(Duration::from_millis(200));
    release.send(()).unwrap();
    within(LONG, "shutdown_now", move || stopper.join().unwrap());

    assert_eq!(running.wait(), Ok("finished"));
    for handle in queued {
        assert_eq!(handle.wait(), Err(TaskError::Cancelled));
    }
    assert!(!ran.load(Ordering::SeqCst), "a queued task ran after shutdown_now");
}

#[test]
fn shutdown_now_on_an_idle_pool_returns_promptly() {
    within(LONG, "shutdown_now on an idle pool", || {
        let pool = ThreadPool::new(4).unwrap();
        assert_eq!(pool.submit(|| 1).wait(), Ok(1));
        thread::sleep(Duration::from_millis(5));
        pool.shutdown_now();
    });
}

#[test]
fn results_stay_readable_after_the_pool_is_gone() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..20u32).map(|i| pool.submit(move || i * 2)).collect();
    drop(pool);
    for (i, handle) in (0..20u32).zip(handles) {
        assert!(handle.is_finished());
        assert_eq!(handle.wait(), Ok(i * 2));
    }
}

#[test]
fn a_scope_whose_spawned_tasks_were_cancelled_says_so() {
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    pool.shutdown_now();
    let mut parts = [0u32; 4];
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            for part in parts.iter_mut() {
                s.spawn(move || *part = 1);
            }
        })
    }));
    // Returning normally would pass the untouched parts off as done.
    let payload = outcome.unwrap_err();
    let message = common::panic_message(&*payload).unwrap_or_default();
    assert!(message.contains("4 task(s) spawned in this scope were cancelled by shutdown_now"), "{message}");
    assert_eq!(parts, [0; 4]);
}

/// A submitted task whose handle was dropped has nobody to tell either: its
/// cancellation by `shutdown_now` makes the scope panic, as a spawned
/// task's does, whether the handle went before the cancellation or after.
/// A task the caller cancelled itself is no skipped work.
#[test]
fn a_scope_whose_submitted_tasks_were_cancelled_unread_says_so() {
    common::quiet_intentional_panics();
    for handle_first in [true, false] {
        let pool = ThreadPool::new(1).unwrap();
        let ran = AtomicBool::new(false);
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.scope(|s| {
                let p = &pool;
                // Keeps the only worker busy until the task below is queued.
                s.spawn(move || {
                    gate.recv().unwrap();
                    p.shutdown_now();
                });
                let handle = s.submit(|| ran.store(true, Ordering::SeqCst));
                if handle_first {
                    drop(handle);
                    go.send(()).unwrap();
                } else {
                    go.send(()).unwrap();
                    while !handle.is_finished() {
                        std::thread::yield_now();
                    }
                    drop(handle);
                }
            })
        }));
        let payload = outcome.expect_err("the scope returned as if the task had run");
        let message = common::panic_message(&*payload).unwrap_or_default();
        assert!(message.contains("1 task(s) spawned in this scope were cancelled"), "{handle_first}: {message}");
        assert!(!ran.load(Ordering::SeqCst));
    }
    let pool = ThreadPool::new(1).unwrap();
    let (go, gate) = std::sync::mpsc::channel::<()>();
    pool.scope(|s| {
        s.spawn(move || gate.recv().unwrap());
        let handle = s.submit(|| 1);
        handle.cancel();
        go.send(()).unwrap();
        drop(handle);
    });
}

#[test]
fn every_racing_shutdown_now_returns_only_once_the_workers_are_gone() {
    for _ in 0..5 {
        let pool = ThreadPool::new(2).unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let (started, running) = mpsc::channel();
        let flag = Arc::clone(&finished);
        let _task = pool.submit(move || {
            started.send(()).unwrap();
            thread::sleep(Duration::from_millis(50));
            flag.store(true, Ordering::SeqCst);
        });
        running.recv().unwrap();
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let (pool, finished) = (pool.clone(), Arc::clone(&finished));
                // The second and third used to return at once, the first
                // having taken the thread handles to join.
                thread::spawn(move || {
                    pool.shutdown_now();
                    finished.load(Ordering::SeqCst)
                })
            })
            .collect();
        for caller in callers {
            assert!(caller.join().unwrap(), "shutdown_now returned while a task was still running");
        }
    }
}

/// `shutdown_now` called from inside `f` cancels a scoped map's remaining
/// chunks: the map tells its consumer so (each cancelled item comes out as
/// `Err(Cancelled)`, or the map ends), and the scope must not report that
/// cancellation again as skipped work when the consumer, told, drops the
/// map before the cancelled chunk's task has quite finished. Repeated: the
/// window between the two is a few instructions wide.
#[test]
fn a_scoped_map_cancelled_from_inside_f_does_not_fail_its_scope() {
    for round in 0..if cfg!(miri) { 2 } else { 100 } {
        for unordered in [false, true] {
            let pool = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
            let stopper = pool.clone();
            let f = move |x: u32| {
                if x == 37 {
                    stopper.shutdown_now();
                }
                x
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.scope(|s| {
                    if unordered {
                        s.map_unordered(f, 0..300u32).chunk_size(3).count();
                    } else {
                        s.try_map(f, 0..300u32).chunk_size(3).count();
                    }
                })
            }));
            assert!(outcome.is_ok(), "round {round}, unordered {unordered}: the scope panicked");
        }
    }
}

/// A scoped map whose chunks its consumer ran itself ends its scope at
/// once while the only worker is busy: nothing of the map may wait for a
/// worker once its chunks are done.
#[test]
fn a_scoped_map_run_by_its_consumer_does_not_wait_for_a_busy_worker() {
    let pool = ThreadPool::new(1).unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let (release, released) = mpsc::channel::<()>();
    let busy = {
        let started = Arc::clone(&started);
        pool.submit(move || {
            started.store(true, Ordering::SeqCst);
            released.recv().is_ok()
        })
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    let scoped = pool.clone();
    let sum = within(LONG, "a scoped map beside a busy worker", move || {
        let data: Vec<u64> = (1..=100).collect();
        scoped.scope(|s| s.map(|x: &u64| *x, &data).sum::<u64>())
    });
    release.send(()).unwrap();
    assert_eq!(sum, 5050);
    assert_eq!(busy.wait(), Ok(true));
}
