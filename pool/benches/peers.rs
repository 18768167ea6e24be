//! The pool side by side with rayon, the `threadpool` crate,
//! `std::thread::scope` and a sequential loop, in one run.
//!
//! `cargo bench -p parsweep-pool --bench peers` (set `POOL_BENCH_WORKERS`
//! to change the worker count; default: available parallelism).
//! Compare the ratios within one run: the absolute numbers move with the
//! machine's load.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const EMPTY_TASKS: usize = 100_000;
const SQUARES: u64 = 1_000_000;
const SPIN_TASKS: usize = 2_000;
const SPIN: Duration = Duration::from_micros(30);

fn workers() -> usize {
    std::env::var("POOL_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

fn spin(d: Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        n = black_box(n.wrapping_add(1));
    }
    n
}

/// Submit + complete of many empty tasks: the per-task dispatch cost.
fn empty_tasks(c: &mut Criterion) {
    let n = workers();
    let ours = pool::ThreadPool::new(n).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("rayon pool");
    let threadpool = threadpool::ThreadPool::new(n);

    let mut group = c.benchmark_group(format!("empty_tasks_100k/{n}w"));
    group.throughput(Throughput::Elements(EMPTY_TASKS as u64));
    group.sample_size(20);
    group.bench_function("parsweep scope.spawn", |b| {
        b.iter(|| {
            let count = AtomicUsize::new(0);
            ours.scope(|s| {
                for _ in 0..EMPTY_TASKS {
                    s.spawn(|| {
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
            assert_eq!(count.load(Ordering::Relaxed), EMPTY_TASKS);
        })
    });
    group.bench_function("parsweep submit+wait", |b| {
        b.iter(|| {
            let handles: Vec<_> = (0..EMPTY_TASKS).map(|i| ours.submit(move || black_box(i))).collect();
            for h in handles {
                black_box(h.wait().ok());
            }
        })
    });
    group.bench_function("rayon scope.spawn", |b| {
        b.iter(|| {
            let count = AtomicUsize::new(0);
            rayon.scope(|s| {
                for _ in 0..EMPTY_TASKS {
                    s.spawn(|_| {
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
            assert_eq!(count.load(Ordering::Relaxed), EMPTY_TASKS);
        })
    });
    group.bench_function("threadpool execute+join", |b| {
        b.iter(|| {
            let count = Arc::new(AtomicUsize::new(0));
            for _ in 0..EMPTY_TASKS {
                let count = Arc::clone(&count);
                threadpool.execute(move || {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            }
            threadpool.join();
            assert_eq!(count.load(Ordering::Relaxed), EMPTY_TASKS);
        })
    });
    group.bench_function("sequential", |b| {
        b.iter(|| {
            let count = AtomicUsize::new(0);
            for _ in 0..EMPTY_TASKS {
                black_box(&count).fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    group.finish();
}

/// Ordered map of a trivially small function: chunking decides everything.
fn squares(c: &mut Criterion) {
    let n = workers();
    let ours = pool::ThreadPool::new(n).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("rayon pool");
    use rayon::prelude::*;

    let mut group = c.benchmark_group(format!("map_square_1e6/{n}w"));
    group.throughput(Throughput::Elements(SQUARES));
    group.sample_size(30);
    group.bench_function("parsweep map auto", |b| {
        b.iter(|| {
            let v: Vec<u64> = ours.map(|x: u64| x * x, 0..SQUARES).collect();
            black_box(v)
        })
    });
    group.bench_function("parsweep map_collect", |b| {
        b.iter(|| {
            let v: Vec<u64> = ours.map_collect(|x: u64| x * x, 0..SQUARES);
            black_box(v)
        })
    });
    for chunk in [1_000usize, 100_000] {
        group.bench_with_input(BenchmarkId::new("parsweep map chunk", chunk), &chunk, |b, &chunk| {
            b.iter(|| {
                let v: Vec<u64> = ours.map(|x: u64| x * x, 0..SQUARES).chunk_size(chunk).collect();
                black_box(v)
            })
        });
    }
    group.bench_function("rayon par_iter", |b| {
        b.iter(|| {
            let v: Vec<u64> = rayon.install(|| (0..SQUARES).into_par_iter().map(|x| x * x).collect());
            black_box(v)
        })
    });
    group.bench_function("std::thread::scope", |b| {
        b.iter(|| {
            let mut out = vec![0u64; SQUARES as usize];
            let per = out.len().div_ceil(n);
            std::thread::scope(|s| {
                for (k, part) in out.chunks_mut(per).enumerate() {
                    s.spawn(move || {
                        let base = (k * per) as u64;
                        for (i, slot) in part.iter_mut().enumerate() {
                            let x = base + i as u64;
                            *slot = x * x;
                        }
                    });
                }
            });
            black_box(out)
        })
    });
    group.bench_function("sequential", |b| {
        b.iter(|| {
            let v: Vec<u64> = (0..SQUARES).map(|x| black_box(x) * x).collect();
            black_box(v)
        })
    });
    group.finish();
}

/// Many short CPU-bound tasks: how close to the ideal speedup each gets.
fn spin_tasks(c: &mut Criterion) {
    let n = workers();
    let ours = pool::ThreadPool::new(n).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("rayon pool");
    use rayon::prelude::*;

    let mut group = c.benchmark_group(format!("spin_30us_x2000/{n}w"));
    group.throughput(Throughput::Elements(SPIN_TASKS as u64));
    group.sample_size(20);
    group.bench_function("parsweep map auto", |b| {
        b.iter(|| ours.map(|_: usize| spin(SPIN), 0..SPIN_TASKS).fold(0u64, |a, x| a.wrapping_add(x)))
    });
    group.bench_function("parsweep map chunk 1", |b| {
        b.iter(|| ours.map(|_: usize| spin(SPIN), 0..SPIN_TASKS).chunk_size(1).fold(0u64, |a, x| a.wrapping_add(x)))
    });
    group.bench_function("rayon par_iter", |b| {
        b.iter(|| rayon.install(|| (0..SPIN_TASKS).into_par_iter().map(|_| spin(SPIN)).reduce(|| 0, u64::wrapping_add)))
    });
    group.bench_function("std::thread::scope", |b| {
        b.iter(|| {
            let per = SPIN_TASKS.div_ceil(n);
            std::thread::scope(|s| {
                let parts: Vec<_> = (0..n)
                    .map(|k| {
                        s.spawn(move || {
                            (k * per..((k + 1) * per).min(SPIN_TASKS)).map(|_| spin(SPIN)).fold(0u64, u64::wrapping_add)
                        })
                    })
                    .collect();
                parts.into_iter().map(|p| p.join().unwrap_or(0)).fold(0u64, u64::wrapping_add)
            })
        })
    });
    group
        .bench_function("sequential", |b| b.iter(|| (0..SPIN_TASKS).map(|_| spin(SPIN)).fold(0u64, u64::wrapping_add)));
    group.finish();
}

criterion_group!(benches, empty_tasks, squares, spin_tasks);
criterion_main!(benches);
