//! The synchronisation core under random load: many small pools running
//! random mixes of every kind of work and dropped at random points, plus
//! wake-up tests that catch tasks left sitting in a queue.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{pause_us, quiet_intentional_panics, rendezvous, within, XorShift, INTENTIONAL};
use pool::{Chunking, TaskError, ThreadPool};

/// A per-item function with a seeded pause of up to 50 µs.
fn work(x: u64) -> u64 {
    pause_us(XorShift::new(x).below(50));
    x.wrapping_mul(2_654_435_761) ^ (x >> 3)
}

fn random_chunking(rng: &mut XorShift) -> Chunking {
    if rng.below(3) == 0 {
        Chunking::Auto
    } else {
        Chunking::Fixed(1 + rng.below(8) as usize)
    }
}

/// One random operation on `pool`, checking its results.
fn random_op(pool: &Arc<ThreadPool>, rng: &mut XorShift) {
    let n = rng.below(60);
    let base = rng.next_u64() >> 40;
    let inputs = base..base + n;
    let expected: Vec<u64> = inputs.clone().map(work).collect();
    let window = 1 + rng.below(6) as usize;
    let chunking = random_chunking(rng);
    match rng.below(8) {
        0 => {
            let handles: Vec<_> = inputs.map(|x| pool.submit(move || work(x))).collect();
            let got: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
            assert_eq!(got, expected);
        }
        1 => {
            let got: Vec<u64> = pool.map(work, inputs).chunk_size(chunking).window(window).collect();
            assert_eq!(got, expected);
        }
        2 => {
            let mut got: Vec<(usize, u64)> = pool
                .map_unordered(work, inputs)
                .chunk_size(chunking)
                .window(window)
                .map(|(i, r)| (i, r.unwrap()))
                .collect();
            got.sort_unstable();
            assert_eq!(got, expected.into_iter().enumerate().collect::<Vec<_>>());
        }
        3 => {
            let bad = rng.below(7) + 2;
            let got: Vec<Result<u64, TaskError>> = pool
                .try_map(
                    move |x| {
                        if x % bad == 0 {
                            panic!("{INTENTIONAL} {x}");
                        }
                        work(x)
                    },
                    inputs.clone(),
                )
                .chunk_size(chunking)
                .window(window)
                .collect();
            for ((x, result), value) in inputs.zip(got).zip(expected) {
                if x % bad == 0 {
                    assert_eq!(common::by_message(result), Err(Some(format!("{INTENTIONAL} {x}"))));
                } else {
                    assert_eq!(result, Ok(value));
                }
            }
        }
        4 => {
            // Scoped: detached writers into disjoint chunks, a handle, a map.
            let mut out = vec![0u64; n as usize];
            let first = inputs.start;
            let total = pool.scope(|s| {
                for (k, chunk) in out.chunks_mut(5).enumerate() {
                    s.spawn(move || {
                        for (j, cell) in chunk.iter_mut().enumerate() {
                            *cell = work(first + (k * 5 + j) as u64);
                        }
                    });
                }
                let handle = s.submit(|| expected.iter().sum::<u64>());
                let mapped: u64 = s.map(|x: &u64| *x, &expected).chunk_size(chunking).sum();
                assert_eq!(handle.wait(), Ok(mapped));
                mapped
            });
            assert_eq!(out, expected);
            assert_eq!(total, out.iter().sum::<u64>());
        }
        5 => {
            // Nested: a task mapping on its own pool.
            let inner = Arc::clone(pool);
            let got = pool.submit(move || inner.map(work, inputs).chunk_size(chunking).collect::<Vec<_>>()).wait();
            assert_eq!(got, Ok(expected));
        }
        6 => {
            // Dropped early, part-way through.
            let take = rng.below(n + 1) as usize;
            let got: Vec<u64> = pool.map(work, inputs).chunk_size(chunking).window(window).take(take).collect();
            assert_eq!(got, expected[..take]);
        }
        _ => {
            // Fire-and-forget tasks, then a scope that waits for nothing.
            let counter = Arc::new(AtomicUsize::new(0));
            for _ in 0..n {
                let counter = Arc::clone(&counter);
                pool.submit(move || counter.fetch_add(1, Ordering::SeqCst));
            }
            pool.scope(|_| ());
        }
    }
}

/// Ends `pool` with work still queued: by drop (queued work must finish),
/// from inside one of its own tasks, or by `shutdown_now` (queued work may
/// be cancelled, but every handle must say which).
fn random_end(pool: Arc<ThreadPool>, rng: &mut XorShift) {
    let counter = Arc::new(AtomicUsize::new(0));
    let queued = rng.below(30) as usize;
    let handles: Vec<_> = (0..queued)
        .map(|i| {
            let counter = Arc::clone(&counter);
            pool.submit(move || {
                pause_us(XorShift::new(i as u64).below(30));
                counter.fetch_add(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    if rng.below(4) == 0 {
        // The last handle to the pool goes to one of its own tasks, which
        // drops it on a worker after a nested map.
        let (tx, rx) = std::sync::mpsc::channel();
        let inner = Arc::clone(&pool);
        drop(pool.submit(move || {
            let sum: u64 = inner.map(|x: u64| x, 0..20u64).sum();
            drop(inner);
            tx.send(sum).unwrap();
        }));
        drop(pool);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(190));
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.wait(), Ok(i));
        }
        return;
    }
    let pool = Arc::into_inner(pool).expect("no task keeps the pool alive after its op");
    if rng.below(2) == 0 {
        drop(pool);
        assert_eq!(counter.load(Ordering::SeqCst), queued, "drop lost queued tasks");
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.wait(), Ok(i));
        }
    } else {
        pool.shutdown_now();
        let mut ran = 0;
        for (i, handle) in handles.into_iter().enumerate() {
            match handle.wait() {
                Ok(value) => {
                    assert_eq!(value, i);
                    ran += 1;
                }
                Err(error) => assert_eq!(error, TaskError::Cancelled),
            }
        }
        assert_eq!(ran, counter.load(Ordering::SeqCst), "a task ran but reported cancelled, or the reverse");
    }
}

#[test]
fn random_mixes_of_work_on_small_pools() {
    quiet_intentional_panics();
    within(Duration::from_secs(50), "200 random pool lifetimes", || {
        for seed in 0..200u64 {
            let mut rng = XorShift::new(seed);
            let workers = 1 + rng.below(4) as usize;
            let pool = Arc::new(ThreadPool::new(workers).unwrap());
            for _ in 0..1 + rng.below(5) {
                random_op(&pool, &mut rng);
            }
            random_end(pool, &mut rng);
        }
    });
}

#[test]
fn a_single_task_after_an_idle_spell_always_runs() {
    // Lost wake-ups show up as a task that never starts on an idle pool.
    within(Duration::from_secs(40), "500 idle-then-submit rounds", || {
        let pool = ThreadPool::new(2).unwrap();
        for round in 0..500u32 {
            thread::sleep(Duration::from_millis(2));
            match pool.submit(move || round).wait_timeout(Duration::from_secs(5)) {
                Ok(result) => assert_eq!(result, Ok(round)),
                Err(_) => panic!("round {round}: the task was not run within 5 s of an idle spell"),
            }
        }
    });
}

#[test]
fn every_worker_wakes_for_a_burst_after_a_task_finishes() {
    // The moment a worker finishes its task it polls the queues before it
    // parks; a burst submitted right then must still wake the parked
    // workers, so that all of them run the burst at the same time.
    let n = 4;
    let pool = ThreadPool::new(n).unwrap();
    for round in 0..20 {
        thread::sleep(Duration::from_millis(3)); // everyone parks
        let trigger = pool.submit(|| ());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !trigger.is_finished() && Instant::now() < deadline {
            std::hint::spin_loop();
        }
        let arrived = Arc::new(AtomicUsize::new(0));
        let burst: Vec<_> = (0..n)
            .map(|_| {
                let arrived = Arc::clone(&arrived);
                pool.submit(move || rendezvous(&arrived, n))
            })
            .collect();
        let all_together = burst.into_iter().map(|h| h.wait().unwrap()).fold(true, |a, b| a & b);
        assert!(all_together, "round {round}: a burst of {n} tasks did not get {n} workers");
    }
}

#[test]
fn many_threads_submit_to_one_pool_at_once() {
    let pool = Arc::new(ThreadPool::new(3).unwrap());
    within(Duration::from_secs(30), "4 producer threads", move || {
        let producers: Vec<_> = (0..4u64)
            .map(|t| {
                let pool = Arc::clone(&pool);
                thread::spawn(move || {
                    let handles: Vec<_> = (0..200u64).map(|i| pool.submit(move || t * 1000 + i)).collect();
                    let mapped: Vec<u64> = pool.map(move |i: u64| t * 1000 + i, 0..200u64).chunk_size(7).collect();
                    let waited: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
                    assert_eq!(waited, mapped);
                    waited.len()
                })
            })
            .collect();
        let total: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(total, 800);
    });
}
