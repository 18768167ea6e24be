//! Settings changed after iteration has begun apply to every input no
//! worker has started: queued chunks not yet started are taken back and
//! cut again, in order, each input still handed out exactly once.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{within, PanicsAt};
use pool::{Progress, ThreadPool};

/// Item 1 signals that it started, then blocks until released: with one
/// worker, chunk 1 is running and every later chunk is queued, unstarted.
struct Gate {
    started: AtomicBool,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Gate {
    fn new() -> (Arc<Gate>, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        (Arc::new(Gate { started: AtomicBool::new(false), release: Mutex::new(rx) }), tx)
    }

    fn pass(&self, x: u64) -> u64 {
        if x == 1 {
            self.started.store(true, Ordering::SeqCst);
            let _ = self.release.lock().unwrap().recv();
        }
        x
    }

    fn wait_started(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.started.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "item 1 never started");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

fn progress_log() -> (Arc<Mutex<Vec<usize>>>, impl Fn(Progress) + Send + Sync + 'static) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |p: Progress| sink.lock().unwrap().push(p.done))
}

/// Chunks 0 and 1 have size 1; the 98 inputs after them, all queued or
/// not yet pulled when the size changed, come in chunks of 10.
const EXPECTED_DONE: [usize; 12] = [1, 2, 12, 22, 32, 42, 52, 62, 72, 82, 92, 100];

#[test]
fn chunk_size_set_after_next_recuts_every_unstarted_chunk() {
    within(Duration::from_secs(60), "late chunk_size, ordered", || {
        let pool = ThreadPool::new(1).unwrap();
        let (gate, release) = Gate::new();
        let (log, callback) = progress_log();
        let g = Arc::clone(&gate);
        let mut map = pool.map(move |x| g.pass(x), 0..100u64).chunk_size(1).window(8).on_progress(callback);
        assert_eq!(map.next(), Some(0));
        gate.wait_started();
        // Chunks 2..=8 are queued behind the blocked chunk 1.
        let map = map.chunk_size(10);
        release.send(()).unwrap();
        let rest: Vec<u64> = map.collect();
        assert_eq!(rest, (1..100).collect::<Vec<_>>());
        assert_eq!(*log.lock().unwrap(), EXPECTED_DONE);
    });
}

#[test]
fn chunk_size_set_after_next_recuts_unordered_chunks_too() {
    within(Duration::from_secs(60), "late chunk_size, unordered", || {
        let pool = ThreadPool::new(1).unwrap();
        let (gate, release) = Gate::new();
        let (log, callback) = progress_log();
        let g = Arc::clone(&gate);
        let mut map = pool.map_unordered(move |x| g.pass(x), 0..100u64).chunk_size(1).window(8).on_progress(callback);
        let (first, value) = map.next().unwrap();
        assert_eq!((first, value.unwrap()), (0, 0));
        gate.wait_started();
        let map = map.chunk_size(10);
        release.send(()).unwrap();
        let mut rest: Vec<(usize, u64)> = map.map(|(i, r)| (i, r.unwrap())).collect();
        rest.sort_unstable();
        // Every input exactly once, at its own index.
        assert_eq!(rest, (1..100).map(|i| (i, i as u64)).collect::<Vec<_>>());
        assert_eq!(*log.lock().unwrap(), EXPECTED_DONE);
    });
}

#[test]
fn window_set_after_next_bounds_the_chunks_already_queued() {
    within(Duration::from_secs(60), "late window", || {
        let pool = ThreadPool::new(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (r, m) = (Arc::clone(&running), Arc::clone(&most));
        let f = move |x: u64| {
            // Items 1 and 2 hold both workers long past the change below.
            let pause = if x == 1 || x == 2 { 50 } else { 2 };
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            if x >= 3 {
                m.fetch_max(now, Ordering::SeqCst);
            }
            thread::sleep(Duration::from_millis(pause));
            r.fetch_sub(1, Ordering::SeqCst);
            x
        };
        let mut map = pool.map(f, 0..20u64).chunk_size(1).window(8);
        assert_eq!(map.next(), Some(0));
        // Chunks 3..=8 were queued with a window of 8; now at most one
        // chunk may be queued or running, them included.
        let map = map.window(1);
        assert_eq!(map.collect::<Vec<_>>(), (1..20).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 1, "items queued before the change still ran two at a time");
    });
}

#[test]
fn settings_changed_between_every_item_lose_and_repeat_nothing() {
    let pool = ThreadPool::new(2).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let mut map = pool.map(
        move |x: u64| {
            c.fetch_add(1, Ordering::SeqCst);
            x * 3
        },
        0..2000u64,
    );
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(y) = map.next() {
        out.push(y);
        i += 1;
        map = match i % 4 {
            0 => map.chunk_size(1 + i % 7),
            1 => map.window(1 + i % 5),
            2 => map.chunk_size(pool::Chunking::Auto),
            _ => map,
        };
    }
    assert_eq!(out, (0..2000u64).map(|x| x * 3).collect::<Vec<_>>());
    // Inputs taken back were never run, so nothing ran twice.
    assert_eq!(calls.load(Ordering::SeqCst), 2000);
}

#[test]
fn unordered_settings_changed_between_every_item_lose_and_repeat_nothing() {
    let pool = ThreadPool::new(2).unwrap();
    let mut map = pool.map_unordered(|x: u64| x * 3, 0..2000u64);
    let mut seen = vec![0u8; 2000];
    let mut i = 0usize;
    while let Some((index, value)) = map.next() {
        assert_eq!(value.unwrap(), index as u64 * 3);
        seen[index] += 1;
        i += 1;
        map = match i % 3 {
            0 => map.chunk_size(1 + i % 7),
            1 => map.window(1 + i % 5),
            _ => map.chunk_size(pool::Chunking::Auto),
        };
    }
    assert!(seen.iter().all(|&n| n == 1), "an index came twice or never");
}

#[test]
fn a_smaller_chunk_size_after_an_input_panic_keeps_every_item_taken() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    common::quiet_intentional_panics();
    let pool = ThreadPool::new(2).unwrap();
    let expected: Vec<u64> = (1..200).filter(|&x| x != 57).collect();
    // The panic comes while the inputs of a chunk of 20 are being taken:
    // 16 of them are held when the size drops to 3.
    for chunking in [pool::Chunking::Fixed(20), pool::Chunking::Auto] {
        let mut map = pool.map(|x| x, PanicsAt { next: 0, n: 200, at: 57 }).chunk_size(chunking);
        let mut got = Vec::new();
        loop {
            match catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(Some(x)) => got.push(x),
                Ok(None) => break,
                Err(_) => map = map.chunk_size(3),
            }
        }
        assert_eq!(got, expected, "{chunking:?}");
        let mut map = pool.map_unordered(|x| x, PanicsAt { next: 0, n: 200, at: 57 }).chunk_size(chunking);
        let mut got = Vec::new();
        loop {
            match catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(Some((_, x))) => got.push(x.unwrap()),
                Ok(None) => break,
                Err(_) => map = map.chunk_size(3),
            }
        }
        got.sort_unstable();
        assert_eq!(got, expected, "unordered, {chunking:?}");
    }
}
