//! Per-item cost of a lazy map with small fixed chunks and a 1 ns `f`: what
//! one chunk costs to cut, queue, run and hand out (the medians of 7 runs
//! of 200,000 items, 2 workers).
//!
//! `cargo run --release -p parsweep-pool --example fixed_chunks`
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let pool = pool::ThreadPool::new(2).expect("2 workers");
    let n = 200_000u64;
    for chunk in [1usize, 4, 16] {
        let mut per_item = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            let sum = pool.map(|x: u64| black_box(x) * x, 0..n).chunk_size(chunk).fold(0, u64::wrapping_add);
            black_box(sum);
            per_item.push(start.elapsed().as_secs_f64() * 1e9 / n as f64);
        }
        per_item.sort_by(f64::total_cmp);
        println!("chunk_size({chunk}): {:.0} ns per item (median of 7; fastest {:.0})", per_item[3], per_item[0]);
    }
}
