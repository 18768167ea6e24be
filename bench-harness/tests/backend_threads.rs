//! A backend's threads are gone before the next cell is timed, the
//! harness's own and a user's. One test in this file, its scenarios in
//! turn: it counts the threads of its own process.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use bench_harness::config::{Experiment, Plan};
use bench_harness::custom::{Job, Registry};
use bench_harness::measure::{measure, Cell, Observer};
use rayon::prelude::*;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Checks the process's thread count after every run, before the next.
struct Census {
    baseline: usize,
    /// How long a thread may still be listed after the run.
    grace: Duration,
    runs: usize,
    leaks: Vec<String>,
}

impl Census {
    fn new(grace: Duration) -> Self {
        Census { baseline: threads(), grace, runs: 0, leaks: Vec::new() }
    }
}

impl Observer for Census {
    fn run_done(&mut self, cell: &Cell) {
        self.runs += 1;
        let deadline = Instant::now() + self.grace;
        let mut now = threads();
        while now != self.baseline && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
            now = threads();
        }
        if now != self.baseline {
            self.leaks.push(format!("after {cell}: {now} threads, {} before", self.baseline));
        }
    }
}

fn experiment(text: &str) -> Experiment {
    Plan::parse(text, Path::new("t.ron")).unwrap().experiments.remove(0)
}

fn named(backend: &str) -> Experiment {
    experiment(&format!(
        "(experiments: [(name: \"t\", workload: Square, inputs: Count(64), workers: [1, 2], repetitions: 2, \
         warmup: 0, backends: [Sequential, Named(\"{backend}\")])])"
    ))
}

#[test]
fn every_backend_s_threads_have_exited_before_the_next_run() {
    // The harness's own backends join their threads. A joined thread has
    // finished, but the kernel lists it in /proc/self/task until it has
    // released it, a few microseconds later (CI caught one such moment): a
    // thread still listed after a second is one the backend left running.
    let own = experiment(
        "(experiments: [(name: \"t\", workload: Spin(duration_us: 20), inputs: Count(64), \
         workers: [1, 2, 200], chunk_sizes: [Fixed(1)], repetitions: 2, warmup: 1, \
         backends: [Sequential, Pool, PoolCollect, StdScope, Rayon])])",
    );
    let mut census = Census::new(Duration::from_secs(1));
    let measurement = measure(&own, &Registry::new(), Vec::new(), &mut census).unwrap();
    assert!(measurement.complete);
    assert_eq!(census.runs, 13 * 3, "every run was checked");
    assert!(census.leaks.is_empty(), "{:#?}", census.leaks);

    // The referee's case: a user's backend that builds a rayon pool in its
    // `start` closure. Rayon's pool does not join on drop: its threads
    // (here slow to exit, as a loaded machine makes them) were alive when
    // the next cell was timed. The harness waits for them to leave now, so
    // they are gone the moment the run is done.
    let registry = Registry::new().backend("own-rayon", |workers| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .exit_handler(|_| std::thread::sleep(Duration::from_millis(50)))
            .build()
            .unwrap();
        move |job: &Job<'_>| pool.install(|| (0..job.len()).into_par_iter().map(|i| job.call(i)).collect())
    });
    let mut census = Census::new(Duration::ZERO);
    let measurement = measure(&named("own-rayon"), &registry, Vec::new(), &mut census).unwrap();
    assert!(measurement.complete);
    assert_eq!(census.runs, 3 * 2);
    assert!(census.leaks.is_empty(), "{:#?}", census.leaks);

    // Last, since it stays: rayon's global pool, made on first use inside
    // the first run, lives for the whole process, a pool kept for the
    // bench, not a leak. The run was refused for it ("left 2 thread(s)
    // running").
    let registry = Registry::new()
        .backend("global-rayon", |_| |job: &Job<'_>| (0..job.len()).into_par_iter().map(|i| job.call(i)).collect());
    let measurement = measure(&named("global-rayon"), &registry, Vec::new(), &mut ()).unwrap();
    assert!(measurement.complete);
}
