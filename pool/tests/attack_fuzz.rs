//! Random interleavings of `next()`, `chunk_size()`, `window()` and
//! `on_progress()` on all three map kinds, with sleeps, panicking items and
//! 1 to 4 workers: every input must be computed exactly once and handed
//! out exactly once (in order for the ordered maps), a panicking item must
//! surface at its own item, `len()` must stay exact, and `done` must only
//! grow and end at the number of items.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{panic_message, quiet_intentional_panics, within, XorShift, INTENTIONAL};
use pool::{Chunking, Progress, ThreadPool};

/// One random scenario: its inputs, which of them panic, how slow they are.
struct Case {
    workers: usize,
    n: usize,
    /// Per input: 0 = cheap, 1 = a few µs spin, 2 = a short sleep.
    cost: Vec<u8>,
    panics: Vec<bool>,
    calls: Arc<Vec<AtomicU8>>,
    rng: XorShift,
    /// For the input iterator, taken when the map is made.
    bombs: Option<Vec<bool>>,
}

impl Case {
    fn new(seed: u64) -> Case {
        let mut rng = XorShift::new(seed);
        let workers = 1 + rng.below(4) as usize;
        let n = rng.below(3000) as usize;
        // Long runs of one cost, so that cheap stretches go inline and slow
        // ones go back to the workers.
        let mut cost = Vec::with_capacity(n);
        while cost.len() < n {
            let kind = match rng.below(10) {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            };
            let run = 1 + rng.below(400) as usize;
            cost.extend(std::iter::repeat_n(kind, run.min(n - cost.len())));
        }
        let rate = rng.below(4); // 0: no panics
        let panics = (0..n).map(|_| rate > 0 && rng.below(200 / rate) == 0).collect();
        let calls = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
        let input_rate = rng.below(3); // 0: the input iterator never panics
        let bombs = (0..n).map(|_| input_rate > 0 && rng.below(300 / input_rate) == 0).collect();
        Case { workers, n, cost, panics, calls, rng, bombs: Some(bombs) }
    }

    /// The mapped function: `x * 2`, panicking with a message naming `x`
    /// where planned.
    fn f(&self) -> impl Fn(usize) -> usize + Send + Sync + 'static {
        let cost = Arc::new(self.cost.clone());
        let panics = Arc::new(self.panics.clone());
        let calls = Arc::clone(&self.calls);
        move |x: usize| {
            calls[x].fetch_add(1, Ordering::SeqCst);
            match cost[x] {
                0 => {}
                1 => {
                    let start = std::time::Instant::now();
                    while start.elapsed() < Duration::from_micros(3) {
                        std::hint::spin_loop();
                    }
                }
                _ => thread::sleep(Duration::from_micros(50)),
            }
            if panics[x] {
                panic!("{INTENTIONAL} item {x}");
            }
            x * 2
        }
    }

    /// A random change of settings, or none.
    fn chunking(&mut self) -> Option<Chunking> {
        match self.rng.below(12) {
            0 => Some(Chunking::Auto),
            1 => Some(Chunking::Fixed(1)),
            2 => Some(Chunking::Fixed(1 + self.rng.below(64) as usize)),
            3 => Some(Chunking::Fixed(usize::MAX)),
            _ => None,
        }
    }

    fn window(&mut self) -> Option<usize> {
        match self.rng.below(12) {
            0 => Some(1),
            1 => Some(1 + self.rng.below(16) as usize),
            2 => Some(usize::MAX),
            _ => None,
        }
    }

    fn pause(&mut self) {
        if self.rng.below(50) == 0 {
            thread::sleep(Duration::from_micros(self.rng.below(300)));
        }
    }

    /// How many items to take before the next change of settings.
    fn burst(&mut self) -> usize {
        match self.rng.below(4) {
            0 => 1,
            1 => self.rng.below(8) as usize,
            _ => self.rng.below(200) as usize,
        }
    }

    fn inputs(&mut self) -> Inputs {
        Inputs { next: 0, n: self.n, bombs: self.bombs.take().expect("one map per case") }
    }

    fn check_calls(&self) {
        for (x, calls) in self.calls.iter().enumerate() {
            assert_eq!(calls.load(Ordering::SeqCst), 1, "input {x} computed {} times", calls.load(Ordering::SeqCst));
        }
    }
}

/// `0..n`, but pulling an input marked in `bombs` panics the first time
/// (the input is then yielded by the next call): an input iterator that
/// panics and can be used on, as a user's may.
struct Inputs {
    next: usize,
    n: usize,
    bombs: Vec<bool>,
}

impl Iterator for Inputs {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.next == self.n {
            return None;
        }
        if std::mem::take(&mut self.bombs[self.next]) {
            panic!("{INTENTIONAL} input {}", self.next);
        }
        self.next += 1;
        Some(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.n - self.next, Some(self.n - self.next))
    }
}

impl ExactSizeIterator for Inputs {}

/// Input-iterator panics caught by a test, to check the fuzz reaches them.
static INPUT_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Whether a caught panic is the input iterator's.
fn is_input_panic(payload: &(dyn std::any::Any + Send)) -> bool {
    let input = panic_message(payload).is_some_and(|m| m.contains(" input "));
    if input {
        INPUT_PANICS.fetch_add(1, Ordering::SeqCst);
    }
    input
}

/// Records every `done` and checks it only grows.
fn progress() -> (Arc<Mutex<Vec<usize>>>, impl Fn(Progress) + Send + Sync + Clone + 'static) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |p: Progress| sink.lock().unwrap().push(p.done))
}

fn check_progress(log: &Mutex<Vec<usize>>, n: usize, seed: u64) {
    let log = log.lock().unwrap();
    assert!(log.windows(2).all(|w| w[0] < w[1]), "seed {seed}: done went backwards or repeated: {log:?}");
    if n > 0 {
        assert_eq!(log.last().copied(), Some(n), "seed {seed}: done never reached {n}");
    }
}

fn item_of(payload: &(dyn std::any::Any + Send)) -> usize {
    let message = panic_message(payload).expect("a string payload");
    message.rsplit(' ').next().unwrap().parse().expect("an item number")
}

/// `Map`: panics re-raised at their item, everything else in order.
fn ordered_case(seed: u64) {
    let mut case = Case::new(seed);
    let pool = ThreadPool::new(case.workers).unwrap();
    let (log, callback) = progress();
    let mut map = pool.map(case.f(), case.inputs());
    let mut attached = false;
    let mut expected = 0usize;
    loop {
        if !attached && case.rng.below(3) == 0 {
            map = map.on_progress(callback.clone());
            attached = true;
        }
        if let Some(c) = case.chunking() {
            map = map.chunk_size(c);
        }
        if let Some(w) = case.window() {
            map = map.window(w);
        }
        for _ in 0..case.burst() {
            assert_eq!(map.len(), case.n - expected, "seed {seed}: len() before item {expected}");
            case.pause();
            match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(Some(y)) => {
                    assert!(!case.panics[expected], "seed {seed}: item {expected} should have panicked");
                    assert_eq!(y, expected * 2, "seed {seed}");
                }
                Ok(None) => {
                    assert_eq!(expected, case.n, "seed {seed}: ended early");
                    drop(map);
                    case.check_calls();
                    if attached {
                        check_progress(&log, case.n, seed);
                    }
                    return;
                }
                Err(payload) if is_input_panic(&*payload) => continue,
                Err(payload) => {
                    assert!(expected < case.n && case.panics[expected], "seed {seed}: unexpected panic at {expected}");
                    assert_eq!(item_of(&*payload), expected, "seed {seed}: panic raised at the wrong item");
                }
            }
            expected += 1;
        }
    }
}

/// `TryMap`: panics reported at their item.
fn try_case(seed: u64) {
    let mut case = Case::new(seed);
    let pool = ThreadPool::new(case.workers).unwrap();
    let (log, callback) = progress();
    let mut map = pool.try_map(case.f(), case.inputs());
    let mut attached = false;
    let mut expected = 0usize;
    loop {
        if !attached && case.rng.below(3) == 0 {
            map = map.on_progress(callback.clone());
            attached = true;
        }
        if let Some(c) = case.chunking() {
            map = map.chunk_size(c);
        }
        if let Some(w) = case.window() {
            map = map.window(w);
        }
        for _ in 0..case.burst() {
            assert_eq!(map.len(), case.n - expected, "seed {seed}: len() before item {expected}");
            case.pause();
            let Ok(next) =
                panic::catch_unwind(AssertUnwindSafe(|| map.next())).map_err(|p| assert!(is_input_panic(&*p)))
            else {
                continue;
            };
            match next {
                Some(Ok(y)) => {
                    assert!(!case.panics[expected], "seed {seed}: item {expected} should have failed");
                    assert_eq!(y, expected * 2, "seed {seed}");
                }
                Some(Err(error)) => {
                    assert!(case.panics[expected], "seed {seed}: unexpected failure at {expected}: {error}");
                    let message = error.panic_message().expect("a panic");
                    assert!(message.ends_with(&format!(" item {expected}")), "seed {seed}: {message}");
                }
                None => {
                    assert_eq!(expected, case.n, "seed {seed}: ended early");
                    drop(map);
                    case.check_calls();
                    if attached {
                        check_progress(&log, case.n, seed);
                    }
                    return;
                }
            }
            expected += 1;
        }
    }
}

/// `MapUnordered`: every index exactly once, with its own result.
fn unordered_case(seed: u64) {
    let mut case = Case::new(seed);
    let pool = ThreadPool::new(case.workers).unwrap();
    let (log, callback) = progress();
    let mut map = pool.map_unordered(case.f(), case.inputs());
    let mut attached = false;
    let mut seen = vec![false; case.n];
    let mut got = 0usize;
    loop {
        if !attached && case.rng.below(3) == 0 {
            map = map.on_progress(callback.clone());
            attached = true;
        }
        if let Some(c) = case.chunking() {
            map = map.chunk_size(c);
        }
        if let Some(w) = case.window() {
            map = map.window(w);
        }
        for _ in 0..case.burst() {
            assert_eq!(map.len(), case.n - got, "seed {seed}: len() after {got} items");
            case.pause();
            let Ok(next) =
                panic::catch_unwind(AssertUnwindSafe(|| map.next())).map_err(|p| assert!(is_input_panic(&*p)))
            else {
                continue;
            };
            match next {
                Some((i, result)) => {
                    assert!(!std::mem::replace(&mut seen[i], true), "seed {seed}: index {i} twice");
                    match result {
                        Ok(y) => assert_eq!((y, case.panics[i]), (i * 2, false), "seed {seed}"),
                        Err(error) => {
                            assert!(case.panics[i], "seed {seed}: unexpected failure at {i}: {error}");
                            let message = error.panic_message().expect("a panic");
                            assert!(message.ends_with(&format!(" item {i}")), "seed {seed}: {message}");
                        }
                    }
                    got += 1;
                }
                None => {
                    assert_eq!(got, case.n, "seed {seed}: ended early");
                    drop(map);
                    case.check_calls();
                    if attached {
                        check_progress(&log, case.n, seed);
                    }
                    return;
                }
            }
        }
    }
}

/// Seeds run by default; `ATTACK_SEEDS=first..last` runs others (a soak).
fn seeds() -> std::ops::Range<u64> {
    let range = std::env::var("ATTACK_SEEDS").ok().and_then(|s| {
        let (a, b) = s.split_once("..")?;
        Some(a.parse().ok()?..b.parse().ok()?)
    });
    range.unwrap_or(0..40)
}

#[test]
fn ordered_map_under_random_settings_changes() {
    quiet_intentional_panics();
    within(Duration::from_secs(600), "ordered fuzz", || seeds().for_each(ordered_case));
    assert!(INPUT_PANICS.load(Ordering::SeqCst) > 0, "no input iterator panicked: the fuzz misses that case");
}

#[test]
fn try_map_under_random_settings_changes() {
    quiet_intentional_panics();
    within(Duration::from_secs(600), "try_map fuzz", || seeds().for_each(try_case));
    assert!(INPUT_PANICS.load(Ordering::SeqCst) > 0, "no input iterator panicked: the fuzz misses that case");
}

#[test]
fn unordered_map_under_random_settings_changes() {
    quiet_intentional_panics();
    within(Duration::from_secs(600), "unordered fuzz", || seeds().for_each(unordered_case));
    assert!(INPUT_PANICS.load(Ordering::SeqCst) > 0, "no input iterator panicked: the fuzz misses that case");
}

/// Starts a thread that calls `shutdown_now` on `pool` after a random
/// delay of up to 3 ms.
fn shut_down_soon(pool: &ThreadPool, rng: &mut XorShift) -> thread::JoinHandle<()> {
    let other = pool.clone();
    let delay = Duration::from_micros(rng.below(3000));
    thread::spawn(move || {
        thread::sleep(delay);
        other.shutdown_now();
    })
}

fn sometimes_slow(x: usize) -> usize {
    if x.is_multiple_of(3) {
        thread::sleep(Duration::from_micros(20));
    }
    x * 2
}

/// `shutdown_now` from another thread at a random moment while the
/// consumer changes settings (chunks queued run as cut) on an ordered `TryMap`:
/// no hang, every item exactly once and in order, each result its own
/// value or `Cancelled`.
#[test]
fn shutdown_now_racing_late_settings_ordered() {
    within(Duration::from_secs(120), "shutdown vs late settings, ordered", || {
        for seed in 0..16u64 {
            let mut rng = XorShift::new(seed);
            let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
            let stopper = shut_down_soon(&pool, &mut rng);
            let mut map = pool.try_map(sometimes_slow, 0..20_000usize);
            let mut expected = 0;
            let mut cancelled = false;
            while let Some(result) = map.next() {
                match result {
                    Ok(y) => assert_eq!(y, expected * 2, "seed {seed}"),
                    Err(e) => {
                        assert_eq!(e, pool::TaskError::Cancelled, "seed {seed}");
                        cancelled = true;
                    }
                }
                expected += 1;
                if rng.below(16) == 0 {
                    map = map.chunk_size(1 + rng.below(40) as usize).window(1 + rng.below(6) as usize);
                } else if rng.below(16) == 0 {
                    map = map.chunk_size(Chunking::Auto);
                }
            }
            // After `shutdown_now` a map reads no more inputs: it may end
            // early, but only after telling the consumer (a `Cancelled`).
            assert!(expected == 20_000 || cancelled, "seed {seed}: ended at {expected} without a Cancelled");
            stopper.join().unwrap();
        }
    });
}

/// The same for `MapUnordered`: every index exactly once.
#[test]
fn shutdown_now_racing_late_settings_unordered() {
    within(Duration::from_secs(20), "shutdown vs late settings, unordered", || {
        for seed in 0..16u64 {
            let mut rng = XorShift::new(seed);
            let pool = ThreadPool::new(1 + rng.below(3) as usize).unwrap();
            let stopper = shut_down_soon(&pool, &mut rng);
            let mut map = pool.map_unordered(sometimes_slow, 0..20_000usize);
            let mut seen = vec![false; 20_000];
            let mut cancelled = false;
            while let Some((i, result)) = map.next() {
                assert!(!std::mem::replace(&mut seen[i], true), "seed {seed}: index {i} twice");
                match result {
                    Ok(y) => assert_eq!(y, i * 2, "seed {seed}"),
                    Err(e) => {
                        assert_eq!(e, pool::TaskError::Cancelled, "seed {seed}");
                        cancelled = true;
                    }
                }
                if rng.below(16) == 0 {
                    map = map.chunk_size(1 + rng.below(40) as usize).window(1 + rng.below(6) as usize);
                }
            }
            // Indices past the shutdown are never read, but the consumer
            // was told.
            assert!(seen.iter().all(|&s| s) || cancelled, "seed {seed}: indices lost without a Cancelled");
            stopper.join().unwrap();
        }
    });
}
