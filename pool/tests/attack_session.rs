//! A second outside referee's attacks on `shutdown_now`, through the public
//! API only: it races with submits from many threads and from inside
//! tasks, while tasks poll (timed waits, `is_finished`) tasks they queued
//! themselves, and from inside nested scopes. Every task either runs or is
//! reported `Cancelled`, never both and never neither; its closure is
//! dropped exactly once; no thread is left behind.
//!
//! Thread counts are read in a child process of their own
//! ([`common::in_child`]); everything that could hang runs under a deadlock
//! guard ([`common::within`]).

#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{in_child, settle_threads, threads, within, XorShift};
use pool::{TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(60);

/// Per task id: how often its body ran and how often its closure was
/// dropped (run or not).
struct Tally {
    ran: Vec<AtomicUsize>,
    dropped: Vec<AtomicUsize>,
}

impl Tally {
    fn new(n: usize) -> Arc<Tally> {
        let zeros = || (0..n).map(|_| AtomicUsize::new(0)).collect();
        Arc::new(Tally { ran: zeros(), dropped: zeros() })
    }
}

/// Owned by a task's closure: counts the closure's drop.
struct Token {
    id: usize,
    tally: Arc<Tally>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.tally.dropped[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

/// Four threads submit tasks while a fifth (or a task) calls
/// `shutdown_now` at a random moment. One task in three submits a nested
/// task and polls it, with `wait_timeout` or `is_finished`, until it
/// resolves: the hang `shutdown_now` used to have. Each handle's outcome
/// must match the task's own record: `Ok` ran once, `Cancelled` never ran;
/// every closure is dropped once.
#[test]
fn shutdown_now_racing_submits_from_threads_and_tasks_is_exactly_once() {
    in_child("shutdown_now_racing_submits_from_threads_and_tasks_is_exactly_once", || {
        let before = threads();
        within(LIMIT, "shutdown_now racing submits", move || {
            let mut rng = XorShift::new(2024);
            for round in 0..40 {
                const PER_THREAD: usize = 150;
                const SUBMITTERS: usize = 4;
                // Ids: outer tasks 0..N, their nested tasks N..2N.
                let n = PER_THREAD * SUBMITTERS;
                let tally = Tally::new(2 * n);
                let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
                let from_task = rng.below(2) == 0;
                let shut_at = rng.below(n as u64) as usize;
                let start = Arc::new(Barrier::new(SUBMITTERS + 1));
                let shut_done = Arc::new(AtomicBool::new(false));
                let submitters: Vec<_> = (0..SUBMITTERS)
                    .map(|t| {
                        let (pool, tally, start) = (pool.clone(), Arc::clone(&tally), Arc::clone(&start));
                        thread::spawn(move || {
                            start.wait();
                            let mut handles = Vec::new();
                            for k in 0..PER_THREAD {
                                let id = t * PER_THREAD + k;
                                let token = Token { id, tally: Arc::clone(&tally) };
                                let inner = pool.clone();
                                let shut = from_task && id == shut_at;
                                handles.push((
                                    id,
                                    pool.submit(move || {
                                        let token = token;
                                        token.tally.ran[token.id].fetch_add(1, Ordering::SeqCst);
                                        if shut {
                                            inner.shutdown_now();
                                        }
                                        if !token.id.is_multiple_of(3) {
                                            return None;
                                        }
                                        let nested_id = n + token.id;
                                        let nested_token = Token { id: nested_id, tally: Arc::clone(&token.tally) };
                                        let mut nested = inner.submit(move || {
                                            let t = nested_token;
                                            t.tally.ran[t.id].fetch_add(1, Ordering::SeqCst);
                                        });
                                        if token.id.is_multiple_of(2) {
                                            loop {
                                                match nested.wait_timeout(Duration::from_micros(200)) {
                                                    Ok(outcome) => return Some(outcome),
                                                    Err(again) => nested = again,
                                                }
                                            }
                                        }
                                        while !nested.is_finished() {
                                            thread::yield_now();
                                        }
                                        Some(nested.wait())
                                    }),
                                ));
                            }
                            handles
                        })
                    })
                    .collect();
                start.wait();
                let shutter = (!from_task).then(|| {
                    let (pool, shut_done) = (pool.clone(), Arc::clone(&shut_done));
                    let pause = Duration::from_micros(rng.below(3000));
                    thread::spawn(move || {
                        thread::sleep(pause);
                        pool.shutdown_now();
                        shut_done.store(true, Ordering::SeqCst);
                    })
                });
                let mut outcomes = Vec::new();
                for submitter in submitters {
                    outcomes.extend(submitter.join().unwrap());
                }
                if let Some(shutter) = shutter {
                    shutter.join().unwrap();
                }
                pool.shutdown_now();
                let ran = |id: usize| tally.ran[id].load(Ordering::SeqCst);
                for (id, handle) in outcomes {
                    match handle.wait() {
                        Ok(nested) => {
                            assert_eq!(ran(id), 1, "round {round}: task {id} reported done, ran {} times", ran(id));
                            if let Some(nested) = nested {
                                let nid = n + id;
                                match nested {
                                    Ok(()) => assert_eq!(ran(nid), 1, "round {round}: nested {nid}"),
                                    Err(TaskError::Cancelled) => {
                                        assert_eq!(ran(nid), 0, "round {round}: nested {nid} cancelled but ran")
                                    }
                                    Err(other) => panic!("round {round}: nested {nid}: {other:?}"),
                                }
                            }
                        }
                        Err(TaskError::Cancelled) => {
                            assert_eq!(ran(id), 0, "round {round}: task {id} reported cancelled but ran")
                        }
                        Err(other) => panic!("round {round}: task {id}: {other:?}"),
                    }
                }
                drop(pool);
                for id in 0..2 * n {
                    let spawned = id < n || (id - n).is_multiple_of(3) && ran(id - n) == 1;
                    let dropped = tally.dropped[id].load(Ordering::SeqCst);
                    if spawned {
                        assert_eq!(dropped, 1, "round {round}: closure of task {id} dropped {dropped} times");
                    }
                    assert!(ran(id) <= 1, "round {round}: task {id} ran {} times", ran(id));
                }
            }
        });
        assert_eq!(settle_threads(before), before, "threads left after the rounds");
    });
}

/// `shutdown_now` from a task deep in nested scopes (a scope inside a task
/// inside a scope) or from outside, while the outer scope's tasks poll
/// tasks queued behind them: every scope returns or reports the cancellation, nothing hangs,
/// and every spawned closure runs at most once and is dropped once.
#[test]
fn shutdown_now_from_inside_nested_scopes_while_tasks_poll_queued_ones() {
    in_child("shutdown_now_from_inside_nested_scopes_while_tasks_poll_queued_ones", || {
        let before = threads();
        within(LIMIT, "shutdown_now inside nested scopes", move || {
            let mut rng = XorShift::new(99);
            for round in 0..40 {
                let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
                let n = 60;
                let tally = Tally::new(2 * n);
                let at = rng.below(n as u64) as usize;
                // Timed waits never run jobs: a task polling a task it queued
                // on a busy pool waits until someone runs or cancels it. A
                // shutdown from outside, at a random moment, always comes.
                let shutter = {
                    let (pool, pause) = (pool.clone(), Duration::from_micros(rng.below(5000)));
                    thread::spawn(move || {
                        thread::sleep(pause);
                        pool.shutdown_now();
                    })
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    pool.scope(|outer| {
                        let mut handles = Vec::new();
                        for i in 0..n {
                            let token = Token { id: i, tally: Arc::clone(&tally) };
                            let (pool, tally) = (pool.clone(), Arc::clone(&tally));
                            handles.push(outer.submit(move || {
                                let token = token;
                                token.tally.ran[i].fetch_add(1, Ordering::SeqCst);
                                let inner = Token { id: n + i, tally };
                                // A nested scope whose one task may shut the pool.
                                let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    pool.scope(|s| {
                                        let shut = pool.clone();
                                        let mut h = s.submit(move || {
                                            let t = inner;
                                            t.tally.ran[t.id].fetch_add(1, Ordering::SeqCst);
                                            if i == at {
                                                shut.shutdown_now();
                                            }
                                        });
                                        loop {
                                            match h.wait_timeout(Duration::from_micros(300)) {
                                                Ok(outcome) => return outcome,
                                                Err(again) => h = again,
                                            }
                                        }
                                    })
                                }));
                                nested.is_ok()
                            }));
                        }
                        for handle in handles {
                            match handle.wait() {
                                Ok(_) | Err(TaskError::Cancelled) => {}
                                Err(other) => panic!("round {round}: {other:?}"),
                            }
                        }
                    })
                }));
                if let Err(payload) = outcome {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    assert!(message.contains("cancelled by shutdown_now"), "round {round}: {message}");
                }
                shutter.join().unwrap();
                drop(pool);
                for id in 0..2 * n {
                    let ran = tally.ran[id].load(Ordering::SeqCst);
                    assert!(ran <= 1, "round {round}: task {id} ran {ran} times");
                    let dropped = tally.dropped[id].load(Ordering::SeqCst);
                    // Inner tokens exist only for outer tasks that ran.
                    let made = id < n || tally.ran[id - n].load(Ordering::SeqCst) == 1;
                    if made {
                        assert_eq!(dropped, 1, "round {round}: closure {id} dropped {dropped} times");
                    }
                }
            }
        });
        assert_eq!(settle_threads(before), before, "threads left after the rounds");
    });
}
