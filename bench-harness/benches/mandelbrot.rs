//! Measuring your own code with the harness: Mandelbrot rows.
//!
//! Each input is one row of a Mandelbrot image; its result is the row's
//! total iteration count. Rows through the set cost up to `MAX_ITERATIONS`
//! per pixel and rows outside it a few, so a static split of the rows is
//! badly imbalanced: the case dynamic schedulers exist for. Three
//! implementations of a parallel map are registered as backends, next to
//! the harness's built-in ones:
//!
//! - `rows-static`: hand-rolled `std::thread::scope`, one block of rows per thread;
//! - `rows-dynamic`: the same threads taking rows one at a time from an atomic counter;
//! - `rows-on-pool`: this project's pool (`map_collect`), built before each run (outside the timing).
//!
//! Run from the workspace root (cargo runs a bench in its package directory,
//! so paths start at `bench-harness/`):
//! `cargo bench -p bench-harness --bench mandelbrot -- ../configs/mandelbrot.ron --out ../reports/latest`

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use bench_harness::custom::{git_revision, CustomWorkload, Job, Registry};

/// Image width in pixels; the height is the number of inputs (rows).
const WIDTH: usize = 480;
const MAX_ITERATIONS: u32 = 400;

/// Total escape-time iterations of row `row` of a `height`-row image of the
/// region [-2.2, 0.8] × [-1.2, 1.2]. Rows are placed symmetrically about the
/// real axis (exactly, in floating point), so row `r` and row
/// `height - 1 - r` always have the same total.
fn mandelbrot_row(row: usize, height: usize) -> f64 {
    let im = ((2 * row + 1) as f64 - height as f64) / height as f64 * 1.2;
    let mut total = 0u64;
    for column in 0..WIDTH {
        let re = -2.2 + 3.0 * (column as f64 + 0.5) / WIDTH as f64;
        let (mut x, mut y, mut iterations) = (0.0f64, 0.0f64, 0);
        while iterations < MAX_ITERATIONS && x * x + y * y <= 4.0 {
            (x, y) = (x * x - y * y + re, 2.0 * x * y + im);
            iterations += 1;
        }
        total += u64::from(iterations);
    }
    total as f64
}

/// The image's symmetry, checked after every run: a backend that loses or
/// misplaces rows fails it (the bit-for-bit comparison with the sequential
/// run catches the rest).
fn symmetric(_inputs: &[f64], rows: &[f64]) -> Result<(), String> {
    match (0..rows.len() / 2).find(|&r| rows[r] != rows[rows.len() - 1 - r]) {
        Some(r) => {
            Err(format!("row {r} has {} iterations but its mirror image has {}", rows[r], rows[rows.len() - 1 - r]))
        }
        None => Ok(()),
    }
}

/// One contiguous block of rows per thread.
fn rows_static(workers: usize) -> impl Fn(&Job<'_>) -> Vec<f64> + Send + Sync {
    move |job| {
        let mut results = vec![0.0; job.len()];
        let block = job.len().div_ceil(workers).max(1);
        std::thread::scope(|scope| {
            for (index, out) in results.chunks_mut(block).enumerate() {
                scope.spawn(move || {
                    for (offset, slot) in out.iter_mut().enumerate() {
                        *slot = job.call(index * block + offset);
                    }
                });
            }
        });
        results
    }
}

/// Threads take the next row from a shared counter until none is left.
fn rows_dynamic(workers: usize) -> impl Fn(&Job<'_>) -> Vec<f64> + Send + Sync {
    move |job| {
        let next = AtomicUsize::new(0);
        let mut results = vec![0.0; job.len()];
        let parts: Vec<Vec<(usize, f64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let row = next.fetch_add(1, Ordering::Relaxed);
                            if row >= job.len() {
                                break done;
                            }
                            done.push((row, job.call(row)));
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        for (row, value) in parts.into_iter().flatten() {
            results[row] = value;
        }
        results
    }
}

/// This project's pool, started before each run and dropped (its workers joined) after it, outside the timing.
fn rows_on_pool(workers: usize) -> impl Fn(&Job<'_>) -> Vec<f64> + Send + Sync {
    let pool = pool::ThreadPool::builder().num_workers(workers).build().unwrap_or_else(|error| {
        panic!("cannot start the pool with {workers} workers: {error}");
    });
    move |job| pool.map_collect(|row| job.call(row), 0..job.len())
}

fn main() -> ExitCode {
    let rows = CustomWorkload::with_setup(
        "mandelbrot-rows",
        // Per-run setup: the image is as tall as there are inputs, so
        // `PerWorker` inputs grow the image with the worker count.
        |inputs: &[f64]| inputs.len(),
        |&height: &usize, row, _| mandelbrot_row(row, height),
    )
    .check(symmetric);
    let registry = Registry::new()
        // Recorded in every report, so `compare` can tell revisions apart.
        .code_revision(git_revision(env!("CARGO_MANIFEST_DIR")))
        .workload(rows)
        .backend("rows-static", rows_static)
        .backend("rows-dynamic", rows_dynamic)
        .backend("rows-on-pool", rows_on_pool);
    bench_harness::cli::main_with(registry)
}
