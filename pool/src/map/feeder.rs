//! The feeder: pulls inputs on the consumer's thread, cuts them into
//! chunks and queues a task per chunk on the map's [`Lane`]. Shared by
//! both map flavours.
//!
//! Protocol: a chunk's inputs travel inside its task's closure (a
//! [`Work`]), and its job sits on the lane until a drainer (a pool job,
//! on a worker) or the consumer takes it off: the consumer runs a chunk
//! itself when it needs that chunk's results and it is still on the lane
//! ([`Feeder::run_oldest_here`], [`Feeder::run_newest_here`]). Whoever
//! takes it runs it, so each input is computed exactly once, wherever it
//! runs, and the outcome always arrives through the task's handle (whose
//! claim on the closure also settles a race with cancelling it). Settings changed
//! mid-iteration apply to chunks cut from then on; nothing queued is taken
//! back. After `shutdown_now` the feeder takes one more input (whose chunk
//! comes back cancelled, so the consumer is told) and then no more.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::{mem, ops};

use super::progress::{ProgressCallback, ProgressHook};
use super::values::{prealloc, run_chunk, Chunk, ChunkOutput, Spares, Values};
use crate::chunk::{default_window, Chunker, Chunking};
use crate::error::TaskError;
use crate::job::JobRef;
use crate::lane::Lane;
use crate::latch::drop_quietly;
use crate::spawn::Spawner;
use crate::task::Handle;

pub(super) struct Feeder<'a, I: Iterator, F, T> {
    pub(super) spawner: Spawner<'a>,
    inputs: I,
    exhausted: bool,
    /// Inputs taken for the next chunk when the input iterator panicked,
    /// kept for that chunk (a map may be used on after the panic).
    partial: Vec<I::Item>,
    /// What every chunk's task needs, behind one reference count: each
    /// queued chunk takes a count, and a count shared with every worker is
    /// a cache line that travels between cores, once per chunk.
    shared: Arc<Shared<'a, F>>,
    chunking: Chunking,
    chunker: Option<Chunker>,
    /// Chunks queued or running at most: the user's, or the default for
    /// the chunking ([`default_window`]).
    window: usize,
    window_set: bool,
    /// The index of the next input to go into a chunk.
    next_index: usize,
    /// The chunks queued and not yet taken by a drainer or the consumer.
    lane: Arc<Lane<JobRef>>,
    pub(super) spares: Spares<I::Item, T>,
}

impl<'a, I, F, T> Feeder<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    pub(super) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        let total = match inputs.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        };
        let spawner_workers = spawner.num_workers();
        Feeder {
            window: default_window(Chunking::Auto, spawner_workers, Self::item_bytes()),
            window_set: false,
            spawner,
            inputs,
            exhausted: false,
            partial: Vec::new(),
            shared: Arc::new(Shared { f, progress: ProgressHook::new(total) }),
            chunking: Chunking::Auto,
            chunker: None,
            next_index: 0,
            lane: Arc::new(Lane::new(spawner_workers)),
            spares: Spares::new(),
        }
    }

    /// Inputs not yet in a chunk, when known exactly.
    fn exact_len(&self) -> Option<usize> {
        match self.inputs.size_hint() {
            (low, Some(high)) if low == high => low.checked_add(self.partial.len()),
            _ => None,
        }
    }

    /// Checked by the public setter.
    pub(super) fn set_chunking(&mut self, chunking: Chunking) {
        self.chunking = chunking;
        self.chunker = None;
        if !self.window_set {
            self.window = default_window(chunking, self.spawner.num_workers(), Self::item_bytes());
        }
    }

    /// Checked by the public setter.
    pub(super) fn set_window(&mut self, chunks: usize) {
        self.window = chunks;
        self.window_set = true;
    }

    pub(super) fn window(&self) -> usize {
        self.window
    }

    /// What one input or result takes in a chunk buffer, whichever is more.
    fn item_bytes() -> usize {
        mem::size_of::<I::Item>().max(mem::size_of::<T>())
    }

    pub(super) fn set_progress(&mut self, callback: ProgressCallback<'a>) {
        self.shared.progress.attach(callback);
    }

    /// How many spare buffers of each kind to keep: a window's worth, plus
    /// the one being handed out. Saturating: `window` may be usize::MAX.
    pub(super) fn spare_limit(&self) -> usize {
        self.window.saturating_add(1)
    }

    /// Takes note of a finished chunk of `len` inputs as the consumer
    /// receives it: feeds back how long it ran, and reports the progress
    /// no chunk's own report has covered yet (see [`ProgressHook`]). If
    /// that report's callback panics, the chunk fails with the panic, as
    /// one whose own report panicked does (unless it failed already).
    pub(super) fn received(&mut self, len: usize, outcome: &mut Outcome<I::Item, T>) {
        // Chunks cut under a fixed size (before a switch to automatic
        // chunking) were not timed, and tell the sizer nothing.
        if let (Some(chunker), Ok(ChunkOutput { elapsed_ns: Some(elapsed_ns), .. })) = (&mut self.chunker, &*outcome) {
            chunker.observe(len, *elapsed_ns);
        }
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| self.shared.progress.catch_up())) {
            let error = TaskError::from_panic(payload);
            match outcome {
                Ok(_) => drop_quietly(mem::replace(outcome, Err(error))),
                Err(_) => drop_quietly(error),
            }
        }
    }

    fn chunk_len(&mut self) -> usize {
        let chunker = match &mut self.chunker {
            Some(chunker) => chunker,
            None => {
                let total = self.exact_len();
                let chunker = Chunker::new(self.chunking, total, self.spawner.num_workers(), Self::item_bytes());
                self.chunker.insert(chunker)
            }
        };
        chunker.size()
    }

    /// Takes the next chunk of inputs with its first input's index, or
    /// `None` when they are used up (or the pool was shut down and the one
    /// input after that is queued).
    pub(super) fn next_inputs(&mut self) -> Option<(usize, Vec<I::Item>)> {
        let chunk = self.cut()?;
        let start = self.next_index;
        self.next_index += chunk.len();
        Some((start, chunk))
    }

    fn cut(&mut self) -> Option<Vec<I::Item>> {
        if self.exhausted && self.partial.is_empty() {
            return None;
        }
        if self.spawner.is_shut_down() {
            return self.last_input_after_shutdown();
        }
        let size = self.chunk_len();
        if !self.exhausted && self.partial.len() < size {
            self.fill(size);
        }
        // More than a chunk held back (the size shrank): the rest waits.
        let chunk = if self.partial.len() > size {
            self.partial.drain(..size).collect()
        } else {
            let spare = self.spares.inputs();
            mem::replace(&mut self.partial, spare)
        };
        (!chunk.is_empty()).then_some(chunk)
    }

    /// Takes inputs into `partial` until it holds `size` or the inputs end.
    /// Into `partial`, so that if the input iterator panics, the inputs
    /// taken are not lost. Each `extend` asks for no more than the room
    /// already reserved: `extend` would reserve what `size_hint` claims,
    /// and an input iterator may claim anything, so the buffer grows here,
    /// by doubling, from a first reservation no bigger than an automatic
    /// chunk.
    fn fill(&mut self, size: usize) {
        let wanted = |partial: &Vec<I::Item>| size - partial.len();
        self.partial.reserve(prealloc(&self.inputs).min(wanted(&self.partial)));
        while wanted(&self.partial) > 0 {
            if self.partial.len() == self.partial.capacity() {
                self.partial.reserve(self.partial.len().clamp(1, wanted(&self.partial)));
            }
            let room = (self.partial.capacity() - self.partial.len()).min(wanted(&self.partial));
            let before = self.partial.len();
            self.partial.extend(self.inputs.by_ref().take(room));
            if self.partial.len() - before < room {
                self.exhausted = true;
                return;
            }
        }
    }

    /// After `shutdown_now` a map takes one more input, whose chunk comes
    /// back cancelled (so the consumer is told: `Err(Cancelled)`, or the
    /// cancelled panic from `Map`), and then no more: it ends once what it
    /// queued has come back, rather than reading on and reporting every
    /// remaining input as cancelled, which for an endless input never
    /// ends. Inputs already taken and held back (after the input iterator
    /// panicked) make that last chunk instead, so each is reported too.
    fn last_input_after_shutdown(&mut self) -> Option<Vec<I::Item>> {
        let exhausted = mem::replace(&mut self.exhausted, true);
        let held = mem::take(&mut self.partial);
        if !held.is_empty() {
            return Some(held);
        }
        let one = if exhausted { None } else { self.inputs.next() };
        Some(vec![one?])
    }

    /// Queues a chunk's task, whose closure `job(work)` makes: it computes
    /// the chunk with [`Work::run`], and drops `work` unrun if the task is
    /// cancelled.
    pub(super) fn queue<G, R>(
        &mut self,
        inputs: Vec<I::Item>,
        job: impl FnOnce(Work<'a, I::Item, T, F>) -> G,
    ) -> Queued<'a, R>
    where
        G: FnOnce() -> R + Send + 'a,
        R: Send + 'a,
    {
        let len = inputs.len();
        let timed = self.chunking == Chunking::Auto;
        let chunk = Chunk { inputs: Values::new(inputs), results: self.spares.results(), timed };
        let work = Work { shared: Arc::clone(&self.shared), chunk: Some(chunk) };
        let handle = self.spawner.push(&self.lane, job(work));
        Queued { start: 0, len, handle }
    }

    /// Runs the chunk of `handle` on this thread, as a drainer would, if
    /// it is the oldest still queued (no drainer has taken it) and this
    /// thread may run `f`; says whether it did (the outcome is then ready
    /// in `handle`). Not recorded in the pool's metrics, which count
    /// workers' tasks.
    pub(super) fn run_oldest_here<R>(&self, handle: &Handle<'a, R>) -> bool {
        if !self.spawner.may_run_here() {
            return false;
        }
        let job = self.lane.take_front_if(|job| job.addr() == handle.addr());
        job.is_some_and(|job| job.execute(None))
    }

    /// Runs the newest chunk still queued on this thread, if this thread
    /// may run `f`; says whether it did.
    pub(super) fn run_newest_here(&self) -> bool {
        self.spawner.may_run_here() && self.lane.pop_back().is_some_and(|job| job.execute(None))
    }

    /// The map's size hint: `queued` items already cut (in flight or being
    /// handed out), plus the inputs not yet queued.
    /// After `shutdown_now` the inputs not yet queued are only those of
    /// the one last chunk (see `last_input_after_shutdown`): the inputs
    /// held back, or else one more input.
    pub(super) fn size_hint(&self, queued: usize) -> (usize, Option<usize>) {
        let held = self.partial.len();
        let (low, high) = if self.exhausted || (held > 0 && self.spawner.is_shut_down()) {
            (0, Some(0))
        } else if self.spawner.is_shut_down() {
            let (low, high) = self.inputs.size_hint();
            (low.min(1), high.map(|high| high.min(1)))
        } else {
            self.inputs.size_hint()
        };
        (
            low.saturating_add(held).saturating_add(queued),
            high.and_then(|h| h.checked_add(held)).and_then(|h| h.checked_add(queued)),
        )
    }
}

/// The map's function and its progress count, which every chunk uses.
struct Shared<'a, F> {
    f: F,
    progress: ProgressHook<'a>,
}

/// A chunk's outcome: its output, or the error that failed it whole.
pub(super) type Outcome<X, T> = Result<ChunkOutput<X, T>, TaskError>;

/// A queued chunk's work: its inputs, and what computing them needs.
/// Dropped unrun (its task cancelled), it drops the inputs quietly: the
/// chunk comes back cancelled, which accounts for each of them, and a
/// panic from an input's `Drop` must not replace that outcome.
pub(super) struct Work<'a, X, T, F> {
    shared: Arc<Shared<'a, F>>,
    /// Taken by `run`.
    chunk: Option<Chunk<X, T>>,
}

impl<X, T, F: Fn(X) -> T> Work<'_, X, T, F> {
    pub(super) fn run(mut self) -> Outcome<X, T> {
        let chunk = self.chunk.take().expect("a chunk runs once");
        compute(&self.shared, chunk)
    }
}

impl<X, T, F> Drop for Work<'_, X, T, F> {
    fn drop(&mut self) {
        if let Some(chunk) = self.chunk.take() {
            drop_quietly(chunk);
        }
    }
}

/// Computes a chunk and counts it as done. The progress callback is user
/// code: its panic fails the chunk (and goes on to the consumer), wherever
/// the chunk ran. Nothing here may panic: on the consumer the chunk is off
/// the queue by now, and a panic would lose it.
fn compute<X, T, F: Fn(X) -> T>(shared: &Shared<'_, F>, chunk: Chunk<X, T>) -> Outcome<X, T> {
    let len = chunk.inputs.len();
    let out = run_chunk(&shared.f, chunk);
    match panic::catch_unwind(AssertUnwindSafe(|| shared.progress.advance(len))) {
        Ok(()) => Ok(out),
        Err(payload) => {
            // The chunk fails with the callback's panic; a second one from
            // a result's `Drop` has nobody to go to.
            drop_quietly(out);
            Err(TaskError::from_panic(payload))
        }
    }
}

impl<I: Iterator, F, T> Drop for Feeder<'_, I, F, T> {
    fn drop(&mut self) {
        // Chunks nobody will read: cancelled now, not left to the drainers.
        drop(self.lane.take_all());
        // User values: each dropped under its own guard, as a chunk's are.
        drop(Values::new(mem::take(&mut self.partial)));
    }
}

/// A chunk queued on the workers: its first input's index, its length,
/// and the handle to its task (whose result is `R`).
pub(super) struct Queued<'a, R> {
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) handle: Handle<'a, R>,
}

/// The chunks a map has queued, in the order they were cut. Dropping it
/// (with its map) cancels those not yet started: nobody will read their
/// results.
pub(super) struct Queue<'a, R>(VecDeque<Queued<'a, R>>);

impl<R> Queue<'_, R> {
    pub(super) fn new() -> Self {
        Queue(VecDeque::new())
    }
}

impl<'a, R> ops::Deref for Queue<'a, R> {
    type Target = VecDeque<Queued<'a, R>>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<R> ops::DerefMut for Queue<'_, R> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<R> Drop for Queue<'_, R> {
    fn drop(&mut self) {
        for queued in &self.0 {
            queued.handle.cancel();
        }
    }
}
