//! Ordered and unordered lazy maps over an input iterator.
//!
//! The consumer's thread pulls inputs, groups them into chunks and queues
//! one task per chunk, but never more than `window` chunks ahead of what it
//! has handed out. That bound is what keeps memory constant when the input
//! has 10^8 items (unlike Python's `Executor.map`, which submits
//! everything up front: cpython#74028). Inputs therefore need not be `Send`
//! — only the items are.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use std::{fmt, vec};

use parking_lot::{Condvar, Mutex};

use crate::chunk::{Chunker, Chunking};
use crate::error::TaskError;
use crate::registry;
use crate::spawn::Spawner;
use crate::task::TaskHandle;

/// Chunks kept in flight per worker by default: enough that a worker never
/// waits for the consumer to queue more, and that one slow chunk at the
/// head of an ordered map does not idle the others.
const WINDOW_PER_WORKER: usize = 4;

/// How far a map has got, passed to an [`on_progress`](Map::on_progress)
/// callback each time a chunk finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Inputs processed so far.
    pub done: usize,
    /// The number of inputs, when the input iterator knows it exactly.
    pub total: Option<usize>,
}

type ProgressCallback<'a> = Box<dyn Fn(Progress) + Send + Sync + 'a>;

struct ProgressHook<'a> {
    /// Locked across the callback so reports arrive in increasing order.
    done: Mutex<usize>,
    total: Option<usize>,
    callback: ProgressCallback<'a>,
}

impl ProgressHook<'_> {
    fn advance(&self, items: usize) {
        let mut done = self.done.lock();
        *done += items;
        (self.callback)(Progress { done: *done, total: self.total });
    }
}

/// What one chunk task sends back. Successes and failures are stored apart
/// so the common all-success case costs no more memory than the values.
struct ChunkOutput<T> {
    values: Vec<T>,
    /// (offset in chunk, error), ascending.
    failures: Vec<(usize, TaskError)>,
    elapsed_ns: u64,
}

fn run_chunk<X, T, F: Fn(X) -> T>(f: &F, inputs: Vec<X>) -> ChunkOutput<T> {
    let start = Instant::now();
    let mut values = Vec::with_capacity(inputs.len());
    let mut failures = Vec::new();
    for (offset, x) in inputs.into_iter().enumerate() {
        // Per item, so one panicking input does not take its chunk-mates down.
        match panic::catch_unwind(AssertUnwindSafe(|| f(x))) {
            Ok(value) => values.push(value),
            Err(payload) => failures.push((offset, TaskError::from_panic(payload))),
        }
    }
    let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    ChunkOutput { values, failures, elapsed_ns }
}

/// A finished chunk being handed out item by item.
struct Drain<T> {
    start: usize,
    len: usize,
    position: usize,
    /// Offset of the next failure, `usize::MAX` when there is none: the
    /// fast path compares against it instead of looking at `failures`.
    next_failure: usize,
    values: vec::IntoIter<T>,
    failures: vec::IntoIter<(usize, TaskError)>,
}

impl<T> Drain<T> {
    fn new(start: usize, len: usize, outcome: Result<ChunkOutput<T>, TaskError>) -> Self {
        let (values, failures) = match outcome {
            Ok(out) => (out.values, out.failures),
            // The chunk task itself failed (cancelled, or its progress
            // callback panicked):
            // every item in it carries the error.
            Err(e) => (Vec::new(), (0..len).map(|i| (i, e.clone())).collect()),
        };
        let next_failure = failures.first().map_or(usize::MAX, |(at, _)| *at);
        Drain { start, len, position: 0, next_failure, values: values.into_iter(), failures: failures.into_iter() }
    }

    fn remaining(&self) -> usize {
        self.len - self.position
    }

    /// The next item if it is a success; `None` at a failure or the end.
    #[inline(always)]
    fn next_value(&mut self) -> Option<T> {
        if self.position == self.next_failure {
            return None;
        }
        let value = self.values.next()?;
        self.position += 1;
        Some(value)
    }

    fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        let offset = self.position;
        if offset == self.next_failure {
            let (_, error) = self.failures.next()?;
            self.next_failure = self.failures.as_slice().first().map_or(usize::MAX, |(at, _)| *at);
            self.position += 1;
            return Some((self.start + offset, Err(error)));
        }
        self.next_value().map(|value| (self.start + offset, Ok(value)))
    }
}

/// Lets an ordered map's consumer sleep until several chunks have finished
/// instead of waking for each one.
///
/// Every wake-up of the consumer costs context switches, often on a core a
/// worker is using (the scheduler likes to wake a thread next to its
/// waker). Waking once per half window of chunks instead of once per chunk
/// removes most of that, while the other half of the window keeps the
/// workers fed. The usual Dekker pattern keeps it free of lost wake-ups:
/// the consumer publishes `wanted` before its last look at `finished`, a
/// worker bumps `finished` before it looks at `wanted`.
struct Batch {
    finished: AtomicUsize,
    wanted: AtomicUsize,
    lock: Mutex<()>,
    ready: Condvar,
}

impl Batch {
    fn new() -> Self {
        Batch {
            finished: AtomicUsize::new(0),
            wanted: AtomicUsize::new(usize::MAX),
            lock: Mutex::new(()),
            ready: Condvar::new(),
        }
    }

    fn chunk_finished(&self) {
        let finished = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        if finished >= self.wanted.load(Ordering::SeqCst) {
            let _guard = self.lock.lock();
            self.ready.notify_one();
        }
    }

    fn reached(&self, target: usize) -> bool {
        self.finished.load(Ordering::SeqCst) >= target
    }

    fn block(&self, target: usize, deadline: Option<Instant>) {
        registry::block_on(&self.ready, &mut self.lock.lock(), deadline, |_| !self.reached(target));
    }

    /// Waits until `target` chunks in all have finished.
    fn wait_for(&self, target: usize) {
        if self.reached(target) {
            return;
        }
        self.wanted.store(target, Ordering::SeqCst);
        registry::wait_until(&|| self.reached(target), &|limit| self.block(target, limit), None);
        self.wanted.store(usize::MAX, Ordering::SeqCst);
    }
}

/// Pulls inputs in chunks and queues them; shared by all map flavours.
struct Feeder<'a, I: Iterator, F> {
    spawner: Spawner<'a>,
    inputs: I,
    exhausted: bool,
    f: Arc<F>,
    chunking: Chunking,
    chunker: Option<Chunker>,
    window: usize,
    next_index: usize,
    progress: Option<Arc<ProgressHook<'a>>>,
}

impl<'a, I, F, T> Feeder<'a, I, F>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        Feeder {
            window: WINDOW_PER_WORKER * spawner.num_workers(),
            spawner,
            inputs,
            exhausted: false,
            f: Arc::new(f),
            chunking: Chunking::Auto,
            chunker: None,
            next_index: 0,
            progress: None,
        }
    }

    fn exact_len(&self) -> Option<usize> {
        match self.inputs.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        }
    }

    fn set_chunking(&mut self, chunking: Chunking) {
        if let Chunking::Fixed(size) = chunking {
            assert!(size >= 1, "chunk size must be at least 1, got {size}");
        }
        self.chunking = chunking;
        self.chunker = None;
    }

    fn set_window(&mut self, window: usize) {
        assert!(window >= 1, "a map's window must hold at least 1 chunk, got {window}");
        self.window = window;
    }

    fn set_progress(&mut self, callback: ProgressCallback<'a>) {
        let total = self.exact_len().and_then(|n| n.checked_add(self.next_index));
        self.progress = Some(Arc::new(ProgressHook { done: Mutex::new(0), total, callback }));
    }

    fn observe(&mut self, len: usize, elapsed_ns: u64) {
        if let Some(chunker) = &mut self.chunker {
            chunker.observe(len, elapsed_ns);
        }
    }

    /// Takes the next chunk of inputs, or `None` when they are used up.
    fn next_inputs(&mut self) -> Option<(usize, Vec<I::Item>)> {
        if self.exhausted {
            return None;
        }
        if self.chunker.is_none() {
            let total = self.exact_len();
            let item_bytes = std::mem::size_of::<I::Item>().max(std::mem::size_of::<T>());
            self.chunker = Some(Chunker::new(self.chunking, total, self.spawner.num_workers(), item_bytes));
        }
        let size = self.chunker.as_ref().map_or(1, Chunker::size);
        let chunk: Vec<I::Item> = self.inputs.by_ref().take(size).collect();
        if chunk.len() < size {
            self.exhausted = true;
        }
        if chunk.is_empty() {
            return None;
        }
        let start = self.next_index;
        self.next_index += chunk.len();
        Some((start, chunk))
    }

    fn chunk_job(&self, inputs: Vec<I::Item>) -> impl FnOnce() -> ChunkOutput<T> + Send + 'a {
        let f = Arc::clone(&self.f);
        let progress = self.progress.clone();
        move || {
            let len = inputs.len();
            let out = run_chunk(&*f, inputs);
            if let Some(progress) = progress {
                progress.advance(len);
            }
            out
        }
    }

    /// `chunk_job`, also counting the chunk in `batch` once it is done,
    /// whether or not it panicked.
    fn counted_chunk_job(
        &self,
        inputs: Vec<I::Item>,
        batch: &Arc<Batch>,
    ) -> impl FnOnce() -> ChunkOutput<T> + Send + 'a {
        struct Count(Arc<Batch>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.chunk_finished();
            }
        }
        let job = self.chunk_job(inputs);
        let count = Count(Arc::clone(batch));
        move || {
            let _count = count;
            job()
        }
    }

    fn remaining_inputs(&self) -> (usize, Option<usize>) {
        if self.exhausted {
            (0, Some(0))
        } else {
            self.inputs.size_hint()
        }
    }
}

macro_rules! settings {
    () => {
        /// Uses chunks of exactly `size` inputs (the last may be shorter),
        /// like Python's `chunksize`. Panics if `size` is 0.
        pub fn chunk_size(mut self, size: usize) -> Self {
            self.feeder.set_chunking(Chunking::Fixed(size));
            self
        }

        /// Chooses fixed or automatic chunking ([`Chunking::Auto`] is the default).
        pub fn chunking(mut self, chunking: Chunking) -> Self {
            self.feeder.set_chunking(chunking);
            self
        }

        /// Keeps at most `chunks` chunks queued or running ahead of the
        /// consumer (default: 4 per worker). Panics if `chunks` is 0.
        pub fn window(mut self, chunks: usize) -> Self {
            self.feeder.set_window(chunks);
            self
        }

        /// Calls `callback` on a worker each time a chunk finishes, with
        /// the number of inputs done and the total when known; enough to
        /// drive a progress bar. Calls never overlap and `done` only grows,
        /// so keep the callback cheap.
        pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'a) -> Self {
            self.feeder.set_progress(Box::new(callback));
            self
        }
    };
}

/// The iterator returned by [`ThreadPool::try_map`](crate::ThreadPool::try_map):
/// `Ok(f(x))` or the task's error, in input order.
pub struct TryMap<'a, I: Iterator, F, T> {
    feeder: Feeder<'a, I, F>,
    in_flight: VecDeque<(usize, usize, TaskHandle<ChunkOutput<T>>)>,
    current: Option<Drain<T>>,
    batch: Arc<Batch>,
    /// Chunks handed out so far (all of them finished).
    consumed: usize,
}

impl<'a, I, F, T> TryMap<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        TryMap {
            feeder: Feeder::new(spawner, f, inputs),
            in_flight: VecDeque::new(),
            current: None,
            batch: Arc::new(Batch::new()),
            consumed: 0,
        }
    }

    settings!();

    fn refill(&mut self) {
        while self.in_flight.len() < self.feeder.window {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let len = inputs.len();
            let handle = self.feeder.spawner.spawn(self.feeder.counted_chunk_job(inputs, &self.batch));
            self.in_flight.push_back((start, len, handle));
        }
    }

    /// The slow path: a failure, or the next chunk to wait for.
    #[inline(never)]
    fn next_indexed(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(Drain::next) {
                return Some(item);
            }
            self.refill();
            let (start, len, handle) = self.in_flight.pop_front()?;
            if !handle.is_finished() {
                // Sleep until half the window (or all that is left) is done.
                let batch = (self.feeder.window / 2).clamp(1, self.in_flight.len() + 1);
                self.batch.wait_for(self.consumed + batch);
            }
            let outcome = handle.wait();
            self.consumed += 1;
            if let Ok(out) = &outcome {
                self.feeder.observe(len, out.elapsed_ns);
            }
            self.current = Some(Drain::new(start, len, outcome));
            // Top the window up before handing out this chunk's items.
            self.refill();
        }
    }

    fn remaining(&self) -> (usize, Option<usize>) {
        let queued: usize = self.current.as_ref().map_or(0, Drain::remaining)
            + self.in_flight.iter().map(|(_, len, _)| len).sum::<usize>();
        let (low, high) = self.feeder.remaining_inputs();
        (queued.saturating_add(low), high.and_then(|h| h.checked_add(queued)))
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
        if let Some(value) = self.current.as_mut().and_then(Drain::next_value) {
            return Some(Ok(value));
        }
        self.next_indexed().map(|(_, result)| result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.remaining()
    }
}

impl<I: Iterator, F, T> Drop for TryMap<'_, I, F, T> {
    fn drop(&mut self) {
        // Nobody will read these results: skip the chunks not yet started.
        for (_, _, handle) in &self.in_flight {
            handle.cancel();
        }
    }
}

impl<I: Iterator, F, T> fmt::Debug for TryMap<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryMap").field("chunks_in_flight", &self.in_flight.len()).finish()
    }
}

/// The iterator returned by [`ThreadPool::map`](crate::ThreadPool::map):
/// `f(x)` in input order. A panic in `f` is re-raised here, at that item.
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
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        Map { inner: TryMap::new(spawner, f, inputs) }
    }

    /// See [`TryMap::chunk_size`].
    pub fn chunk_size(self, size: usize) -> Self {
        Map { inner: self.inner.chunk_size(size) }
    }

    /// See [`TryMap::chunking`].
    pub fn chunking(self, chunking: Chunking) -> Self {
        Map { inner: self.inner.chunking(chunking) }
    }

    /// See [`TryMap::window`].
    pub fn window(self, chunks: usize) -> Self {
        Map { inner: self.inner.window(chunks) }
    }

    /// See [`TryMap::on_progress`].
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

    #[inline]
    fn next(&mut self) -> Option<T> {
        if let Some(value) = self.inner.current.as_mut().and_then(Drain::next_value) {
            return Some(value);
        }
        match self.inner.next_indexed()? {
            (_, Ok(value)) => Some(value),
            (_, Err(error)) => error.resume(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<I: Iterator, F, T> fmt::Debug for Map<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("chunks_in_flight", &self.inner.in_flight.len()).finish()
    }
}

/// A finished unordered chunk: first input index, length, outcome.
type Completed<T> = (usize, usize, Result<ChunkOutput<T>, TaskError>);

/// Where unordered chunk tasks drop their results for the consumer.
struct Completions<T> {
    done: Mutex<VecDeque<Completed<T>>>,
    ready: Condvar,
}

impl<T> Completions<T> {
    fn push(&self, item: Completed<T>) {
        self.done.lock().push_back(item);
        self.ready.notify_one();
    }

    fn block(&self, deadline: Option<Instant>) {
        registry::block_on(&self.ready, &mut self.done.lock(), deadline, |done| done.is_empty());
    }
}

/// The iterator returned by
/// [`ThreadPool::map_unordered`](crate::ThreadPool::map_unordered):
/// `(input index, result)` pairs as chunks complete.
pub struct MapUnordered<'a, I: Iterator, F, T> {
    feeder: Feeder<'a, I, F>,
    completions: Arc<Completions<T>>,
    handles: Vec<TaskHandle<()>>,
    /// Chunks queued or running, and the inputs in them.
    in_flight: usize,
    in_flight_items: usize,
    current: Option<Drain<T>>,
}

impl<'a, I, F, T> MapUnordered<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        MapUnordered {
            feeder: Feeder::new(spawner, f, inputs),
            completions: Arc::new(Completions { done: Mutex::new(VecDeque::new()), ready: Condvar::new() }),
            handles: Vec::new(),
            in_flight: 0,
            in_flight_items: 0,
            current: None,
        }
    }

    settings!();

    fn refill(&mut self) {
        while self.in_flight < self.feeder.window {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let len = inputs.len();
            let job = self.feeder.chunk_job(inputs);
            let completions = Arc::clone(&self.completions);
            let handle = self.feeder.spawner.spawn(move || {
                // `job` catches `f`'s panics itself; this catches the
                // progress callback's, so the consumer is always told.
                let outcome = panic::catch_unwind(AssertUnwindSafe(job)).map_err(TaskError::from_panic);
                completions.push((start, len, outcome));
            });
            self.handles.push(handle);
            self.in_flight += 1;
            self.in_flight_items += len;
        }
        // Handles are kept only to cancel unstarted chunks on drop; forget
        // the finished ones now and then so the list stays window-sized.
        if self.handles.len() > 2 * self.feeder.window {
            self.handles.retain(|h| !h.is_finished());
        }
    }
}

impl<'a, I, F, T> Iterator for MapUnordered<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    type Item = (usize, Result<T, TaskError>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(Drain::next) {
                return Some(item);
            }
            self.refill();
            if self.in_flight == 0 {
                return None;
            }
            let completions = &*self.completions;
            registry::wait_until(&|| !completions.done.lock().is_empty(), &|limit| completions.block(limit), None);
            let Some((start, len, out)) = completions.done.lock().pop_front() else {
                continue;
            };
            self.in_flight -= 1;
            self.in_flight_items -= len;
            if let Ok(out) = &out {
                self.feeder.observe(len, out.elapsed_ns);
            }
            self.current = Some(Drain::new(start, len, out));
            self.refill();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let queued = self.current.as_ref().map_or(0, Drain::remaining) + self.in_flight_items;
        let (low, high) = self.feeder.remaining_inputs();
        (queued.saturating_add(low), high.and_then(|h| h.checked_add(queued)))
    }
}

impl<I: Iterator, F, T> Drop for MapUnordered<'_, I, F, T> {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.cancel();
        }
    }
}

impl<I: Iterator, F, T> fmt::Debug for MapUnordered<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered").field("chunks_in_flight", &self.in_flight).finish()
    }
}
