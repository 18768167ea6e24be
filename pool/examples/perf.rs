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
//! Rows without a goal measure floors, the same way, so the map's own
//! overhead can be told apart from costs any design pays: handing chunks
//! to other threads at all ([`Floor`]), at chunks of 65,536 and at the
//! automatic chunk size (12,288 `u64`s, the chunk buffer cap), and being a
//! lazy chunked iterator that `collect` drains item by item, on one thread
//! ([`Chunked`]).
//!
//! Three thread pools (ours, rayon's, the floor's) live side by side, so
//! every timed cell starts after a pause long enough for all of them to
//! park ([`SETTLE`]): a cell timed while the previous cell's pool still
//! spins on its idle cores would pay for that pool, not for its own work.
//! Each cell also finds the allocator in the same state ([`warm_heap`]),
//! and odd rounds run the cells in reverse order, so no pair is always
//! timed in one order. Without these, the sequential loop (timed first in
//! every round) paid page faults that the maps after it did not, which
//! made every ratio against the loop look about twice as good as it is,
//! and `map_collect` (timed just before rayon's `collect`) paid them for
//! rayon.
//! Each ratio is printed with its interquartile range over the rounds, to
//! no more decimals than that range supports.
//!
//! `cargo run --release -p parsweep-pool --example perf -- [rounds] [workers]`
//! (defaults: 15 rounds, 2 workers).
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
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

/// The pause before each timed cell. Idle workers poll for tens of
/// microseconds (ours) or a few dozen yields (rayon's) before they park;
/// this is a hundred times that.
const SETTLE: Duration = Duration::from_millis(5);

fn time(f: impl FnOnce()) -> f64 {
    warm_heap();
    std::thread::sleep(SETTLE);
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// Leaves the allocator as every cell finds it: `N` words of memory just
/// freed, its pages already mapped. Cells collect `N` words; which of them
/// would otherwise get fresh pages (and pay a page fault per 4 KiB, about
/// half a millisecond here, as long as the whole sequential loop) depends
/// on what the cell before it freed.
fn warm_heap() {
    let mut v = vec![0u64; N as usize];
    for page in v.chunks_mut(512) {
        page[0] = 1;
    }
    black_box(&mut v);
}

fn median(v: Vec<f64>) -> f64 {
    quartiles(v).1
}

/// The lower quartile, median and upper quartile (nearest rank).
fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: usize| v[(v.len() - 1) * q / 4];
    (at(1), at(2), at(3))
}

/// Decimals worth printing for a value known to within `width`: the
/// first significant one of the width, between 1 and 3.
fn decimals(width: f64) -> usize {
    if width > 0.0 {
        (-width.log10()).ceil().clamp(1.0, 3.0) as usize
    } else {
        3
    }
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

/// A chunk for [`Floor`]: its position, its inputs and a buffer for its
/// results.
type FloorChunk = (usize, Vec<u64>, Vec<u64>);

/// The least any design that runs chunks on other threads must do: the
/// consumer cuts each chunk's inputs into a buffer, plain threads compute
/// it into a second buffer, and the consumer reads the results back in
/// order. Buffers are reused, at most `window` chunks are in flight, and
/// nothing else happens: no pool, no panic guards, no progress, no
/// cancellation. What it costs beyond the sequential loop is moving every
/// item between cores twice.
struct Floor {
    jobs: Option<mpsc::Sender<FloorChunk>>,
    done: mpsc::Receiver<FloorChunk>,
    threads: Vec<JoinHandle<()>>,
}

impl Floor {
    fn new(workers: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<FloorChunk>();
        let queue = Arc::new(Mutex::new(queue));
        let (report, done) = mpsc::channel();
        let threads = (0..workers)
            .map(|_| {
                let (queue, report) = (Arc::clone(&queue), report.clone());
                std::thread::spawn(move || loop {
                    let next = queue.lock().expect("floor queue").recv();
                    let Ok((at, inputs, mut results)) = next else { return };
                    results.clear();
                    results.extend(inputs.iter().map(|&x| square(x)));
                    if report.send((at, inputs, results)).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Floor { jobs: Some(jobs), done, threads }
    }

    fn collect(&self, n: u64, chunk: u64, window: usize) -> Vec<u64> {
        let jobs = self.jobs.as_ref().expect("floor threads running");
        let mut out = Vec::with_capacity(n as usize);
        let mut spare: Vec<(Vec<u64>, Vec<u64>)> = Vec::new();
        // Finished chunks waiting for their turn, by position from `next_out`.
        let mut early: VecDeque<Option<FloorChunk>> = VecDeque::new();
        let (mut cut, mut sent, mut next_out) = (0u64, 0usize, 0usize);
        while out.len() < n as usize {
            while sent - next_out < window && cut < n {
                let (mut inputs, results) = spare.pop().unwrap_or_default();
                inputs.clear();
                let end = (cut + chunk).min(n);
                inputs.extend(cut..end);
                cut = end;
                jobs.send((sent, inputs, results)).expect("floor thread alive");
                sent += 1;
            }
            while early.front().is_none_or(Option::is_none) {
                let finished = self.done.recv().expect("floor thread alive");
                let slot = finished.0 - next_out;
                if early.len() <= slot {
                    early.resize_with(slot + 1, || None);
                }
                early[slot] = Some(finished);
            }
            let (_, inputs, results) = early.pop_front().flatten().expect("checked above");
            out.extend_from_slice(&results);
            spare.push((inputs, results));
            next_out += 1;
        }
        out
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        // Closing the queue ends the threads, so none outlives this bench.
        drop(self.jobs.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A lazy iterator that hands out chunks of squares computed on the
/// calling thread: no other thread, no synchronisation, one reused buffer,
/// and the map's own shape (its read cursor beside a boxed source, so a
/// loop over `next` keeps the cursor in registers). What `collect` costs
/// for any iterator std cannot trust with its length (`TrustedLen`, which
/// no crate may implement on stable Rust): one scalar `next` per item
/// where the loop writes with no per-item check.
struct Chunked {
    /// The run being handed out: `buf[read..end]`.
    read: usize,
    end: usize,
    source: Box<ChunkSource>,
}

struct ChunkSource {
    buf: Vec<u64>,
    next: u64,
    n: u64,
    chunk: u64,
}

impl ChunkSource {
    #[inline(never)]
    fn refill(&mut self) -> Option<usize> {
        if self.next >= self.n {
            return None;
        }
        let end = (self.next + self.chunk).min(self.n);
        self.buf.clear();
        self.buf.extend((self.next..end).map(square));
        self.next = end;
        Some(self.buf.len())
    }
}

impl Chunked {
    fn new(n: u64, chunk: u64) -> Self {
        let source = ChunkSource { buf: Vec::with_capacity(chunk as usize), next: 0, n, chunk };
        Chunked { read: 0, end: 0, source: Box::new(source) }
    }
}

impl Iterator for Chunked {
    type Item = u64;

    #[inline(always)]
    fn next(&mut self) -> Option<u64> {
        if self.read == self.end {
            self.end = self.source.refill()?;
            self.read = 0;
        }
        let value = self.source.buf[self.read];
        self.read += 1;
        Some(value)
    }

    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.source.n - self.source.next) as usize + (self.end - self.read);
        (left, Some(left))
    }
}

/// One target: the times of the variant and of its baseline, per round.
struct Row {
    what: &'static str,
    against: &'static str,
    /// `None` for a row that is measured for reference only.
    goal: Option<f64>,
    /// Times are per item (ns) rather than whole-run (ms).
    per_item: Option<(f64, f64)>,
    ours: Vec<f64>,
    base: Vec<f64>,
}

impl Row {
    fn new(what: &'static str, against: &'static str, goal: f64) -> Self {
        Row { what, against, goal: Some(goal), per_item: None, ours: vec![], base: vec![] }
    }

    fn reference(what: &'static str, against: &'static str) -> Self {
        Row { goal: None, ..Row::new(what, against, 0.0) }
    }

    fn push(&mut self, ours: f64, base: f64) {
        self.ours.push(ours);
        self.base.push(base);
    }

    fn print(&self) {
        let (low, ratio, high) = quartiles(self.ours.iter().zip(&self.base).map(|(o, b)| o / b).collect());
        let places = decimals(high - low);
        let spread = format!("{ratio:.places$}x [{low:.places$}, {high:.places$}]");
        let (ours, base) = (median(self.ours.clone()), median(self.base.clone()));
        let times = match self.per_item {
            Some((n_ours, n_base)) => format!("{:>9.1} ns {:>9.1} ns", ours * 1e9 / n_ours, base * 1e9 / n_base),
            None => format!("{:>9.3} ms {:>9.3} ms", ours * 1e3, base * 1e3),
        };
        let goal = match self.goal {
            // The verdict is the median's; the note says when the spread
            // straddles the goal, so a reader sees a verdict noise could flip.
            Some(goal) if high <= goal => format!("<= {goal:<5.2} met"),
            Some(goal) if ratio <= goal => format!("<= {goal:<5.2} met (q3 above)"),
            Some(goal) if low <= goal => format!("<= {goal:<5.2} MISSED (q1 below)"),
            Some(goal) => format!("<= {goal:<5.2} MISSED"),
            None => "(reference)".to_string(),
        };
        println!("{:<44} {:<24} {times} {spread:>21}  {goal}", self.what, self.against);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15).max(1);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let ours = ThreadPool::new(workers).expect("workers > 0");
    let rayon = rayon::ThreadPoolBuilder::new().num_threads(workers).build().expect("rayon pool");
    let floor = Floor::new(workers);

    let mut coarse = Row::new("lazy map, chunks of 65,536", "sequential loop", 1.3);
    let mut floor_row = Row::reference("bare hand-off, chunks of 65,536", "sequential loop");
    let mut over_floor = Row::reference("lazy map, chunks of 65,536", "bare hand-off");
    let mut fine = Row::new("lazy map, chunks of 256", "sequential loop", 4.0);
    let mut single = Row::new("lazy map, chunk_size(1), per item", "empty scope.spawn/task", 1.5);
    single.per_item = Some((PER_ITEM_N as f64, EMPTY_TASKS as f64));
    let mut auto = Row::new("lazy map, automatic chunking", "sequential loop", 1.25);
    // Automatic chunks of `u64`s stop growing at the chunk buffer cap.
    let auto_chunk = (96 * 1024 / std::mem::size_of::<u64>()) as u64;
    let mut auto_floor = Row::reference("bare hand-off, chunks of 12,288", "sequential loop");
    let mut chunked = Row::reference("one-thread chunked iterator, 12,288", "sequential loop");
    let mut unordered = Row::new("map_unordered, automatic chunking", "sequential loop", 1.5);
    let mut collect = Row::new("map_collect", "rayon collect", 1.1);
    // Time ratio rayon/ours is speedup ratio ours/rayon: goal >= 0.97,
    // printed as ours/rayon time <= 1/0.97.
    let mut spin_row = Row::new("2,000 x 30 us spins (time; speedup >= 0.97)", "rayon", 1.0 / 0.97);
    let mut dispatch = Row::new("10^5 empty scope.spawn", "rayon scope.spawn", 1.0);

    // The cells of a round, each timed once per round. Odd rounds run
    // them in reverse order: a cell inherits the state its predecessor
    // leaves (an 8 MB buffer just freed for its own to reuse, warm
    // caches, threads still awake), so a pair always timed in one order
    // would carry that order's bias into its ratio.
    let mut cells: Vec<Box<dyn FnMut() -> f64 + '_>> =
        vec![
            Box::new(|| {
                time(|| {
                    let v: Vec<u64> = (0..N).map(square).collect();
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| lazy(&ours, N, Chunking::Fixed(65_536))),
            // The map's default window for chunks this big (512 KiB of
            // u64s): one chunk per worker.
            Box::new(|| {
                time(|| {
                    let v = floor.collect(N, 65_536, workers);
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| lazy(&ours, N, Chunking::Fixed(256))),
            Box::new(|| lazy(&ours, N, Chunking::Auto)),
            // The map's default window at the automatic size: 4 per worker.
            Box::new(|| {
                time(|| {
                    let v = floor.collect(N, auto_chunk, 4 * workers);
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| {
                time(|| {
                    let v: Vec<u64> = Chunked::new(N, auto_chunk).collect();
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| {
                time(|| {
                    let v: Vec<u64> = ours.map_unordered(square, 0..N).map(|(_, r)| r.unwrap_or(0)).collect();
                    assert_eq!(v.len(), N as usize);
                })
            }),
            Box::new(|| lazy(&ours, PER_ITEM_N, Chunking::Fixed(1))),
            Box::new(|| empty_spawns(&ours, EMPTY_TASKS)),
            Box::new(|| {
                time(|| {
                    let v = ours.map_collect(square, 0..N);
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| {
                time(|| {
                    let v: Vec<u64> = rayon.install(|| (0..N).into_par_iter().map(square).collect());
                    assert_eq!(v[999], 999 * 999);
                })
            }),
            Box::new(|| {
                time(|| {
                    black_box(ours.map(|_| spin(SPIN), 0..SPIN_TASKS).fold(0, u64::wrapping_add));
                })
            }),
            Box::new(|| {
                time(|| {
                    black_box(rayon.install(|| {
                        (0..SPIN_TASKS).into_par_iter().map(|_| spin(SPIN)).reduce(|| 0, u64::wrapping_add)
                    }));
                })
            }),
            Box::new(|| {
                time(|| {
                    rayon.scope(|s| {
                        for _ in 0..EMPTY_TASKS {
                            s.spawn(|_| {
                                black_box(());
                            });
                        }
                    })
                })
            }),
        ];
    for round in 0..rounds {
        let mut t = vec![0.0; cells.len()];
        let order: Vec<usize> =
            if round % 2 == 0 { (0..cells.len()).collect() } else { (0..cells.len()).rev().collect() };
        for i in order {
            t[i] = cells[i]();
        }
        let [seq, map, bare, map_256, map_auto, bare_auto, lazy_alone, un, map_1, spawns, mc, ry, ours_spin, rayon_spin, rayon_spawn] =
            t[..]
        else {
            unreachable!("one time per cell")
        };
        coarse.push(map, seq);
        floor_row.push(bare, seq);
        over_floor.push(map, bare);
        fine.push(map_256, seq);
        auto.push(map_auto, seq);
        auto_floor.push(bare_auto, seq);
        chunked.push(lazy_alone, seq);
        unordered.push(un, seq);
        single.push(map_1, spawns);
        collect.push(mc, ry);
        spin_row.push(ours_spin, rayon_spin);
        dispatch.push(spawns, rayon_spawn);
    }
    drop(cells);
    println!(
        "{workers} workers, {rounds} interleaved rounds, medians and the ratio's interquartile range \
         (10^6 items of x*x unless noted):"
    );
    println!("{:<44} {:<24} {:>12} {:>12} {:>21}  goal", "measured", "against", "ours", "baseline", "ratio [q1, q3]");
    for row in [
        &coarse,
        &floor_row,
        &over_floor,
        &fine,
        &single,
        &auto,
        &auto_floor,
        &chunked,
        &unordered,
        &collect,
        &spin_row,
        &dispatch,
    ] {
        row.print();
    }
}
