//! A backend of the user's whose threads outlive its run: the next cell
//! is not timed beside them. The only test in this file: it counts the
//! threads of its own process.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use bench_harness::config::Plan;
use bench_harness::custom::{Job, Registry};
use bench_harness::measure::{measure, Cell, Observer};
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
/// timed. The harness waits for them to leave now.
#[test]
fn a_users_backend_s_threads_are_gone_before_the_next_run_and_a_global_pool_is_no_leak() {
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

    // rayon's global pool, made on first use inside the first run, stays
    // for the whole process: a pool kept for the bench, not a leak. The run
    // was refused for it ("left 2 thread(s) running").
    let registry = Registry::new()
        .backend("global-rayon", |_| |job: &Job<'_>| (0..job.len()).into_par_iter().map(|i| job.call(i)).collect());
    let measurement = measure(&experiment("global-rayon"), &registry, Vec::new(), &mut ()).unwrap();
    assert!(measurement.complete);
}
