//! Scoped tasks and maps: borrowing the caller's stack, joining before
//! returning, and panics inside and outside the tasks.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{panic_message, quiet_intentional_panics, within, INTENTIONAL};
use pool::ThreadPool;

/// Deliberately neither `Clone` nor `Copy`: tasks can only borrow it.
struct Config {
    scale: i64,
    offset: i64,
}

#[test]
fn tasks_borrow_stack_data_without_cloning() {
    let pool = ThreadPool::new(3).unwrap();
    let data: Vec<i64> = (1..=100).collect();
    let config = Config { scale: 3, offset: -1 };
    let (first, second) = pool.scope(|s| {
        let (a, b) = data.split_at(50);
        let h1 = s.submit(|| a.iter().map(|x| x * config.scale + config.offset).sum::<i64>());
        let h2 = s.submit(|| b.iter().map(|x| x * config.scale + config.offset).sum::<i64>());
        (h1.wait().unwrap(), h2.wait().unwrap())
    });
    let expected = |xs: &[i64]| xs.iter().map(|x| x * 3 - 1).sum::<i64>();
    assert_eq!(first, expected(&data[..50]));
    assert_eq!(second, expected(&data[50..]));
}

#[test]
fn tasks_write_disjoint_mutable_chunks() {
    let pool = ThreadPool::new(3).unwrap();
    let mut grid = vec![0u64; 1000];
    pool.scope(|s| {
        for (k, chunk) in grid.chunks_mut(64).enumerate() {
            s.spawn(move || {
                for (j, cell) in chunk.iter_mut().enumerate() {
                    let i = (k * 64 + j) as u64;
                    *cell = i * i;
                }
            });
        }
    });
    assert!(grid.iter().enumerate().all(|(i, &v)| v == (i as u64) * (i as u64)));
}

#[test]
fn scoped_maps_run_over_a_borrowed_slice() {
    let pool = ThreadPool::new(2).unwrap();
    // Under Miri, which interprets every item, fewer items: still many
    // chunks of 7 and of 5.
    let data: Vec<i64> = (0..if cfg!(miri) { 60 } else { 300 }).collect();
    let config = Config { scale: -2, offset: 5 };
    let f = |x: &i64| x * config.scale + config.offset;
    let expected: Vec<i64> = data.iter().map(f).collect();

    let ordered: Vec<i64> = pool.scope(|s| s.map(f, &data).chunk_size(7).collect());
    assert_eq!(ordered, expected);

    let tried: Vec<i64> = pool.scope(|s| s.try_map(f, data.iter()).map(Result::unwrap).collect());
    assert_eq!(tried, expected);

    let mut unordered: Vec<(usize, i64)> =
        pool.scope(|s| s.map_unordered(f, &data).chunk_size(5).map(|(i, r)| (i, r.unwrap())).collect());
    unordered.sort_unstable();
    assert_eq!(unordered, expected.into_iter().enumerate().collect::<Vec<_>>());
}

#[test]
fn scoped_map_results_may_borrow_too() {
    let pool = ThreadPool::new(2).unwrap();
    let words = ["alpha", "beta", "gamma", "delta"].map(String::from);
    let longest: Vec<&str> = pool.scope(|s| s.map(|w: &String| w.as_str(), &words).filter(|w| w.len() == 5).collect());
    assert_eq!(longest, ["alpha", "gamma", "delta"]);
}

#[test]
fn the_scope_joins_its_tasks_before_returning() {
    let pool = ThreadPool::new(2).unwrap();
    let flags: Vec<AtomicBool> = (0..6).map(|_| AtomicBool::new(false)).collect();
    let value = pool.scope(|s| {
        for flag in &flags {
            // Handles dropped: only the scope's join waits for these.
            s.spawn(move || {
                thread::sleep(Duration::from_millis(15));
                flag.store(true, Ordering::SeqCst);
            });
        }
        "body value"
    });
    assert_eq!(value, "body value");
    assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)), "scope returned before its tasks finished");
}

/// Runs a scope in which `spawn_failing` queues a task that panics and
/// nobody reads, next to a slow task; returns the scope's panic message and
/// whether the slow task had finished by then.
fn scope_with_unobserved_panic(pool: &ThreadPool, detached: bool) -> (String, bool) {
    let finished = AtomicBool::new(false);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            if detached {
                s.spawn(|| panic!("{INTENTIONAL} scoped boom"));
            } else {
                drop(s.submit(|| -> u8 { panic!("{INTENTIONAL} scoped boom") }));
            }
            s.spawn(|| {
                thread::sleep(Duration::from_millis(30));
                finished.store(true, Ordering::SeqCst);
            });
        })
    }));
    let payload = outcome.expect_err("an unobserved task panic must not be silent");
    (panic_message(&*payload).unwrap_or_default().to_owned(), finished.load(Ordering::SeqCst))
}

#[test]
fn an_unobserved_task_panic_makes_the_scope_panic_after_joining() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    for detached in [true, false] {
        let (message, finished) = scope_with_unobserved_panic(&pool, detached);
        assert!(message.contains("scoped boom"), "detached {detached}: message {message}");
        assert!(finished, "detached {detached}: the scope panicked before joining its other task");
    }
    // The pool is still usable.
    assert_eq!(pool.scope(|s| s.submit(|| 3).wait()), Ok(3));
}

#[test]
fn an_observed_task_panic_does_not_fail_the_scope() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let result = pool.scope(|s| s.submit(|| -> u8 { panic!("{INTENTIONAL} seen") }).wait());
    assert_eq!(common::by_message(result), Err(Some(format!("{INTENTIONAL} seen"))));
}

#[test]
fn a_panic_in_the_body_still_joins_the_tasks_first() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let finished = AtomicUsize::new(0);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    thread::sleep(Duration::from_millis(20));
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
            panic!("{INTENTIONAL} body boom");
        })
    }));
    let payload = outcome.expect_err("the body's panic is re-raised");
    assert_eq!(panic_message(&*payload), Some("intentional body boom"));
    assert_eq!(finished.load(Ordering::SeqCst), 3, "the body's panic escaped before the tasks were joined");
}

#[test]
fn a_panicking_scoped_map_unwinds_after_joining() {
    quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let data: Vec<u32> = (0..100).collect();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.map(
                |x: &u32| {
                    if *x == 50 {
                        panic!("{INTENTIONAL} map item {x}");
                    }
                    *x
                },
                &data,
            )
            .chunk_size(4)
            .sum::<u32>()
        })
    }));
    let payload = outcome.expect_err("the map's panic reaches the caller");
    assert!(panic_message(&*payload).unwrap_or_default().contains("map item 50"));
}

#[test]
fn an_empty_scope_returns_immediately() {
    let pool = ThreadPool::new(1).unwrap();
    assert_eq!(pool.scope(|_| 5), 5);
}

#[test]
fn the_scope_body_may_consume_what_its_tasks_send() {
    // The producer/consumer pattern of `std::thread::scope`: tasks send
    // results down a channel and the body receives them. The body blocks
    // in `recv`, not in a pool wait, so it must not occupy the worker its
    // own tasks need.
    for workers in [1, 2] {
        let total = within(Duration::from_secs(3), "a scope body receiving from its tasks", move || {
            let pool = ThreadPool::new(workers).unwrap();
            let data: Vec<u64> = (0..20).collect();
            pool.scope(|s| {
                let (tx, rx) = mpsc::channel();
                for chunk in data.chunks(4) {
                    let tx = tx.clone();
                    s.spawn(move || tx.send(chunk.iter().sum::<u64>()).unwrap());
                }
                drop(tx);
                rx.iter().sum::<u64>()
            })
        });
        assert_eq!(total, (0..20).sum::<u64>(), "{workers} workers");
    }
}

#[test]
fn scoped_tasks_may_spawn_more_scoped_tasks() {
    // A fan-out tree three levels deep (two under Miri, which interprets
    // every task), every leaf bumping a borrowed counter; the scope must
    // wait for tasks spawned by its tasks too.
    fn fan_out<'scope>(s: &'scope pool::Scope<'scope, '_>, leaves: &'scope AtomicUsize, depth: u32) {
        if depth == 0 {
            thread::sleep(Duration::from_micros(200));
            leaves.fetch_add(1, Ordering::SeqCst);
            return;
        }
        for _ in 0..4 {
            s.spawn(move || fan_out(s, leaves, depth - 1));
        }
    }
    for workers in [1, 3] {
        let pool = ThreadPool::new(workers).unwrap();
        let leaves = AtomicUsize::new(0);
        let depth = if cfg!(miri) { 2 } else { 3 };
        pool.scope(|s| fan_out(s, &leaves, depth));
        assert_eq!(leaves.load(Ordering::SeqCst), 4usize.pow(depth), "{workers} workers");
    }
}
