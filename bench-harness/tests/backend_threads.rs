//! A backend's threads are gone before the next cell is timed. The only
//! test in this file: it counts the threads of its own process.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use bench_harness::config::Plan;
use bench_harness::custom::Registry;
use bench_harness::measure::{measure, Cell, Observer};

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Checks the process's thread count after every run, before the next.
struct Census {
    baseline: usize,
    runs: usize,
    leaks: Vec<String>,
}

impl Observer for Census {
    fn run_done(&mut self, cell: &Cell) {
        self.runs += 1;
        // A joined thread has finished, but the kernel lists it in
        // /proc/self/task until it has released it, a few microseconds
        // later (CI caught one such moment): a thread still listed after
        // a second is one the backend left running.
        let deadline = Instant::now() + Duration::from_secs(1);
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

#[test]
fn every_backend_s_threads_have_exited_before_the_next_run() {
    let text = "(experiments: [(name: \"t\", workload: Spin(duration_us: 20), inputs: Count(64), \
        workers: [1, 2, 200], chunk_sizes: [Fixed(1)], repetitions: 2, warmup: 1, \
        backends: [Sequential, Pool, PoolCollect, StdScope, Rayon])])";
    let experiment = Plan::parse(text, Path::new("t.ron")).unwrap().experiments.remove(0);
    let mut census = Census { baseline: threads(), runs: 0, leaks: Vec::new() };
    let measurement = measure(&experiment, &Registry::new(), Vec::new(), &mut census).unwrap();
    assert!(measurement.complete);
    assert_eq!(census.runs, 13 * 3, "every run was checked");
    assert!(census.leaks.is_empty(), "{:#?}", census.leaks);
}
