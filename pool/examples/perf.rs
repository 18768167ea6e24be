//! The issue-9 performance targets, measured interleaved in one process so
//! every variant sees the same machine load, reported as median ratios:
//!
//! - lazy ordered `map(|x| x * x, 0..10^6).collect()` vs a sequential loop
//!   (target: at most 1.25x), and the same through `fold` (`sum`,
//!   `for_each`, `count`), which allocates nothing and so isolates the
//!   map's own per-item cost from page faults; and a fold over 10^7 items
//!   without `black_box` (whose memory clobber makes the compiler keep a
//!   map's input iterator in memory, a cost real code does not pay);
//! - `map_collect` vs rayon's `par_iter().map().collect()` (target: 1.1x);
//! - 2,000 x 30 us spin tasks: speedup over sequential, vs rayon's (within 3%);
//! - per-task dispatch, 100k empty `scope.spawn`s vs rayon's (aim below 1).
//!
//! `cargo run --release -p parsweep-pool --example perf -- [rounds] [workers]`
use std::hint::black_box;
use std::time::{Duration, Instant};

use rayon::prelude::*;

const N: u64 = 1_000_000;
const SPIN_TASKS: usize = 2_000;
const SPIN: Duration = Duration::from_micros(30);
const EMPTY_TASKS: usize = 100_000;

fn spin(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        x = x.wrapping_add(1);
    }
    x
}

fn time(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15).max(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let ours = pool::ThreadPool::new(workers).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");

    let (mut lazy, mut collect, mut spin_ratio, mut dispatch) = (vec![], vec![], vec![], vec![]);
    let (mut folded, mut t_fold, mut t_seq_fold) = (vec![], vec![], vec![]);
    let (mut plain, mut t_plain, mut t_seq_plain) = (vec![], vec![], vec![]);
    let plain_f = |x: u64| x.wrapping_mul(x) ^ (x >> 7);
    let plain_g = |a: u64, y: u64| a.rotate_left(5) ^ y;
    let n_plain = black_box(10 * N);
    let (mut t_lazy, mut t_seq, mut t_collect, mut t_rayon) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        // 1. Lazy ordered map of a 1 ns function vs a sequential loop.
        let seq = time(|| {
            let v: Vec<u64> = (0..N).map(|x| black_box(x) * x).collect();
            assert_eq!(v[999], 999 * 999);
        });
        let map = time(|| {
            let v: Vec<u64> = ours.map(|x: u64| black_box(x) * x, 0..N).collect();
            assert_eq!(v[999], 999 * 999);
        });
        lazy.push(map / seq);
        t_lazy.push(map);
        t_seq.push(seq);
        let seq = time(|| {
            black_box((0..N).map(|x| black_box(x) * x).fold(0, u64::wrapping_add));
        });
        let map = time(|| {
            black_box(ours.map(|x: u64| black_box(x) * x, 0..N).fold(0, u64::wrapping_add));
        });
        folded.push(map / seq);
        t_fold.push(map);
        t_seq_fold.push(seq);
        let seq = time(|| {
            black_box((0..n_plain).map(plain_f).fold(0, plain_g));
        });
        let map = time(|| {
            black_box(ours.map(plain_f, 0..n_plain).fold(0, plain_g));
        });
        plain.push(map / seq);
        t_plain.push(map);
        t_seq_plain.push(seq);

        // 2. map_collect vs rayon's collect.
        let mc = time(|| {
            let v = ours.map_collect(|x: u64| black_box(x) * x, 0..N);
            assert_eq!(v[999], 999 * 999);
        });
        let ry = time(|| {
            let v: Vec<u64> = rayon.install(|| (0..N).into_par_iter().map(|x| black_box(x) * x).collect());
            assert_eq!(v[999], 999 * 999);
        });
        collect.push(mc / ry);
        t_collect.push(mc);
        t_rayon.push(ry);

        // 3. 2,000 x 30 us: ratio of the speedups = inverse ratio of times.
        let ours_spin = time(|| {
            let s: u64 = ours.map(|_| spin(SPIN), 0..SPIN_TASKS).fold(0, u64::wrapping_add);
            black_box(s);
        });
        let rayon_spin = time(|| {
            let s: u64 =
                rayon.install(|| (0..SPIN_TASKS).into_par_iter().map(|_| spin(SPIN)).reduce(|| 0, u64::wrapping_add));
            black_box(s);
        });
        spin_ratio.push(rayon_spin / ours_spin);

        // 4. Per-task dispatch: empty scoped spawns.
        let ours_spawn = time(|| {
            ours.scope(|s| {
                for _ in 0..EMPTY_TASKS {
                    s.spawn(|| {
                        black_box(());
                    });
                }
            })
        });
        let rayon_spawn = time(|| {
            rayon.scope(|s| {
                for _ in 0..EMPTY_TASKS {
                    s.spawn(|_| {
                        black_box(());
                    });
                }
            })
        });
        dispatch.push(ours_spawn / rayon_spawn);
    }
    let ms = |v: Vec<f64>| median(v) * 1e3;
    println!("{workers} workers, {rounds} interleaved rounds, medians:");
    println!(
        "  lazy map(x*x, 0..1e6).collect(): {:.3} ms vs sequential {:.3} ms: ratio {:.2} (target <= 1.25)",
        ms(t_lazy),
        ms(t_seq),
        median(lazy)
    );
    println!(
        "  lazy map(x*x, 0..1e6).fold(+):    {:.3} ms vs sequential {:.3} ms: ratio {:.2} (target <= 1.25)",
        ms(t_fold),
        ms(t_seq_fold),
        median(folded)
    );
    println!(
        "  lazy map of 1e7, no black_box, fold: {:.3} ms vs sequential {:.3} ms: ratio {:.2}",
        ms(t_plain),
        ms(t_seq_plain),
        median(plain)
    );
    println!(
        "  map_collect(x*x, 0..1e6): {:.3} ms vs rayon collect {:.3} ms: ratio {:.2} (target <= 1.10)",
        ms(t_collect),
        ms(t_rayon),
        median(collect)
    );
    println!("  2000 x 30us spin: our speedup / rayon's {:.3} (target >= 0.97)", median(spin_ratio));
    println!("  100k empty scope.spawn: time ratio to rayon {:.2} (aim < 1)", median(dispatch));
}
