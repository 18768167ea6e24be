//! Chunk buffers: computing a chunk, and handing its results out.
//!
//! Protocol: whoever runs a chunk (a worker, or the consumer running the
//! head itself) calls [`run_chunk`], which fills one [`ChunkOutput`]: the
//! successes in a plain buffer, the failures (panics of `f`, with their
//! offsets) beside it. The buffer reaches the consumer whole, through the
//! chunk's task handle. A failure-free chunk then becomes the consumer's
//! fast path, a [`Values`] drained with one bounds check per item and no
//! synchronisation; a chunk with failures goes through a [`Drain`], which
//! raises each panic at its item. Every user value left unread (inputs of
//! a cancelled chunk, results of a dropped map) is dropped under its own
//! panic guard.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use std::{mem, vec};

use crate::error::TaskError;
use crate::latch::drop_quietly;

/// What one chunk sends back. Successes and failures are stored apart
/// so the common all-success case costs no more memory than the values.
pub(super) struct ChunkOutput<T> {
    pub(super) values: Values<T>,
    /// (offset in chunk, error), ascending.
    pub(super) failures: Vec<(usize, TaskError)>,
    pub(super) elapsed_ns: u64,
}

/// A finished chunk as the consumer receives it: first input index,
/// length, and the outcome (the whole chunk fails if its task was
/// cancelled or its progress callback panicked).
pub(super) type Finished<T> = (usize, usize, Result<ChunkOutput<T>, TaskError>);

/// Applies `f` to each input, catching its panics item by item so one
/// panicking input does not take its chunk-mates down.
///
/// One panic guard covers a run of items rather than each item (a guard
/// per call would keep `f` from being inlined into the loop, which costs
/// more than a 1 ns `f`); after a panic the run resumes at the next item.
pub(super) fn run_chunk<X, T, F: Fn(X) -> T>(f: &F, mut inputs: Values<X>) -> ChunkOutput<T> {
    let start = Instant::now();
    let mut values = Vec::with_capacity(inputs.len());
    let mut failures = Vec::new();
    loop {
        let run = panic::catch_unwind(AssertUnwindSafe(|| {
            for x in &mut inputs {
                values.push(f(x));
            }
        }));
        match run {
            Ok(()) => break,
            // `Values` cannot panic in `next`: the panic is `f`'s.
            Err(payload) => failures.push((values.len() + failures.len(), TaskError::from_panic(payload))),
        }
    }
    let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    ChunkOutput { values: Values::new(values), failures, elapsed_ns }
}

/// Room to reserve for a chunk of `inputs`: their lower size bound, but no
/// more than an automatic chunk holds, since a user's iterator may claim
/// any size (a lie is no reason to fail, or to reserve gigabytes).
pub(super) fn prealloc(inputs: &impl Iterator) -> usize {
    inputs.size_hint().0.min(crate::chunk::MAX_AUTO_CHUNK)
}

/// A run of user values (a chunk's inputs or results) that may be dropped
/// unread: each is dropped under its own panic guard, and the first panic
/// is raised once all are gone. A plain `Vec` would abort the process at
/// a second panicking `Drop` (a panic while unwinding), and would leave the
/// rest undropped after the first.
pub(super) struct Values<V>(vec::IntoIter<V>);

impl<V> Values<V> {
    pub(super) fn new(values: Vec<V>) -> Self {
        Values(values.into_iter())
    }

    /// No values; allocates nothing.
    pub(super) fn empty() -> Self {
        Values(Vec::new().into_iter())
    }
}

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

impl<V> ExactSizeIterator for Values<V> {}

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

/// The results the consumer is handing out: a failure-free chunk's values
/// (the fast path), or a chunk with failures, item by item.
pub(super) struct Current<T> {
    /// Successes to hand out before anything else; empty while a chunk
    /// with failures is drained.
    pub(super) fast: Values<T>,
    /// The index after the last of `fast`.
    fast_end: usize,
    slow: Option<Drain<T>>,
}

impl<T> Current<T> {
    pub(super) fn new() -> Self {
        Current { fast: Values::empty(), fast_end: 0, slow: None }
    }

    /// Starts handing out a finished chunk; only once the previous one is
    /// drained.
    pub(super) fn set(&mut self, (start, len, outcome): Finished<T>) {
        match outcome {
            Ok(out) if out.failures.is_empty() => {
                self.fast = out.values;
                self.fast_end = start + len;
            }
            outcome => self.slow = Some(Drain::new(start, len, outcome)),
        }
    }

    /// The next item with its input index, `None` once drained.
    #[inline]
    pub(super) fn next_indexed(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        let index = self.fast_end - self.fast.len();
        if let Some(value) = self.fast.next() {
            return Some((index, Ok(value)));
        }
        self.next_slow()
    }

    #[inline(never)]
    fn next_slow(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        let item = self.slow.as_mut()?.next();
        if item.is_none() {
            self.slow = None;
        }
        item
    }

    pub(super) fn len(&self) -> usize {
        self.fast.len() + self.slow.as_ref().map_or(0, Drain::remaining)
    }
}

/// A finished chunk with failures, handed out item by item.
struct Drain<T> {
    start: usize,
    len: usize,
    position: usize,
    /// Offset of the next failure, `usize::MAX` when there is none.
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
                (Values::empty(), failures)
            }
        };
        let next_failure = failures.first().map_or(usize::MAX, |(at, _)| *at);
        Drain { start, len, position: 0, next_failure, values, failures: failures.into_iter() }
    }

    fn remaining(&self) -> usize {
        self.len - self.position
    }

    fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        let offset = self.position;
        if offset == self.next_failure {
            let (_, error) = self.failures.next()?;
            self.next_failure = self.failures.as_slice().first().map_or(usize::MAX, |(at, _)| *at);
            self.position += 1;
            return Some((self.start + offset, Err(error)));
        }
        let value = self.values.next()?;
        self.position += 1;
        Some((self.start + offset, Ok(value)))
    }
}
