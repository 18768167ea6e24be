//! Maps `x * x` over 10^6 inputs repeatedly, on this pool (`map(..).collect()`
//! and `map_collect`) and on rayon,
//! alternating so both see the same machine load; a target for profilers.
//! For figures use `cargo bench -p parsweep-pool --bench peers`: here the
//! three 8 MB allocation patterns interleave, which changes how glibc trims
//! and re-faults memory and so inflates every variant.
//! `cargo run --release -p parsweep-pool --example map_loop -- [rounds] [workers]`
use std::time::{Duration, Instant};

use rayon::prelude::*;

const N: u64 = 1_000_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let ours = pool::ThreadPool::new(workers).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");
    let (mut t_ours, mut t_collect, mut t_rayon) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let start = Instant::now();
        let v: Vec<u64> = ours.map(|x: u64| x * x, 0..N).collect();
        t_ours += start.elapsed();
        assert_eq!(v[999], 999 * 999);
        let start = Instant::now();
        let v: Vec<u64> = ours.map_collect(|x: u64| x * x, 0..N);
        t_collect += start.elapsed();
        assert_eq!(v[999], 999 * 999);
        let start = Instant::now();
        let v: Vec<u64> = rayon.install(|| (0..N).into_par_iter().map(|x| x * x).collect());
        t_rayon += start.elapsed();
        assert_eq!(v[999], 999 * 999);
    }
    let per = |t: Duration| t.as_secs_f64() * 1e3 / rounds as f64;
    println!(
        "parsweep map+collect {:.3} ms, map_collect {:.3} ms, rayon {:.3} ms; ratios to rayon {:.2} and {:.2}",
        per(t_ours),
        per(t_collect),
        per(t_rayon),
        per(t_ours) / per(t_rayon),
        per(t_collect) / per(t_rayon)
    );
}
