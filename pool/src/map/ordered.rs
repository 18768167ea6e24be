//! The ordered map: [`TryMap`] (results and errors) and [`Map`] (results,
//! re-raising panics), both in input order.
//!
//! Protocol: the consumer keeps the chunks it queued in cutting order and
//! only ever waits for the head, so item *i* is handed out as soon as
//! items 0..=*i* are done. To get the head it first tops the window up
//! (so the workers have the chunks after it), takes the head off the
//! queue, then: if the head is still on the map's lane (at its front: no
//! drainer has taken it), takes it off and runs it itself (the head is
//! what everything behind it waits for, and running it costs no wake-up
//! or hand-off); otherwise waits for the worker running it (if it has not
//! finished already), helping with queued jobs meanwhile if this thread
//! is a worker. On a pool with a start handler the consumer, unless it is one
//! of the pool's workers, never runs `f`. Dropping the map cancels the
//! chunks still on its lane.

use std::{fmt, mem};

use super::feeder::{Feeder, Outcome, Queue, Queued};
use super::progress::Progress;
use super::settings;
use super::values::{Current, Cursor, Finished, Next};
use crate::chunk::Chunking;
use crate::error::TaskError;
use crate::spawn::Spawner;

/// The iterator returned by [`ThreadPool::try_map`](crate::ThreadPool::try_map):
/// `Ok(f(x))` or the task's error, in input order.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let results: pool::TryMap<'static, _, _, u8> = pool.try_map(|x: u8| x, 0..3u8);
/// assert_eq!(results.collect::<Vec<_>>(), [Ok(0), Ok(1), Ok(2)]);
/// ```
pub struct TryMap<'a, I: Iterator, F, T> {
    /// The failure-free run being handed out: all the per-item path reads.
    /// Declared first: its values go before the buffer `engine` keeps.
    fast: Cursor<T>,
    /// Everything else, behind a pointer so that the slow path borrows the
    /// engine and not this struct, whose `fast` then stays in registers in
    /// the caller's loop (see [`Cursor`]).
    engine: Box<Engine<'a, I, F, T>>,
}

/// An ordered map's state beyond the run being handed out.
struct Engine<'a, I: Iterator, F, T> {
    current: Current<T>,
    feeder: Feeder<'a, I, F, T>,
    in_flight: Chunks<'a, I::Item, T>,
}

/// The chunks an ordered map has queued: each task's result is the
/// chunk's outcome.
type Chunks<'a, X, T> = Queue<'a, Outcome<X, T>>;

impl<'a, I, F, T> TryMap<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    // Inline, with the engine built out of line: a constructor writing
    // the map through a pointer would leave the caller's map in memory,
    // and `fast` with it (see `Cursor`).
    #[inline(always)]
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        TryMap { fast: Cursor::empty(), engine: Engine::boxed(spawner, f, inputs) }
    }

    settings!("try_map(|x: u32| x, 0..1000u32)");

    /// The slow path: the next chunk, or an item with a failure.
    #[inline(always)]
    fn next_chunk(&mut self) -> Option<Result<T, TaskError>> {
        let (run, _, (_, item)) = self.engine.next_chunk()?;
        self.fast.replace_spent(run);
        Some(item)
    }
}

impl<'a, I, F, T> Engine<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    #[inline(never)]
    fn boxed(spawner: Spawner<'a>, f: F, inputs: I) -> Box<Self> {
        Box::new(Engine { current: Current::new(), feeder: Feeder::new(spawner, f, inputs), in_flight: Queue::new() })
    }

    fn refill(&mut self) {
        while self.in_flight.len() < self.feeder.window() {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let queued = self.feeder.queue(inputs, |work| move || work.run());
            self.in_flight.push_back(Queued { start, ..queued });
        }
    }

    /// The head chunk's results, computed here if no worker started it.
    fn take_head(&mut self) -> Option<Finished<I::Item, T>> {
        self.refill();
        let Queued { start, len, handle } = self.in_flight.pop_front()?;
        self.feeder.run_oldest_here(&handle);
        // The task's own error: it was cancelled.
        let mut outcome = handle.wait().and_then(|outcome| outcome);
        self.feeder.received(len, &mut outcome);
        Some((start, len, outcome))
    }

    /// The next item once the map's run is used up, with the run to read
    /// after it.
    #[inline(never)]
    fn next_chunk(&mut self) -> Option<Next<T>> {
        loop {
            if let Some(next) = self.current.next() {
                return Some(next);
            }
            let head = self.take_head()?;
            let limit = self.feeder.spare_limit();
            self.current.set(head, &mut self.feeder.spares, limit);
            // Top the window up before handing out the head's items (not
            // while the head is out of both queue and buffer, where a
            // panicking input iterator would lose it).
            self.refill();
        }
    }

    /// The map's size hint, given the items left in its run.
    #[inline(never)]
    fn size_hint(&self, in_run: usize) -> (usize, Option<usize>) {
        let queued = self.current.len() + self.in_flight.iter().map(|queued| queued.len).sum::<usize>();
        self.feeder.size_hint(in_run + queued)
    }
}

impl<'a, I, F, T> Iterator for TryMap<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    type Item = Result<T, TaskError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(value) = self.fast.next() {
            return Some(Ok(value));
        }
        self.next_chunk()
    }

    // Inline, and the engine's part out of line: `extend` asks for the
    // hint in its loop, and lending it this struct would keep `fast` out
    // of registers (see [`Cursor`]).
    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(self.fast.len())
    }
}

/// Exact when the inputs are.
impl<'a, I, F, T> ExactSizeIterator for TryMap<'a, I, F, T>
where
    I: ExactSizeIterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
}

impl<I: Iterator, F, T> fmt::Debug for TryMap<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryMap").field("chunks_in_flight", &self.engine.in_flight.len()).finish()
    }
}

/// The iterator returned by [`ThreadPool::map`](crate::ThreadPool::map):
/// `f(x)` in input order. A panic in `f` is re-raised here, at that item.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let squares: pool::Map<'static, _, _, u64> = pool.map(|x: u64| x * x, 1..4u64);
/// assert_eq!(squares.sum::<u64>(), 14);
/// ```
pub struct Map<'a, I: Iterator, F, T> {
    inner: TryMap<'a, I, F, T>,
}

impl<'a, I, F, T> Map<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    #[inline(always)]
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        Map { inner: TryMap::new(spawner, f, inputs) }
    }

    /// See [`TryMap::chunk_size`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.map(|x: u8| x, 0..10u8).chunk_size(3).count(), 10);
    /// ```
    #[inline]
    #[track_caller]
    pub fn chunk_size(self, chunking: impl Into<Chunking>) -> Self {
        Map { inner: self.inner.chunk_size(chunking) }
    }

    /// See [`TryMap::window`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.map(|x: u8| x, 0..10u8).window(1).count(), 10);
    /// ```
    #[inline]
    #[track_caller]
    pub fn window(self, chunks: usize) -> Self {
        Map { inner: self.inner.window(chunks) }
    }

    /// See [`TryMap::on_progress`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let bar = |p: pool::Progress| assert!(p.done <= p.total.unwrap());
    /// assert_eq!(pool.map(|x: u8| x, 0..10u8).on_progress(bar).count(), 10);
    /// ```
    #[inline]
    pub fn on_progress(self, callback: impl Fn(Progress) + Send + Sync + 'a) -> Self {
        Map { inner: self.inner.on_progress(callback) }
    }
}

impl<'a, I, F, T> Iterator for Map<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    type Item = T;

    // Always: the per-item path (one bounds check and a read) must sit in
    // the caller's loop.
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        if let Some(value) = self.inner.fast.next() {
            return Some(value);
        }
        match self.inner.next_chunk()? {
            Ok(value) => Some(value),
            Err(error) => error.resume(),
        }
    }

    /// `sum`, `count`, `for_each` and the like: a chunk's buffer is folded
    /// as a plain loop.
    fn fold<B, G>(mut self, init: B, mut g: G) -> B
    where
        G: FnMut(B, T) -> B,
    {
        // The run in a local of this frame, which no call borrows: `self`
        // came by pointer, and its fields stay in memory.
        let mut acc = init;
        let mut run = mem::replace(&mut self.inner.fast, Cursor::empty());
        loop {
            while let Some(value) = run.next() {
                acc = g(acc, value);
            }
            let (next, _, (_, item)) = match self.inner.engine.next_chunk() {
                None => return acc,
                Some(next) => next,
            };
            run.replace_spent(next);
            match item {
                Ok(value) => acc = g(acc, value),
                Err(error) => error.resume(),
            }
        }
    }

    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Exact when the inputs are.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let mut squares = pool.map(|x: u32| x * x, vec![1, 2, 3]);
/// assert_eq!(squares.len(), 3);
/// squares.next();
/// assert_eq!(squares.len(), 2);
/// ```
impl<'a, I, F, T> ExactSizeIterator for Map<'a, I, F, T>
where
    I: ExactSizeIterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
}

impl<I: Iterator, F, T> fmt::Debug for Map<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("chunks_in_flight", &self.inner.engine.in_flight.len()).finish()
    }
}
