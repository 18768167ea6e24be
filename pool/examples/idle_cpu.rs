//! How much CPU an idle pool burns: builds a pool, lets it run one burst of
//! work, then measures this process's CPU time over an idle period, for this
//! pool and for rayon (rayon#642 is the cautionary tale). Linux only.
//! `cargo run --release -p parsweep-pool --example idle_cpu -- [workers] [seconds]`
use std::time::{Duration, Instant};

/// User + system CPU time of this process, from /proc/self/stat.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn idle_share(idle: Duration) -> Option<f64> {
    let before = cpu_time()?;
    let start = Instant::now();
    std::thread::sleep(idle);
    let used = cpu_time()? - before;
    Some(used.as_secs_f64() / start.elapsed().as_secs_f64())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let seconds: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2.0);
    let idle = Duration::from_secs_f64(seconds);

    let ours = pool::ThreadPool::new(workers).expect("workers > 0");
    let sum: u64 = ours.map(|x: u64| x * x, 0..100_000).sum();
    assert!(sum > 0);
    let ours_share = idle_share(idle);
    drop(ours);

    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");
    let sum: u64 = rayon.install(|| {
        use rayon::prelude::*;
        (0..100_000u64).into_par_iter().map(|x| x * x).sum()
    });
    assert!(sum > 0);
    let rayon_share = idle_share(idle);

    let show =
        |share: Option<f64>| share.map_or("n/a (no /proc)".to_string(), |s| format!("{:.2}% of one core", s * 100.0));
    println!("idle for {seconds} s with {workers} workers: parsweep {}, rayon {}", show(ours_share), show(rayon_share));
}
