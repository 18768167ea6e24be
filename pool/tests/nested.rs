//! Tasks that use their own pool (nested maps, scopes and waits) must not
//! deadlock, even with a single worker. Each test runs under a timeout so
//! a deadlock fails it instead of hanging the suite.

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::within;
use pool::ThreadPool;

const LIMIT: Duration = Duration::from_secs(20);

fn squares(n: u64) -> Vec<u64> {
    (0..n).map(|x| x * x).collect()
}

#[test]
fn a_scoped_task_maps_on_the_same_pool() {
    for workers in [1, 2] {
        let out = within(LIMIT, "scope -> submit -> map on the same pool", move || {
            let pool = ThreadPool::new(workers).unwrap();
            pool.scope(|s| s.submit(|| pool.map(|x: u64| x * x, 0..100u64).chunk_size(3).collect::<Vec<_>>()).wait())
        });
        assert_eq!(out, Ok(squares(100)), "{workers} workers");
    }
}

#[test]
fn a_submitted_task_maps_on_its_own_pool_through_an_arc() {
    for workers in [1, 2] {
        let out = within(LIMIT, "submit -> map via Arc<ThreadPool>", move || {
            let pool = Arc::new(ThreadPool::new(workers).unwrap());
            let inner = Arc::clone(&pool);
            pool.submit(move || inner.map(|x: u64| x * x, 0..100u64).collect::<Vec<_>>()).wait()
        });
        assert_eq!(out, Ok(squares(100)), "{workers} workers");
    }
}

#[test]
fn many_outer_tasks_each_run_a_nested_map() {
    for workers in [1, 2] {
        let sums = within(LIMIT, "8 outer tasks with nested maps", move || {
            let pool = Arc::new(ThreadPool::new(workers).unwrap());
            let handles: Vec<_> = (0..8u64)
                .map(|k| {
                    let inner = Arc::clone(&pool);
                    pool.submit(move || inner.map(move |x: u64| x * k, 0..50u64).chunk_size(2).sum::<u64>())
                })
                .collect();
            handles.into_iter().map(|h| h.wait().unwrap()).collect::<Vec<_>>()
        });
        let expected: Vec<u64> = (0..8u64).map(|k| (0..50u64).map(|x| x * k).sum()).collect();
        assert_eq!(sums, expected, "{workers} workers");
    }
}

#[test]
fn tasks_wait_on_tasks_they_submitted_three_levels_deep() {
    let out = within(LIMIT, "submit -> submit -> submit, each waiting", || {
        let pool = Arc::new(ThreadPool::new(1).unwrap());
        let p1 = Arc::clone(&pool);
        pool.submit(move || {
            let p2 = Arc::clone(&p1);
            p1.submit(move || p2.submit(|| 3).wait().unwrap() * 10).wait().unwrap() + 1
        })
        .wait()
    });
    assert_eq!(out, Ok(31));
}

#[test]
fn nested_scopes_and_unordered_maps() {
    for workers in [1, 2] {
        let out = within(LIMIT, "scope inside a scoped task, unordered map inside", move || {
            let pool = ThreadPool::new(workers).unwrap();
            let data: Vec<u64> = (0..40).collect();
            pool.scope(|s| {
                let outer = s.submit(|| {
                    pool.scope(|inner| {
                        let mut pairs: Vec<(usize, u64)> = inner
                            .map_unordered(|x: &u64| x + 1, &data)
                            .chunk_size(3)
                            .map(|(i, r)| (i, r.unwrap()))
                            .collect();
                        pairs.sort_unstable();
                        pairs.into_iter().map(|(_, v)| v).sum::<u64>()
                    })
                });
                outer.wait().unwrap()
            })
        });
        assert_eq!(out, (1..=40).sum::<u64>(), "{workers} workers");
    }
}

#[test]
fn a_task_may_drop_the_last_handle_to_its_own_pool() {
    let done = within(LIMIT, "a pool dropped from inside its own task", || {
        let pool = Arc::new(ThreadPool::new(2).unwrap());
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&pool);
        let _detached = pool.submit(move || {
            let sum: u64 = inner.map(|x: u64| x, 0..10u64).sum();
            // Whoever drops the last Arc here shuts the pool down from a
            // worker; that worker cannot join itself.
            drop(inner);
            tx.send(sum).unwrap();
        });
        drop(pool);
        rx.recv_timeout(LIMIT)
    });
    assert_eq!(done, Ok(45));
}

#[test]
fn tasks_on_two_pools_map_on_each_other() {
    let (a_sum, b_sum) = within(LIMIT, "two one-worker pools mapping on each other", || {
        let a = Arc::new(ThreadPool::new(1).unwrap());
        let b = Arc::new(ThreadPool::new(1).unwrap());
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        // Each pool's only worker waits on a map running on the other pool.
        let on_a = a.submit(move || b2.map(|x: u64| x * 2, 0..100u64).chunk_size(3).sum::<u64>());
        let on_b = b.submit(move || a2.map(|x: u64| x * 3, 0..100u64).chunk_size(3).sum::<u64>());
        (on_a.wait(), on_b.wait())
    });
    assert_eq!(a_sum, Ok(2 * 4950));
    assert_eq!(b_sum, Ok(3 * 4950));
}

#[test]
fn a_task_on_one_pool_opens_a_scope_on_another() {
    let out = within(LIMIT, "scope on pool B from a task of pool A", || {
        let a = ThreadPool::new(1).unwrap();
        let b = Arc::new(ThreadPool::new(1).unwrap());
        let b2 = Arc::clone(&b);
        a.submit(move || {
            let data: Vec<u64> = (0..30).collect();
            b2.scope(|s| s.map(|x: &u64| x + 1, &data).sum::<u64>())
        })
        .wait()
    });
    assert_eq!(out, Ok((1..=30).sum::<u64>()));
}

#[test]
fn wait_timeout_inside_a_task_honours_its_deadline() {
    // A task waits, with a timeout, on a subtask that is blocked until the
    // task itself releases it after the timeout. Waiting may help run other
    // work, but must not run the blocked subtask inline past the deadline.
    for workers in [1, 2] {
        let out = within(Duration::from_secs(5), "wait_timeout on a blocked subtask from a worker", move || {
            let pool = Arc::new(ThreadPool::new(workers).unwrap());
            let inner = Arc::clone(&pool);
            pool.submit(move || {
                let (release, gate) = mpsc::channel::<()>();
                let sub = inner.submit(move || gate.recv().is_ok());
                match sub.wait_timeout(Duration::from_millis(20)) {
                    Ok(early) => Err(format!("finished before it was released: {early:?}")),
                    Err(sub) => {
                        release.send(()).unwrap();
                        Ok(sub.wait())
                    }
                }
            })
            .wait()
        });
        assert_eq!(out, Ok(Ok(Ok(true))), "{workers} workers");
    }
}
