//! Ordered and unordered lazy maps over an input iterator.
//!
//! The consumer's thread pulls inputs, groups them into chunks and queues
//! one task per chunk, but never more than `window` chunks ahead of what it
//! has handed out. That bound is what keeps memory constant when the input
//! has 10^8 items (unlike Python's `Executor.map`, which submits
//! everything up front: cpython#74028). Inputs therefore need not be `Send`
//! — only the items are.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;
use std::{fmt, mem, vec};

use parking_lot::{Mutex, MutexGuard};

use crate::chunk::{Chunker, Chunking, Placement};
use crate::error::TaskError;
use crate::latch::{drop_quietly, Completions};
use crate::registry;
use crate::spawn::Spawner;
use crate::task::{Claim, Handle};
use crate::watchdog::Watch;

/// Chunks kept in flight per worker by default: enough that a worker never
/// waits for the consumer to queue more, and that one slow chunk at the
/// head of an ordered map does not idle the others.
const WINDOW_PER_WORKER: usize = 4;

/// How far a map has got, passed to an [`on_progress`](Map::on_progress)
/// callback each time a chunk finishes.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let n = pool.map(|x: u8| x, 0..8u8).chunk_size(4).on_progress(move |p| log.lock().unwrap().push(p)).count();
/// assert_eq!(n, 8);
/// let last = *seen.lock().unwrap().last().unwrap();
/// assert_eq!(last, pool::Progress { done: 8, total: Some(8) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Inputs processed so far.
    pub done: usize,
    /// The number of inputs, when the input iterator knows it exactly.
    pub total: Option<usize>,
}

type ProgressCallback<'a> = Box<dyn Fn(Progress) + Send + Sync + 'a>;

/// Counts every finished input from the map's first chunk on, whether or
/// not a callback is attached yet, so a callback attached late still sees
/// `done` reach the total.
///
/// Protocol: the lock is never held while the callback runs (it is user
/// code, which may wait on the pool and, while waiting on a worker, run
/// chunks of this very map, whose `advance` would then deadlock on a held
/// lock). Instead one caller at a time is the *reporter* (`busy`): it
/// takes the callback out, reports the latest count without the lock, puts
/// the callback back and repeats until nothing new is left. Any `advance`
/// meanwhile (on another thread, or nested in the callback on this one)
/// only adds to `done`, which the reporter then reports. So calls never
/// overlap, `done` only grows, and the last report is the final count.
/// That report comes before the map ends: every reporter is a chunk of
/// this map (or its consumer), which the map waits for, and a reporter
/// only stops once no count is left unreported.
struct ProgressHook<'a> {
    state: Mutex<ProgressState<'a>>,
    total: Option<usize>,
}

struct ProgressState<'a> {
    done: usize,
    /// The highest `done` the callback has been given.
    reported: usize,
    /// Taken out by the reporter while it calls it.
    callback: Option<ProgressCallback<'a>>,
    busy: bool,
}

impl<'a> ProgressHook<'a> {
    fn new(total: Option<usize>) -> Self {
        ProgressHook { state: Mutex::new(ProgressState { done: 0, reported: 0, callback: None, busy: false }), total }
    }

    fn advance(&self, items: usize) {
        let mut state = self.state.lock();
        state.done += items;
        self.report(state);
    }

    /// Attaches `callback`; if some inputs are already done, reports them
    /// at once (on the calling thread, unless a report is under way).
    fn attach(&self, callback: ProgressCallback<'a>) {
        let mut state = self.state.lock();
        let previous = state.callback.replace(callback);
        // A new callback has been told nothing yet.
        state.reported = 0;
        self.report(state);
        // A replaced callback is user code: dropped without the lock.
        drop(previous);
    }

    /// Becomes the reporter unless there is one, and reports until the
    /// count stops moving (see the type's protocol).
    fn report<'h>(&'h self, mut state: MutexGuard<'h, ProgressState<'a>>) {
        loop {
            if state.busy || state.done == state.reported {
                return;
            }
            let Some(callback) = state.callback.take() else {
                return;
            };
            let done = state.done;
            state.reported = done;
            state.busy = true;
            drop(state);
            // Puts the callback back and ends the report even if it panics
            // (the panic goes on to the caller: a chunk task, or the
            // consumer).
            let lent = Lent { hook: self, callback: Some(callback) };
            (lent.callback.as_ref().expect("lent callback"))(Progress { done, total: self.total });
            state = lent.give_back();
        }
    }
}

/// The reporter's loan of the callback, returned on drop (also while
/// unwinding).
struct Lent<'h, 'a> {
    hook: &'h ProgressHook<'a>,
    callback: Option<ProgressCallback<'a>>,
}

impl<'h, 'a> Lent<'h, 'a> {
    /// Returns the callback, keeping the lock and the reporter's role.
    fn give_back(mut self) -> MutexGuard<'h, ProgressState<'a>> {
        let mut state = self.hook.state.lock();
        let replaced = Self::restore(&mut state, self.callback.take());
        state.busy = false;
        if replaced.is_some() {
            drop(state);
            drop(replaced);
            state = self.hook.state.lock();
        }
        state
    }

    /// Puts `callback` back unless another was attached meanwhile, in
    /// which case it is returned for dropping outside the lock.
    fn restore(state: &mut ProgressState<'a>, callback: Option<ProgressCallback<'a>>) -> Option<ProgressCallback<'a>> {
        if state.callback.is_none() {
            state.callback = callback;
            None
        } else {
            callback
        }
    }
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if self.callback.is_none() {
            return;
        }
        let replaced = {
            let mut state = self.hook.state.lock();
            state.busy = false;
            Self::restore(&mut state, self.callback.take())
        };
        drop(replaced);
    }
}

type Payload = Box<dyn std::any::Any + Send>;

/// What one chunk task sends back. Successes and failures are stored apart
/// so the common all-success case costs no more memory than the values.
struct ChunkOutput<T> {
    values: Values<T>,
    /// (offset in chunk, error), ascending.
    failures: Vec<(usize, TaskError)>,
    elapsed_ns: u64,
}

/// Applies `f` to each input, catching its panics item by item so one
/// panicking input does not take its chunk-mates down.
///
/// One panic guard covers a run of items rather than each item (a guard
/// per call would keep `f` from being inlined into the loop, which costs
/// more than a 1 ns `f`); after a panic the run resumes at the next item. A
/// panic in the input iterator itself (only possible when the consumer runs
/// a chunk inline) is not an item's failure: the run stops there and the
/// panic is returned, for the consumer to raise after the items before it.
///
/// `stop` is asked before each item; once it says so, the run ends there
/// (see [`Watch`]: an inline chunk whose items turned slow).
fn run_chunk<X, T, F: Fn(X) -> T>(
    f: &F,
    mut inputs: impl Iterator<Item = X>,
    mut stop: impl FnMut() -> bool,
) -> (ChunkOutput<T>, Option<Payload>) {
    let start = Instant::now();
    let mut values = Vec::with_capacity(prealloc(&inputs));
    let mut failures = Vec::new();
    let mut input_panic = None;
    loop {
        let mut in_f = false;
        let run = panic::catch_unwind(AssertUnwindSafe(|| {
            while !stop() {
                let Some(x) = inputs.next() else {
                    break;
                };
                in_f = true;
                values.push(f(x));
                in_f = false;
            }
        }));
        match run {
            Ok(()) => break,
            Err(payload) if in_f => failures.push((values.len() + failures.len(), TaskError::from_panic(payload))),
            Err(payload) => {
                input_panic = Some(payload);
                break;
            }
        }
    }
    let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    (ChunkOutput { values: Values(values.into_iter()), failures, elapsed_ns }, input_panic)
}

/// Room to reserve for a chunk of `inputs`: their lower size bound, but no
/// more than an automatic chunk holds, since a user's iterator may claim
/// any size (a lie is no reason to fail, or to reserve gigabytes).
fn prealloc(inputs: &impl Iterator) -> usize {
    inputs.size_hint().0.min(crate::chunk::MAX_AUTO_CHUNK)
}

/// A run of user values (a chunk's inputs or results) that may be dropped
/// unread: each is dropped under its own panic guard, and the first panic
/// is raised once all are gone. A plain `Vec` would abort the process at
/// a second panicking `Drop` (a panic while unwinding), and would leave the
/// rest undropped after the first.
struct Values<V>(vec::IntoIter<V>);

impl<V> Iterator for Values<V> {
    type Item = V;

    #[inline(always)]
    fn next(&mut self) -> Option<V> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> Drop for Values<V> {
    fn drop(&mut self) {
        if !mem::needs_drop::<V>() {
            return;
        }
        let mut first = None;
        for value in &mut self.0 {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
                match first {
                    None => first = Some(payload),
                    Some(_) => drop_quietly(payload),
                }
            }
        }
        match first {
            // Already unwinding, a second panic would abort: keep quiet.
            Some(payload) if std::thread::panicking() => drop_quietly(payload),
            Some(payload) => panic::resume_unwind(payload),
            None => {}
        }
    }
}

/// A finished chunk being handed out item by item.
struct Drain<T> {
    start: usize,
    len: usize,
    position: usize,
    /// Offset of the next failure, `usize::MAX` when there is none: the
    /// fast path compares against it instead of looking at `failures`.
    next_failure: usize,
    values: Values<T>,
    failures: vec::IntoIter<(usize, TaskError)>,
}

impl<T> Drain<T> {
    fn new(start: usize, len: usize, outcome: Result<ChunkOutput<T>, TaskError>) -> Self {
        let (values, failures) = match outcome {
            Ok(out) => (out.values, out.failures),
            // The chunk task itself failed (cancelled, or its progress
            // callback panicked): every item in it carries the error, the
            // first with the original payload.
            Err(e) => {
                let mut failures: Vec<_> = (1..len).map(|i| (i, e.copy())).collect();
                failures.insert(0, (0, e));
                (Values(Vec::new().into_iter()), failures)
            }
        };
        let next_failure = failures.first().map_or(usize::MAX, |(at, _)| *at);
        Drain { start, len, position: 0, next_failure, values, failures: failures.into_iter() }
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

impl<I: Iterator, F> Feeder<'_, I, F> {
    /// Drops the inputs held back: user values, each under its own panic
    /// guard, as a chunk's are (see `Values`).
    fn drop_held(&mut self) {
        self.returned.extend(self.partial.drain(..));
        drop(Values(Vec::from(mem::take(&mut self.returned)).into_iter()));
    }
}

impl<I: Iterator, F> Drop for Feeder<'_, I, F> {
    fn drop(&mut self) {
        self.drop_held();
    }
}

/// Items a consumer computes between two reads of its watchdog's flag:
/// slow items cost at most this many more on the consumer once flagged.
const WATCH_EVERY: usize = 4;

/// Items of an inline chunk between two signs of life to the watchdog.
const ALIVE_EVERY: usize = 16 * WATCH_EVERY;

/// A queued chunk's inputs, which the consumer may take back (to re-chunk
/// them or run them itself) as long as no worker has started the chunk.
type Inputs<X> = Arc<Claim<Values<X>>>;

/// Pulls inputs in chunks and queues them; shared by all map flavours.
struct Feeder<'a, I: Iterator, F> {
    spawner: Spawner<'a>,
    inputs: I,
    exhausted: bool,
    /// Inputs taken for the next chunk when the input iterator panicked,
    /// kept for that chunk (a map may be used on after the panic).
    partial: Vec<I::Item>,
    /// Inputs of queued chunks taken back before any worker started them
    /// (see `TryMap::take_back_unstarted`), in input order; they go out
    /// before anything in `partial` or the iterator. Never both this and
    /// `partial` non-empty.
    returned: VecDeque<I::Item>,
    /// The input iterator's panic in an inline chunk, raised when the
    /// consumer asks for the items after the ones it produced.
    input_panic: Option<Payload>,
    f: Arc<F>,
    chunking: Chunking,
    chunker: Option<Chunker>,
    window: usize,
    next_index: usize,
    progress: Arc<ProgressHook<'a>>,
}

impl<'a, I, F, T> Feeder<'a, I, F>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        let total = match inputs.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        Feeder {
            window: WINDOW_PER_WORKER * spawner.num_workers(),
            spawner,
            inputs,
            exhausted: false,
            partial: Vec::new(),
            returned: VecDeque::new(),
            input_panic: None,
            f: Arc::new(f),
            chunking: Chunking::Auto,
            chunker: None,
            next_index: 0,
            progress: Arc::new(ProgressHook::new(total)),
        }
    }

    /// Inputs not yet in a chunk, when known exactly.
    fn exact_len(&self) -> Option<usize> {
        match self.inputs.size_hint() {
            (low, Some(high)) if low == high => low.checked_add(self.returned.len() + self.partial.len()),
            _ => None,
        }
    }

    /// After `shutdown_now` a map takes one more input, whose chunk comes
    /// back cancelled (so the consumer is told: `Err(Cancelled)`, or the
    /// cancelled panic from `Map`), and then no more: it ends once what it
    /// queued has come back, rather than reading on and reporting every
    /// remaining input as cancelled, which for an endless input never
    /// ends. Inputs held back are dropped.
    fn last_input_after_shutdown(&mut self) -> Option<(usize, Vec<I::Item>)> {
        self.exhausted = true;
        // `partial` only holds inputs when `returned` is empty.
        self.returned.extend(self.partial.drain(..));
        let one = self.returned.pop_front().or_else(|| self.inputs.next());
        self.drop_held();
        let one = one?;
        let start = self.next_index;
        self.next_index += 1;
        Some((start, vec![one]))
    }

    /// Nothing is held back from the iterator: a direct run may take
    /// inputs straight from it.
    fn at_iterator(&self) -> bool {
        !self.exhausted && self.partial.is_empty() && self.returned.is_empty() && self.input_panic.is_none()
    }

    /// Puts back the inputs of queued chunks that no worker started
    /// (`chunks`: start index and inputs, from the last queued back to
    /// the first), which restarts numbering at the first of them.
    fn take_back(&mut self, chunks: Vec<(usize, Values<I::Item>)>) {
        let Some(&(first, _)) = chunks.last() else {
            return;
        };
        // `partial` was taken after every queued chunk: it goes last.
        self.returned.extend(self.partial.drain(..));
        for (_, mut values) in chunks {
            while let Some(x) = values.0.next_back() {
                self.returned.push_front(x);
            }
        }
        self.next_index = first;
    }

    /// Checked by the public setter, before it takes anything back.
    fn set_chunking(&mut self, chunking: Chunking) {
        self.chunking = chunking;
        self.chunker = None;
    }

    /// Checked by the public setter, before it takes anything back.
    fn set_window(&mut self, window: usize) {
        self.window = window;
    }

    fn set_progress(&mut self, callback: ProgressCallback<'a>) {
        self.progress.attach(callback);
    }

    fn observe(&mut self, len: usize, elapsed_ns: u64) {
        if let Some(chunker) = &mut self.chunker {
            chunker.observe(len, elapsed_ns);
        }
    }

    fn chunk_len(&mut self) -> usize {
        if self.chunker.is_none() {
            let total = self.exact_len();
            let item_bytes = std::mem::size_of::<I::Item>().max(std::mem::size_of::<T>());
            self.chunker = Some(Chunker::new(self.chunking, total, self.spawner.num_workers(), item_bytes));
        }
        self.chunker.as_ref().map_or(1, Chunker::size)
    }

    fn may_inline(&self) -> bool {
        self.spawner.may_run_inline() && self.chunker.as_ref().is_some_and(Chunker::may_inline)
    }

    /// Runs the next chunk on this thread (see [`Placement`]), reporting
    /// progress as a worker would; `None` when inputs are used up.
    fn run_inline(&mut self, watch: &Watch) -> Option<(usize, usize, Result<ChunkOutput<T>, TaskError>)> {
        if let Some(payload) = self.input_panic.take() {
            panic::resume_unwind(payload);
        }
        if self.exhausted && self.returned.is_empty() && self.partial.is_empty() {
            return None;
        }
        let size = self.chunk_len();
        // Inputs held back come first, taken one at a time so that those
        // a run stopped early does not reach stay held back (`partial`
        // only holds inputs when `returned` is empty, and they come after
        // anything in it). The takes are bounded: what is held back may be
        // more than a chunk (the size can shrink after inputs were taken);
        // and an iterator that has said `None` is not asked again.
        self.returned.extend(self.partial.drain(..));
        let from_returned = size.min(self.returned.len());
        let from_iterator = if self.exhausted { 0 } else { size };
        let stopped = std::cell::Cell::new(false);
        let mut items = 0usize;
        // Every `WATCH_EVERY` items: the watchdog's flag; every
        // `ALIVE_EVERY`, a leg ends (so the watchdog sees the consumer is
        // alive).
        let stop = || {
            items += 1;
            if !items.is_multiple_of(WATCH_EVERY) {
                return false;
            }
            if items.is_multiple_of(ALIVE_EVERY) {
                watch.end_leg();
            }
            let overrun = watch.overrun();
            stopped.set(overrun);
            overrun
        };
        watch.start_leg();
        let returned = &mut self.returned;
        let inputs = std::iter::from_fn(|| returned.pop_front())
            .take(from_returned)
            .chain(self.inputs.by_ref().take(from_iterator))
            .take(size);
        let (out, input_panic) = run_chunk(&*self.f, inputs, stop);
        watch.end_leg();
        let len = out.values.0.len() + out.failures.len();
        if let Some(payload) = input_panic {
            if len == 0 {
                panic::resume_unwind(payload);
            }
            self.input_panic = Some(payload);
        } else if len < size && !stopped.get() {
            self.exhausted = true;
        }
        if len == 0 {
            return None;
        }
        let start = self.next_index;
        self.next_index += len;
        self.observe(len, out.elapsed_ns);
        if stopped.get() {
            // The watchdog saw a whole period pass without `ALIVE_EVERY`
            // items: that is what they cost now, whatever the cheap ones
            // earlier in the chunk averaged.
            let period_ns = u64::try_from(crate::watchdog::PERIOD.as_nanos()).unwrap_or(u64::MAX);
            self.observe(ALIVE_EVERY, period_ns);
        }
        let progress = &self.progress;
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| progress.advance(len))) {
            Ok(()) => Ok(out),
            Err(payload) => Err(TaskError::from_panic(payload)),
        };
        Some((start, len, outcome))
    }

    /// Takes the next chunk of inputs, or `None` when they are used up.
    fn next_inputs(&mut self) -> Option<(usize, Vec<I::Item>)> {
        if let Some(payload) = self.input_panic.take() {
            panic::resume_unwind(payload);
        }
        if !self.exhausted && self.spawner.is_shut_down() {
            return self.last_input_after_shutdown();
        }
        if self.exhausted && self.returned.is_empty() && self.partial.is_empty() {
            return None;
        }
        let size = self.chunk_len();
        let from_returned = size.saturating_sub(self.partial.len()).min(self.returned.len());
        self.partial.extend(self.returned.drain(..from_returned));
        if self.returned.is_empty() && !self.exhausted && self.partial.len() < size {
            // Pushed one by one: `collect` would reserve what `size_hint`
            // claims, and an input iterator may claim anything. Pushed into
            // `partial`, so that if the iterator panics they are not lost.
            let mut inputs = self.inputs.by_ref().take(size.saturating_sub(self.partial.len()));
            self.partial.reserve(prealloc(&inputs));
            for x in &mut inputs {
                self.partial.push(x);
            }
            if self.partial.len() < size {
                self.exhausted = true;
            }
        }
        // More than a chunk held back (the size shrank): the rest waits.
        let chunk =
            if self.partial.len() > size { self.partial.drain(..size).collect() } else { mem::take(&mut self.partial) };
        if chunk.is_empty() {
            return None;
        }
        let start = self.next_index;
        self.next_index += chunk.len();
        Some((start, chunk))
    }

    /// A chunk's task, and its claim on the inputs: the task finds them
    /// gone (and returns `None`) if the consumer took them back first.
    fn chunk_job(
        &self,
        inputs: Vec<I::Item>,
    ) -> (impl FnOnce() -> Option<ChunkOutput<T>> + Send + 'a, Inputs<I::Item>) {
        let f = Arc::clone(&self.f);
        let progress = Arc::clone(&self.progress);
        // Wrapped so that inputs dropped unused (the chunk is cancelled)
        // are dropped under panic guards too.
        let claim = Arc::new(Claim::new(Values(inputs.into_iter())));
        let ours = Arc::clone(&claim);
        let job = move || {
            let inputs = ours.take()?;
            let len = inputs.0.len();
            // `Values` cannot panic: no input panic to pass on.
            let (out, _) = run_chunk(&*f, inputs, || false);
            progress.advance(len);
            Some(out)
        };
        (job, claim)
    }

    fn remaining_inputs(&self) -> (usize, Option<usize>) {
        let held = self.returned.len() + self.partial.len();
        let (low, high) = if self.exhausted { (0, Some(0)) } else { self.inputs.size_hint() };
        (low.saturating_add(held), high.and_then(|h| h.checked_add(held)))
    }
}

macro_rules! settings {
    ($example:literal) => {
        /// Sets the chunking: a number for chunks of exactly that many
        /// inputs (the last may be shorter), like Python's `chunksize`, or
        /// [`Chunking::Auto`] (the default). Panics if the size is 0.
        ///
        /// Called after iteration has begun, it applies to every input no
        /// worker has started yet: queued chunks not yet started are taken
        /// back and cut again (those already running finish as they are).
        ///
        /// ```
        /// let pool = pool::ThreadPool::new(2).unwrap();
        #[doc = concat!("let n = pool.", $example, ".chunk_size(100).count();")]
        /// assert_eq!(n, 1000);
        #[doc = concat!("let n = pool.", $example, ".chunk_size(pool::Chunking::Auto).count();")]
        /// assert_eq!(n, 1000);
        /// ```
        pub fn chunk_size(mut self, chunking: impl Into<Chunking>) -> Self {
            let chunking = chunking.into();
            if let Chunking::Fixed(size) = chunking {
                assert!(size >= 1, "chunk size must be at least 1, got {size}");
            }
            self.reconfigure();
            self.feeder.set_chunking(chunking);
            self
        }

        /// Keeps at most `chunks` chunks queued or running ahead of the
        /// consumer (default: 4 per worker). Panics if `chunks` is 0.
        ///
        /// Called after iteration has begun, it applies to every chunk no
        /// worker has started yet: those are taken back and queued again
        /// within the new window.
        ///
        /// ```
        /// let pool = pool::ThreadPool::new(2).unwrap();
        #[doc = concat!("let n = pool.", $example, ".window(2).count();")]
        /// assert_eq!(n, 1000);
        /// ```
        pub fn window(mut self, chunks: usize) -> Self {
            assert!(chunks >= 1, "a map's window must hold at least 1 chunk, got {chunks}");
            self.reconfigure();
            self.feeder.set_window(chunks);
            self
        }

        /// Calls `callback` each time a chunk finishes (on the worker that
        /// ran it), with the number of inputs done and the total when
        /// known; enough to drive a progress bar. Calls never overlap and
        /// `done` only grows (chunks that finish while a call is running
        /// are reported together by the next one, always before the map
        /// ends), so keep the callback
        /// cheap. It may use the pool itself: waiting inside it does not
        /// block this map's other chunks.
        ///
        /// `done` counts from the map's start: attached after iteration has
        /// begun, the callback is first called at once (on this thread)
        /// with what is already done, and `done` still reaches the total.
        /// On a pool-level map the callback must be `'static`; in a
        /// [`Scope`](crate::Scope) it may borrow.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let pool = pool::ThreadPool::new(2).unwrap();
        /// let seen = Arc::new(AtomicUsize::new(0));
        /// let last = Arc::clone(&seen);
        #[doc = concat!("let n = pool.", $example, ".on_progress(move |p| last.store(p.done, Ordering::SeqCst)).count();")]
        /// assert_eq!((n, seen.load(Ordering::SeqCst)), (1000, 1000));
        /// ```
        pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'a) -> Self {
            self.feeder.set_progress(Box::new(callback));
            self
        }
    };
}

/// The iterator returned by [`ThreadPool::try_map`](crate::ThreadPool::try_map):
/// `Ok(f(x))` or the task's error, in input order.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let results: pool::TryMap<'static, _, _, u8> = pool.try_map(|x: u8| x, 0..3u8);
/// assert_eq!(results.collect::<Vec<_>>(), [Ok(0), Ok(1), Ok(2)]);
/// ```
pub struct TryMap<'a, I: Iterator, F, T> {
    feeder: Feeder<'a, I, F>,
    in_flight: Queue<'a, I::Item, Option<ChunkOutput<T>>>,
    current: Option<Drain<T>>,
    placement: Placement,
    /// When the previous chunk was handed out, for `placement`.
    last_handout: Option<Instant>,
    /// A [`Map`] running inline computes items straight from the inputs,
    /// with no chunk buffer, in runs (see [`DirectRun`]): items it may still
    /// take in the current leg (the only state the per-item path writes
    /// besides the input iterator), and the run.
    direct_left: usize,
    direct_run: Option<DirectRun>,
    watch: Arc<Watch>,
}

/// A run of items computed straight from the inputs on the consumer,
/// planned for about [`TARGET_CHUNK_NS`](crate::TARGET_CHUNK_NS) of work
/// and accounted as one chunk for the placement. It goes in legs of about
/// 10 µs (`Chunker::leg_size`): at the end of each the consumer reads the
/// clock, counts the leg's items as done (progress, chunk timing) and ends
/// the run early if it has overrun, or if the items are no longer cheap.
/// Within a leg, the [watchdog](crate::watchdog) ends it early once a
/// period passes without a leg ending (its flag is read every
/// [`WATCH_EVERY`] items). So items that turn slow cost about a period on
/// the consumer before the map hands the rest to the workers.
struct DirectRun {
    started: Instant,
    leg_started: Instant,
    planned: usize,
    /// Items of the run's earlier legs.
    taken: usize,
    /// The current leg's length (less what the inputs lacked).
    leg: usize,
}

/// A chunk queued on the workers: its first input's index, its length,
/// the handle to its task (whose output is `R`) and its inputs.
struct Queued<'a, X, R> {
    start: usize,
    len: usize,
    handle: Handle<'a, R>,
    inputs: Inputs<X>,
}

/// The chunks a map has queued on the workers, in the order they were cut.
/// Dropping it (with its map) cancels those not yet started: nobody will
/// read their results.
struct Queue<'a, X, R>(VecDeque<Queued<'a, X, R>>);

impl<'a, X, R> Queue<'a, X, R> {
    fn new() -> Self {
        Queue(VecDeque::new())
    }

    /// Takes back, from the end, the chunks no worker has started, while
    /// they are the last ones cut (`end`: the index after the last input
    /// cut), so that the inputs after them keep their numbers. Returns
    /// their starts and inputs, last chunk first, for
    /// [`Feeder::take_back`].
    fn take_back_unstarted(&mut self, mut end: usize) -> Vec<(usize, Values<X>)> {
        let mut chunks = Vec::new();
        while let Some(queued) = self.0.back() {
            if queued.start + queued.len != end {
                break;
            }
            let Some(inputs) = queued.inputs.take() else {
                break;
            };
            queued.handle.cancel();
            end = queued.start;
            chunks.push((queued.start, inputs));
            self.0.pop_back();
        }
        chunks
    }
}

impl<'a, X, R> std::ops::Deref for Queue<'a, X, R> {
    type Target = VecDeque<Queued<'a, X, R>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<X, R> std::ops::DerefMut for Queue<'_, X, R> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<X, R> Drop for Queue<'_, X, R> {
    fn drop(&mut self) {
        for queued in &self.0 {
            queued.handle.cancel();
        }
    }
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
            in_flight: Queue::new(),
            current: None,
            placement: Placement::default(),
            last_handout: None,
            direct_left: 0,
            direct_run: None,
            watch: Arc::new(Watch::default()),
        }
    }

    settings!("try_map(|x: u32| x, 0..1000u32)");

    /// Ends a direct run and takes back every queued chunk no worker has
    /// started, so that settings changed now apply to all their inputs.
    fn reconfigure(&mut self) {
        self.end_leg(false);
        let chunks = self.in_flight.take_back_unstarted(self.feeder.next_index);
        self.feeder.take_back(chunks);
        // Measure afresh under the new settings.
        self.placement = Placement::default();
    }

    fn refill(&mut self) {
        while self.in_flight.len() < self.feeder.window && !self.placement.inline() {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let len = inputs.len();
            let (job, inputs) = self.feeder.chunk_job(inputs);
            let handle = self.feeder.spawner.spawn(job);
            self.in_flight.push_back(Queued { start, len, handle, inputs });
        }
    }

    /// The next item computed straight from the inputs, while a direct
    /// run lasts (only [`Map`], which has no failures to record: a panic in
    /// `f` simply propagates, as it would from the chunk).
    #[inline(always)]
    fn next_direct(&mut self) -> Option<T> {
        let left = self.direct_left;
        // The watchdog's flag is read every `WATCH_EVERY` items: a load
        // per item would cost a cheap map a third of its speed.
        if left == 0 || (left.is_multiple_of(WATCH_EVERY) && self.watch.overrun()) {
            return None;
        }
        let Some(x) = self.feeder.inputs.next() else {
            self.end_of_inputs();
            return None;
        };
        self.direct_left -= 1;
        Some((self.feeder.f)(x))
    }

    /// The inputs ran out during a direct run.
    #[cold]
    fn end_of_inputs(&mut self) {
        self.feeder.exhausted = true;
        if let Some(run) = &mut self.direct_run {
            run.leg -= self.direct_left;
        }
        self.direct_left = 0;
    }

    /// Starts a direct run of its first leg.
    fn start_direct(&mut self) {
        let planned = self.feeder.chunker.as_ref().map_or(1, Chunker::direct_size);
        let leg = self.feeder.chunker.as_ref().map_or(1, Chunker::leg_size).min(planned);
        let now = Instant::now();
        self.direct_left = leg;
        self.direct_run = Some(DirectRun { started: now, leg_started: now, planned, taken: 0, leg });
        self.watch.start_leg();
        self.watch.arm();
    }

    /// Ends the current leg of a direct run, if one is under way: counts
    /// its items as done (index, chunk timing, progress), then starts the
    /// next leg and returns `true` if `go_on` and the run should go on
    /// (see [`DirectRun`]); otherwise ends the run, accounting it as one
    /// chunk for the placement.
    fn end_leg(&mut self, go_on: bool) -> bool {
        let Some(run) = &mut self.direct_run else {
            return false;
        };
        let items = run.leg - mem::take(&mut self.direct_left);
        // Cut short by the watchdog: the items got slow.
        let full_leg = items == run.leg && !self.watch.overrun();
        self.watch.end_leg();
        let now = Instant::now();
        let leg_ns = u64::try_from(now.duration_since(run.leg_started).as_nanos()).unwrap_or(u64::MAX);
        run.taken += items;
        run.leg_started = now;
        let (taken, left) = (run.taken, run.planned - run.taken);
        let overrun = now.duration_since(run.started).as_nanos() as f64 > 2.0 * crate::chunk::TARGET_CHUNK_NS;
        if items > 0 {
            self.feeder.next_index += items;
            self.feeder.observe(items, leg_ns);
            self.feeder.progress.advance(items);
        }
        if go_on && full_leg && left > 0 && !overrun && !self.feeder.exhausted && self.feeder.may_inline() {
            let leg = self.feeder.chunker.as_ref().map_or(1, Chunker::leg_size).min(left);
            if let Some(run) = &mut self.direct_run {
                run.leg = leg;
            }
            self.direct_left = leg;
            self.watch.start_leg();
            // Again: a long progress callback may have had the map dropped
            // from the watchdog's list.
            self.watch.arm();
            return true;
        }
        self.direct_run = None;
        if taken > 0 {
            let full = self.feeder.chunker.as_ref().map_or(0, Chunker::direct_size);
            self.hand_out(taken, true, full);
        }
        false
    }

    /// The slow path: a failure, or the next chunk to wait for; `direct`
    /// allows starting a direct run (for [`Map`]).
    #[inline(never)]
    fn next_indexed(&mut self, direct: bool) -> Option<(usize, Result<T, TaskError>)> {
        if self.end_leg(true) {
            let index = self.feeder.next_index;
            if let Some(value) = self.next_direct() {
                return Some((index, Ok(value)));
            }
            self.end_leg(false);
        }
        loop {
            if let Some(item) = self.current.as_mut().and_then(Drain::next) {
                return Some(item);
            }
            // Keeps the per-item path to one check while nothing is buffered.
            self.current = None;
            if self.placement.inline() && !self.in_flight.is_empty() {
                // Inline from now on: what no worker has started yet is
                // cheaper to run here than to wait for.
                let chunks = self.in_flight.take_back_unstarted(self.feeder.next_index);
                self.feeder.take_back(chunks);
            }
            let shut_down = self.feeder.spawner.is_shut_down();
            if shut_down && self.placement.inline() {
                // Back to the workers' path, where the next input comes
                // back cancelled and the map then ends.
                self.placement = Placement::default();
            }
            if self.in_flight.is_empty() && self.placement.inline() && direct && self.feeder.at_iterator() && !shut_down
            {
                self.feeder.chunk_len();
                self.start_direct();
                let index = self.feeder.next_index;
                match self.next_direct() {
                    Some(value) => return Some((index, Ok(value))),
                    // The inputs are used up, or the watchdog's flag came
                    // before the first item (it does not come twice in a
                    // row: a flagged map is judged again only a period
                    // after it registers anew).
                    None => {
                        self.end_leg(false);
                        if self.feeder.exhausted {
                            return None;
                        }
                        continue;
                    }
                }
            }
            if self.in_flight.is_empty() && self.placement.inline() && !shut_down {
                self.watch.arm();
                let (start, len, outcome) = self.feeder.run_inline(&self.watch)?;
                let full = self.feeder.chunk_len();
                self.hand_out(len, true, full);
                self.current = Some(Drain::new(start, len, outcome));
                continue;
            }
            // The workers are needed now, the watchdog among them.
            self.watch.stop();
            self.refill();
            // Wait for the head chunk only: item i is handed out as soon as
            // items 0..=i are done, never later.
            let Queued { start, len, handle, .. } = self.in_flight.pop_front()?;
            // `None` only for inputs taken back, which are no longer queued.
            let outcome = handle.wait().and_then(|out| out.ok_or(TaskError::Cancelled));
            if let Ok(out) = &outcome {
                self.feeder.observe(len, out.elapsed_ns);
            }
            let full = self.feeder.chunk_len();
            if self.placement.is_unmeasured() && self.feeder.may_inline() {
                // The chunks back so far show items cheaper than handing
                // them out: run inline at once rather than first measuring
                // the workers on ever larger chunks.
                self.placement.start_inline();
            }
            // A chunk from the workers handed out while switching to
            // inline measures the switch, not a placement.
            let settled = !self.placement.inline();
            self.hand_out(len, settled, full);
            self.current = Some(Drain::new(start, len, outcome));
            // Top the window up before handing out this chunk's items.
            self.refill();
        }
    }

    /// Feeds the consumer's wall time per item to the placement; `full`
    /// is the size the chunker now wants for such a chunk.
    fn hand_out(&mut self, len: usize, settled: bool, full: usize) {
        let now = Instant::now();
        let elapsed = self
            .last_handout
            .replace(now)
            .filter(|_| settled)
            .map(|previous| u64::try_from(now.duration_since(previous).as_nanos()).unwrap_or(u64::MAX));
        // Per-item wall time of a chunk well below the size in force is
        // mostly per-chunk cost (the ramp-up, the tail): not comparable.
        let comparable = len.saturating_mul(2) >= full;
        self.placement.handed_out(len, elapsed.filter(|_| comparable), self.feeder.may_inline());
    }

    fn remaining(&self) -> (usize, Option<usize>) {
        let queued: usize = self.current.as_ref().map_or(0, Drain::remaining)
            + self.in_flight.iter().map(|queued| queued.len).sum::<usize>();
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
        self.next_indexed(false).map(|(_, result)| result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.remaining()
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

impl<I: Iterator, F, T> Drop for TryMap<'_, I, F, T> {
    fn drop(&mut self) {
        self.watch.stop();
        // Items a direct run handed out are done: report them, also when
        // the consumer never asked past the last one (`zip`, `take`). Not
        // while unwinding, where the progress callback must not run.
        if self.direct_run.is_some() && !std::thread::panicking() {
            let progress = &self.feeder.progress;
            if let Some(run) = &self.direct_run {
                progress.advance(run.leg - self.direct_left);
            }
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
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        Map { inner: TryMap::new(spawner, f, inputs) }
    }

    /// See [`TryMap::chunk_size`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.map(|x: u8| x, 0..10u8).chunk_size(3).count(), 10);
    /// ```
    pub fn chunk_size(self, chunking: impl Into<Chunking>) -> Self {
        Map { inner: self.inner.chunk_size(chunking) }
    }

    /// See [`TryMap::window`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// assert_eq!(pool.map(|x: u8| x, 0..10u8).window(1).count(), 10);
    /// ```
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

    // Always: the per-item path must sit in the caller's loop, where the
    // compiler can keep what it can in registers.
    #[inline(always)]
    fn next(&mut self) -> Option<T> {
        // A direct run first: it is the cheap-item case, where every
        // instruction on this path counts (nothing is buffered meanwhile).
        if let Some(value) = self.inner.next_direct() {
            return Some(value);
        }
        if let Some(value) = self.inner.current.as_mut().and_then(Drain::next_value) {
            return Some(value);
        }
        match self.inner.next_indexed(true)? {
            (_, Ok(value)) => Some(value),
            (_, Err(error)) => error.resume(),
        }
    }

    /// `sum`, `count`, `for_each` and the like come here: a direct run
    /// becomes a loop of its own, with its state in locals.
    fn fold<B, G>(mut self, init: B, mut g: G) -> B
    where
        G: FnMut(B, T) -> B,
    {
        let mut acc = init;
        loop {
            if let Some(drain) = &mut self.inner.current {
                while let Some(value) = drain.next_value() {
                    acc = g(acc, value);
                }
            }
            let left = self.inner.direct_left;
            if left > 0 {
                // The input's own `fold` (through `Take`), which for a range
                // or a slice is a counted loop. If `f` or `g` panics, the
                // map is dropped unread: the count written back below no
                // longer matters.
                let f = &*self.inner.feeder.f;
                let watch = &*self.inner.watch;
                let inputs = &mut self.inner.feeder.inputs;
                // The input's own loop (`try_fold`, through `Take`), with
                // the watchdog's flag read every `WATCH_EVERY` items.
                let mut taken = 0;
                let mut countdown = WATCH_EVERY;
                let mut cut = false;
                let folded = inputs.by_ref().take(left).try_fold(acc, |acc, x| {
                    taken += 1;
                    let acc = g(acc, f(x));
                    countdown -= 1;
                    if countdown == 0 {
                        countdown = WATCH_EVERY;
                        if watch.overrun() {
                            cut = true;
                            return ControlFlow::Break(acc);
                        }
                    }
                    ControlFlow::Continue(acc)
                });
                acc = match folded {
                    ControlFlow::Continue(acc) | ControlFlow::Break(acc) => acc,
                };
                let remaining = left - taken;
                let ran_out = remaining > 0 && !cut;
                self.inner.direct_left = remaining;
                if ran_out {
                    self.inner.end_of_inputs();
                }
            }
            match self.inner.next_indexed(true) {
                None => return acc,
                Some((_, Ok(value))) => acc = g(acc, value),
                Some((_, Err(error))) => error.resume(),
            }
        }
    }

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
        f.debug_struct("Map").field("chunks_in_flight", &self.inner.in_flight.len()).finish()
    }
}

/// A finished unordered chunk: first input index, length, outcome.
type Completed<T> = (usize, usize, Result<ChunkOutput<T>, TaskError>);

/// The iterator returned by
/// [`ThreadPool::map_unordered`](crate::ThreadPool::map_unordered):
/// `(input index, result)` pairs as chunks complete.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let mut got: Vec<usize> = pool.map_unordered(|x: u8| x, 0..5u8).map(|(i, _)| i).collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// ```
pub struct MapUnordered<'a, I: Iterator, F, T> {
    feeder: Feeder<'a, I, F>,
    completions: Arc<Completions<Completed<T>>>,
    /// Chunks queued, in queueing order (finished ones are forgotten now
    /// and then): to cancel them on drop, or take them back.
    handles: Queue<'a, I::Item, ()>,
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
            completions: Arc::new(Completions::new()),
            handles: Queue::new(),
            in_flight: 0,
            in_flight_items: 0,
            current: None,
        }
    }

    settings!("map_unordered(|x: u32| x, 0..1000u32)");

    /// Takes back every queued chunk no worker has started (from the last
    /// queued back), so that settings changed now apply to their inputs.
    fn reconfigure(&mut self) {
        let chunks = self.handles.take_back_unstarted(self.feeder.next_index);
        self.in_flight -= chunks.len();
        self.in_flight_items -= chunks.iter().map(|(_, values)| values.0.len()).sum::<usize>();
        self.feeder.take_back(chunks);
    }

    fn refill(&mut self) {
        while self.in_flight < self.feeder.window {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let len = inputs.len();
            let (job, claim) = self.feeder.chunk_job(inputs);
            let completions = Arc::clone(&self.completions);
            let unrun = Unrun { completions: Arc::clone(&completions), start, len, inputs: Arc::clone(&claim) };
            let handle = self.feeder.spawner.spawn(move || {
                let _unrun = unrun;
                // `job` catches `f`'s panics itself; this catches the
                // progress callback's, so the consumer is always told.
                let outcome = match panic::catch_unwind(AssertUnwindSafe(job)) {
                    Ok(Some(out)) => Ok(out),
                    // Taken back by the consumer, which no longer counts it.
                    Ok(None) => return,
                    Err(payload) => Err(TaskError::from_panic(payload)),
                };
                completions.push((start, len, outcome));
            });
            self.handles.push_back(Queued { start, len, handle, inputs: claim });
            self.in_flight += 1;
            self.in_flight_items += len;
        }
        // Handles are kept to cancel unstarted chunks on drop or take them
        // back; forget the finished ones now and then so the list stays
        // window-sized (order is kept: taking back goes from the end).
        if self.handles.len() > self.feeder.window.saturating_mul(2) {
            self.handles.retain(|queued| !queued.handle.is_finished());
        }
    }
}

/// Tells an unordered map's consumer about a chunk that will never run
/// (its task was cancelled, say by `shutdown_now`), which it would
/// otherwise wait for forever: dropped with the task's closure, it reports
/// the chunk as cancelled unless its inputs were taken, by the chunk when
/// it ran (which reports itself) or by the consumer (which took it back).
struct Unrun<X, T> {
    completions: Arc<Completions<Completed<T>>>,
    start: usize,
    len: usize,
    inputs: Inputs<X>,
}

impl<X, T> Drop for Unrun<X, T> {
    fn drop(&mut self) {
        if let Some(inputs) = self.inputs.take() {
            self.completions.push((self.start, self.len, Err(TaskError::Cancelled)));
            drop(inputs);
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
            registry::wait_until(&|| !completions.is_empty(), &|limit| completions.block(limit), None);
            let Some((start, len, out)) = completions.pop() else {
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

/// Exact when the inputs are.
impl<'a, I, F, T> ExactSizeIterator for MapUnordered<'a, I, F, T>
where
    I: ExactSizeIterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
}

impl<I: Iterator, F, T> fmt::Debug for MapUnordered<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered").field("chunks_in_flight", &self.in_flight).finish()
    }
}
