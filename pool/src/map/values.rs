//! Chunk buffers: computing a chunk, and handing its results out.
//!
//! Protocol: whoever runs a chunk (a worker, or the consumer running the
//! head itself) calls [`run_chunk`], which fills one [`ChunkOutput`]: the
//! successes in a plain buffer, the failures (panics of `f`, with their
//! offsets) beside it. The buffer reaches the consumer whole, through the
//! chunk's task handle. A failure-free chunk then becomes the consumer's
//! fast path, a [`Values`] drained with one bounds check per item and no
//! synchronisation; a chunk with failures goes through a [`Drain`], which
//! raises each panic at its item. Both buffers then go back, empty, to
//! the map's [`Spares`] for the chunks cut later. Every user value left
//! unread (inputs of a cancelled chunk, results of a dropped map) is
//! dropped under its own panic guard.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;
use std::{mem, vec};

use crate::error::TaskError;
use crate::latch::drop_quietly;

/// A chunk as it is queued: its inputs, and an empty buffer (kept from an
/// earlier chunk) for its results.
pub(super) struct Chunk<X, T> {
    pub(super) inputs: Values<X>,
    pub(super) results: Vec<T>,
    /// Whether to time the chunk: only automatic chunking uses the time,
    /// and two clock reads are a real part of a one-item chunk's cost.
    pub(super) timed: bool,
}

/// What one chunk sends back. Successes and failures are stored apart
/// so the common all-success case costs no more memory than the values.
pub(super) struct ChunkOutput<X, T> {
    pub(super) values: Values<T>,
    /// (offset in chunk, error), ascending.
    pub(super) failures: Vec<(usize, TaskError)>,
    /// `None` when the chunk was not timed.
    pub(super) elapsed_ns: Option<u64>,
    /// The inputs' buffer, empty, for a later chunk.
    pub(super) spent: Vec<X>,
}

/// A finished chunk as the consumer receives it: first input index,
/// length, and the outcome (the whole chunk fails if its task was
/// cancelled or its progress callback panicked).
pub(super) type Finished<X, T> = (usize, usize, Result<ChunkOutput<X, T>, TaskError>);

/// Applies `f` to each input, catching its panics item by item so one
/// panicking input does not take its chunk-mates down.
///
/// One panic guard covers a run of items rather than each item (a guard
/// per call would keep `f` from being inlined into the loop, which costs
/// more than a 1 ns `f`); after a panic the run resumes at the next item.
pub(super) fn run_chunk<X, T, F: Fn(X) -> T>(f: &F, chunk: Chunk<X, T>) -> ChunkOutput<X, T> {
    let Chunk { mut inputs, results: mut values, timed } = chunk;
    let start = timed.then(Instant::now);
    let mut failures = Vec::new();
    loop {
        let run = panic::catch_unwind(AssertUnwindSafe(|| map_into(f, &mut inputs, &mut values)));
        match run {
            Ok(()) => break,
            // `Values` cannot panic in `next`: the panic is `f`'s.
            Err(payload) => failures.push((values.len() + failures.len(), TaskError::from_panic(payload))),
        }
    }
    let elapsed_ns = start.map(|start| u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
    ChunkOutput { values: Values::new(values), failures, elapsed_ns, spent: inputs.into_buffer() }
}

/// Appends `f(x)` for each remaining input to `values`. It writes into
/// reserved room and keeps the count in a local, which a guard stores as
/// the length when done, also when `f` panics (as std's `extend` does for
/// a `TrustedLen` iterator): `push` would store the length and reload the
/// buffer's pointer and capacity at every item, since its rarely taken
/// growth call could touch them, which costs more than a 1 ns `f`.
fn map_into<X, T, F: Fn(X) -> T>(f: &F, inputs: &mut Values<X>, values: &mut Vec<T>) {
    /// Sets the length to the slots written so far when dropped.
    struct SetLen<'v, T> {
        values: &'v mut Vec<T>,
        len: usize,
    }
    impl<T> Drop for SetLen<'_, T> {
        fn drop(&mut self) {
            // SAFETY: the slots below `len` were written (see the loop).
            unsafe { self.values.set_len(self.len) };
        }
    }
    values.reserve(inputs.len());
    let mut written = SetLen { len: values.len(), values };
    let slots = written.values.as_mut_ptr();
    for x in inputs {
        debug_assert!(written.len < written.values.capacity());
        // SAFETY: room for every remaining input was reserved above, and
        // each one fills one slot: `len` stays below the capacity. The
        // slot is past the length, so nothing is overwritten, and it counts
        // as written (for the guard) only once `f` has returned.
        unsafe { slots.add(written.len).write(f(x)) };
        written.len += 1;
    }
}

/// Empty buffers from chunks handed out, for the chunks cut next: a map
/// reuses a window's worth of buffers instead of allocating two per chunk
/// (which, for chunks past the allocator's mmap threshold, means fresh
/// pages to fault in on one core and unmap on another).
pub(super) struct Spares<X, T> {
    inputs: Vec<Vec<X>>,
    results: Vec<Vec<T>>,
}

impl<X, T> Spares<X, T> {
    pub(super) fn new() -> Self {
        Spares { inputs: Vec::new(), results: Vec::new() }
    }

    pub(super) fn inputs(&mut self) -> Vec<X> {
        self.inputs.pop().unwrap_or_default()
    }

    pub(super) fn results(&mut self) -> Vec<T> {
        self.results.pop().unwrap_or_default()
    }

    /// Keeps a finished chunk's buffers, up to `limit` of each (a window's
    /// worth: more would only be memory held for nothing).
    pub(super) fn keep(&mut self, inputs: Vec<X>, results: Vec<T>, limit: usize) {
        debug_assert!(inputs.is_empty() && results.is_empty());
        if self.inputs.len() < limit && inputs.capacity() > 0 {
            self.inputs.push(inputs);
        }
        if self.results.len() < limit && results.capacity() > 0 {
            self.results.push(results);
        }
    }
}

/// Room to reserve for a chunk of `inputs`: their lower size bound, but no
/// more than an automatic chunk holds, since a user's iterator may claim
/// any size (a lie is no reason to fail, or to reserve gigabytes).
pub(super) fn prealloc(inputs: &impl Iterator) -> usize {
    inputs.size_hint().0.min(crate::chunk::MAX_AUTO_CHUNK)
}

/// A run of user values (a chunk's inputs or results) read front to back,
/// whose buffer is kept for the next chunk once they are read
/// ([`into_buffer`](Values::into_buffer)): a map reuses a window's worth
/// of buffers rather than allocating (and page-faulting) two per chunk.
/// Values dropped unread are each dropped under their own panic guard,
/// and the first panic is raised once all are gone. A plain `Vec` would
/// abort the process at a second panicking `Drop` (a panic while
/// unwinding), and would leave the rest undropped after the first.
pub(super) struct Values<V> {
    /// Owns the allocation only: its length stays 0, so it drops no value.
    buf: Vec<V>,
    /// Invariant: the slots `read..end` of `buf`'s allocation hold values
    /// this struct owns; the slots before `read` were moved out.
    read: usize,
    end: usize,
}

impl<V> Values<V> {
    pub(super) fn new(mut values: Vec<V>) -> Self {
        let end = values.len();
        // SAFETY: 0 <= capacity; the `end` values now belong to the struct
        // (see the invariant), which reads or drops each exactly once.
        unsafe { values.set_len(0) };
        Values { buf: values, read: 0, end }
    }

    /// No values; allocates nothing.
    pub(super) fn empty() -> Self {
        Values::new(Vec::new())
    }

    /// Drops what is left unread (under guards, as `Drop` does) and gives
    /// back the empty buffer, its capacity kept.
    pub(super) fn into_buffer(mut self) -> Vec<V> {
        self.drop_unread();
        mem::take(&mut self.buf)
    }

    fn drop_unread(&mut self) {
        if !mem::needs_drop::<V>() {
            self.read = self.end;
            return;
        }
        let mut first = None;
        for value in self.by_ref() {
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

impl<V> Iterator for Values<V> {
    type Item = V;

    #[inline(always)]
    fn next(&mut self) -> Option<V> {
        if self.read == self.end {
            return None;
        }
        // SAFETY: `read < end`, so by the invariant the slot holds a value
        // we own; advancing `read` gives up that ownership to the caller.
        let value = unsafe { self.buf.as_ptr().add(self.read).read() };
        self.read += 1;
        Some(value)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.end - self.read;
        (len, Some(len))
    }
}

impl<V> ExactSizeIterator for Values<V> {}

impl<V> Drop for Values<V> {
    fn drop(&mut self) {
        self.drop_unread();
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
    /// drained. The buffers done with go to `spares`.
    pub(super) fn set<X>(&mut self, (start, len, outcome): Finished<X, T>, spares: &mut Spares<X, T>, limit: usize) {
        let spent = match outcome {
            Ok(out) if out.failures.is_empty() => {
                let drained = mem::replace(&mut self.fast, out.values);
                self.fast_end = start + len;
                spares.keep(out.spent, drained.into_buffer(), limit);
                return;
            }
            Ok(mut out) => {
                let spent = mem::take(&mut out.spent);
                self.slow = Some(Drain::new(start, len, Ok(out)));
                spent
            }
            Err(error) => {
                self.slow = Some(Drain::new::<X>(start, len, Err(error)));
                Vec::new()
            }
        };
        spares.keep(spent, Vec::new(), limit);
    }

    /// The failure-free run being handed out, to drain in a local loop
    /// (whose cursor stays in a register); give it back with `put_fast`.
    pub(super) fn take_fast(&mut self) -> Values<T> {
        mem::replace(&mut self.fast, Values::empty())
    }

    pub(super) fn put_fast(&mut self, values: Values<T>) {
        self.fast = values;
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
    fn new<X>(start: usize, len: usize, outcome: Result<ChunkOutput<X, T>, TaskError>) -> Self {
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
