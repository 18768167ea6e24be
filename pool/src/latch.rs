//! Every "wait until signalled" primitive of the pool, in one place, each
//! with its protocol (as rayon-core keeps them in its `latch.rs`).
//!
//! | latch | set by | waited on by | who frees it |
//! |---|---|---|---|
//! | [`ResultCell`] | the worker finishing a task | the task's handle | the last of task and handle (`Arc`) |
//! | [`ScopeLatch`] | each scoped task, as its very last act | the scope's owner thread | the owner, once released: **may be freed while its last setter is still inside `set`** |
//! | [`Completions`] | each unordered-map chunk | the map's consumer | the last of map and chunks (`Arc`) |
//!
//! The worker sleep/wake protocol lives in [`sleep`](crate::sleep); the
//! "help with queued work while waiting" loop that every waiter on a worker
//! uses is [`wait_until`](crate::registry::wait_until).

use std::any::Any;
use std::collections::VecDeque;
use std::mem::{self, MaybeUninit};
use std::time::Instant;

use crate::error::TaskError;
use crate::sync::{
    park_timeout, thread, AtomicBool, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, Thread, UnsafeCell,
};

/// Sleeps on `ready` while `waiting` holds, at most until `deadline`: the
/// blocking half of a wait on a latch built on a condition variable.
pub(crate) fn block_on<T>(
    ready: &Condvar,
    guard: &mut MutexGuard<'_, T>,
    deadline: Option<Instant>,
    mut waiting: impl FnMut(&mut T) -> bool,
) {
    while waiting(&mut *guard) {
        match deadline {
            None => ready.wait(guard),
            Some(deadline) => {
                if ready.wait_until(guard, deadline) {
                    return;
                }
            }
        }
    }
}

/// Drops `value`, swallowing a panic from its `Drop` (and, should that
/// panic's own payload panic when dropped, leaking the payload): for values
/// nobody can be told about.
pub(crate) fn drop_quietly<V>(value: V) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))) {
        forget_payload(payload);
    }
}

fn forget_payload(payload: Box<dyn Any + Send>) {
    if let Err(inner) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload))) {
        mem::forget(inner);
    }
}

// ---------------------------------------------------------------------------
// ResultCell

/// Where the value is (the low two bits): not yet written, published,
/// moved out by the handle, or to be dropped by the task (the handle left
/// first). While `PENDING`, the `SLEEPING` bit says a waiter may be asleep.
const PENDING: usize = 0;
const READY: usize = 1;
const TAKEN: usize = 2;
const ABANDONED: usize = 3;
const WHERE: usize = 0b11;
const SLEEPING: usize = 0b100;

/// A task's completion latch and the value it guards, with no lock on the
/// way from the worker to the handle.
///
/// Protocol: the task calls [`complete`](ResultCell::complete) exactly once
/// (running or cancelled): it writes the value, then moves `state` from
/// `PENDING` to `READY` (release), which publishes it. The handle waits
/// until `READY` (acquire), then [`take`](ResultCell::take)s the value, or
/// [`abandon`](ResultCell::abandon)s the cell when dropped: from `PENDING`
/// to `ABANDONED`, after which `complete`'s move fails and it hands the
/// value back to the task, which drops it (under a panic guard: its `Drop`
/// is user code). So exactly one party reads the value, and only after
/// the state says it may.
///
/// Sleeping: a waiter, holding the lock, adds `SLEEPING` to a `PENDING`
/// state before it waits on the condition variable; `complete`'s move to
/// `READY` returns the state it replaced, and only if that had `SLEEPING`
/// does it take the lock and notify. Both are read-modify-writes of the
/// one `state`, so one sees the other: either the waiter's mark fails
/// (and it finds `READY`), or the completer sees the mark, and the lock
/// orders its notification after the waiter really waits. A task nobody
/// sleeps on costs no lock and no fence.
pub(crate) struct ResultCell<T> {
    state: AtomicUsize,
    value: UnsafeCell<MaybeUninit<Result<T, TaskError>>>,
    lock: Mutex<()>,
    ready: Condvar,
}

// SAFETY: the value is written by the completing thread and read by one
// other (the handle's, or the completer itself), each access ordered by
// the `state` protocol above; so the cell may be shared and sent when the
// value may be sent.
unsafe impl<T: Send> Send for ResultCell<T> {}
unsafe impl<T: Send> Sync for ResultCell<T> {}

impl<T> ResultCell<T> {
    pub(crate) fn new() -> Self {
        ResultCell {
            state: AtomicUsize::new(PENDING),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            lock: Mutex::new(()),
            ready: Condvar::new(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire) & WHERE, READY | TAKEN)
    }

    /// Sleeps until the task is done, or at most until `deadline`.
    pub(crate) fn block(&self, deadline: Option<Instant>) {
        let mut guard = self.lock.lock();
        block_on(&self.ready, &mut guard, deadline, |_| self.mark_sleeping());
    }

    /// Under the lock: whether the task is still pending, in which case
    /// the state now says a waiter sleeps, so `complete` will notify.
    fn mark_sleeping(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & WHERE != PENDING {
                return false;
            }
            if state & SLEEPING != 0 {
                return true;
            }
            match self.state.compare_exchange_weak(state, state | SLEEPING, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
    }

    /// Publishes the outcome; returns it instead when the handle is gone.
    #[must_use]
    pub(crate) fn complete(&self, result: Result<T, TaskError>) -> Option<Result<T, TaskError>> {
        // SAFETY: `complete` runs once, and nobody reads the value before
        // the state leaves `PENDING` for `READY`, below.
        self.value.with_mut(|value| unsafe { (*value).write(result) });
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & WHERE == ABANDONED {
                // SAFETY: the handle abandoned the cell and will not read
                // the value: it is still ours, written above.
                return Some(self.value.with_mut(|value| unsafe { (*value).assume_init_read() }));
            }
            match self.state.compare_exchange_weak(state, READY, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        if state & SLEEPING != 0 {
            drop(self.lock.lock());
            self.ready.notify_all();
        }
        None
    }

    /// The outcome; only after [`is_done`](ResultCell::is_done) returned
    /// true, and at most once.
    pub(crate) fn take(&self) -> Result<T, TaskError> {
        assert_eq!(self.state.load(Ordering::Acquire), READY, "task result taken before it was ready, or twice");
        self.state.store(TAKEN, Ordering::Relaxed);
        // SAFETY: `READY`, read with acquire, says the value is written;
        // the handle (the caller) is its only reader, and now has read it.
        self.value.with_mut(|value| unsafe { (*value).assume_init_read() })
    }

    /// The handle is going away: returns the outcome if it was ready and
    /// unread (for the caller to drop), else marks the cell so that
    /// `complete` returns it to the task.
    pub(crate) fn abandon(&self) -> Option<Result<T, TaskError>> {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state & WHERE {
                PENDING => {
                    match self.state.compare_exchange_weak(state, ABANDONED, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => return None,
                        Err(now) => state = now,
                    }
                }
                READY => return Some(self.take()),
                _ => return None,
            }
        }
    }
}

impl<T> Drop for ResultCell<T> {
    fn drop(&mut self) {
        // A handle always takes or abandons a published value, so this is
        // only for completeness: a value published and never read.
        if self.state.load(Ordering::Acquire) == READY {
            // SAFETY: `READY` and unread; `&mut self` rules out any reader.
            self.value.with_mut(|value| unsafe { (*value).assume_init_drop() });
        }
    }
}

// ---------------------------------------------------------------------------
// ScopeLatch

/// Counts a scope's unfinished work (its tasks, plus one for the body) and
/// wakes the scope's owner when the count reaches zero. It also keeps the
/// first panic of a task nobody waited on, for the scope to re-raise.
///
/// Protocol:
/// - `task_started` (on the spawning thread, before the job is queued)
///   adds one; the queue's release/acquire publishes it to the worker.
/// - Each task, as its **last** touch of the latch, calls
///   [`ScopeLatch::set`]. The one that brings the count to zero clones the
///   owner's `Thread` first, then stores `released`, then unparks through
///   its clone. The owner may free the latch as soon as it sees
///   `released`, that is, while the setter is still inside `set`: so `set`
///   takes a raw pointer, never holding a `&ScopeLatch` across the store
///   (rust-lang/rust#55005; rayon-core's `CoreLatch::set` does the same).
/// - The owner waits (helping with queued jobs if it is a worker) until
///   `released`, and only then reads `panic` and frees the latch.
pub(crate) struct ScopeLatch {
    pending: AtomicUsize,
    released: AtomicBool,
    owner: Thread,
    /// Tasks nobody can ask about (fire-and-forget, or their handle dropped)
    /// cancelled (by `shutdown_now`) before they ran.
    cancelled: AtomicUsize,
    /// The first panic of a task nobody waited on, and how many there were.
    panic: Mutex<(Option<Box<dyn Any + Send>>, usize)>,
}

impl ScopeLatch {
    pub(crate) fn new() -> Self {
        ScopeLatch {
            pending: AtomicUsize::new(1),
            released: AtomicBool::new(false),
            owner: thread::current(),
            cancelled: AtomicUsize::new(0),
            panic: Mutex::new((None, 0)),
        }
    }

    pub(crate) fn task_started(&self) {
        // Relaxed suffices, as for `Arc::clone`: the job that will call
        // `set` is published after this, through the queue.
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// One task (or the body) is done.
    ///
    /// # Safety
    /// `this` points to a live latch whose count includes the caller, who
    /// never touches the latch again after this call: once the count
    /// reaches zero the owner may free it before `set` returns.
    pub(crate) unsafe fn set(this: *const Self) {
        // SAFETY: the caller's count keeps the owner waiting, so the latch
        // is live until the `released` store below, after which only the
        // cloned `owner` (not the latch) is used.
        unsafe {
            if (*this).pending.fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            let owner = (*this).owner.clone();
            (*this).released.store(true, Ordering::Release);
            owner.unpark();
        }
    }

    /// Keeps `payload` if it is the first panic of an unobserved task.
    pub(crate) fn record_panic(&self, payload: Box<dyn Any + Send>) {
        let extra = {
            let mut panic = self.panic.lock();
            panic.1 += 1;
            if panic.0.is_none() {
                panic.0 = Some(payload);
                None
            } else {
                Some(payload)
            }
        };
        if let Some(extra) = extra {
            forget_payload(extra);
        }
    }

    /// A task nobody can ask about was cancelled instead of run; called before
    /// its `set`.
    pub(crate) fn record_cancelled(&self) {
        self.cancelled.fetch_add(1, Ordering::Relaxed);
    }

    /// How many such tasks were cancelled, once released (the
    /// `released` acquire orders their counts before this read).
    pub(crate) fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Parks the owner until released (or `deadline`); called only by it.
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        while !self.is_released() {
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return;
                    }
                    park_timeout(deadline - now);
                }
            }
        }
    }

    /// The first unobserved panic, once released.
    pub(crate) fn take_panic(&self) -> Option<Box<dyn Any + Send>> {
        self.panic.lock().0.take()
    }
}

// ---------------------------------------------------------------------------
// Completions

/// Where an unordered map's chunks drop their outcomes for the consumer: a
/// queue with a condition variable. Chunks `push` (lock, append, unlock,
/// notify); the consumer waits until the queue is non-empty and pops. Both
/// hold it through an `Arc`.
pub(crate) struct Completions<V> {
    done: Mutex<VecDeque<V>>,
    ready: Condvar,
}

impl<V> Completions<V> {
    pub(crate) fn new() -> Self {
        Completions { done: Mutex::new(VecDeque::new()), ready: Condvar::new() }
    }

    pub(crate) fn push(&self, item: V) {
        self.done.lock().push_back(item);
        self.ready.notify_one();
    }

    pub(crate) fn pop(&self) -> Option<V> {
        self.done.lock().pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.done.lock().is_empty()
    }

    pub(crate) fn block(&self, deadline: Option<Instant>) {
        block_on(&self.ready, &mut self.done.lock(), deadline, |done| done.is_empty());
    }
}
