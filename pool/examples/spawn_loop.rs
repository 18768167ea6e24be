//! Spawns many empty scoped tasks in a loop, on this pool and on rayon,
//! alternating so both see the same machine load; a target for profilers.
//! `cargo run --release -p parsweep-pool --example spawn_loop -- [rounds] [workers]`
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TASKS: usize = 100_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let ours = pool::ThreadPool::new(workers).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");
    let (mut t_ours, mut t_rayon) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let count = AtomicUsize::new(0);
        let start = Instant::now();
        ours.scope(|s| {
            for _ in 0..TASKS {
                s.spawn(|| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        t_ours += start.elapsed();
        let start = Instant::now();
        rayon.scope(|s| {
            for _ in 0..TASKS {
                s.spawn(|_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        t_rayon += start.elapsed();
        assert_eq!(count.load(Ordering::Relaxed), 2 * TASKS);
    }
    let per = |t: Duration| t.as_nanos() as f64 / (rounds * TASKS) as f64;
    println!(
        "parsweep {:.0} ns/task, rayon {:.0} ns/task, ratio {:.2}",
        per(t_ours),
        per(t_rayon),
        per(t_ours) / per(t_rayon)
    );
}
