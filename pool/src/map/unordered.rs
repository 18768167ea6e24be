//! The unordered map: `(input index, result)` pairs as chunks complete.
//!
//! Protocol: each chunk's task pushes its outcome onto the map's
//! [`Completions`] queue, which the consumer pops. A chunk whose task is
//! cancelled before it ran (by `shutdown_now`) reports itself as cancelled
//! when its closure, a [`Report`], is dropped unrun, so the consumer never
//! waits for a chunk that will not come. When nothing has completed, the
//! consumer takes the newest chunk still on the map's lane and runs it
//! itself rather than sleep: the one the workers would reach last, so running it here
//! delays nothing they would deliver sooner (on a pool with a start
//! handler, only if the consumer is one of the pool's workers). It reports
//! through the queue like any other.

use std::fmt;
use std::sync::Arc;

use super::feeder::{Feeder, Queue, Queued, Work};
use super::progress::Progress;
use super::settings;
use super::values::{Current, Cursor, Finished, Next};
use crate::chunk::Chunking;
use crate::error::TaskError;
use crate::latch::Completions;
use crate::registry;
use crate::spawn::Spawner;

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
    /// The failure-free run being handed out, and its first input index:
    /// all the per-item path reads (see [`TryMap`](crate::TryMap)).
    fast: Cursor<T>,
    fast_start: usize,
    engine: Box<Engine<'a, I, F, T>>,
}

/// An unordered map's state beyond the run being handed out.
struct Engine<'a, I: Iterator, F, T> {
    current: Current<T>,
    feeder: Feeder<'a, I, F, T>,
    completions: Arc<Completions<Finished<I::Item, T>>>,
    /// Chunks queued, in queueing order (finished ones are forgotten now
    /// and then): to cancel them on drop, with their handles alive, so a
    /// cancelled chunk (which the consumer hears of through
    /// `completions`) is not reported again as skipped work.
    handles: Queue<'a, ()>,
    /// Chunks queued or running, and the inputs in them.
    in_flight: usize,
    in_flight_items: usize,
}

impl<'a, I, F, T> MapUnordered<'a, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'a,
    F: Fn(I::Item) -> T + Send + Sync + 'a,
    T: Send + 'a,
{
    // As `TryMap::new`: inline, the engine built out of line.
    #[inline(always)]
    pub(crate) fn new(spawner: Spawner<'a>, f: F, inputs: I) -> Self {
        MapUnordered { fast: Cursor::empty(), fast_start: 0, engine: Engine::boxed(spawner, f, inputs) }
    }

    settings!("map_unordered(|x: u32| x, 0..1000u32)");
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
        Box::new(Engine {
            current: Current::new(),
            feeder: Feeder::new(spawner, f, inputs),
            completions: Arc::new(Completions::new()),
            handles: Queue::new(),
            in_flight: 0,
            in_flight_items: 0,
        })
    }

    /// The map's size hint, given the items left in its run.
    #[inline(never)]
    fn size_hint(&self, in_run: usize) -> (usize, Option<usize>) {
        self.feeder.size_hint(in_run + self.current.len() + self.in_flight_items)
    }

    /// The next item once the map's run is used up, with the run to read
    /// after it.
    #[inline(never)]
    fn next_chunk(&mut self) -> Option<Next<T>> {
        loop {
            if let Some(next) = self.current.next() {
                return Some(next);
            }
            let finished = self.next_finished()?;
            let limit = self.feeder.spare_limit();
            self.current.set(finished, &mut self.feeder.spares, limit);
        }
    }

    fn refill(&mut self) {
        while self.in_flight < self.feeder.window() {
            let Some((start, inputs)) = self.feeder.next_inputs() else {
                break;
            };
            let len = inputs.len();
            let completions = Arc::clone(&self.completions);
            let queued = self.feeder.queue(inputs, |work| {
                let report = Report { completions, start, len, work: Some(work) };
                move || report.run()
            });
            self.handles.push_back(Queued { start, ..queued });
            self.in_flight += 1;
            self.in_flight_items += len;
        }
        // Handles are kept to cancel unstarted chunks on drop; forget the
        // finished ones now and then so the list stays window-sized.
        if self.handles.len() > self.feeder.window().saturating_mul(2) {
            self.handles.retain(|queued| !queued.handle.is_finished());
        }
    }

    /// The next chunk to hand out, waiting for one if need be.
    fn next_finished(&mut self) -> Option<Finished<I::Item, T>> {
        loop {
            self.refill();
            if self.in_flight == 0 {
                return None;
            }
            let finished = match self.completions.pop() {
                Some(finished) => Some(finished),
                None if self.feeder.run_newest_here() => self.completions.pop(),
                None => None,
            };
            if let Some(mut finished) = finished {
                self.in_flight -= 1;
                self.in_flight_items -= finished.1;
                self.feeder.received(finished.1, &mut finished.2);
                return Some(finished);
            }
            let completions = &*self.completions;
            registry::wait_until(&|| !completions.is_empty(), &|limit| completions.block(limit), None);
        }
    }
}

/// An unordered map chunk's task: computes the chunk and pushes its
/// outcome onto the map's queue, or, dropped unrun (its task cancelled,
/// say by `shutdown_now`), pushes the chunk as cancelled, which the
/// consumer would otherwise wait for forever.
struct Report<'a, X, T, F> {
    completions: Arc<Completions<Finished<X, T>>>,
    start: usize,
    len: usize,
    /// Taken by `run`.
    work: Option<Work<'a, X, T, F>>,
}

impl<X, T, F: Fn(X) -> T> Report<'_, X, T, F> {
    fn run(mut self) {
        if let Some(work) = self.work.take() {
            self.completions.push((self.start, self.len, work.run()));
        }
    }
}

impl<X, T, F> Drop for Report<'_, X, T, F> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            self.completions.push((self.start, self.len, Err(TaskError::Cancelled)));
            drop(work);
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

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some((offset, value)) = self.fast.next_indexed() {
            return Some((self.fast_start + offset, Ok(value)));
        }
        let (run, start, item) = self.engine.next_chunk()?;
        self.fast.replace_spent(run);
        self.fast_start = start;
        Some(item)
    }

    // As `TryMap`'s: the engine's part out of line.
    #[inline(always)]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.engine.size_hint(self.fast.len())
    }
}

/// Exact when the inputs are, unless `shutdown_now` ends the map early:
/// the length then overstates what is left (the map reads one more input
/// and ends).
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
        f.debug_struct("MapUnordered").field("chunks_in_flight", &self.engine.in_flight).finish()
    }
}
