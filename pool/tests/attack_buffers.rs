//! Adversarial tests, from outside the crate, of the map engine's reused
//! chunk buffers (`src/map/values.rs`, `feeder.rs`, `ordered.rs`,
//! `unordered.rs`), of `Map::fold`'s local drain loop, of the consumer
//! running the head chunk itself, and of waits from threads that are not
//! workers.
//!
//! Most tests count every value made and dropped (inputs and results) in
//! a [`Ledger`] and check, once the pool is joined, that each was dropped
//! exactly once, that each input was computed at most once (exactly once
//! when its result was handed out), and that results came in order.
//!
//! Scenarios that may abort the process (a panic while unwinding) run in a
//! child process: the test binary re-runs itself on that one test (see
//! [`common::in_child`]).

mod common;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{in_child, panic_message, quiet_intentional_panics, within, XorShift, INTENTIONAL};
use pool::{Chunking, TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Counts the values of one kind made and dropped, and how often each
/// input index was computed.
struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
    computed: Vec<AtomicUsize>,
}

impl Ledger {
    fn new(n: usize) -> Arc<Ledger> {
        Arc::new(Ledger {
            made: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            computed: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    fn item(self: &Arc<Self>, i: usize, bomb: bool) -> Item {
        self.made.fetch_add(1, Ordering::SeqCst);
        Item { i, bomb, ledger: Arc::clone(self) }
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    fn computed(&self, i: usize) -> usize {
        self.computed[i].load(Ordering::SeqCst)
    }

    /// Every value made was dropped exactly once (call once the pool is
    /// joined: workers drop results nobody will read).
    fn assert_settled(&self, what: &str) {
        let (made, dropped) = (self.made.load(Ordering::SeqCst), self.dropped.load(Ordering::SeqCst));
        assert_eq!(made, dropped, "{what}: {made} values made, {dropped} dropped");
    }

    /// No input computed twice.
    fn assert_at_most_once(&self, what: &str) {
        for (i, c) in self.computed.iter().enumerate() {
            let c = c.load(Ordering::SeqCst);
            assert!(c <= 1, "{what}: input {i} computed {c} times");
        }
    }
}

/// A counted value; a bomb's `Drop` panics (also while unwinding, so only
/// guarded code may drop it: `f` and the tests defuse what they get).
struct Item {
    i: usize,
    bomb: bool,
    ledger: Arc<Ledger>,
}

impl Item {
    fn defuse(mut self) -> usize {
        self.bomb = false;
        self.i
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
        if self.bomb {
            panic!("{INTENTIONAL}: bomb {} dropped", self.i);
        }
    }
}

/// Counted inputs `0..n`, item `i` a bomb when `bomb(i)`.
fn inputs(
    ledger: &Arc<Ledger>,
    n: usize,
    bomb: fn(usize) -> bool,
) -> impl ExactSizeIterator<Item = Item> + Send + 'static {
    let ledger = Arc::clone(ledger);
    (0..n).map(move |i| ledger.item(i, bomb(i)))
}

/// `f`: defuses the input, counts the call, panics at `panics(i)`, and
/// makes a counted result (a bomb when `bomb(i)`).
fn counted_f(
    inputs: &Arc<Ledger>,
    results: &Arc<Ledger>,
    panics: fn(usize) -> bool,
    bomb: fn(usize) -> bool,
) -> impl Fn(Item) -> Item + Send + Sync + 'static {
    let (inputs, results) = (Arc::clone(inputs), Arc::clone(results));
    move |x: Item| {
        let i = x.defuse();
        inputs.computed[i].fetch_add(1, Ordering::SeqCst);
        if panics(i) {
            panic!("{INTENTIONAL}: f({i})");
        }
        results.item(i, bomb(i))
    }
}

fn never(_: usize) -> bool {
    false
}

fn chunkings() -> [Chunking; 4] {
    [Chunking::Auto, Chunking::Fixed(1), Chunking::Fixed(3), Chunking::Fixed(64)]
}

/// A one-worker pool whose only worker is held until the sender is sent
/// to, and then shuts the pool down itself: no chunk starts on a worker,
/// and every queued one is cancelled.
fn pool_held_then_shut_down() -> (ThreadPool, mpsc::Sender<()>, pool::TaskHandle<()>) {
    let pool = ThreadPool::new(1).unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let stopper = pool.clone();
    let holder = pool.submit(move || {
        started_tx.send(()).unwrap();
        let _ = go_rx.recv();
        stopper.shutdown_now();
    });
    started_rx.recv_timeout(LIMIT).unwrap();
    (pool, go_tx, holder)
}

/// A one-worker pool whose worker is held by a task until the sender is
/// dropped or sent to: every chunk a map queues stays unstarted, so its
/// consumer runs the head (ordered) or the newest chunk (unordered) itself.
fn pool_with_a_held_worker() -> (ThreadPool, mpsc::Sender<()>, pool::TaskHandle<()>) {
    let pool = ThreadPool::new(1).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let holder = pool.submit(move || {
        started_tx.send(()).unwrap();
        let _ = rx.recv();
    });
    started_rx.recv_timeout(LIMIT).expect("the holding task started");
    (pool, tx, holder)
}

// ---------------------------------------------------------------------------
// Dropped midway: every value dropped exactly once
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Ordered,
    Try,
    Unordered,
}

const FLAVOURS: [Flavour; 3] = [Flavour::Ordered, Flavour::Try, Flavour::Unordered];

/// Takes `stop` results from a map of the given flavour over `n` counted
/// inputs, checks them, and drops the map and the pool; returns the
/// ledgers (settled: the pool is joined).
fn take_then_drop(
    flavour: Flavour,
    chunking: Chunking,
    n: usize,
    stop: usize,
    bomb_in: fn(usize) -> bool,
    bomb_out: fn(usize) -> bool,
) -> (Arc<Ledger>, Arc<Ledger>) {
    let pool = ThreadPool::new(2).unwrap();
    let (lin, lout) = (Ledger::new(n), Ledger::new(n));
    let f = counted_f(&lin, &lout, never, bomb_out);
    let xs = inputs(&lin, n, bomb_in);
    let what = format!("{flavour:?} {chunking:?} stop {stop}");
    let mut handed = vec![false; n];
    let dropped = match flavour {
        Flavour::Ordered => {
            let mut map = pool.map(f, xs).chunk_size(chunking);
            for want in 0..stop {
                assert_eq!(map.next().map(Item::defuse), Some(want), "{what}");
            }
            panic::catch_unwind(AssertUnwindSafe(move || drop(map)))
        }
        Flavour::Try => {
            let mut map = pool.try_map(f, xs).chunk_size(chunking);
            for want in 0..stop {
                assert_eq!(map.next().map(|r| r.map(Item::defuse)), Some(Ok(want)), "{what}");
            }
            panic::catch_unwind(AssertUnwindSafe(move || drop(map)))
        }
        Flavour::Unordered => {
            let mut map = pool.map_unordered(f, xs).chunk_size(chunking);
            for _ in 0..stop {
                let (i, r) = map.next().expect("an item");
                assert_eq!(r.map(Item::defuse), Ok(i), "{what}");
                assert!(!std::mem::replace(&mut handed[i], true), "{what}: index {i} handed out twice");
            }
            panic::catch_unwind(AssertUnwindSafe(move || drop(map)))
        }
    };
    if let Err(payload) = dropped {
        // Unread bombs cost (at most) this one panic.
        let message = panic_message(&*payload).unwrap_or_default().to_owned();
        assert!(message.contains(INTENTIONAL), "{what}: dropping the map raised {message:?}");
    }
    drop(pool);
    lin.assert_settled(&format!("{what}: inputs"));
    lout.assert_settled(&format!("{what}: results"));
    lin.assert_at_most_once(&what);
    // Only computed inputs have results, and every one handed out was
    // computed.
    let computed = (0..n).filter(|&i| lin.computed(i) == 1).count();
    assert_eq!(lout.made(), computed, "{what}");
    match flavour {
        Flavour::Unordered => (0..n).filter(|&i| handed[i]).for_each(|i| assert_eq!(lin.computed(i), 1, "{what}")),
        _ => (0..stop).for_each(|i| assert_eq!(lin.computed(i), 1, "{what}")),
    }
    (lin, lout)
}

/// A map dropped after any number of items, under any chunking: every
/// input and every result is dropped exactly once, none computed twice.
#[test]
fn a_map_dropped_midway_drops_every_value_exactly_once() {
    quiet_intentional_panics();
    within(LIMIT, "dropped midway", || {
        for flavour in FLAVOURS {
            for chunking in chunkings() {
                for stop in [0, 1, 5, 70, 299, 300] {
                    take_then_drop(flavour, chunking, 300, stop, never, never);
                }
            }
        }
    });
}

/// As above with inputs and results whose `Drop` panics (every 7th input,
/// every 5th result): dropping the map costs at most one panic, never the
/// process, and still drops every value exactly once.
#[test]
fn a_map_dropped_midway_with_panicking_drops_drops_every_value_exactly_once() {
    quiet_intentional_panics();
    within(LIMIT, "dropped midway, bombs", || {
        for flavour in FLAVOURS {
            for chunking in chunkings() {
                for stop in [0, 2, 70, 300] {
                    take_then_drop(flavour, chunking, 300, stop, |i| i % 7 == 3, |i| i % 5 == 1);
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Panics in f, chunks with failures between failure-free ones
// ---------------------------------------------------------------------------

fn panics_in_f(i: usize) -> bool {
    i % 11 == 4 || (100..104).contains(&i)
}

/// try_map and map_unordered with panics in `f` scattered so that chunks
/// with failures (handed out item by item) alternate with failure-free
/// ones (handed out from a reused buffer): each item once, at its index,
/// `Err` exactly where `f` panicked; every value dropped once.
#[test]
fn failures_between_reused_buffers_keep_every_item_in_place() {
    quiet_intentional_panics();
    within(LIMIT, "failures", || {
        let n = 400;
        for chunking in chunkings() {
            let pool = ThreadPool::new(2).unwrap();
            let (lin, lout) = (Ledger::new(n), Ledger::new(n));
            let mut map =
                pool.try_map(counted_f(&lin, &lout, panics_in_f, never), inputs(&lin, n, never)).chunk_size(chunking);
            let mut count = 0;
            // `len()` counts down by one per item, through chunks with
            // failures too.
            while let Some(r) = {
                assert_eq!(map.len(), n - count, "{chunking:?}");
                map.next()
            } {
                let want = count;
                match r {
                    Ok(item) => {
                        assert!(!panics_in_f(want), "{chunking:?}: Ok at {want}");
                        assert_eq!(item.defuse(), want, "{chunking:?}");
                    }
                    Err(e) => {
                        assert!(panics_in_f(want), "{chunking:?}: Err at {want}: {e}");
                        assert_eq!(e.panic_message(), Some(&*format!("{INTENTIONAL}: f({want})")));
                    }
                }
                count += 1;
            }
            assert_eq!((count, map.len()), (n, 0));
            drop(map);

            let (uin, uout) = (Ledger::new(n), Ledger::new(n));
            let map = pool.map_unordered(counted_f(&uin, &uout, panics_in_f, never), inputs(&uin, n, never));
            let mut seen = vec![false; n];
            for (i, r) in map.chunk_size(chunking) {
                assert!(!std::mem::replace(&mut seen[i], true), "{chunking:?}: index {i} twice");
                match r {
                    Ok(item) => assert_eq!(item.defuse(), i, "{chunking:?}"),
                    Err(e) => assert_eq!(e.panic_message(), Some(&*format!("{INTENTIONAL}: f({i})"))),
                }
            }
            assert!(seen.iter().all(|&s| s), "{chunking:?}: an index never came");
            drop(pool);
            for (ledger, what) in [(&lin, "in"), (&lout, "out"), (&uin, "uin"), (&uout, "uout")] {
                ledger.assert_settled(&format!("{chunking:?} {what}"));
            }
            for i in 0..n {
                assert_eq!((lin.computed(i), uin.computed(i)), (1, 1), "{chunking:?}: input {i}");
            }
        }
    });
}

/// The ordered map re-raises each panic of `f` at its item and can be used
/// on after each; a `for_each` after the last caught panic finishes it.
#[test]
fn map_used_on_after_each_panic_then_folded_hands_out_everything_once() {
    quiet_intentional_panics();
    within(LIMIT, "map panics", || {
        let n = 300;
        for chunking in chunkings() {
            let pool = ThreadPool::new(2).unwrap();
            let (lin, lout) = (Ledger::new(n), Ledger::new(n));
            let mut map =
                pool.map(counted_f(&lin, &lout, panics_in_f, never), inputs(&lin, n, never)).chunk_size(chunking);
            let mut want = 0;
            while want < 150 {
                match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                    Ok(item) => assert_eq!(item.map(Item::defuse), Some(want), "{chunking:?}"),
                    Err(payload) => {
                        assert!(panics_in_f(want), "{chunking:?}: a panic at {want}");
                        assert_eq!(panic_message(&*payload), Some(&*format!("{INTENTIONAL}: f({want})")));
                    }
                }
                want += 1;
            }
            // The rest with fold, re-entered after each panic through a
            // fresh by-value fold on what is left (by_ref keeps the map).
            let mut got = Vec::new();
            loop {
                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                    for item in map.by_ref() {
                        got.push(item.defuse());
                    }
                }));
                match r {
                    Ok(()) => break,
                    Err(payload) => {
                        let message = panic_message(&*payload).unwrap().to_owned();
                        let at: usize = message.rsplit('(').next().unwrap().trim_end_matches(')').parse().unwrap();
                        assert!(panics_in_f(at), "{chunking:?}: {message}");
                        got.push(usize::MAX - at);
                    }
                }
            }
            let expected: Vec<usize> = (150..n).map(|i| if panics_in_f(i) { usize::MAX - i } else { i }).collect();
            assert_eq!(got, expected, "{chunking:?}");
            drop(map);
            drop(pool);
            lin.assert_settled("inputs");
            lout.assert_settled("results");
            (0..n).for_each(|i| assert_eq!(lin.computed(i), 1, "{chunking:?}: input {i}"));
        }
    });
}

// ---------------------------------------------------------------------------
// Map::fold: the local drain loop
// ---------------------------------------------------------------------------

/// A `for_each` whose closure panics midway through a chunk (after some
/// `next()` calls): the values left in that chunk, including bombs, and
/// everything queued are dropped exactly once; the pool stays usable.
#[test]
fn a_fold_closure_panicking_midway_drops_the_rest_exactly_once() {
    quiet_intentional_panics();
    within(LIMIT, "fold panics", || {
        let n = 500;
        for chunking in chunkings() {
            for (before, at) in [(0, 0), (0, 1), (3, 40), (10, 10), (64, 65), (200, 499)] {
                let what = format!("{chunking:?} next×{before}, panic at {at}");
                let pool = ThreadPool::new(2).unwrap();
                let (lin, lout) = (Ledger::new(n), Ledger::new(n));
                let f = counted_f(&lin, &lout, never, |i| i % 4 == 1);
                let mut map = pool.map(f, inputs(&lin, n, |i| i % 9 == 2)).chunk_size(chunking);
                for want in 0..before {
                    assert_eq!(map.next().map(Item::defuse), Some(want), "{what}");
                }
                let mut seen = before;
                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                    map.for_each(|item| {
                        let i = item.defuse();
                        assert_eq!(i, seen);
                        seen += 1;
                        if i == at {
                            panic!("{INTENTIONAL}: fold at {i}");
                        }
                    })
                }));
                let payload = r.expect_err("the fold closure panicked");
                assert_eq!(panic_message(&*payload), Some(&*format!("{INTENTIONAL}: fold at {at}")), "{what}");
                assert_eq!(seen, at + 1, "{what}");
                assert_eq!(pool.map(|x: u64| x * 2, 0..100u64).sum::<u64>(), 9900, "{what}: the pool after");
                drop(pool);
                lin.assert_settled(&format!("{what}: inputs"));
                lout.assert_settled(&format!("{what}: results"));
                lin.assert_at_most_once(&what);
                assert_eq!(lout.made(), (0..n).filter(|&i| lin.computed(i) == 1).count(), "{what}");
            }
        }
    });
}

/// A by-value `for_each` that reaches an item where `f` panicked (some
/// items into a chunk with failures, after `next()` calls that stopped
/// inside that chunk): it re-raises `f`'s panic at that item, after
/// handing out every earlier item in order; the rest is dropped once.
#[test]
fn a_fold_reaching_fs_panic_re_raises_it_at_its_item_and_drops_the_rest_once() {
    quiet_intentional_panics();
    within(LIMIT, "fold meets f's panic", || {
        let n = 400;
        let panics = |i: usize| i == 3 || i == 41 || i == 42 || i == 300;
        for chunking in chunkings() {
            for before in [0, 2, 4, 40, 43, 299] {
                let what = format!("{chunking:?} next×{before}");
                let pool = ThreadPool::new(2).unwrap();
                let (lin, lout) = (Ledger::new(n), Ledger::new(n));
                let f = counted_f(&lin, &lout, panics, |i| i % 3 == 0);
                let mut map = pool.map(f, inputs(&lin, n, |i| i % 5 == 0)).chunk_size(chunking);
                for want in 0..before {
                    match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                        Ok(item) => assert_eq!(item.map(Item::defuse), Some(want), "{what}"),
                        Err(_) => assert!(panics(want), "{what}: panic at {want}"),
                    }
                }
                let mut seen = before;
                let r = panic::catch_unwind(AssertUnwindSafe(|| {
                    map.for_each(|item| {
                        assert_eq!(item.defuse(), seen);
                        seen += 1;
                    })
                }));
                let at = (before..n).find(|&i| panics(i)).unwrap();
                let payload = r.expect_err("f's panic re-raised");
                assert_eq!(panic_message(&*payload), Some(&*format!("{INTENTIONAL}: f({at})")), "{what}");
                assert_eq!(seen, at, "{what}");
                drop(pool);
                lin.assert_settled(&format!("{what}: inputs"));
                lout.assert_settled(&format!("{what}: results"));
                lin.assert_at_most_once(&what);
            }
        }
    });
}

/// `by_ref().take(k).for_each(..)`, `next()`, `by_ref().fold(..)` and a
/// final by-value `sum` interleaved, with settings changed between them:
/// every item in order, exactly once.
#[test]
fn folds_nexts_and_by_ref_interleaved_hand_out_everything_in_order() {
    within(LIMIT, "interleaved", || {
        let pool = ThreadPool::new(2).unwrap();
        for seed in 0..12u64 {
            let mut rng = XorShift::new(seed);
            let n = 2000u64;
            let mut map = pool.map(|x: u64| x * 3, 0..n);
            let mut next = 0u64;
            while next < n / 2 {
                let k = rng.below(90);
                match rng.below(5) {
                    0 => {
                        map.by_ref().take(k as usize).for_each(|v| {
                            assert_eq!(v, next * 3, "seed {seed}");
                            next += 1;
                        });
                    }
                    1 => {
                        let hash = map.by_ref().take(k as usize).fold(1u64, |acc, v| acc.wrapping_mul(31) ^ v);
                        let end = (next + k).min(n);
                        let want = (next..end).map(|x| x * 3).fold(1u64, |acc, v| acc.wrapping_mul(31) ^ v);
                        assert_eq!(hash, want, "seed {seed}");
                        next = end;
                    }
                    2 => {
                        let c = rng.below(9);
                        map = map.chunk_size(if c == 0 { Chunking::Auto } else { Chunking::Fixed(c as usize) });
                    }
                    3 => map = map.window(1 + rng.below(6) as usize),
                    _ => {
                        assert_eq!(map.next(), Some(next * 3), "seed {seed}");
                        next += 1;
                    }
                }
            }
            assert_eq!(map.size_hint(), ((n - next) as usize, Some((n - next) as usize)), "seed {seed}");
            let rest: u64 = map.sum();
            assert_eq!(rest, (next..n).map(|x| x * 3).sum::<u64>(), "seed {seed}");
        }
    });
}

// ---------------------------------------------------------------------------
// Settings changed mid-iteration, with counted values
// ---------------------------------------------------------------------------

/// Chunk size (fixed and automatic) and window changed at random between
/// items of all three flavours, over counted inputs: everything in order
/// (or at its index), computed once, dropped once, also when the map is
/// dropped unfinished.
#[test]
fn settings_changed_at_random_keep_counted_values_exactly_once() {
    within(LIMIT, "settings", || {
        let n = 600;
        for seed in 0..9u64 {
            let mut rng = XorShift::new(seed);
            let flavour = FLAVOURS[seed as usize % 3];
            let stop = if seed % 2 == 0 { n } else { rng.below(n as u64) as usize };
            let pool = ThreadPool::new(2).unwrap();
            let (lin, lout) = (Ledger::new(n), Ledger::new(n));
            let f = counted_f(&lin, &lout, never, never);
            let xs = inputs(&lin, n, never);
            let change = |rng: &mut XorShift| -> (Option<Chunking>, Option<usize>) {
                match rng.below(8) {
                    0 => (Some(Chunking::Auto), None),
                    1 => (Some(Chunking::Fixed(1 + rng.below(40) as usize)), None),
                    2 => (None, Some(1 + rng.below(5) as usize)),
                    _ => (None, None),
                }
            };
            let what = format!("seed {seed} {flavour:?} stop {stop}");
            match flavour {
                Flavour::Unordered => {
                    let mut map = pool.map_unordered(f, xs);
                    let mut seen = vec![false; n];
                    for _ in 0..stop {
                        let (c, w) = change(&mut rng);
                        if let Some(c) = c {
                            map = map.chunk_size(c);
                        }
                        if let Some(w) = w {
                            map = map.window(w);
                        }
                        let (i, r) = map.next().expect("an item");
                        assert_eq!(r.map(Item::defuse), Ok(i), "{what}");
                        assert!(!std::mem::replace(&mut seen[i], true), "{what}: {i} twice");
                    }
                    if stop == n {
                        assert!(map.next().is_none(), "{what}");
                    }
                }
                _ => {
                    let mut map = pool.map(f, xs);
                    for want in 0..stop {
                        let (c, w) = change(&mut rng);
                        if let Some(c) = c {
                            map = map.chunk_size(c);
                        }
                        if let Some(w) = w {
                            map = map.window(w);
                        }
                        assert_eq!(map.next().map(Item::defuse), Some(want), "{what}");
                    }
                    if stop == n {
                        assert!(map.next().is_none(), "{what}");
                    }
                }
            }
            drop(pool);
            lin.assert_settled(&what);
            lout.assert_settled(&what);
            lin.assert_at_most_once(&what);
            if stop == n {
                (0..n).for_each(|i| assert_eq!(lin.computed(i), 1, "{what}: input {i}"));
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Zero-sized and over-aligned values
// ---------------------------------------------------------------------------

/// Zero-sized values with a `Drop`, counted per test through `K`.
struct Zst<const K: usize>;

static ZST_MADE: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
static ZST_DROPPED: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

impl<const K: usize> Zst<K> {
    fn new() -> Self {
        ZST_MADE[K].fetch_add(1, Ordering::SeqCst);
        Zst
    }
}

impl<const K: usize> Drop for Zst<K> {
    fn drop(&mut self) {
        ZST_DROPPED[K].fetch_add(1, Ordering::SeqCst);
    }
}

fn zst_settled<const K: usize>(what: &str) {
    let (made, dropped) = (ZST_MADE[K].load(Ordering::SeqCst), ZST_DROPPED[K].load(Ordering::SeqCst));
    assert_eq!(made, dropped, "{what}: {made} zero-sized values made, {dropped} dropped");
}

/// Zero-sized inputs and results (with and without `Drop`): the right
/// number handed out, each dropped once, also when dropped midway.
#[test]
fn zero_sized_values_are_counted_and_dropped_exactly_once() {
    within(LIMIT, "zst", || {
        let n = 5000;
        for chunking in chunkings() {
            let pool = ThreadPool::new(2).unwrap();
            assert_eq!(pool.map(|()| (), std::iter::repeat_n((), n)).chunk_size(chunking).count(), n);
            let mut unit = pool.map_unordered(|()| (), std::iter::repeat_n((), n)).chunk_size(chunking);
            let mut seen = vec![false; n];
            for (i, r) in unit.by_ref() {
                assert_eq!(r, Ok(()));
                assert!(!std::mem::replace(&mut seen[i], true), "{chunking:?}: {i} twice");
            }
            assert!(seen.iter().all(|&s| s));

            let xs = || std::iter::repeat_with(Zst::<0>::new).take(n);
            let f = |z: Zst<0>| {
                drop(z);
                Zst::<0>::new()
            };
            assert_eq!(pool.map(f, xs()).chunk_size(chunking).count(), n);
            let mut map = pool.map(f, xs()).chunk_size(chunking);
            for _ in 0..777 {
                assert!(map.next().is_some());
            }
            drop(map);
            let mut tried = pool.try_map(f, xs()).chunk_size(chunking);
            assert!(tried.by_ref().take(100).all(|r| r.is_ok()));
            drop(tried);
            let got = pool.map_unordered(f, xs()).chunk_size(chunking).filter(|(_, r)| r.is_ok()).count();
            assert_eq!(got, n);
            drop(pool);
            zst_settled::<0>(&format!("{chunking:?}"));
        }
    });
}

/// A page-aligned value: the buffers it travels in must keep it aligned
/// (debug builds check every `ptr::read` for alignment).
#[repr(C, align(4096))]
struct Page {
    i: usize,
    item: Item,
}

/// Over-aligned inputs and results, whose automatic chunks are capped to a
/// few items by their size: values in order, aligned, dropped once.
#[test]
fn over_aligned_values_travel_through_reused_buffers_intact() {
    within(LIMIT, "aligned", || {
        let n = 200;
        for chunking in chunkings() {
            let pool = ThreadPool::new(2).unwrap();
            let (lin, lout) = (Ledger::new(n), Ledger::new(n));
            let (l, r) = (Arc::clone(&lin), Arc::clone(&lout));
            let xs = (0..n).map(move |i| Page { i, item: l.item(i, false) });
            let f = move |p: Page| {
                assert_eq!(&p as *const Page as usize % 4096, 0);
                assert_eq!(p.i, p.item.i);
                r.computed[p.i].fetch_add(1, Ordering::SeqCst);
                Page { i: p.i, item: r.item(p.i, false) }
            };
            let mut map = pool.map(f.clone(), xs.clone()).chunk_size(chunking);
            for want in 0..n / 2 {
                let p = map.next().unwrap();
                assert_eq!(&p as *const Page as usize % 4096, 0);
                assert_eq!((p.i, p.item.i), (want, want), "{chunking:?}");
            }
            drop(map);
            let mut seen = vec![false; n];
            for (i, p) in pool.map_unordered(f, xs).chunk_size(chunking) {
                let p = p.unwrap();
                assert_eq!((p.i, p.item.i), (i, i), "{chunking:?}");
                assert!(!std::mem::replace(&mut seen[i], true));
            }
            drop(pool);
            lin.assert_settled("pages in");
            lout.assert_settled("pages out");
        }
    });
}

// ---------------------------------------------------------------------------
// Inputs: non-Send iterators, panicking iterators
// ---------------------------------------------------------------------------

/// An input iterator that is not `Send` (it holds an `Rc`) and panics once
/// midway; the map is used on after the panic, then dropped unfinished:
/// nothing lost, nothing computed or dropped twice.
#[test]
fn a_non_send_input_iterator_that_panics_once_loses_and_repeats_nothing() {
    quiet_intentional_panics();
    within(LIMIT, "non-send", || {
        let n = 300;
        for chunking in chunkings() {
            for (panic_at, stop) in [(0, 300), (1, 300), (50, 120), (150, 299)] {
                let what = format!("{chunking:?} panic at {panic_at}, stop {stop}");
                let pool = ThreadPool::new(2).unwrap();
                let (lin, lout) = (Ledger::new(n), Ledger::new(n));
                let l = Arc::clone(&lin);
                let state = Rc::new(Cell::new((0usize, false)));
                let xs = std::iter::from_fn(move || {
                    let (i, panicked) = state.get();
                    if i == panic_at && !panicked {
                        state.set((i, true));
                        panic!("{INTENTIONAL}: input iterator");
                    }
                    if i == n {
                        return None;
                    }
                    state.set((i + 1, panicked));
                    Some(l.item(i, i % 13 == 5))
                });
                let mut map = pool.map(counted_f(&lin, &lout, never, never), xs).chunk_size(chunking);
                let mut want = 0;
                let mut panics = 0;
                while want < stop {
                    match panic::catch_unwind(AssertUnwindSafe(|| map.next())) {
                        Ok(Some(item)) => {
                            assert_eq!(item.defuse(), want, "{what}");
                            want += 1;
                        }
                        Ok(None) => panic!("{what}: ended at {want}"),
                        Err(_) => panics += 1,
                    }
                }
                assert_eq!(panics, 1, "{what}");
                if panic::catch_unwind(AssertUnwindSafe(move || drop(map))).is_err() {
                    // An unread bomb among the inputs: one panic.
                }
                drop(pool);
                lin.assert_settled(&what);
                lout.assert_settled(&what);
                lin.assert_at_most_once(&what);
            }
        }
    });
}

// ---------------------------------------------------------------------------
// shutdown_now mid-map
// ---------------------------------------------------------------------------

/// `shutdown_now` from the consumer mid-map: the maps end, what they hand
/// out is right (values at their index, the rest `Cancelled`), at most one
/// more input is read after it, and every value is dropped exactly once.
#[test]
fn shutdown_now_mid_map_drops_every_value_exactly_once() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown", || {
        let n = 400;
        for chunking in [Chunking::Auto, Chunking::Fixed(1), Chunking::Fixed(5)] {
            for unordered in [false, true] {
                for after in [0, 1, 30] {
                    let what = format!("{chunking:?} unordered {unordered} after {after}");
                    let pool = ThreadPool::new(2).unwrap();
                    let (lin, lout) = (Ledger::new(n), Ledger::new(n));
                    let inner = counted_f(&lin, &lout, never, |i| i % 6 == 0);
                    let f = move |x: Item| {
                        thread::sleep(Duration::from_micros(20));
                        inner(x)
                    };
                    // (Inputs whose Drop panics have their own tests, at the end.)
                    let xs = inputs(&lin, n, never);
                    let mut seen = vec![false; n];
                    let mut check = |i: usize, r: Result<Item, TaskError>| {
                        assert!(!std::mem::replace(&mut seen[i], true), "{what}: {i} twice");
                        match r {
                            Ok(item) => assert_eq!(item.defuse(), i, "{what}"),
                            Err(e) => assert_eq!(e, TaskError::Cancelled, "{what}: {i}"),
                        }
                    };
                    let read_at_shutdown;
                    let leftover = if unordered {
                        let mut map = pool.map_unordered(f, xs).chunk_size(chunking);
                        for _ in 0..after {
                            let (i, r) = map.next().unwrap();
                            check(i, r);
                        }
                        pool.shutdown_now();
                        read_at_shutdown = lin.made();
                        for (i, r) in map.by_ref() {
                            check(i, r);
                        }
                        panic::catch_unwind(AssertUnwindSafe(move || drop(map)))
                    } else {
                        let mut map = pool.try_map(f, xs).chunk_size(chunking);
                        for i in 0..after {
                            check(i, map.next().unwrap());
                        }
                        pool.shutdown_now();
                        read_at_shutdown = lin.made();
                        for (i, r) in (after..).zip(map.by_ref()) {
                            check(i, r);
                        }
                        panic::catch_unwind(AssertUnwindSafe(move || drop(map)))
                    };
                    assert!(leftover.is_ok(), "{what}: the ended map held values");
                    assert!(lin.made() <= read_at_shutdown + 1, "{what}: read on after shutdown_now");
                    drop(pool);
                    lin.assert_settled(&format!("{what}: inputs"));
                    lout.assert_settled(&format!("{what}: results"));
                    lin.assert_at_most_once(&what);
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Where f runs
// ---------------------------------------------------------------------------

/// On a pool with a start handler `f` never runs on the consumer (a
/// thread that is not a worker), for every flavour, with `next`, `fold`
/// and scoped maps; it only runs where the start handler ran.
#[test]
fn with_a_start_handler_f_never_runs_on_the_consumer() {
    thread_local!(static SET_UP: Cell<bool> = const { Cell::new(false) });
    within(LIMIT, "start handler", || {
        let started = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&started);
        let pool = ThreadPool::builder()
            .num_workers(2)
            .start_handler(move |_| {
                SET_UP.with(|c| c.set(true));
                s.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        let consumer = thread::current().id();
        let f = move |x: u64| {
            assert_ne!(thread::current().id(), consumer, "f ran on the consumer");
            assert!(SET_UP.with(Cell::get), "f ran where the start handler did not");
            x + 1
        };
        for chunking in chunkings() {
            let mut map = pool.map(f, 0..3000u64).chunk_size(chunking);
            assert_eq!(map.by_ref().take(10).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
            assert_eq!(map.sum::<u64>(), (11..=3000).sum::<u64>());
            assert!(pool.try_map(f, 0..2000u64).chunk_size(chunking).all(|r| r.is_ok()));
            assert_eq!(pool.map_unordered(f, 0..2000u64).chunk_size(chunking).count(), 2000);
            let data: Vec<u64> = (0..1000).collect();
            let total: u64 = pool.scope(|s| s.map(|i: usize| f(data[i]), 0..data.len()).chunk_size(chunking).sum());
            assert_eq!(total, (1..=1000).sum::<u64>());
            let unordered: usize = pool.scope(|s| s.map_unordered(|i: usize| f(data[i]), 0..1000).count());
            assert_eq!(unordered, 1000);
        }
        assert_eq!(started.load(Ordering::SeqCst), 2);
    });
}

/// Without a start handler, `f` runs on the workers and possibly on the
/// consumer, never on more than workers + 1 threads at once.
#[test]
fn f_runs_on_at_most_workers_plus_one_threads_at_once() {
    within(LIMIT, "concurrency", || {
        let workers = 2;
        let pool = ThreadPool::new(workers).unwrap();
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let (a, m, t) = (Arc::clone(&active), Arc::clone(&most), Arc::clone(&threads));
        let f = move |x: u64| {
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            t.lock().unwrap().insert(thread::current().id());
            thread::sleep(Duration::from_micros(50));
            a.fetch_sub(1, Ordering::SeqCst);
            x
        };
        for chunking in [Chunking::Auto, Chunking::Fixed(1), Chunking::Fixed(4)] {
            assert_eq!(pool.map(f.clone(), 0..400u64).chunk_size(chunking).sum::<u64>(), 79_800);
            assert_eq!(pool.map_unordered(f.clone(), 0..400u64).chunk_size(chunking).count(), 400);
        }
        assert!(most.load(Ordering::SeqCst) <= workers + 1, "{} calls of f at once", most.load(Ordering::SeqCst));
        assert!(threads.lock().unwrap().len() <= workers + 1);
    });
}

/// A map on a pool with a start handler, consumed by a worker of another
/// pool (which has no start handler): that worker is not one of the map's
/// pool's workers, so `f` must not run on it either.
#[test]
fn a_worker_of_another_pool_never_runs_f_of_a_start_handler_pool() {
    thread_local!(static SET_UP: Cell<bool> = const { Cell::new(false) });
    within(LIMIT, "other pool's worker", || {
        let pinned =
            ThreadPool::builder().num_workers(2).start_handler(|_| SET_UP.with(|c| c.set(true))).build().unwrap();
        let plain = ThreadPool::new(1).unwrap();
        let f = |x: u64| {
            assert!(SET_UP.with(Cell::get), "f ran off the start-handler pool's workers");
            x * 2
        };
        let p = pinned.clone();
        let sums = plain
            .submit(move || {
                let mut out = Vec::new();
                for chunking in chunkings() {
                    out.push(p.map(f, 0..2000u64).chunk_size(chunking).sum::<u64>());
                    out.push(p.try_map(f, 0..2000u64).chunk_size(chunking).map(Result::unwrap).sum::<u64>());
                    out.push(p.map_unordered(f, 0..2000u64).chunk_size(chunking).map(|(_, r)| r.unwrap()).sum::<u64>());
                }
                out
            })
            .wait()
            .unwrap();
        assert!(sums.iter().all(|&s| s == 1999 * 2000), "{sums:?}");
        // On the start-handler pool's own worker, running f is allowed.
        let p = pinned.clone();
        let nested = pinned.submit(move || p.map(f, 0..500u64).chunk_size(3).sum::<u64>()).wait().unwrap();
        assert_eq!(nested, 499 * 500);
    });
}

/// The unordered map's cancelled chunks report themselves before their
/// inputs are dropped: an input whose `Drop` panics in a chunk that
/// `shutdown_now` cancelled costs no index.
#[test]
fn unordered_cancelled_chunks_with_panicking_input_drops_report_every_index() {
    quiet_intentional_panics();
    within(LIMIT, "unordered cancelled bombs", || {
        let (pool, go_tx, holder) = pool_held_then_shut_down();
        let n = 20;
        let (lin, lout) = (Ledger::new(n), Ledger::new(n));
        let f = counted_f(&lin, &lout, never, never);
        let mut map = pool.map_unordered(f, inputs(&lin, n, |i| (2..8).contains(&i))).chunk_size(2).window(3);
        // The consumer runs the newest of chunks 0..=2 itself.
        let mut seen = vec![false; n];
        let (i, r) = map.next().unwrap();
        assert_eq!(r.map(Item::defuse), Ok(i));
        seen[i] = true;
        go_tx.send(()).unwrap();
        holder.wait().unwrap();
        let (got, panics) = drain(|| map.next(), 100);
        drop(map);
        drop(pool);
        for (i, r) in got {
            assert!(!std::mem::replace(&mut seen[i], true), "{i} twice");
            match r {
                Ok(item) => assert_eq!(item.defuse(), i),
                Err(e) => assert_eq!(e, TaskError::Cancelled, "{i}"),
            }
        }
        lin.assert_settled("inputs");
        lout.assert_settled("results");
        assert!(panics.is_empty(), "{panics:?}");
        // Chunks 0..=2 (six inputs) and the one input read after the
        // shutdown: every one reported.
        assert_eq!(seen.iter().filter(|&&s| s).count(), 7, "{seen:?}");
        assert!(seen[..6].iter().all(|&s| s), "{seen:?}");
    });
}

// ---------------------------------------------------------------------------
// Waits from threads that are not workers
// ---------------------------------------------------------------------------

/// Many non-pool threads polling handles with zero and one-nanosecond
/// timeouts, and waiting on handles of a pool shut down meanwhile: each
/// gets its task's value or `Cancelled`, never a wrong value or a hang.
#[test]
fn many_outside_waiters_with_tiny_timeouts_and_a_shutdown() {
    within(LIMIT, "waiters", || {
        let pool = ThreadPool::new(2).unwrap();
        let handles: Vec<_> = (0..64u64)
            .map(|i| {
                pool.submit(move || {
                    thread::sleep(Duration::from_micros(100 * (i % 5)));
                    i * i
                })
            })
            .collect();
        let waiters: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(i, mut handle)| {
                thread::spawn(move || {
                    let timeout = if i % 2 == 0 { Duration::ZERO } else { Duration::from_nanos(1) };
                    loop {
                        match handle.wait_timeout(timeout) {
                            Ok(r) => return (i as u64, r),
                            Err(back) => handle = back,
                        }
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for w in waiters {
            let (i, r) = w.join().unwrap();
            assert_eq!(r, Ok(i * i));
        }

        // A pool shut down while outside threads wait on its queued tasks.
        let release = Arc::new(AtomicBool::new(false));
        let running: Vec<_> = (0..2)
            .map(|_| {
                let release = Arc::clone(&release);
                pool.submit(move || {
                    while !release.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_micros(200));
                    }
                    7u64
                })
            })
            .collect();
        let queued: Vec<_> = (0..16u64).map(|i| pool.submit(move || i)).collect();
        let waiters: Vec<_> = queued
            .into_iter()
            .enumerate()
            .map(|(i, mut handle)| {
                thread::spawn(move || loop {
                    let timeout = [Duration::ZERO, Duration::from_nanos(1), Duration::from_micros(50)][i % 3];
                    match handle.wait_timeout(timeout) {
                        Ok(r) => return (i as u64, r),
                        Err(back) => handle = back,
                    }
                })
            })
            .collect();
        let stopper = {
            let pool = pool.clone();
            thread::spawn(move || pool.shutdown_now())
        };
        release.store(true, Ordering::SeqCst);
        stopper.join().unwrap();
        for w in waiters {
            let (i, r) = w.join().unwrap();
            assert!(r == Ok(i) || r == Err(TaskError::Cancelled), "task {i}: {r:?}");
        }
        for h in running {
            // Joined by shutdown_now: finished, ran or cancelled.
            let r = h.wait_timeout(Duration::ZERO).ok();
            assert!(r == Some(Ok(7)) || r == Some(Err(TaskError::Cancelled)), "{r:?}");
        }
        // After the shutdown: new tasks are cancelled, waits return.
        let late = pool.submit(|| 1);
        assert_eq!(late.wait_timeout(Duration::ZERO).ok(), Some(Err(TaskError::Cancelled)));
        assert_eq!(pool.submit(|| 1).wait(), Err(TaskError::Cancelled));
    });
}

// ---------------------------------------------------------------------------
// Panicking drops and extreme settings at the edges of a chunk's life (each of
// these failed before its fix: lost chunks, a hang, an abort, an overflow)
// ---------------------------------------------------------------------------

/// `window(usize::MAX)` is documented as accepted ("`window`/`chunk_size`
/// up to `usize::MAX` are accepted"); every flavour must finish.
#[test]
fn window_usize_max_is_accepted_by_every_flavour() {
    let pool = ThreadPool::new(2).unwrap();
    assert_eq!(pool.map(|x: u32| x, 0..100u32).window(usize::MAX).count(), 100);
    assert_eq!(pool.try_map(|x: u32| x, 0..100u32).window(usize::MAX).count(), 100);
    assert_eq!(pool.map_unordered(|x: u32| x, 0..100u32).window(usize::MAX).count(), 100);
}

/// Drives `next` until it returns `None` (at most `max` calls), catching
/// panics; returns what it handed out and the panics' messages.
fn drain<T>(mut next: impl FnMut() -> Option<T>, max: usize) -> (Vec<T>, Vec<String>) {
    let (mut got, mut panics) = (Vec::new(), Vec::new());
    for _ in 0..max {
        match panic::catch_unwind(AssertUnwindSafe(&mut next)) {
            Ok(Some(item)) => got.push(item),
            Ok(None) => break,
            // Reworded, so that a failing assertion quoting them is printed.
            Err(payload) => panics.push(panic_message(&*payload).unwrap_or("?").replace(INTENTIONAL, "on purpose")),
        }
    }
    (got, panics)
}

/// A progress callback that panics fails its chunk: every item of it is
/// handed out as an error (TryMap docs, README "Panics"). When that chunk
/// also holds a result whose `Drop` panics and the consumer ran the chunk
/// itself, the results must still come one per input, in order.
#[test]
fn a_failed_chunk_with_a_panicking_result_drop_is_not_lost_when_the_consumer_ran_it() {
    quiet_intentional_panics();
    within(LIMIT, "progress + bomb, ordered", || {
        let (pool, release, holder) = pool_with_a_held_worker();
        let n = 12;
        let (lin, lout) = (Ledger::new(n), Ledger::new(n));
        let f = counted_f(&lin, &lout, never, |i| i == 1);
        let mut map = pool
            .try_map(f, inputs(&lin, n, never))
            .chunk_size(4)
            .window(1)
            .on_progress(|p| assert!(p.done != 4, "{INTENTIONAL}: progress at 4"));
        let (got, panics) = drain(|| map.next(), 3 * n);
        drop(map);
        drop(release);
        holder.wait().unwrap();
        drop(pool);
        let handed: Vec<Result<usize, String>> = got
            .into_iter()
            .map(|r| r.map(Item::defuse).map_err(|e| e.to_string().replace(INTENTIONAL, "on purpose")))
            .collect();
        lin.assert_settled("inputs");
        lout.assert_settled("results");
        assert_eq!(handed.len(), n, "one result per input, got {handed:?} and panics {panics:?}");
        for (i, r) in handed.iter().enumerate().skip(4) {
            assert_eq!(r, &Ok(i), "item {i}");
        }
    });
}

/// The unordered map in the same situation (the consumer runs the newest
/// chunk itself) must end: its chunk must not be counted in flight forever.
#[test]
fn an_unordered_map_whose_consumer_run_chunk_fails_twice_still_ends() {
    quiet_intentional_panics();
    let (pool, release, holder) = pool_with_a_held_worker();
    let n = 12;
    let (lin, lout) = (Ledger::new(n), Ledger::new(n));
    let f = counted_f(&lin, &lout, never, |i| i == 1);
    let map = pool
        .map_unordered(f, inputs(&lin, n, never))
        .chunk_size(4)
        .window(1)
        .on_progress(|p| assert!(p.done != 4, "{INTENTIONAL}: progress at 4"));
    let map = Arc::new(Mutex::new(Some(map)));
    let m = Arc::clone(&map);
    // The release comes after a while, so the held worker may run the
    // task of the chunk the consumer took (which then reports nothing).
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        drop(release);
    });
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        within(Duration::from_secs(5), "unordered map after a failed consumer-run chunk", move || {
            let mut guard = m.lock().unwrap();
            let map = guard.as_mut().unwrap();
            let (got, panics) = drain(|| map.next(), 3 * n);
            let mut indices: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
            indices.sort_unstable();
            (indices, panics)
        })
    }));
    releaser.join().unwrap();
    holder.wait().unwrap();
    let (indices, panics) = match outcome {
        Ok(done) => done,
        Err(payload) => panic::resume_unwind(payload),
    };
    assert_eq!(indices, (0..n).collect::<Vec<_>>(), "panics: {panics:?}");
}

/// After an input iterator's panic left inputs held back for the next
/// chunk, `shutdown_now`, then the map read on: the held-back inputs are
/// dropped, one is reported cancelled. Values whose `Drop` panics must
/// cost one panic, "never the abort a Vec of them would cause at the
/// second" (README, "Panics").
#[test]
fn held_back_inputs_with_panicking_drops_after_shutdown_now_cost_one_panic() {
    in_child("held_back_inputs_with_panicking_drops_after_shutdown_now_cost_one_panic", || {
        quiet_intentional_panics();
        let pool = ThreadPool::new(1).unwrap();
        let n = 16;
        let (lin, lout) = (Ledger::new(n), Ledger::new(n));
        let l = Arc::clone(&lin);
        let (mut next, mut panicked) = (0, false);
        let xs = std::iter::from_fn(move || {
            if next == 6 && !panicked {
                panicked = true;
                panic!("{INTENTIONAL}: input iterator");
            }
            if next == n {
                return None;
            }
            next += 1;
            Some(l.item(next - 1, next - 1 == 4 || next - 1 == 5))
        });
        let mut map = pool.try_map(counted_f(&lin, &lout, never, never), xs).chunk_size(4).window(1);
        // The first call cuts chunk 0, then takes inputs 4 and 5 for the
        // next chunk and panics at 6.
        assert!(panic::catch_unwind(AssertUnwindSafe(|| map.next())).is_err());
        pool.shutdown_now();
        let (got, panics) = drain(|| map.next(), 3 * n);
        drop(map);
        drop(pool);
        let oks = got.iter().filter(|r| r.is_ok()).count();
        for item in got.into_iter().flatten() {
            item.defuse();
        }
        assert!(oks <= 4, "{oks}");
        assert!(panics.len() <= 1, "{panics:?}");
        lin.assert_settled("inputs");
        lout.assert_settled("results");
    });
}

/// `shutdown_now` cancels an ordered map's queued chunks; each of their
/// items is then handed out as `Err(Cancelled)`. An input whose `Drop`
/// panics in one of those chunks may cost one panic, but the chunk's items
/// must still be reported, one per input, in order (try_map has no
/// indices: a lost chunk shifts every later result).
#[test]
fn a_cancelled_chunk_whose_input_drop_panics_is_still_reported() {
    quiet_intentional_panics();
    within(LIMIT, "cancelled chunk with a bomb", || {
        let (pool, go_tx, holder) = pool_held_then_shut_down();
        let n = 20;
        let (lin, lout) = (Ledger::new(n), Ledger::new(n));
        let f = counted_f(&lin, &lout, never, never);
        let mut map = pool.try_map(f, inputs(&lin, n, |i| i == 2)).chunk_size(2).window(3);
        // The consumer runs chunk 0 itself and queues chunks 1, 2 and 3.
        assert_eq!(map.next().map(|r| r.map(Item::defuse)), Some(Ok(0)));
        go_tx.send(()).unwrap();
        holder.wait().unwrap();
        let (got, panics) = drain(|| map.next(), 100);
        drop(map);
        drop(pool);
        let got: Vec<Result<usize, TaskError>> = got.into_iter().map(|r| r.map(Item::defuse)).collect();
        lin.assert_settled("inputs");
        lout.assert_settled("results");
        assert!(panics.len() <= 1, "{panics:?}");
        // Item 1, then chunks 1..=3 (six items) and the one input read
        // after the shutdown, all cancelled.
        let mut expected = vec![Ok(1)];
        expected.extend((0..7).map(|_| Err(TaskError::Cancelled)));
        assert_eq!(got, expected, "panics: {panics:?}");
    });
}

/// Panic payloads whose `Drop` panics, several in one chunk, left unread:
/// a map dropped halfway through such a chunk, or chunks nobody reads.
/// The chunk's failures were a plain `Vec`, whose drop unwinding from the
/// first payload's panic aborted the process at the second ("panic in a
/// destructor during cleanup"), for `map`, `try_map` and `map_unordered`.
#[test]
fn unread_failures_whose_payloads_panic_on_drop_cost_no_abort() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("{INTENTIONAL}: a panic payload's drop");
        }
    }
    fn f(x: u32) -> u32 {
        if x % 2 == 1 {
            panic::panic_any(Bomb);
        }
        x
    }
    in_child("unread_failures_whose_payloads_panic_on_drop_cost_no_abort", || {
        quiet_intentional_panics();
        let pool = ThreadPool::new(2).unwrap();
        for round in 0..3 {
            let first = match round {
                0 => pool.try_map(f, 0..1000u32).chunk_size(10).next().map(|r| r.is_ok()),
                1 => pool.map_unordered(f, 0..1000u32).chunk_size(10).next().map(|(_, r)| r.is_ok() || r.is_err()),
                _ => {
                    let mut map = pool.map(f, 0..1000u32).chunk_size(10);
                    let first = map.next().map(|x| x == 0);
                    // The map stops at its first failure with the payload;
                    // its `Drop` panics, which the test lets go by.
                    let second = panic::catch_unwind(AssertUnwindSafe(|| map.next()));
                    if let Err(payload) = second {
                        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
                    }
                    thread::sleep(Duration::from_millis(20));
                    drop(map);
                    first
                }
            };
            thread::sleep(Duration::from_millis(20));
            assert_eq!(first, Some(true), "round {round}");
        }
        drop(pool);
    });
}
