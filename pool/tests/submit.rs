//! `submit` and the task handle: wait, wait_timeout, polling, panics,
//! cancelling a queued task.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{quiet_intentional_panics, rendezvous, INTENTIONAL};
use pool::{TaskError, ThreadPool};

const LONG: Duration = Duration::from_secs(10);

/// How many tasks the many-task tests submit: fewer under Miri, which
/// interprets every step (each panic unwinds through the interpreter), so
/// that the file runs there in about a minute.
const MANY: usize = if cfg!(miri) { 20 } else { 200 };

#[test]
fn submit_and_wait_return_every_value() {
    let pool = ThreadPool::new(3).unwrap();
    let n = MANY as u64;
    let handles: Vec<_> = (0..n).map(|i| pool.submit(move || i * i + 1)).collect();
    let values: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
    assert_eq!(values, (0..n).map(|i| i * i + 1).collect::<Vec<_>>());
}

#[test]
fn wait_timeout_times_out_on_a_blocked_task_then_succeeds_after_release() {
    let pool = ThreadPool::new(1).unwrap();
    let (release, gate) = mpsc::channel::<u32>();
    let handle = pool.submit(move || gate.recv().map(|v| v * 2));

    let start = Instant::now();
    let handle =
        handle.wait_timeout(Duration::from_millis(30)).expect_err("the task is blocked, so waiting must time out");
    assert!(start.elapsed() >= Duration::from_millis(30), "returned before the timeout");
    assert!(!handle.is_finished());

    release.send(21).unwrap();
    match handle.wait_timeout(LONG) {
        Ok(result) => assert_eq!(result, Ok(Ok(42))),
        Err(_) => panic!("the released task did not finish within {LONG:?}"),
    }
}

#[test]
fn is_finished_turns_true_once_the_task_is_done() {
    let pool = ThreadPool::new(2).unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let handle = pool.submit(move || {
        gate.recv().unwrap();
        "done"
    });
    thread::sleep(Duration::from_millis(10));
    assert!(!handle.is_finished(), "finished while still blocked");
    release.send(()).unwrap();

    let deadline = Instant::now() + LONG;
    while !handle.is_finished() {
        assert!(Instant::now() < deadline, "never finished");
        thread::sleep(Duration::from_micros(100));
    }
    assert_eq!(handle.wait(), Ok("done"));
}

#[test]
fn a_panicking_task_reports_its_message() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();

    let literal = pool.submit(|| -> u32 { panic!("intentional literal") }).wait();
    assert_eq!(common::by_message(literal), Err(Some("intentional literal".into())));

    let formatted = pool.submit(|| -> u32 { panic!("{INTENTIONAL} formatted {}", 7) }).wait();
    let err = formatted.unwrap_err();
    assert_eq!(err.panic_message(), Some(format!("{INTENTIONAL} formatted 7").as_str()));
    assert!(err.is_panic());
    assert!(err.to_string().contains("intentional formatted 7"), "display: {err}");

    // A payload that is not a string still yields a panic, not a crash.
    let opaque = pool.submit(|| std::panic::panic_any(42i32)).wait();
    assert!(matches!(opaque, Err(TaskError::Panicked(_))), "{opaque:?}");
}

#[test]
fn the_pool_keeps_working_after_panics() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let failed: Vec<_> = (0..MANY / 4).map(|i| pool.submit(move || -> i32 { panic!("intentional {i}") })).collect();
    for (i, handle) in failed.into_iter().enumerate() {
        assert_eq!(common::by_message(handle.wait()), Err(Some(format!("intentional {i}"))));
    }
    let ok: Vec<_> = (0..MANY * 5 / 2).map(|i| pool.submit(move || i + 1)).collect();
    for (i, handle) in ok.into_iter().enumerate() {
        assert_eq!(handle.wait(), Ok(i + 1));
    }
}

#[test]
fn every_worker_still_serves_after_many_panics() {
    quiet_intentional_panics();
    let n = 4;
    let pool = ThreadPool::new(n).unwrap();
    let failed: Vec<_> = (0..MANY).map(|_| pool.submit(|| panic!("intentional"))).collect();
    for handle in failed {
        assert!(handle.wait().unwrap_err().is_panic());
    }
    // n tasks that can only all complete their rendezvous if n distinct
    // worker threads are alive and taking work.
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            pool.submit(move || (rendezvous(&arrived, n), thread::current().id()))
        })
        .collect();
    let mut threads = BTreeSet::new();
    for handle in handles {
        let (all_arrived, id) = handle.wait().unwrap();
        assert!(all_arrived, "fewer than {n} workers are serving");
        threads.insert(format!("{id:?}"));
    }
    assert_eq!(threads.len(), n);
}

#[test]
fn dropping_a_handle_does_not_cancel_the_task() {
    let pool = ThreadPool::new(2).unwrap();
    let (tx, rx) = mpsc::channel();
    drop(pool.submit(move || tx.send("ran").unwrap()));
    assert_eq!(rx.recv_timeout(LONG), Ok("ran"));
}

#[test]
fn cancel_skips_a_task_that_has_not_started() {
    let pool = ThreadPool::new(1).unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let blocker = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
    });
    started.recv_timeout(LONG).unwrap();

    let ran = Arc::new(AtomicBool::new(false));
    let queued = {
        let ran = Arc::clone(&ran);
        pool.submit(move || ran.store(true, Ordering::SeqCst))
    };
    queued.cancel();
    assert!(queued.is_finished(), "a cancelled task counts as finished");
    release.send(()).unwrap();
    assert_eq!(blocker.wait(), Ok(()));
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));

    // The worker skipped it, so it never ran; a later task proves the
    // worker went past it.
    assert_eq!(pool.submit(|| 1).wait(), Ok(1));
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn cancel_does_not_interrupt_a_running_task() {
    let pool = ThreadPool::new(1).unwrap();
    let (release, gate) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let handle = pool.submit(move || {
        started_tx.send(()).unwrap();
        gate.recv().unwrap();
        5
    });
    started.recv_timeout(LONG).unwrap();
    handle.cancel();
    release.send(()).unwrap();
    assert_eq!(handle.wait(), Ok(5));
}

#[test]
fn handles_can_be_waited_from_other_threads() {
    let pool = ThreadPool::new(2).unwrap();
    let handles: Vec<_> = (0..8u32).map(|i| pool.submit(move || i * 3)).collect();
    let waiters: Vec<_> = handles.into_iter().map(|h| thread::spawn(move || h.wait())).collect();
    let values: Vec<u32> = waiters.into_iter().map(|w| w.join().unwrap().unwrap()).collect();
    assert_eq!(values, (0..8u32).map(|i| i * 3).collect::<Vec<_>>());
}
