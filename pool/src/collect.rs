//! Mapping an indexable input straight into a `Vec`, each worker writing its
//! share of the results in place.
//!
//! [`ThreadPool::map`](crate::ThreadPool::map) is a lazy iterator: one
//! consumer thread pulls every input and hands out every result, about a
//! nanosecond per item, which dominates when `f` itself is that cheap.
//! When the inputs can be indexed (a slice, a `Vec`, an integer range) and
//! the results are wanted as a `Vec` anyway, no thread needs to touch items
//! one by one: workers take chunks of indices and write `f(x)` directly into
//! their part of the output, like rayon's indexed `collect`.

use std::any::Any;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Range, RangeInclusive};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::latch::drop_quietly;
use crate::scope::{self, Scope};
use crate::workers::Workers;

/// Inputs that can be read by index from several threads at once.
///
/// Implemented for slices, `&Vec<T>` and integer ranges.
///
/// ```
/// /// Every other element of a slice.
/// struct Evens<'a>(&'a [u32]);
/// impl<'a> pool::Indexed for Evens<'a> {
///     type Item = u32;
///     fn len(&self) -> usize { self.0.len().div_ceil(2) }
///     fn get(&self, i: usize) -> u32 { self.0[2 * i] }
/// }
/// let pool = pool::ThreadPool::new(2).unwrap();
/// assert_eq!(pool.map_collect(|x: u32| x * 10, Evens(&[1, 2, 3, 4, 5])), [10, 30, 50]);
/// ```
pub trait Indexed: Sync {
    /// What `f` receives.
    type Item;
    /// The number of inputs.
    fn len(&self) -> usize;
    /// True when there are no inputs.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Input `index`, for `index < len()`.
    fn get(&self, index: usize) -> Self::Item;
}

impl<'a, T: Sync> Indexed for &'a [T] {
    type Item = &'a T;
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn get(&self, index: usize) -> &'a T {
        &self[index]
    }
}

impl<'a, T: Sync> Indexed for &'a Vec<T> {
    type Item = &'a T;
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn get(&self, index: usize) -> &'a T {
        &self[index]
    }
}

macro_rules! indexed_range {
    ($($int:ty),+) => {$(
        impl Indexed for RangeInclusive<$int> {
            type Item = $int;
            fn len(&self) -> usize {
                if self.is_empty() {
                    0
                } else {
                    Iterator::size_hint(self).0
                }
            }
            fn get(&self, index: usize) -> $int {
                // As for `Range`: `index < len()` keeps the value in range.
                self.start().wrapping_add(index as $int)
            }
        }

        impl Indexed for Range<$int> {
            type Item = $int;
            fn len(&self) -> usize {
                // `ExactSizeIterator` is not implemented for every integer
                // range, so count through `size_hint`.
                Iterator::size_hint(self).0
            }
            fn get(&self, index: usize) -> $int {
                // `index < len()`, so the true value lies inside the range:
                // two's-complement wrapping arithmetic gets it exactly, even
                // where `index as $int` alone wraps (`-128i8..127`, index 254).
                self.start.wrapping_add(index as $int)
            }
        }
    )+};
}
indexed_range!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// What [`ThreadPool::map_collect`](crate::ThreadPool::map_collect) maps
/// over: anything [`Indexed`] (slices, `&Vec`, ranges, your own types), or
/// a `Vec` by value, whose elements are moved into `f` one by one.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let words = vec![String::from("a"), String::from("bb")];
/// let owned: Vec<String> = pool.map_collect(|mut w: String| { w.push('!'); w }, words);
/// assert_eq!(owned, ["a!", "bb!"]);
/// assert_eq!(pool.map_collect(|x: u8| x, 1..=3u8), [1, 2, 3]);
/// ```
pub trait IntoIndexed {
    /// What `f` receives.
    type Item;
    #[doc(hidden)]
    type Source: sealed::Source<Item = Self::Item>;
    #[doc(hidden)]
    fn into_source(self) -> Self::Source;
}

impl<I: Indexed> IntoIndexed for I {
    type Item = I::Item;
    type Source = Borrowed<I>;
    fn into_source(self) -> Borrowed<I> {
        Borrowed(self)
    }
}

impl<T: Send> IntoIndexed for Vec<T> {
    type Item = T;
    type Source = Owned<T>;
    fn into_source(self) -> Owned<T> {
        Owned(ManuallyDrop::new(self))
    }
}

pub(crate) mod sealed {
    /// Inputs taken by index from several threads, each index once.
    pub trait Source: Sync {
        type Item;
        /// True when the items are owned (must be dropped if never taken).
        const OWNS: bool;
        fn len(&self) -> usize;
        /// # Safety
        /// `index < len()`, and each index is taken at most once.
        unsafe fn take(&self, index: usize) -> Self::Item;
    }
}

#[doc(hidden)]
pub struct Borrowed<I>(I);

impl<I: Indexed> sealed::Source for Borrowed<I> {
    type Item = I::Item;
    const OWNS: bool = false;
    fn len(&self) -> usize {
        self.0.len()
    }
    unsafe fn take(&self, index: usize) -> I::Item {
        self.0.get(index)
    }
}

/// A `Vec` whose elements are moved out by index, each once. When `f`
/// panicked and the workers stopped early, `map_collect` drops the
/// elements never taken; this type itself never drops elements.
#[doc(hidden)]
pub struct Owned<T>(ManuallyDrop<Vec<T>>);

// SAFETY: `take` moves each element out once, to whichever thread takes
// it; that needs `T: Send` and nothing else is shared.
unsafe impl<T: Send> Sync for Owned<T> {}

impl<T: Send> sealed::Source for Owned<T> {
    type Item = T;
    const OWNS: bool = true;
    fn len(&self) -> usize {
        self.0.len()
    }
    unsafe fn take(&self, index: usize) -> T {
        // SAFETY: `index < len` and this index is read once (the caller's
        // contract), so the value is moved out exactly once; `Drop` below
        // never drops elements.
        unsafe { self.0.as_ptr().add(index).read() }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: frees the buffer only; elements were moved out (or
        // dropped by `clean_up`), and the `Vec` is not used again.
        unsafe {
            self.0.set_len(0);
            ManuallyDrop::drop(&mut self.0);
        }
    }
}

/// Chunks per worker: enough to balance uneven items, few enough that
/// taking one (a lock) costs nothing next to running it.
const CHUNKS_PER_WORKER: usize = 8;

/// What one worker did before it stopped: the output ranges it filled,
/// and (if `f` panicked) the index whose input `f` consumed while failing.
#[derive(Default)]
struct Done {
    filled: Vec<Range<usize>>,
    consumed: Option<usize>,
}

pub(crate) fn map_collect<I, F, T>(pool: &Arc<Workers>, f: F, inputs: I) -> Vec<T>
where
    I: IntoIndexed,
    F: Fn(I::Item) -> T + Sync,
    T: Send,
{
    use sealed::Source;
    let inputs = inputs.into_source();
    let len = inputs.len();
    if len == 0 {
        return Vec::new();
    }
    let workers = pool.num_workers();
    let chunk = len.div_ceil(workers * CHUNKS_PER_WORKER).max(1);
    let mut out: Vec<MaybeUninit<T>> = Vec::new();
    if let Err(e) = out.try_reserve_exact(len) {
        // Owned inputs are dropped, not leaked.
        clean_up::<_, T>(&mut [], len, &inputs, Vec::new());
        panic!("map_collect: no room for {len} results of {} bytes each ({e})", std::mem::size_of::<T>());
    }
    out.resize_with(len, MaybeUninit::uninit);
    // The first panic of `f`, re-raised as it was once every task is done;
    // its presence also stops the others from taking more chunks.
    let panicked: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);
    // What every worker did, for cleaning up after a panic.
    let done: Mutex<Vec<Done>> = Mutex::new(Vec::new());
    {
        // Disjoint `&mut` chunks of the output, handed out one at a time.
        let chunks = Mutex::new(out.chunks_mut(chunk).enumerate());
        let (f, inputs, chunks, panicked, done) = (&f, &inputs, &chunks, &panicked, &done);
        // The scope panics only if `shutdown_now` cancelled tasks, which
        // the count of filled slots below reports with the clean-up.
        let joined = panic::catch_unwind(AssertUnwindSafe(|| {
            scope::run(pool, |s| {
                for _ in 0..workers.min(len.div_ceil(chunk)) {
                    s.spawn(move || {
                        let mut mine = Done::default();
                        loop {
                            if panicked.lock().is_some() {
                                break;
                            }
                            let Some((k, slots)) = chunks.lock().next() else {
                                break;
                            };
                            let first = k * chunk;
                            let mut filled = 0;
                            let fill = AssertUnwindSafe(|| {
                                for slot in slots.iter_mut() {
                                    // SAFETY: chunks are disjoint and each is
                                    // handed out once, so each index is taken once.
                                    slot.write(f(unsafe { inputs.take(first + filled) }));
                                    filled += 1;
                                }
                            });
                            let outcome = panic::catch_unwind(fill);
                            mine.filled.push(first..first + filled);
                            if let Err(payload) = outcome {
                                mine.consumed = Some(first + filled);
                                panicked.lock().get_or_insert(payload);
                                break;
                            }
                        }
                        done.lock().push(mine);
                    });
                }
            })
        }));
        if let Err(payload) = joined {
            drop_quietly(payload);
        }
    }
    let done = done.into_inner();
    // Tasks cancelled by `shutdown_now` (before, or while, this ran) never
    // ran and recorded nothing: only the count says every slot is written.
    let filled: usize = done.iter().flat_map(|worker| &worker.filled).map(ExactSizeIterator::len).sum();
    if let Some(payload) = panicked.into_inner() {
        clean_up(&mut out, len, &inputs, done);
        panic::resume_unwind(payload);
    }
    if filled < len {
        clean_up(&mut out, len, &inputs, done);
        panic!("map_collect: the pool was shut down before every item ran ({filled} of {len} did)");
    }
    let mut out = ManuallyDrop::new(out);
    let (ptr, capacity) = (out.as_mut_ptr(), out.capacity());
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; all `len` elements are
    // initialised (the filled ranges are disjoint and add up to `len`);
    // pointer and capacity come from a live `Vec` we no longer use.
    unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, capacity) }
}

/// After `f` panicked or the pool was shut down: drops the results
/// already written and, for inputs owned by value, the inputs never taken
/// (as rayon does), each under a panic guard, since a panic is about to be
/// raised.
fn clean_up<S: sealed::Source, T>(out: &mut [MaybeUninit<T>], len: usize, inputs: &S, done: Vec<Done>) {
    // Disjoint ranges of inputs taken, from which the gaps follow.
    let mut taken: Vec<Range<usize>> = Vec::new();
    for worker in done {
        for range in worker.filled {
            for slot in &mut out[range.clone()] {
                // SAFETY: `range` was written by the worker that recorded
                // it, and each slot belongs to one chunk only.
                drop_quietly(unsafe { slot.assume_init_read() });
            }
            taken.push(range);
        }
        taken.extend(worker.consumed.map(|index| index..index + 1));
    }
    if !S::OWNS {
        return;
    }
    taken.sort_unstable_by_key(|range| range.start);
    let mut next = 0;
    for range in taken.into_iter().chain(std::iter::once(len..len)) {
        for index in next..range.start {
            // SAFETY: `index < len`, and no worker took it (they have all
            // stopped: the scope joined them).
            drop_quietly(unsafe { inputs.take(index) });
        }
        next = next.max(range.end);
    }
}

/// Lives here, not in `scope.rs`, so that the scope does not depend on
/// this module while this module runs its tasks in a scope.
impl<'scope, 'env> Scope<'scope, 'env> {
    /// [`ThreadPool::map_collect`](crate::ThreadPool::map_collect) from
    /// inside a scope (which it joins before returning, like any call).
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let xs = vec![1, 2, 3];
    /// let (doubled, tripled) = pool.scope(|s| {
    ///     let t = s.submit(|| xs.iter().map(|x| x * 3).collect::<Vec<_>>());
    ///     (s.map_collect(|x: &i32| x * 2, &xs), t.wait().unwrap())
    /// });
    /// assert_eq!(doubled, [2, 4, 6]);
    /// assert_eq!(tripled, [3, 6, 9]);
    /// ```
    pub fn map_collect<I, F, T>(&self, f: F, inputs: I) -> Vec<T>
    where
        I: IntoIndexed,
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        map_collect(self.pool(), f, inputs)
    }
}
