//! Settings changed after iteration has begun apply to the chunks cut from
//! then on (nothing queued is taken back), and each input is still handed
//! out exactly once, in order.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{within, PanicsAt};
use pool::{Progress, ThreadPool};

fn progress_log() -> (Arc<Mutex<Vec<usize>>>, impl Fn(Progress) + Send + Sync + 'static) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    (log, move |p: Progress| sink.lock().unwrap().push(p.done))
}

/// On one worker with a start handler every chunk runs on that worker,
/// one after the other, so progress reports each chunk alone: the chunks
/// queued before `chunk_size` keep their size, those cut after take the
/// new one, and `window` bounds what is queued from then on.
#[test]
fn settings_apply_to_chunks_cut_from_then_on() {
    within(Duration::from_secs(60), "late settings", || {
        let pool = ThreadPool::builder().num_workers(1).start_handler(|_| {}).build().unwrap();
        let (log, callback) = progress_log();
        let mut map = pool.map(|x: u64| x, 0..40u64).chunk_size(10).window(1).on_progress(callback);
        // Chunk 0 handed out, chunk 1 queued (window 1).
        assert_eq!(map.next(), Some(0));
        let map = map.chunk_size(3).window(2);
        assert_eq!(map.collect::<Vec<_>>(), (1..40).collect::<Vec<_>>());
        let done = log.lock().unwrap().clone();
        assert_eq!(done, [10, 20, 23, 26, 29, 32, 35, 38, 40]);
    });
}

/// Inputs of the maps whose settings change between every item: under
/// Miri, which runs about a thousand times slower and where every chunk's
/// task costs a good fraction of a second, enough for each setting to be
/// changed a few times.
const N: u64 = if cfg!(miri) { 60 } else { 2000 };

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
        0..N,
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
    assert_eq!(out, (0..N).map(|x| x * 3).collect::<Vec<_>>());
    // Chunks queued before a change run as cut: nothing ran twice.
    assert_eq!(calls.load(Ordering::SeqCst), N as usize);
}

#[test]
fn unordered_settings_changed_between_every_item_lose_and_repeat_nothing() {
    let pool = ThreadPool::new(2).unwrap();
    let mut map = pool.map_unordered(|x: u64| x * 3, 0..N);
    let mut seen = vec![0u8; N as usize];
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
    // The panic comes while the inputs of a chunk of 20 are being taken:
    // 16 of them are held when the size drops to 3. Under Miri only a few
    // inputs follow them.
    let n = if cfg!(miri) { 66 } else { 200 };
    let expected: Vec<u64> = (1..n).filter(|&x| x != 57).collect();
    for chunking in [pool::Chunking::Fixed(20), pool::Chunking::Auto] {
        let mut map = pool.map(|x| x, PanicsAt { next: 0, n, at: 57 }).chunk_size(chunking);
        let mut got = Vec::new();
        loop {
            match catch_unwind(AssertUnwindSafe(|| map.next())) {
                Ok(Some(x)) => got.push(x),
                Ok(None) => break,
                Err(_) => map = map.chunk_size(3),
            }
        }
        assert_eq!(got, expected, "{chunking:?}");
        let mut map = pool.map_unordered(|x| x, PanicsAt { next: 0, n, at: 57 }).chunk_size(chunking);
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

/// How many chunks a map keeps queued or running, from its `Debug`.
fn chunks_in_flight(map: &impl std::fmt::Debug) -> usize {
    let shown = format!("{map:?}");
    let count = shown.split("chunks_in_flight: ").nth(1).expect("the count is shown");
    count.trim_end_matches([' ', '}']).parse().expect("a number")
}

/// By default a map with big fixed chunks keeps fewer of them in flight
/// (no more buffer memory than automatic chunking would, but one chunk per
/// worker at least); a window the caller sets is kept as set, and the
/// default follows a chunk size set later.
#[test]
#[cfg_attr(miri, ignore = "no unsafe code of its own, and 10^6 inputs cut into chunks")]
fn the_default_window_shrinks_for_big_fixed_chunks() {
    fn square(x: u64) -> u64 {
        x * x
    }
    let pool = ThreadPool::new(2).unwrap();
    let mut small = pool.map(square, 0..1_000_000u64).chunk_size(16);
    assert_eq!(small.next(), Some(0));
    assert_eq!(chunks_in_flight(&small), 8, "4 per worker");
    // 65,536 u64s are 512 KiB a chunk: one chunk per worker.
    let mut big = pool.map(square, 0..1_000_000u64).chunk_size(65_536);
    assert_eq!(big.next(), Some(0));
    assert_eq!(chunks_in_flight(&big), 2);
    let mut set = pool.map(square, 0..1_000_000u64).window(6).chunk_size(65_536);
    assert_eq!(set.next(), Some(0));
    assert_eq!(chunks_in_flight(&set), 6, "the caller's window");
    let mut unordered = pool.map_unordered(square, 0..1_000_000u64).chunk_size(65_536);
    assert!(unordered.next().is_some());
    // Two queued, and the one being handed out no longer counted.
    assert_eq!(chunks_in_flight(&unordered), 1);
    let later = big.chunk_size(16);
    assert_eq!(later.count(), 999_999);
}
