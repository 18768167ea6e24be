//! A backend of the user's whose threads outlive its run: the next cell
//! is not timed beside them. The only test in this file: it counts the
//! threads of its own process.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bench_harness::config::Plan;
use bench_harness::custom::{Job, Registry};
use bench_harness::measure::{measure, Cell, MeasureError, Observer};
use rayon::prelude::*;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The process's thread count right after every run, before the next.
struct Census {
    baseline: usize,
    runs: usize,
    leaks: Vec<String>,
}

impl Observer for Census {
    fn run_done(&mut self, cell: &Cell) {
        self.runs += 1;
        let now = threads();
        if now > self.baseline {
            self.leaks.push(format!("after {cell}: {now} threads, {} before", self.baseline));
        }
    }
}

fn experiment(backend: &str) -> bench_harness::config::Experiment {
    let text = format!(
        "(experiments: [(name: \"t\", workload: Square, inputs: Count(64), workers: [1, 2], repetitions: 2, \
         warmup: 0, backends: [Sequential, Named(\"{backend}\")])])"
    );
    Plan::parse(&text, Path::new("t.ron")).unwrap().experiments.remove(0)
}

/// The referee's case: a backend that builds a rayon pool in its `start`
/// closure. Rayon's pool does not join on drop: its threads (here slow to
/// exit, as a loaded machine makes them) were alive when the next cell was
/// timed. The harness waits for them to leave now; a thread that never
/// leaves fails the run, naming the backend.
#[test]
fn a_users_backend_s_threads_are_gone_before_the_next_run_or_the_run_is_refused() {
    let registry = Registry::new().backend("own-rayon", |workers| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .exit_handler(|_| std::thread::sleep(Duration::from_millis(50)))
            .build()
            .unwrap();
        move |job: &Job<'_>| pool.install(|| (0..job.len()).into_par_iter().map(|i| job.call(i)).collect())
    });
    let mut census = Census { baseline: threads(), runs: 0, leaks: Vec::new() };
    let measurement = measure(&experiment("own-rayon"), &registry, Vec::new(), &mut census).unwrap();
    assert!(measurement.complete);
    assert_eq!(census.runs, 3 * 2);
    assert!(census.leaks.is_empty(), "{:#?}", census.leaks);

    // A thread that stays until the test lets it go.
    let released = Arc::new(AtomicBool::new(false));
    let keep = Arc::clone(&released);
    let registry = Registry::new().backend("leaky", move |_| {
        let keep = Arc::clone(&keep);
        std::thread::spawn(move || {
            while !keep.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        |job: &Job<'_>| (0..job.len()).map(|i| job.call(i)).collect()
    });
    let error = measure(&experiment("leaky"), &registry, Vec::new(), &mut ()).unwrap_err();
    released.store(true, Ordering::Relaxed);
    assert!(matches!(error, MeasureError::Backend(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("backend \"leaky\" left 1 thread(s) running"), "{message}");
}
