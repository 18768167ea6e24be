//! Adversarial tests, through the public API only, of the map engine's
//! `Cursor` rework (`src/map/values.rs`, `ordered.rs`, `unordered.rs`):
//! the run being handed out lives in the map (outside its boxed engine),
//! moves between the map, the engine (`Current`, its `pending` run) and
//! `Map::fold`'s local, and is forgotten once spent (`replace_spent`).
//! Interleavings of `next`, `fold`, `try_fold`-based adapters, `size_hint`,
//! settings, drops, panics of `f`, of the input iterator and of values'
//! `Drop`, and `shutdown_now` are where a value could be lost, dropped
//! twice, or read after its buffer went back to the spares.
//!
//! Every value made is counted per index in a [`Live`] ledger, checked
//! (once the pool is joined: workers drop results nobody reads) to have
//! been dropped exactly once. Sizes shrink under Miri.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{panic_message, quiet_intentional_panics, within, INTENTIONAL};
use pool::{Chunking, TaskError, ThreadPool};

const LIMIT: Duration = Duration::from_secs(30);

/// Inputs per map: small under Miri.
const N: usize = if cfg!(miri) { 13 } else { 200 };

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Values of one kind made and dropped, per index.
struct Live {
    made: Vec<AtomicUsize>,
    dropped: Vec<AtomicUsize>,
}

impl Live {
    fn new(n: usize) -> Arc<Live> {
        Arc::new(Live {
            made: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            dropped: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        })
    }

    fn val(self: &Arc<Self>, i: usize, bomb: bool) -> Val {
        self.made[i].fetch_add(1, Ordering::SeqCst);
        Val { i, bomb, live: Arc::clone(self) }
    }

    fn made(&self, i: usize) -> usize {
        self.made[i].load(Ordering::SeqCst)
    }

    /// Every value made was dropped exactly once, and none made twice.
    fn assert_settled(&self, what: &str) {
        for i in 0..self.made.len() {
            let (made, dropped) = (self.made(i), self.dropped[i].load(Ordering::SeqCst));
            assert!(made <= 1, "{what}: value {i} made {made} times");
            assert_eq!(made, dropped, "{what}: value {i} made {made} times, dropped {dropped} times");
        }
    }

    fn count_made(&self) -> usize {
        (0..self.made.len()).map(|i| self.made(i)).sum()
    }
}

/// A counted value; a bomb's `Drop` panics unless it was defused (so
/// whatever the test receives it defuses).
struct Val {
    i: usize,
    bomb: bool,
    live: Arc<Live>,
}

impl Val {
    fn take(mut self) -> usize {
        self.bomb = false;
        self.i
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        self.live.dropped[self.i].fetch_add(1, Ordering::SeqCst);
        if self.bomb {
            panic!("{INTENTIONAL}: bomb {} dropped", self.i);
        }
    }
}

/// Counted inputs `0..n` (exact size), `bomb(i)` ones panicking on drop.
fn inputs(live: &Arc<Live>, n: usize, bomb: fn(usize) -> bool) -> impl ExactSizeIterator<Item = Val> + Send + 'static {
    let live = Arc::clone(live);
    (0..n).map(move |i| live.val(i, bomb(i)))
}

/// `f`: takes the input, panics (with a `String` payload naming `i`) when
/// `panics(i)`, else makes a counted result, a bomb when `bomb(i)`.
fn f_counted(
    outs: &Arc<Live>,
    panics: fn(usize) -> bool,
    bomb: fn(usize) -> bool,
) -> impl Fn(Val) -> Val + Send + Sync + 'static {
    let outs = Arc::clone(outs);
    move |x: Val| {
        let i = x.take();
        if panics(i) {
            panic::panic_any(format!("{INTENTIONAL}: f({i})"));
        }
        outs.val(i, bomb(i))
    }
}

fn never(_: usize) -> bool {
    false
}

fn f_payload(i: usize) -> String {
    format!("{INTENTIONAL}: f({i})")
}

/// (chunking, window) pairs: the extremes and the defaults.
fn configs() -> Vec<(Chunking, Option<usize>)> {
    if cfg!(miri) {
        return vec![(Chunking::Fixed(1), Some(1)), (Chunking::Fixed(3), None), (Chunking::Auto, Some(usize::MAX))];
    }
    let mut all = vec![];
    for chunking in [Chunking::Fixed(1), Chunking::Fixed(3), Chunking::Fixed(usize::MAX), Chunking::Auto] {
        for window in [None, Some(1), Some(usize::MAX)] {
            all.push((chunking, window));
        }
    }
    all.push((Chunking::Fixed(64), Some(2)));
    all
}

/// Fewer pairs, for the tests that multiply them by several endings.
fn few_configs() -> Vec<(Chunking, Option<usize>)> {
    if cfg!(miri) {
        return vec![(Chunking::Fixed(1), Some(1)), (Chunking::Fixed(3), None)];
    }
    vec![
        (Chunking::Fixed(1), Some(1)),
        (Chunking::Fixed(3), None),
        (Chunking::Fixed(64), Some(2)),
        (Chunking::Fixed(usize::MAX), None),
        (Chunking::Auto, Some(usize::MAX)),
    ]
}

/// Prefix lengths to take with `next` before switching style.
fn prefixes(n: usize) -> Vec<usize> {
    if cfg!(miri) {
        vec![0, 1, 4]
    } else {
        vec![0, 1, 3, 65, n - 1, n]
    }
}

macro_rules! configure {
    ($map:expr, $chunking:expr, $window:expr) => {{
        let map = $map.chunk_size($chunking);
        match $window {
            Some(w) => map.window(w),
            None => map,
        }
    }};
}

/// Runs `body`, returning the panic message if it panicked.
fn caught<R>(body: impl FnOnce() -> R) -> Result<R, String> {
    panic::catch_unwind(AssertUnwindSafe(body))
        .map_err(|payload| panic_message(&*payload).unwrap_or("<not a string>").to_owned())
}

/// An exact-size input of counted values `0..n` that panics once, instead
/// of yielding, at each position in `panics_at` (then yields it on the
/// next call). Its `size_hint` is exact throughout, panics included.
struct PanickyExact {
    next: usize,
    n: usize,
    panics_at: Vec<usize>,
    live: Arc<Live>,
}

impl Iterator for PanickyExact {
    type Item = Val;

    fn next(&mut self) -> Option<Val> {
        if self.next == self.n {
            return None;
        }
        if let Some(k) = self.panics_at.iter().position(|&p| p == self.next) {
            self.panics_at.swap_remove(k);
            panic!("{INTENTIONAL}: input iterator at {}", self.next);
        }
        self.next += 1;
        Some(self.live.val(self.next - 1, false))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.n - self.next, Some(self.n - self.next))
    }
}

impl ExactSizeIterator for PanickyExact {}

// ---------------------------------------------------------------------------
// Mixed consumption: next, try_fold-based adapters, size_hint, fold, drop
// ---------------------------------------------------------------------------

/// An ordered map read with a few `next`s, then a `by_ref` adapter (the
/// `try_fold` path, which reads the map's own cursor), then either
/// `Map::fold` (which moves the run into a local) or a drop: everything in
/// order, `len()` exact at each step, every input and result dropped once.
#[test]
fn next_then_by_ref_then_fold_or_drop_hands_out_everything_once_in_order() {
    quiet_intentional_panics();
    within(LIMIT, "mixed ordered consumption", || {
        for (chunking, window) in configs() {
            for k in prefixes(N) {
                for finish_with_fold in [false, true] {
                    let what = format!("{chunking:?} {window:?} k {k} fold {finish_with_fold}");
                    let pool = ThreadPool::new(2).unwrap();
                    let (ins, outs) = (Live::new(N), Live::new(N));
                    let mut map =
                        configure!(pool.map(f_counted(&outs, never, never), inputs(&ins, N, never)), chunking, window);
                    assert_eq!(map.len(), N, "{what}");
                    for want in 0..k {
                        assert_eq!(map.next().map(Val::take), Some(want), "{what}");
                        assert_eq!(map.len(), N - want - 1, "{what}");
                    }
                    // A run's worth through the try_fold path.
                    let m = 7.min(N - k);
                    let got: Vec<usize> = map.by_ref().take(m).map(Val::take).collect();
                    assert_eq!(got, (k..k + m).collect::<Vec<_>>(), "{what}");
                    assert_eq!(map.size_hint(), (N - k - m, Some(N - k - m)), "{what}");
                    if finish_with_fold {
                        let (count, next) = map.fold((0, k + m), |(count, next), v| {
                            assert_eq!(v.take(), next);
                            (count + 1, next + 1)
                        });
                        assert_eq!((count, next), (N - k - m, N), "{what}");
                    } else {
                        drop(map);
                    }
                    drop(pool);
                    ins.assert_settled(&format!("{what}: inputs"));
                    outs.assert_settled(&format!("{what}: results"));
                    // Every input handed out was computed.
                    for i in 0..k + m {
                        assert_eq!(outs.made(i), 1, "{what}: result {i}");
                    }
                }
            }
        }
    });
}

/// The same interleaving for `try_map` (whose fold is the default one,
/// over `next`) and `map_unordered` (each index once), dropping midway.
#[test]
fn try_map_and_unordered_mixed_consumption_drop_every_value_once() {
    quiet_intentional_panics();
    within(LIMIT, "mixed try/unordered consumption", || {
        for (chunking, window) in configs() {
            for k in prefixes(N) {
                let what = format!("{chunking:?} {window:?} k {k}");
                let pool = ThreadPool::new(2).unwrap();
                let (ins, outs) = (Live::new(N), Live::new(N));
                let mut map =
                    configure!(pool.try_map(f_counted(&outs, never, never), inputs(&ins, N, never)), chunking, window);
                for want in 0..k {
                    assert_eq!(map.next().map(|r| r.map(Val::take)), Some(Ok(want)), "{what}");
                    assert_eq!(map.len(), N - want - 1, "{what}");
                }
                let third = (N - k) / 3;
                let sum = map.by_ref().take(third).fold(0, |acc, r| acc + r.unwrap().take());
                assert_eq!(sum, (k..k + third).sum::<usize>(), "{what}");
                assert_eq!(map.len(), N - k - third, "{what}");
                drop(map);

                let (uins, uouts) = (Live::new(N), Live::new(N));
                let mut map = configure!(
                    pool.map_unordered(f_counted(&uouts, never, never), inputs(&uins, N, never)),
                    chunking,
                    window
                );
                let mut seen = [false; N];
                for got in 0..k {
                    let (i, r) = map.next().expect("an item");
                    assert_eq!(r.map(Val::take), Ok(i), "{what}");
                    assert!(!std::mem::replace(&mut seen[i], true), "{what}: index {i} twice");
                    assert_eq!(map.len(), N - got - 1, "{what}");
                }
                for (i, r) in map.by_ref().take(third) {
                    assert_eq!(r.map(Val::take), Ok(i), "{what}");
                    assert!(!std::mem::replace(&mut seen[i], true), "{what}: index {i} twice");
                }
                assert_eq!(map.len(), N - k - third, "{what}");
                drop(map);
                drop(pool);
                for (live, kind) in [(&ins, "try inputs"), (&outs, "try results"), (&uins, "unordered inputs")] {
                    live.assert_settled(&format!("{what}: {kind}"));
                }
                uouts.assert_settled(&format!("{what}: unordered results"));
                for (i, seen) in seen.iter().enumerate() {
                    if *seen {
                        assert_eq!(uouts.made(i), 1, "{what}");
                    }
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Values whose Drop panics
// ---------------------------------------------------------------------------

fn every_third(i: usize) -> bool {
    i % 3 == 1
}

/// Results (and inputs) whose `Drop` panics, left unread in the map's run,
/// in the engine and in flight when the map is dropped: the drop raises at
/// most one panic (a bomb's, not an abort), every value dropped once. Then
/// the same maps read to the end through `Map::fold`, defusing each.
#[test]
fn bombs_left_in_the_run_cost_one_panic_when_the_map_is_dropped() {
    quiet_intentional_panics();
    within(LIMIT, "bombs in the run", || {
        for (chunking, window) in few_configs() {
            for k in prefixes(N) {
                for flavour in 0..3 {
                    let what = format!("{chunking:?} {window:?} k {k} flavour {flavour}");
                    let pool = ThreadPool::new(2).unwrap();
                    let (ins, outs) = (Live::new(N), Live::new(N));
                    let f = f_counted(&outs, never, every_third);
                    let xs = inputs(&ins, N, |i| i % 5 == 4);
                    let dropped = match flavour {
                        0 => {
                            let mut map = configure!(pool.map(f, xs), chunking, window);
                            for want in 0..k {
                                assert_eq!(map.next().map(Val::take), Some(want), "{what}");
                            }
                            caught(move || drop(map))
                        }
                        1 => {
                            let mut map = configure!(pool.try_map(f, xs), chunking, window);
                            for want in 0..k {
                                assert_eq!(map.next().map(|r| r.map(Val::take)), Some(Ok(want)), "{what}");
                            }
                            caught(move || drop(map))
                        }
                        _ => {
                            let mut map = configure!(pool.map(f, xs), chunking, window);
                            for want in 0..k {
                                assert_eq!(map.next().map(Val::take), Some(want), "{what}");
                            }
                            let end = map.fold(k, |next, v| {
                                assert_eq!(v.take(), next);
                                next + 1
                            });
                            assert_eq!(end, N, "{what}");
                            Ok(())
                        }
                    };
                    if let Err(message) = dropped {
                        assert!(message.contains("bomb"), "{what}: dropping the map raised {message:?}");
                    }
                    drop(pool);
                    ins.assert_settled(&format!("{what}: inputs"));
                    outs.assert_settled(&format!("{what}: results"));
                }
            }
        }
    });
}

/// A fold closure that panics while the run it drains still holds
/// results whose `Drop` panics: those are dropped while unwinding, so
/// quietly (a second panic would abort), and the closure's own panic is
/// the one that comes out. Also for the try_fold path (`by_ref`).
#[test]
fn a_panicking_fold_closure_over_unread_bombs_raises_its_own_panic_only() {
    quiet_intentional_panics();
    within(LIMIT, "fold closure panics over bombs", || {
        for (chunking, window) in few_configs() {
            for stop in [0, 1, 4, N / 2] {
                for by_ref in [false, true] {
                    let what = format!("{chunking:?} {window:?} stop {stop} by_ref {by_ref}");
                    let pool = ThreadPool::new(2).unwrap();
                    let (ins, outs) = (Live::new(N), Live::new(N));
                    let mut map = configure!(
                        pool.map(f_counted(&outs, never, |_| true), inputs(&ins, N, |_| true)),
                        chunking,
                        window
                    );
                    let g = |n: usize, v: Val| {
                        let i = v.take();
                        assert_eq!(i, n);
                        if i == stop {
                            panic!("{INTENTIONAL}: fold closure at {i}");
                        }
                        n + 1
                    };
                    let result = if by_ref {
                        caught(|| map.by_ref().fold(0, g))
                    } else {
                        let map = std::mem::replace(
                            &mut map,
                            pool.map(f_counted(&outs, never, never), inputs(&ins, 0, never)),
                        );
                        caught(move || map.fold(0, g))
                    };
                    assert_eq!(result, Err(format!("{INTENTIONAL}: fold closure at {stop}")), "{what}");
                    if by_ref {
                        // The map is still usable: the next item follows.
                        if stop + 1 < N {
                            assert_eq!(map.len(), N - stop - 1, "{what}");
                            assert_eq!(map.next().map(Val::take), Some(stop + 1), "{what}");
                        }
                    }
                    let dropped = caught(move || drop(map));
                    if let Err(message) = dropped {
                        assert!(message.contains("bomb"), "{what}: {message:?}");
                    }
                    drop(pool);
                    ins.assert_settled(&format!("{what}: inputs"));
                    outs.assert_settled(&format!("{what}: results"));
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Panics in f: re-raised at their item with the original payload
// ---------------------------------------------------------------------------

fn panics_sometimes(i: usize) -> bool {
    i % 7 == 3 || i == 0 || (20..24).contains(&i)
}

/// `Map` re-raises each panic of `f` at its item with the original payload
/// (a `String`), and is used on afterwards: the next item continues, and
/// `len()` counts down by one per item, panics included. The rest is read
/// by `by_ref` adapters and a final `fold`, which stops at the next panic;
/// everything is dropped once.
#[test]
fn panics_of_f_surface_at_their_item_and_every_consumption_style_goes_on() {
    quiet_intentional_panics();
    within(LIMIT, "panics of f", || {
        for (chunking, window) in configs() {
            let what = format!("{chunking:?} {window:?}");
            let pool = ThreadPool::new(2).unwrap();
            let (ins, outs) = (Live::new(N), Live::new(N));
            let mut map = configure!(
                pool.map(f_counted(&outs, panics_sometimes, never), inputs(&ins, N, never)),
                chunking,
                window
            );
            let mut next = 0;
            // By next, past several panics.
            while next < N.min(30) {
                assert_eq!(map.len(), N - next, "{what} at {next}");
                match caught(|| map.next().map(Val::take)) {
                    Ok(got) => {
                        assert!(!panics_sometimes(next), "{what}: {next} did not panic");
                        assert_eq!(got, Some(next), "{what}");
                    }
                    Err(message) => {
                        assert!(panics_sometimes(next), "{what}: {next} panicked: {message}");
                        assert_eq!(message, f_payload(next), "{what}");
                    }
                }
                next += 1;
            }
            // By a by_ref fold, which stops at the next panic, raising it.
            let upto = (next..N).find(|&i| panics_sometimes(i));
            let folded = caught(|| {
                map.by_ref().fold(next, |n, v| {
                    assert_eq!(v.take(), n);
                    n + 1
                })
            });
            match upto {
                Some(p) => {
                    assert_eq!(folded, Err(f_payload(p)), "{what}");
                    next = p + 1;
                }
                None => {
                    assert_eq!(folded, Ok(N), "{what}");
                    next = N;
                }
            }
            assert_eq!(map.len(), N - next, "{what}");
            // A try_fold adapter: find the next multiple of 10 not panicking.
            let target = (next..N).find(|&i| i % 10 == 0 && !panics_sometimes(i));
            if let (Some(t), None) = (target, (next..target.unwrap_or(N)).find(|&i| panics_sometimes(i))) {
                assert_eq!(map.find(|v| v.i % 10 == 0).map(Val::take), Some(t), "{what}");
                next = t + 1;
                assert_eq!(map.len(), N - next, "{what}");
            }
            // Map::fold to the end, raising at the next panic if any.
            let upto = (next..N).find(|&i| panics_sometimes(i));
            let folded = caught(move || {
                map.fold(next, |n, v| {
                    assert_eq!(v.take(), n);
                    n + 1
                })
            });
            match upto {
                Some(p) => assert_eq!(folded, Err(f_payload(p)), "{what}"),
                None => assert_eq!(folded, Ok(N), "{what}"),
            }
            drop(pool);
            ins.assert_settled(&format!("{what}: inputs"));
            outs.assert_settled(&format!("{what}: results"));
        }
    });
}

/// `try_map` and `map_unordered` with failures: every item once, failures
/// carrying the original payload at their index, `len()` exact after each.
#[test]
fn failures_in_try_map_and_unordered_keep_len_exact_and_payloads_original() {
    quiet_intentional_panics();
    within(LIMIT, "failures, try and unordered", || {
        for (chunking, window) in configs() {
            let what = format!("{chunking:?} {window:?}");
            let pool = ThreadPool::new(2).unwrap();
            let (ins, outs) = (Live::new(N), Live::new(N));
            let mut map = configure!(
                pool.try_map(f_counted(&outs, panics_sometimes, never), inputs(&ins, N, never)),
                chunking,
                window
            );
            for i in 0..N {
                assert_eq!(map.len(), N - i, "{what}");
                match map.next().expect("an item") {
                    Ok(v) => assert_eq!((v.take(), panics_sometimes(i)), (i, false), "{what}"),
                    Err(e) => {
                        assert!(panics_sometimes(i), "{what}: {i}");
                        let p = e.into_panic().expect("a panic");
                        assert_eq!(p.downcast_ref::<String>(), Some(&f_payload(i)), "{what}");
                    }
                }
            }
            assert!(map.next().is_none());
            assert_eq!(map.len(), 0);

            let (uins, uouts) = (Live::new(N), Live::new(N));
            let mut map = configure!(
                pool.map_unordered(f_counted(&uouts, panics_sometimes, never), inputs(&uins, N, never)),
                chunking,
                window
            );
            let mut seen = [false; N];
            for got in 0..N {
                assert_eq!(map.len(), N - got, "{what}");
                let (i, r) = map.next().expect("an item");
                assert!(!std::mem::replace(&mut seen[i], true), "{what}: {i} twice");
                match r {
                    Ok(v) => assert_eq!((v.take(), panics_sometimes(i)), (i, false), "{what}"),
                    Err(e) => assert_eq!(e.panic_message(), Some(f_payload(i).as_str()), "{what}"),
                }
            }
            assert!(map.next().is_none());
            drop(map);
            drop(pool);
            ins.assert_settled(&what);
            outs.assert_settled(&what);
            uins.assert_settled(&what);
            uouts.assert_settled(&what);
        }
    });
}

// ---------------------------------------------------------------------------
// The input iterator panics (the engine's pending run)
// ---------------------------------------------------------------------------

/// An exact-size input that panics now and then, including right after the
/// consumer set a chunk's results (a small window makes the top-up after
/// `set` pull inputs): the map is used on after each panic, loses and
/// repeats nothing, `len()` stays exact, and a `fold` taken over after a
/// panic (the run is then the engine's pending one) reads on in order.
#[test]
fn an_input_panicking_after_a_chunk_was_set_loses_and_repeats_nothing() {
    quiet_intentional_panics();
    within(LIMIT, "input panics", || {
        let chunkings = if cfg!(miri) { vec![1, 2] } else { vec![1, 2, 3, 5] };
        for workers in [1, 2] {
            for &c in &chunkings {
                for window in [1, 2, 3] {
                    for fold_after in [None, Some(1), Some(2)] {
                        let what = format!("workers {workers} chunk {c} window {window} fold after {fold_after:?}");
                        let pool = ThreadPool::new(workers).unwrap();
                        let (ins, outs) = (Live::new(N), Live::new(N));
                        let panics_at: Vec<usize> = (1..N).filter(|p| p % 4 == 1 || p % 9 == 0).collect();
                        let xs = PanickyExact { next: 0, n: N, panics_at, live: Arc::clone(&ins) };
                        let mut map = pool.map(f_counted(&outs, never, never), xs).chunk_size(c).window(window);
                        let (mut got, mut panics) = (0, 0);
                        loop {
                            assert_eq!(map.len(), N - got, "{what}");
                            if fold_after == Some(panics) && panics > 0 {
                                // Take the rest by fold, catching a further
                                // input panic (which ends the fold and map).
                                let from = got;
                                let end = caught(move || {
                                    map.fold(from, |n, v| {
                                        assert_eq!(v.take(), n);
                                        n + 1
                                    })
                                });
                                if let Ok(end) = end {
                                    assert_eq!(end, N, "{what}");
                                }
                                break;
                            }
                            match caught(|| map.next().map(Val::take)) {
                                Ok(Some(i)) => {
                                    assert_eq!(i, got, "{what}");
                                    got += 1;
                                }
                                Ok(None) => {
                                    assert_eq!(got, N, "{what}");
                                    drop(map);
                                    break;
                                }
                                Err(message) => {
                                    assert!(message.contains("input iterator"), "{what}: {message}");
                                    panics += 1;
                                }
                            }
                        }
                        drop(pool);
                        ins.assert_settled(&format!("{what}: inputs"));
                        outs.assert_settled(&format!("{what}: results"));
                    }
                }
            }
        }
    });
}

/// The input panics right after the consumer set a chunk whose results
/// panic on drop (chunks of one, a window of one: the top-up after `set`
/// pulls the input that panics), so those results sit in the engine's
/// pending run; the map is then dropped, or read by `len`, `fold` and
/// `next`: one bomb panic at most, every value dropped once.
#[test]
fn bombs_in_the_pending_run_after_an_input_panic_are_dropped_once() {
    quiet_intentional_panics();
    within(LIMIT, "pending bombs", || {
        for c in [1, 2] {
            for ending in 0..3 {
                let what = format!("chunk {c} ending {ending}");
                let pool = ThreadPool::new(1).unwrap();
                let (ins, outs) = (Live::new(N), Live::new(N));
                let xs = PanickyExact { next: 0, n: N, panics_at: vec![c, 3 * c], live: Arc::clone(&ins) };
                let mut map = pool.map(f_counted(&outs, never, |_| true), xs).chunk_size(c).window(1);
                let first = caught(|| map.next().map(Val::take));
                assert!(first.as_ref().is_err_and(|m| m.contains("input iterator")), "{what}: {first:?}");
                assert_eq!(map.len(), N, "{what}");
                let result = match ending {
                    0 => caught(move || drop(map)),
                    1 => caught(move || {
                        assert_eq!(map.next().map(Val::take), Some(0));
                        assert_eq!(map.len(), N - 1);
                        map.fold(1, |n, v| {
                            assert_eq!(v.take(), n);
                            n + 1
                        })
                    })
                    .map(drop),
                    _ => caught(move || {
                        let got: Vec<usize> = map.by_ref().take(c + 1).map(Val::take).collect();
                        assert_eq!(got, (0..=c).collect::<Vec<_>>());
                        drop(map)
                    }),
                };
                if let Err(message) = result {
                    assert!(message.contains("bomb") || message.contains("input iterator"), "{what}: {message}");
                }
                drop(pool);
                ins.assert_settled(&format!("{what}: inputs"));
                outs.assert_settled(&format!("{what}: results"));
            }
        }
    });
}

/// The same panicking input under `try_map` and `map_unordered`: each
/// index handed out once, `len()` exact after every call.
#[test]
fn an_input_panicking_under_try_map_and_unordered_loses_nothing() {
    quiet_intentional_panics();
    within(LIMIT, "input panics, try and unordered", || {
        for c in [1, 2, 3] {
            for window in [1, 2] {
                let what = format!("chunk {c} window {window}");
                let pool = ThreadPool::new(2).unwrap();
                let (ins, outs) = (Live::new(N), Live::new(N));
                let panics_at: Vec<usize> = (1..N).filter(|p| p % 3 == 2).collect();
                let xs = PanickyExact { next: 0, n: N, panics_at: panics_at.clone(), live: Arc::clone(&ins) };
                let mut map = pool.try_map(f_counted(&outs, never, never), xs).chunk_size(c).window(window);
                let mut got = 0;
                while got < N {
                    assert_eq!(map.len(), N - got, "{what}");
                    if let Ok(item) = caught(|| map.next()) {
                        assert_eq!(item.map(|r| r.map(Val::take)), Some(Ok(got)), "{what}");
                        got += 1;
                    }
                }
                assert!(map.next().is_none(), "{what}");

                let (uins, uouts) = (Live::new(N), Live::new(N));
                let xs = PanickyExact { next: 0, n: N, panics_at, live: Arc::clone(&uins) };
                let mut map = pool.map_unordered(f_counted(&uouts, never, never), xs).chunk_size(c).window(window);
                let mut seen = [false; N];
                let mut got = 0;
                while got < N {
                    assert_eq!(map.len(), N - got, "{what}");
                    if let Ok(item) = caught(|| map.next()) {
                        let (i, r) = item.expect("an item");
                        assert_eq!(r.map(Val::take), Ok(i), "{what}");
                        assert!(!std::mem::replace(&mut seen[i], true), "{what}: {i} twice");
                        got += 1;
                    }
                }
                assert!(map.next().is_none(), "{what}");
                drop(map);
                drop(pool);
                for live in [&ins, &outs, &uins, &uouts] {
                    live.assert_settled(&what);
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------
// shutdown_now
// ---------------------------------------------------------------------------

/// `shutdown_now` after some items, with the map holding a part-read run:
/// then drop it, drain it by `next`, or fold it (raising at the first
/// cancelled item). Every value once, whatever ran or was cancelled.
#[test]
fn shutdown_now_with_a_part_read_run_drops_every_value_once() {
    quiet_intentional_panics();
    within(LIMIT, "shutdown_now", || {
        for (chunking, window) in few_configs() {
            for k in [0, 1, 5] {
                for ending in 0..3 {
                    for flavour in 0..3 {
                        let what = format!("{chunking:?} {window:?} k {k} ending {ending} flavour {flavour}");
                        let pool = ThreadPool::new(2).unwrap();
                        let (ins, outs) = (Live::new(N), Live::new(N));
                        let f = f_counted(&outs, never, every_third);
                        let xs = inputs(&ins, N, never);
                        let result = match flavour {
                            0 => {
                                let mut map = configure!(pool.map(f, xs), chunking, window);
                                for want in 0..k {
                                    assert_eq!(map.next().map(Val::take), Some(want), "{what}");
                                }
                                pool.shutdown_now();
                                match ending {
                                    0 => caught(move || drop(map)),
                                    1 => caught(move || {
                                        for v in map.by_ref() {
                                            v.take();
                                        }
                                    }),
                                    _ => caught(move || {
                                        map.fold((), |(), v| {
                                            v.take();
                                        })
                                    }),
                                }
                            }
                            1 => {
                                let mut map = configure!(pool.try_map(f, xs), chunking, window);
                                for want in 0..k {
                                    assert_eq!(map.next().map(|r| r.map(Val::take)), Some(Ok(want)), "{what}");
                                }
                                pool.shutdown_now();
                                match ending {
                                    0 => caught(move || drop(map)),
                                    _ => caught(move || {
                                        for v in map.flatten() {
                                            v.take();
                                        }
                                    }),
                                }
                            }
                            _ => {
                                let mut map = configure!(pool.map_unordered(f, xs), chunking, window);
                                for _ in 0..k {
                                    let (i, r) = map.next().unwrap();
                                    assert_eq!(r.map(Val::take), Ok(i), "{what}");
                                }
                                pool.shutdown_now();
                                match ending {
                                    0 => caught(move || drop(map)),
                                    _ => caught(move || {
                                        for (_, r) in map {
                                            if let Ok(v) = r {
                                                v.take();
                                            }
                                        }
                                    }),
                                }
                            }
                        };
                        if let Err(message) = result {
                            assert!(message.contains("bomb") || message.contains("cancel"), "{what}: {message:?}");
                        }
                        drop(pool);
                        ins.assert_settled(&format!("{what}: inputs"));
                        outs.assert_settled(&format!("{what}: results"));
                    }
                }
            }
        }
    });
}

/// After `shutdown_now`, `len()` of a map over an exact input must still
/// equal the number of items it then hands out (`ExactSizeIterator`): the
/// map reads one more input after a shutdown and then ends.
#[test]
fn len_after_shutdown_now_counts_what_is_then_handed_out() {
    quiet_intentional_panics();
    within(LIMIT, "len after shutdown_now", || {
        for (chunking, window) in configs() {
            for k in [0, 1, 5] {
                let what = format!("{chunking:?} {window:?} k {k}");
                let pool = ThreadPool::new(2).unwrap();
                let mut map = configure!(pool.try_map(|x: usize| x, 0..N), chunking, window);
                for want in 0..k {
                    assert_eq!(map.next(), Some(Ok(want)), "{what}");
                }
                pool.shutdown_now();
                let len = map.len();
                assert_eq!(map.size_hint(), (len, Some(len)), "{what}");
                let mut rest = 0;
                while map.next().is_some() {
                    rest += 1;
                    assert_eq!(map.len(), len - rest, "{what}");
                }
                assert_eq!(rest, len, "{what}: len() was {len} right after shutdown_now");

                let mut map = configure!(pool.map_unordered(|x: usize| x, 0..N), chunking, window);
                let len = map.len();
                let rest = map.by_ref().count();
                assert_eq!(rest, len, "{what}: unordered, len() was {len} after shutdown_now");
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Zero-sized and over-aligned values, and values without drop glue
// ---------------------------------------------------------------------------

static ZST_LIVE: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];
static ZST_MADE: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

/// A zero-sized value counted in slot `K` (live = made − dropped).
struct Zst<const K: usize>;

impl<const K: usize> Zst<K> {
    fn new() -> Self {
        ZST_MADE[K].fetch_add(1, Ordering::SeqCst);
        ZST_LIVE[K].fetch_add(1, Ordering::SeqCst);
        Zst
    }
}

impl<const K: usize> Drop for Zst<K> {
    fn drop(&mut self) {
        ZST_LIVE[K].fetch_sub(1, Ordering::SeqCst);
    }
}

/// Zero-sized inputs and results with drop glue, through every flavour,
/// read partly by next, partly by fold, or dropped: live counts return to
/// zero and every input yields one result. (Both counters belong to this
/// test alone.)
#[test]
fn zero_sized_values_with_drop_glue_are_dropped_exactly_once() {
    within(LIMIT, "zero-sized values", || {
        for (chunking, window) in configs() {
            for k in [0, 1, 7] {
                for flavour in 0..4 {
                    let what = format!("{chunking:?} {window:?} k {k} flavour {flavour}");
                    let made_before = ZST_MADE[1].load(Ordering::SeqCst);
                    let pool = ThreadPool::new(2).unwrap();
                    let xs = (0..N).map(|_| Zst::<0>::new());
                    let f = |x: Zst<0>| {
                        drop(x);
                        Zst::<1>::new()
                    };
                    match flavour {
                        0 => {
                            let mut map = configure!(pool.map(f, xs), chunking, window);
                            for _ in 0..k {
                                assert!(map.next().is_some(), "{what}");
                            }
                            assert_eq!(map.len(), N - k, "{what}");
                            assert_eq!(
                                map.fold(0, |n, z| {
                                    drop(z);
                                    n + 1
                                }),
                                N - k,
                                "{what}"
                            );
                        }
                        1 => {
                            let mut map = configure!(pool.map(f, xs), chunking, window);
                            for _ in 0..k {
                                assert!(map.next().is_some(), "{what}");
                            }
                            assert_eq!(map.by_ref().take(3).count(), 3.min(N - k), "{what}");
                            drop(map);
                        }
                        2 => {
                            let mut map = configure!(pool.try_map(f, xs), chunking, window);
                            assert_eq!(map.by_ref().take(k).filter(Result::is_ok).count(), k, "{what}");
                            drop(map);
                        }
                        _ => {
                            let mut map = configure!(pool.map_unordered(f, xs), chunking, window);
                            let mut seen = [false; N];
                            for _ in 0..k {
                                let (i, r) = map.next().unwrap();
                                assert!(r.is_ok() && !std::mem::replace(&mut seen[i], true), "{what}");
                            }
                            drop(map);
                        }
                    }
                    drop(pool);
                    assert_eq!(ZST_LIVE[0].load(Ordering::SeqCst), 0, "{what}: inputs live");
                    assert_eq!(ZST_LIVE[1].load(Ordering::SeqCst), 0, "{what}: results live");
                    if flavour == 0 {
                        assert_eq!(ZST_MADE[1].load(Ordering::SeqCst) - made_before, N, "{what}");
                    }
                }
            }
        }
    });
}

/// A value aligned to 128 bytes with a checksum and a counted drop.
#[repr(align(128))]
struct Wide {
    i: usize,
    check: [u64; 3],
    live: Arc<Live>,
}

impl Wide {
    fn new(i: usize, live: &Arc<Live>) -> Self {
        live.made[i].fetch_add(1, Ordering::SeqCst);
        Wide { i, check: [i as u64, !(i as u64), (i as u64).wrapping_mul(0x9E37_79B9)], live: Arc::clone(live) }
    }

    fn verify(&self) -> usize {
        assert_eq!((self as *const Self as usize) % 128, 0, "misaligned");
        let i = self.i as u64;
        assert_eq!(self.check, [i, !i, i.wrapping_mul(0x9E37_79B9)], "corrupt value {}", self.i);
        self.i
    }
}

impl Drop for Wide {
    fn drop(&mut self) {
        self.verify();
        self.live.dropped[self.i].fetch_add(1, Ordering::SeqCst);
    }
}

/// Over-aligned inputs and results (align 128) through reused buffers:
/// intact and aligned wherever they are seen (in `f`, handed out, dropped
/// unread), each dropped once; with next, fold and drop mixed.
#[test]
fn over_aligned_values_stay_intact_through_the_cursor() {
    within(LIMIT, "over-aligned values", || {
        for (chunking, window) in configs() {
            for k in [0, 1, 9] {
                for fold in [false, true] {
                    let what = format!("{chunking:?} {window:?} k {k} fold {fold}");
                    let pool = ThreadPool::new(2).unwrap();
                    let (ins, outs) = (Live::new(N), Live::new(N));
                    let o = Arc::clone(&outs);
                    let l = Arc::clone(&ins);
                    let xs = (0..N).map(move |i| Wide::new(i, &l));
                    let mut map = configure!(pool.map(move |x: Wide| Wide::new(x.verify(), &o), xs), chunking, window);
                    for want in 0..k {
                        assert_eq!(map.next().map(|w| w.verify()), Some(want), "{what}");
                    }
                    if fold {
                        assert_eq!(
                            map.fold(k, |n, w| {
                                assert_eq!(w.verify(), n);
                                n + 1
                            }),
                            N,
                            "{what}"
                        );
                    } else {
                        drop(map);
                    }
                    let uins = Live::new(N);
                    let mut unordered = configure!(
                        pool.map_unordered(|x: Wide| x, (0..N).map(|i| Wide::new(i, &uins)).collect::<Vec<_>>()),
                        chunking,
                        window
                    );
                    for _ in 0..k {
                        let (i, r) = unordered.next().unwrap();
                        assert_eq!(r.map(|w| w.verify()), Ok(i), "{what}");
                    }
                    drop(unordered);
                    drop(pool);
                    ins.assert_settled(&format!("{what}: inputs"));
                    uins.assert_settled(&format!("{what}: unordered"));
                    outs.assert_settled(&format!("{what}: results"));
                }
            }
        }
    });
}

/// Results without drop glue (u64) and tiny `f`: `fold`, `sum`, `count`,
/// `for_each`, `last` and the try_fold adapters give a sequential
/// iterator's answers, also after a few `next`s and on a by_ref map.
#[test]
fn adapters_give_the_sequential_answers() {
    within(LIMIT, "adapters", || {
        let n = N;
        let f = |x: usize| (x as u64).wrapping_mul(x as u64) ^ (x as u64 >> 3);
        let seq = || (0..n).map(f);
        for (chunking, window) in configs() {
            let what = format!("{chunking:?} {window:?}");
            for workers in [1, 3] {
                let pool = ThreadPool::new(workers).unwrap();
                let m = || configure!(pool.map(f, 0..n), chunking, window);
                assert_eq!(m().sum::<u64>(), seq().sum::<u64>(), "{what}");
                assert_eq!(m().count(), N, "{what}");
                assert_eq!(m().last(), seq().next_back(), "{what}");
                assert_eq!(m().max(), seq().max(), "{what}");
                assert_eq!(m().min_by_key(|v| v % 97), seq().min_by_key(|v| v % 97), "{what}");
                assert_eq!(m().nth(N / 2), seq().nth(N / 2), "{what}");
                assert_eq!(m().nth(N), None, "{what}");
                assert_eq!(m().find(|v| v % 11 == 5), seq().find(|v| v % 11 == 5), "{what}");
                assert_eq!(m().position(|v| v % 13 == 7), seq().position(|v| v % 13 == 7), "{what}");
                assert!(m().any(|v| v == f(n - 1)), "{what}");
                assert!(!m().all(|v| v != f(n / 2)), "{what}");
                assert_eq!(
                    m().take_while(|v| v % 17 != 3).count(),
                    seq().take_while(|v| v % 17 != 3).count(),
                    "{what}"
                );
                assert_eq!(m().skip_while(|v| v % 5 != 0).sum::<u64>(), seq().skip_while(|v| v % 5 != 0).sum::<u64>());
                assert_eq!(m().step_by(7).collect::<Vec<_>>(), seq().step_by(7).collect::<Vec<_>>(), "{what}");
                assert!(m().zip(seq()).all(|(a, b)| a == b), "{what}");
                assert_eq!(
                    m().zip(m().skip(1)).map(|(a, b)| a ^ b).sum::<u64>(),
                    seq().zip(seq().skip(1)).map(|(a, b)| a ^ b).sum::<u64>()
                );
                assert_eq!(m().chain(m()).filter(|v| v % 2 == 0).count(), 2 * seq().filter(|v| v % 2 == 0).count());
                let mut seen = 0u64;
                m().for_each(|v| seen = seen.wrapping_add(v));
                assert_eq!(seen, seq().fold(0u64, u64::wrapping_add), "{what}");
                // Mixed on one map: next, nth, a by_ref find, len, then sum.
                let (mut a, mut b) = (m(), seq());
                assert_eq!((a.next(), a.next()), (b.next(), b.next()), "{what}");
                assert_eq!(a.nth(3), b.nth(3), "{what}");
                assert_eq!(a.by_ref().find(|v| v % 3 == 0), b.by_ref().find(|v| v % 3 == 0), "{what}");
                assert_eq!(a.len(), b.len(), "{what}");
                assert_eq!(a.by_ref().take(5).collect::<Vec<_>>(), b.by_ref().take(5).collect::<Vec<_>>(), "{what}");
                assert_eq!(a.size_hint(), b.size_hint(), "{what}");
                assert_eq!(a.sum::<u64>(), b.sum::<u64>(), "{what}");
                // try_map and unordered agree too.
                let t: Result<Vec<u64>, TaskError> = configure!(pool.try_map(f, 0..n), chunking, window).collect();
                assert_eq!(t.unwrap(), seq().collect::<Vec<_>>(), "{what}");
                let mut u: Vec<(usize, u64)> =
                    configure!(pool.map_unordered(f, 0..n), chunking, window).map(|(i, r)| (i, r.unwrap())).collect();
                u.sort_unstable();
                assert_eq!(u, seq().enumerate().collect::<Vec<_>>(), "{what}");
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Nesting, many workers, settings mid-iteration, scopes, starmap
// ---------------------------------------------------------------------------

/// Maps inside `f` of a map on the same pool (one worker, and three),
/// each inner map consumed in a different style (fold, next then drop,
/// by_ref then fold, unordered), with counted values throughout.
#[test]
fn nested_maps_with_mixed_consumption_drop_every_value_once() {
    within(LIMIT, "nested maps", || {
        let inner_n = if cfg!(miri) { 5 } else { 40 };
        for workers in [1, 3] {
            let pool = ThreadPool::new(workers).unwrap();
            let outs = Live::new(N * inner_n);
            let inner_pool = pool.clone();
            let o = Arc::clone(&outs);
            let mut outer = pool
                .map(
                    move |j: usize| {
                        let (p, o) = (&inner_pool, &o);
                        let o = Arc::clone(o);
                        let make = move |i: usize| o.val(j * inner_n + i, false);
                        let expect: usize = (0..inner_n).map(|i| j * inner_n + i).sum();
                        match j % 4 {
                            0 => p.map(make, 0..inner_n).chunk_size(3).fold(0, |a, v| a + v.take()),
                            1 => {
                                let mut m = p.map(make, 0..inner_n).window(1).chunk_size(2);
                                let a = m.next().unwrap().take() + m.next().unwrap().take();
                                drop(m);
                                a + expect - (2 * j * inner_n + 1)
                            }
                            2 => {
                                let mut m = p.map(make, 0..inner_n);
                                let a: usize = m.by_ref().take(3).map(Val::take).sum();
                                m.fold(a, |a, v| a + v.take())
                            }
                            _ => p.map_unordered(make, 0..inner_n).map(|(_, r)| r.unwrap().take()).sum(),
                        }
                    },
                    0..N,
                )
                .chunk_size(2);
            for j in 0..N.min(5) {
                let expect: usize = (0..inner_n).map(|i| j * inner_n + i).sum();
                assert_eq!(outer.next(), Some(expect), "workers {workers}: outer item {j}");
            }
            let rest: usize = outer.sum();
            assert_eq!(rest, (N.min(5) * inner_n..N * inner_n).sum::<usize>(), "workers {workers}");
            drop(pool);
            // Dropped inner maps may leave values made: each dropped once.
            outs.assert_settled(&format!("workers {workers}"));
        }
    });
}

/// Sixty-four workers, one-item chunks and a window of one or all: every
/// value once, in order, dropped midway or read by fold.
#[test]
fn sixty_four_workers_with_extreme_windows() {
    quiet_intentional_panics();
    within(LIMIT, "64 workers", || {
        let workers = if cfg!(miri) { 4 } else { 64 };
        let pool = ThreadPool::new(workers).unwrap();
        for window in [1, usize::MAX] {
            for chunking in [Chunking::Fixed(1), Chunking::Fixed(usize::MAX), Chunking::Auto] {
                let what = format!("{chunking:?} window {window}");
                let (ins, outs) = (Live::new(N), Live::new(N));
                let mut map = pool
                    .map(f_counted(&outs, never, every_third), inputs(&ins, N, never))
                    .chunk_size(chunking)
                    .window(window);
                for want in 0..3 {
                    assert_eq!(map.next().map(Val::take), Some(want), "{what}");
                }
                assert_eq!(
                    map.fold(3, |n, v| {
                        assert_eq!(v.take(), n);
                        n + 1
                    }),
                    N,
                    "{what}"
                );
                let mut map = pool.map(f_counted(&outs, never, every_third), inputs(&ins, 0, never)).window(window);
                assert!(map.next().is_none(), "{what}");
                ins.assert_settled(&what);
                outs.assert_settled(&what);
            }
        }
        let (ins, outs) = (Live::new(N), Live::new(N));
        let mut map = pool
            .map(f_counted(&outs, never, every_third), inputs(&ins, N, every_third))
            .chunk_size(1)
            .window(usize::MAX);
        assert_eq!(map.next().map(Val::take), Some(0));
        let dropped = caught(move || drop(map));
        drop(pool);
        if let Err(message) = dropped {
            assert!(message.contains("bomb"), "{message}");
        }
        ins.assert_settled("dropped");
        outs.assert_settled("dropped");
    });
}

/// `chunk_size` and `window` changed between reads (the map moves by
/// value each time, its part-read run with it): every value once, in
/// order, `len()` exact, ending in a fold or a drop.
#[test]
fn settings_changed_while_a_run_is_part_read_keep_every_value_once() {
    quiet_intentional_panics();
    within(LIMIT, "settings mid-iteration", || {
        let steps: [(Chunking, Option<usize>); 6] = [
            (Chunking::Fixed(5), None),
            (Chunking::Fixed(1), Some(1)),
            (Chunking::Auto, None),
            (Chunking::Fixed(usize::MAX), Some(usize::MAX)),
            (Chunking::Fixed(2), Some(3)),
            (Chunking::Fixed(64), None),
        ];
        for rotate in 0..steps.len() {
            for end_fold in [false, true] {
                let what = format!("rotate {rotate} fold {end_fold}");
                let pool = ThreadPool::new(2).unwrap();
                let (ins, outs) = (Live::new(N), Live::new(N));
                let mut map = pool.map(f_counted(&outs, never, every_third), inputs(&ins, N, never)).chunk_size(3);
                let mut next = 0;
                for s in 0..steps.len() {
                    let (chunking, window) = steps[(s + rotate) % steps.len()];
                    for _ in 0..(N / 10).max(2) {
                        if next < N {
                            assert_eq!(map.next().map(Val::take), Some(next), "{what}");
                            next += 1;
                        }
                    }
                    map = configure!(map, chunking, window);
                    assert_eq!(map.len(), N - next, "{what}");
                }
                if end_fold {
                    assert_eq!(
                        map.fold(next, |n, v| {
                            assert_eq!(v.take(), n);
                            n + 1
                        }),
                        N,
                        "{what}"
                    );
                } else if let Err(message) = caught(move || drop(map)) {
                    assert!(message.contains("bomb"), "{what}: {message}");
                }
                drop(pool);
                ins.assert_settled(&what);
                outs.assert_settled(&what);
            }
        }
    });
}

/// An input that counts how many items were pulled.
fn pulled_counter(n: usize) -> (impl ExactSizeIterator<Item = usize> + Send + 'static, Arc<AtomicUsize>) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&pulled);
    (
        (0..n).inspect(move |_| {
            p.fetch_add(1, Ordering::SeqCst);
        }),
        pulled,
    )
}

/// With a fixed big chunk the default window shrinks (no more buffer bytes
/// in flight than automatic chunking), a caller's `window` wins whenever
/// it was set, and the default follows a later `chunk_size`; seen from
/// outside as how far ahead of the consumer the inputs are pulled.
#[test]
#[cfg_attr(miri, ignore = "big chunks")]
fn the_default_window_follows_the_chunk_size_and_a_set_window_wins() {
    within(LIMIT, "default window", || {
        const BIG: usize = 65_536; // 512 KiB of u64s: the default window is one per worker
        let pool = ThreadPool::new(2).unwrap();
        let n = 40 * BIG;
        // The head, plus at most `window` chunks queued behind it.
        let ahead = |window: usize, chunk: usize| (window + 1) * chunk;

        let (xs, pulled) = pulled_counter(n);
        let mut map = pool.map(|x: usize| x, xs).chunk_size(BIG);
        assert_eq!(map.next(), Some(0));
        let p = pulled.load(Ordering::SeqCst);
        assert!(p <= ahead(2, BIG), "big chunks, default window: pulled {p}");
        drop(map);

        let (xs, pulled) = pulled_counter(n);
        let mut map = pool.map(|x: usize| x, xs).window(8).chunk_size(BIG);
        assert_eq!(map.next(), Some(0));
        let p = pulled.load(Ordering::SeqCst);
        assert!(p > ahead(2, BIG), "window(8) set first must win over the default: pulled only {p}");
        assert!(p <= ahead(8, BIG), "window(8): pulled {p}");
        drop(map);

        // The default follows the last chunk_size: small chunks again.
        let (xs, pulled) = pulled_counter(n);
        let mut map = pool.map(|x: usize| x, xs).chunk_size(BIG).chunk_size(1);
        assert_eq!(map.next(), Some(0));
        let p = pulled.load(Ordering::SeqCst);
        assert!((3..=ahead(8, 1)).contains(&p), "chunks of 1 after big ones: pulled {p}");
        // ... and mid-iteration, big chunks shrink the window for what is cut next.
        let mut map = map.chunk_size(BIG);
        for want in 1..20 {
            assert_eq!(map.next(), Some(want));
        }
        let base = pulled.load(Ordering::SeqCst);
        for want in 20..2 * BIG {
            assert_eq!(map.next(), Some(want));
        }
        let p = pulled.load(Ordering::SeqCst);
        assert!(p <= base + ahead(3, BIG), "big chunks cut mid-iteration: pulled {p} (from {base})");
        assert_eq!(map.len(), n - 2 * BIG);
        drop(map);
    });
}

/// Scoped maps and starmap over borrowed counted values: a few `next`s,
/// a fold, and a map dropped part-read inside the scope; everything once.
#[test]
fn scoped_maps_and_starmap_mixed_consumption() {
    quiet_intentional_panics();
    within(LIMIT, "scoped maps", || {
        let pool = ThreadPool::new(2).unwrap();
        let outs = Live::new(N);
        let data: Vec<usize> = (0..N).map(|i| i * 3).collect();
        let total = pool.scope(|s| {
            let (data, outs) = (&data, &outs);
            let mut m = s.map(move |i: usize| outs.val(i, every_third(i)), 0..N).chunk_size(4).window(2);
            let first: usize = (0..3).map(|_| m.next().unwrap().take()).sum();
            let rest = m.fold(first, |a, v| a + v.take());
            let mut dropped = s.map(move |i: usize| data[i], 0..N).chunk_size(1);
            assert_eq!(dropped.next(), Some(0));
            drop(dropped);
            let mut star = s.starmap(|a: usize, b: usize| a * b, (0..N).map(|i| (i, data[i])));
            let two = star.next().unwrap() + star.next().unwrap();
            rest + two + star.sum::<usize>()
        });
        let expect = (0..N).sum::<usize>() + (0..N).map(|i| i * i * 3).sum::<usize>();
        assert_eq!(total, expect);
        drop(pool);
        outs.assert_settled("scoped");
        assert_eq!(outs.count_made(), N);
    });
}
