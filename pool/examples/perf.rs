//! The map engine's performance targets (issue 17), measured interleaved in
//! one process so every variant sees the same machine load, reported as
//! medians over rounds of each variant's time and of its ratio to the
//! variant it is judged against (measured in the same round):
//!
//! | measured | against | goal |
//! |---|---|---|
//! | lazy `map(x*x, 0..10^6).chunk_size(65_536).collect()` | sequential loop | <= 1.3x |
//! | the same with `chunk_size(256)` | sequential loop | <= 4x |
//! | `chunk_size(1)`, per item (10^5 items) | empty `scope.spawn`, per task | <= 1.5x |
//! | automatic chunking | sequential loop | <= 1.25x |
//! | `map_unordered`, automatic chunking | sequential loop | <= 1.5x |
//! | `map_collect` | rayon's indexed `collect` | <= 1.1x |
//! | 2,000 x 30 us spins: rayon's time / ours (= our speedup / rayon's) | | >= 0.97 |
//! | 10^5 empty `scope.spawn`s | rayon's `scope.spawn` | <= 1x |
//!
//! `cargo run --release -p parsweep-pool --example perf -- [rounds] [workers]`
//! (defaults: 15 rounds, 2 workers).
use std::hint::black_box;
use std::time::{Duration, Instant};

use pool::{Chunking, ThreadPool};
use rayon::prelude::*;

const N: u64 = 1_000_000;
const PER_ITEM_N: u64 = 100_000;
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

fn square(x: u64) -> u64 {
    black_box(x) * x
}

fn lazy(pool: &ThreadPool, n: u64, chunking: Chunking) -> f64 {
    time(|| {
        let v: Vec<u64> = pool.map(square, 0..n).chunk_size(chunking).collect();
        assert_eq!(v[999], 999 * 999);
    })
}

fn empty_spawns(pool: &ThreadPool, tasks: usize) -> f64 {
    time(|| {
        pool.scope(|s| {
            for _ in 0..tasks {
                s.spawn(|| {
                    black_box(());
                });
            }
        })
    })
}

/// One target: the times of the variant and of its baseline, per round.
struct Row {
    what: &'static str,
    against: &'static str,
    goal: f64,
    /// Times are per item (ns) rather than whole-run (ms).
    per_item: Option<(f64, f64)>,
    ours: Vec<f64>,
    base: Vec<f64>,
}

impl Row {
    fn new(what: &'static str, against: &'static str, goal: f64) -> Self {
        Row { what, against, goal, per_item: None, ours: vec![], base: vec![] }
    }

    fn push(&mut self, ours: f64, base: f64) {
        self.ours.push(ours);
        self.base.push(base);
    }

    fn print(&self) {
        let ratio = median(self.ours.iter().zip(&self.base).map(|(o, b)| o / b).collect());
        let (ours, base) = (median(self.ours.clone()), median(self.base.clone()));
        let times = match self.per_item {
            Some((n_ours, n_base)) => format!("{:>9.1} ns {:>9.1} ns", ours * 1e9 / n_ours, base * 1e9 / n_base),
            None => format!("{:>9.3} ms {:>9.3} ms", ours * 1e3, base * 1e3),
        };
        let verdict = if ratio <= self.goal { "met" } else { "MISSED" };
        println!("{:<44} {:<24} {times} {ratio:>7.2}x  <= {:<5.2} {verdict}", self.what, self.against, self.goal);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15).max(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let ours = ThreadPool::new(workers).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");

    let mut coarse = Row::new("lazy map, chunks of 65,536", "sequential loop", 1.3);
    let mut fine = Row::new("lazy map, chunks of 256", "sequential loop", 4.0);
    let mut single = Row::new("lazy map, chunk_size(1), per item", "empty scope.spawn/task", 1.5);
    single.per_item = Some((PER_ITEM_N as f64, EMPTY_TASKS as f64));
    let mut auto = Row::new("lazy map, automatic chunking", "sequential loop", 1.25);
    let mut unordered = Row::new("map_unordered, automatic chunking", "sequential loop", 1.5);
    let mut collect = Row::new("map_collect", "rayon collect", 1.1);
    // Time ratio rayon/ours is speedup ratio ours/rayon: goal >= 0.97,
    // printed as ours/rayon time <= 1/0.97.
    let mut spin_row = Row::new("2,000 x 30 us spins (time; speedup >= 0.97)", "rayon", 1.0 / 0.97);
    let mut dispatch = Row::new("10^5 empty scope.spawn", "rayon scope.spawn", 1.0);

    for _ in 0..rounds {
        let seq = time(|| {
            let v: Vec<u64> = (0..N).map(square).collect();
            assert_eq!(v[999], 999 * 999);
        });
        coarse.push(lazy(&ours, N, Chunking::Fixed(65_536)), seq);
        fine.push(lazy(&ours, N, Chunking::Fixed(256)), seq);
        auto.push(lazy(&ours, N, Chunking::Auto), seq);
        let un = time(|| {
            let v: Vec<u64> = ours.map_unordered(square, 0..N).map(|(_, r)| r.unwrap_or(0)).collect();
            assert_eq!(v.len(), N as usize);
        });
        unordered.push(un, seq);
        single.push(lazy(&ours, PER_ITEM_N, Chunking::Fixed(1)), empty_spawns(&ours, EMPTY_TASKS));

        let mc = time(|| {
            let v = ours.map_collect(square, 0..N);
            assert_eq!(v[999], 999 * 999);
        });
        let ry = time(|| {
            let v: Vec<u64> = rayon.install(|| (0..N).into_par_iter().map(square).collect());
            assert_eq!(v[999], 999 * 999);
        });
        collect.push(mc, ry);

        let ours_spin = time(|| {
            black_box(ours.map(|_| spin(SPIN), 0..SPIN_TASKS).fold(0, u64::wrapping_add));
        });
        let rayon_spin = time(|| {
            black_box(
                rayon.install(|| (0..SPIN_TASKS).into_par_iter().map(|_| spin(SPIN)).reduce(|| 0, u64::wrapping_add)),
            );
        });
        spin_row.push(ours_spin, rayon_spin);

        let rayon_spawn = time(|| {
            rayon.scope(|s| {
                for _ in 0..EMPTY_TASKS {
                    s.spawn(|_| {
                        black_box(());
                    });
                }
            })
        });
        dispatch.push(empty_spawns(&ours, EMPTY_TASKS), rayon_spawn);
    }
    println!("{workers} workers, {rounds} interleaved rounds, medians (10^6 items of x*x unless noted):");
    println!("{:<44} {:<24} {:>12} {:>12} {:>8}  goal", "measured", "against", "ours", "baseline", "ratio");
    for row in [&coarse, &fine, &single, &auto, &unordered, &collect, &spin_row, &dispatch] {
        row.print();
    }
}
