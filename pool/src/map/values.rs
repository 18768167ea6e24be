//! Chunk buffers: computing a chunk, and handing its results out.
//!
//! Protocol: whoever runs a chunk (a worker, or the consumer running the
//! head itself) calls [`run_chunk`], which fills one [`ChunkOutput`]: the
//! successes in a plain buffer, the failures (panics of `f`, with their
//! offsets) beside it. The buffer reaches the consumer whole, through the
//! chunk's task handle. A failure-free chunk then becomes the consumer's
//! fast path: the map holds a [`Cursor`] over its values, read with one
//! bounds check per item and no synchronisation, while [`Current`] keeps
//! the buffer; a chunk with failures goes through a [`Drain`], which
//! raises each panic at its item. Both buffers then go back, empty, to
//! the map's [`Spares`] for the chunks cut later. Every user value left
//! unread (inputs of a cancelled chunk, results of a dropped map) is
//! dropped under its own panic guard.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
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
    pub(super) failures: Failures,
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
    ChunkOutput {
        values: Values::new(values),
        failures: Failures::new(failures),
        elapsed_ns,
        spent: inputs.into_buffer(),
    }
}

/// A chunk's failures, (offset in chunk, error) in ascending order, read
/// front to back. Those left unread (a chunk nobody reads, a map dropped
/// halfway through a chunk) are dropped one by one, each under its own
/// panic guard: a panic payload's `Drop` is user code, and a second one
/// panicking while a plain `Vec`'s drop unwinds from the first would abort
/// the process.
pub(super) struct Failures(vec::IntoIter<(usize, TaskError)>);

impl Failures {
    fn new(failures: Vec<(usize, TaskError)>) -> Self {
        Failures(failures.into_iter())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.as_slice().is_empty()
    }

    /// The offset of the next failure, if any.
    fn next_offset(&self) -> Option<usize> {
        self.0.as_slice().first().map(|(at, _)| *at)
    }

    fn next(&mut self) -> Option<(usize, TaskError)> {
        self.0.next()
    }
}

impl Drop for Failures {
    fn drop(&mut self) {
        for failure in &mut self.0 {
            drop_quietly(failure);
        }
    }
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
/// The values are owned by a [`Cursor`] into the buffer, which the
/// consumer's fast path holds on its own ([`split`](Values::split)).
pub(super) struct Values<V> {
    /// Declared first, so the values go before their allocation.
    cursor: Cursor<V>,
    /// Owns the allocation only: its length stays 0, so it drops no value.
    buf: Vec<V>,
}

impl<V> Values<V> {
    pub(super) fn new(mut values: Vec<V>) -> Self {
        let end = values.len();
        // SAFETY: 0 <= capacity; the `end` values now belong to the cursor,
        // which reads or drops each exactly once, and `buf` (which keeps
        // the allocation alive and in place) goes with it.
        unsafe { values.set_len(0) };
        let cursor = unsafe { Cursor::new(values.as_mut_ptr(), end) };
        Values { cursor, buf: values }
    }

    /// No values; allocates nothing.
    pub(super) fn empty() -> Self {
        Values::new(Vec::new())
    }

    pub(super) fn len(&self) -> usize {
        self.cursor.len()
    }

    /// Drops what is left unread (under guards, as `Drop` does) and gives
    /// back the empty buffer, its capacity kept.
    pub(super) fn into_buffer(self) -> Vec<V> {
        let Values { cursor, buf } = self;
        drop(cursor);
        buf
    }

    /// The values, and the buffer that holds them. The cursor reads (and
    /// drops) into the buffer's allocation: the buffer must stay unchanged
    /// and alive (a move is fine) until the cursor is used up or dropped.
    pub(super) fn split(self) -> (Cursor<V>, Vec<V>) {
        (self.cursor, self.buf)
    }
}

impl<V> Iterator for Values<V> {
    type Item = V;

    #[inline(always)]
    fn next(&mut self) -> Option<V> {
        self.cursor.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.len();
        (len, Some(len))
    }
}

impl<V> ExactSizeIterator for Values<V> {}

/// Values read front to back out of a buffer that somebody else keeps
/// alive: the consumer's per-item path. It is three plain words with no
/// reference to the map it came from, so a loop over a map's `next` (such
/// as `Vec`'s `extend`, which `collect` uses) keeps them in registers: the
/// map's slow path must not take the address of the struct that holds the
/// cursor, or every item would pay a store and a reload of `read`.
/// Values dropped unread are each dropped under their own panic guard,
/// and the first panic is raised once all are gone. A plain `Vec` would
/// abort the process at a second panicking `Drop` (a panic while
/// unwinding), and would leave the rest undropped after the first.
pub(super) struct Cursor<V> {
    base: NonNull<V>,
    /// Invariant: the slots `read..end` from `base` hold values this
    /// cursor owns, in an allocation that outlives it; the slots before
    /// `read` were moved out.
    read: usize,
    end: usize,
    owns: PhantomData<V>,
}

// SAFETY: a cursor owns its unread values (as `vec::IntoIter` does) and
// nothing else: it may move to, or be read from, another thread when they may.
unsafe impl<V: Send> Send for Cursor<V> {}
unsafe impl<V: Sync> Sync for Cursor<V> {}

impl<V> Cursor<V> {
    /// # Safety
    /// `base` points to `end` values, which the cursor then owns, in an
    /// allocation that outlives the cursor and is not otherwise accessed.
    unsafe fn new(base: *mut V, end: usize) -> Self {
        let base = NonNull::new(base).unwrap_or(NonNull::dangling());
        Cursor { base, read: 0, end, owns: PhantomData }
    }

    /// No values.
    pub(super) fn empty() -> Self {
        Cursor { base: NonNull::dangling(), read: 0, end: 0, owns: PhantomData }
    }

    pub(super) fn len(&self) -> usize {
        self.end - self.read
    }

    /// The next value with its offset in the run.
    #[inline(always)]
    pub(super) fn next_indexed(&mut self) -> Option<(usize, V)> {
        if self.read == self.end {
            return None;
        }
        let offset = self.read;
        // SAFETY: `read < end`, so by the invariant the slot holds a value
        // we own; advancing `read` gives up that ownership to the caller.
        let value = unsafe { self.base.as_ptr().add(offset).read() };
        self.read = offset + 1;
        Some((offset, value))
    }

    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<V> {
        self.next_indexed().map(|(_, value)| value)
    }

    /// Makes a used-up cursor read `next` instead, without dropping it (a
    /// drop is a call that would take the cursor's address).
    #[inline(always)]
    pub(super) fn replace_spent(&mut self, next: Cursor<V>) {
        debug_assert_eq!(self.len(), 0, "a cursor is replaced only once read");
        mem::forget(mem::replace(self, next));
    }

    /// Drops the values `read..end` from `base`, each under its own guard,
    /// and raises the first panic once all are gone. Given the fields, not
    /// the cursor: lending the cursor to a call would keep it out of
    /// registers wherever it might be dropped.
    #[cold]
    fn drop_unread(base: NonNull<V>, read: usize, end: usize) {
        // Owns the values now (the caller's cursor has given them up).
        let mut rest = Cursor { base, read, end, owns: PhantomData };
        let mut first = None;
        while let Some(value) = rest.next() {
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

impl<V> Drop for Cursor<V> {
    // Inline: for values without drop glue this is nothing at all, so the
    // cursor's owner can be dropped without its address being taken.
    #[inline(always)]
    fn drop(&mut self) {
        if mem::needs_drop::<V>() && self.read != self.end {
            // Read by the call from here on: nothing left for this cursor.
            let read = mem::replace(&mut self.read, self.end);
            Self::drop_unread(self.base, read, self.end);
        }
    }
}

/// The results the consumer hands out: the allocation behind the
/// failure-free run its map is reading (the fast path: the map holds that
/// run's [`Cursor`] itself), and a chunk with failures, item by item.
pub(super) struct Current<T> {
    /// A run set here and not yet given to the map: only while a chunk is
    /// being taken, or after the input iterator panicked in between.
    /// Declared before `buffer`, whose allocation it reads.
    pending: Cursor<T>,
    /// The first input index of `pending` (and then of the map's run).
    pending_start: usize,
    /// Holds the allocation the map's run reads: kept unchanged until the
    /// map's cursor is used up, which it is whenever the map asks for more.
    buffer: Vec<T>,
    slow: Option<Drain<T>>,
}

/// What a map's slow path gives back: the run to read next (empty while a
/// chunk with failures is drained) with its first input index, and the
/// item to hand out now with its input index.
pub(super) type Next<T> = (Cursor<T>, usize, (usize, Result<T, TaskError>));

impl<T> Current<T> {
    pub(super) fn new() -> Self {
        Current { pending: Cursor::empty(), pending_start: 0, buffer: Vec::new(), slow: None }
    }

    /// Starts handing out a finished chunk; only once the previous one is
    /// drained, the map's cursor included. The buffers done with go to
    /// `spares`.
    pub(super) fn set<X>(&mut self, (start, len, outcome): Finished<X, T>, spares: &mut Spares<X, T>, limit: usize) {
        debug_assert!(self.pending.len() == 0 && self.slow.is_none());
        let spent = match outcome {
            Ok(out) if out.failures.is_empty() => {
                let (cursor, buffer) = out.values.split();
                let drained = mem::replace(&mut self.buffer, buffer);
                self.pending.replace_spent(cursor);
                self.pending_start = start;
                spares.keep(out.spent, drained, limit);
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

    /// The next item, with the run to read after it; `None` once drained.
    pub(super) fn next(&mut self) -> Option<Next<T>> {
        if let Some((offset, value)) = self.pending.next_indexed() {
            let run = mem::replace(&mut self.pending, Cursor::empty());
            return Some((run, self.pending_start, (self.pending_start + offset, Ok(value))));
        }
        let item = self.slow.as_mut()?.next();
        if item.is_none() {
            self.slow = None;
        }
        Some((Cursor::empty(), 0, item?))
    }

    /// Items set here and not yet given to the map.
    pub(super) fn len(&self) -> usize {
        self.pending.len() + self.slow.as_ref().map_or(0, Drain::remaining)
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
    failures: Failures,
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
                (Values::empty(), Failures::new(failures))
            }
        };
        let next_failure = failures.next_offset().unwrap_or(usize::MAX);
        Drain { start, len, position: 0, next_failure, values, failures }
    }

    fn remaining(&self) -> usize {
        self.len - self.position
    }

    fn next(&mut self) -> Option<(usize, Result<T, TaskError>)> {
        let offset = self.position;
        if offset == self.next_failure {
            let (_, error) = self.failures.next()?;
            self.next_failure = self.failures.next_offset().unwrap_or(usize::MAX);
            self.position += 1;
            return Some((self.start + offset, Err(error)));
        }
        let value = self.values.next()?;
        self.position += 1;
        Some((self.start + offset, Ok(value)))
    }
}
