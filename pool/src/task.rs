//! A task, the cell its result travels back through, and the handle that
//! waits on it.
//!
//! A task with a handle is one `Arc<Task>`, shared by the queue (as a
//! [`JobRef`](crate::job::JobRef)) and the [`TaskHandle`] that reads its
//! result. Whoever takes the closure out of its [`Claim`] first owns the
//! right to complete the task, which is how running and cancelling race
//! safely. A fire-and-forget scoped task is a [`Detached`]: one `Box`.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::TaskError;
use crate::job::{Job, Recorder};
use crate::registry;
use crate::scope::{LatchRef, ScopeLatch};

/// A closure that exactly one party (a worker running it, or someone
/// cancelling it) may take.
pub(crate) struct Claim<F> {
    claimed: AtomicBool,
    func: UnsafeCell<Option<F>>,
}

// SAFETY: `func` is only reached through `take`, where the `swap` admits a
// single caller for the whole life of the value; that caller may be on any
// thread, hence `F: Send`.
unsafe impl<F: Send> Sync for Claim<F> {}

impl<F> Claim<F> {
    pub(crate) fn new(func: F) -> Self {
        Claim { claimed: AtomicBool::new(false), func: UnsafeCell::new(Some(func)) }
    }

    pub(crate) fn take(&self) -> Option<F> {
        if self.claimed.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap above returned `false` to us alone, so no other
        // reference to the cell's contents exists now or later.
        unsafe { (*self.func.get()).take() }
    }
}

enum Slot<T> {
    Pending,
    Ready(Result<T, TaskError>),
    /// The handle took the value.
    Taken,
    /// The handle was dropped before the task finished; the value is dropped
    /// as soon as it is produced.
    Abandoned,
}

/// The completion latch and the value it guards.
struct ResultCell<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
    done: AtomicBool,
}

pub(crate) struct Task<F, T> {
    func: Claim<F>,
    cell: ResultCell<T>,
    scope: Option<LatchRef>,
    /// When it was queued, if the pool keeps metrics.
    enqueued_at: Option<Instant>,
}

/// The typed view of a task a handle needs, with the closure type erased.
trait TaskState<T>: Send + Sync {
    fn cell(&self) -> &ResultCell<T>;
    fn cancel_task(&self);
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn new(func: F, scope: Option<LatchRef>, enqueued_at: Option<Instant>) -> Self {
        Task {
            func: Claim::new(func),
            cell: ResultCell { slot: Mutex::new(Slot::Pending), ready: Condvar::new(), done: AtomicBool::new(false) },
            scope,
            enqueued_at,
        }
    }

    fn run_once(&self, recorder: Option<&Recorder<'_>>) -> bool {
        let Some(func) = self.func.take() else {
            return false;
        };
        let start = Recorder::start(recorder);
        let result = panic::catch_unwind(AssertUnwindSafe(func)).map_err(TaskError::from_panic);
        Recorder::finish(recorder, self.enqueued_at, start);
        self.complete(result);
        true
    }

    fn cancel_once(&self) {
        if let Some(func) = self.func.take() {
            drop(func);
            self.complete(Err(TaskError::Cancelled));
        }
    }

    fn complete(&self, result: Result<T, TaskError>) {
        let mut slot = self.cell.slot.lock();
        let orphan = if matches!(*slot, Slot::Abandoned) {
            Some(result)
        } else {
            *slot = Slot::Ready(result);
            None
        };
        self.cell.done.store(true, Ordering::Release);
        drop(slot);
        self.cell.ready.notify_all();
        // The orphaned value may borrow from a scope's caller: drop it (and
        // note an unobserved panic) before telling the scope we are done.
        if let Some(orphan) = orphan {
            if let (Err(TaskError::Panicked(message)), Some(scope)) = (&orphan, self.scope) {
                // SAFETY: the scope outlives its tasks until `task_finished`.
                unsafe { scope.get() }.record_panic(message.clone());
            }
            drop(orphan);
        }
        if let Some(scope) = self.scope {
            // SAFETY: as above; this is the task's last use of the latch.
            unsafe { scope.get() }.task_finished();
        }
    }
}

impl<F, T> Job for Arc<Task<F, T>>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn execute(self, recorder: Option<&Recorder<'_>>) -> bool {
        self.run_once(recorder)
    }

    fn cancel(self) {
        self.cancel_once();
    }

    fn into_raw(self) -> NonNull<()> {
        let ptr = Arc::into_raw(self).cast_mut().cast::<()>();
        // SAFETY: `Arc::into_raw` never returns null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller passes back what `into_raw` gave, once.
        unsafe { Arc::from_raw(ptr.as_ptr().cast::<Task<F, T>>()) }
    }
}

impl<F, T> TaskState<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn cell(&self) -> &ResultCell<T> {
        &self.cell
    }

    fn cancel_task(&self) {
        self.cancel_once();
    }
}

/// A scoped task nobody waits on: no result cell, one small allocation.
/// Its panic, if any, is handed to the scope, which re-raises it.
pub(crate) struct Detached<F> {
    func: F,
    scope: LatchRef,
    enqueued_at: Option<Instant>,
}

impl<F: FnOnce() + Send> Detached<F> {
    pub(crate) fn new(func: F, scope: LatchRef, enqueued_at: Option<Instant>) -> Box<Self> {
        Box::new(Detached { func, scope, enqueued_at })
    }
}

impl<F: FnOnce() + Send> Job for Box<Detached<F>> {
    fn execute(self, recorder: Option<&Recorder<'_>>) -> bool {
        let Detached { func, scope, enqueued_at } = *self;
        let start = Recorder::start(recorder);
        let outcome = panic::catch_unwind(AssertUnwindSafe(func));
        Recorder::finish(recorder, enqueued_at, start);
        // SAFETY (both `get`s): the scope outlives its tasks until their
        // `task_finished`, which comes last.
        if let Err(payload) = outcome {
            if let TaskError::Panicked(message) = TaskError::from_panic(payload) {
                unsafe { scope.get() }.record_panic(message);
            }
        }
        unsafe { scope.get() }.task_finished();
        true
    }

    fn cancel(self) {
        let Detached { func, scope, .. } = *self;
        drop(func);
        // SAFETY: as in `execute`.
        unsafe { scope.get() }.task_finished();
    }

    fn into_raw(self) -> NonNull<()> {
        let ptr = Box::into_raw(self).cast::<()>();
        // SAFETY: `Box::into_raw` never returns null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller passes back what `into_raw` gave, once.
        unsafe { Box::from_raw(ptr.as_ptr().cast::<Detached<F>>()) }
    }
}

/// Creates a task and the handle to its result; the caller queues the job.
pub(crate) fn new_task<'a, F, T>(
    func: F,
    scope: Option<&Arc<ScopeLatch>>,
    enqueued_at: Option<Instant>,
) -> (Arc<Task<F, T>>, TaskHandle<T>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let task = Arc::new(Task::new(func, scope.map(|latch| LatchRef::new(latch)), enqueued_at));
    let state: Arc<dyn TaskState<T> + 'a> = task.clone();
    // SAFETY: erasing `'a` only lengthens the lifetime the type system sees.
    // Through this pointer a handle reaches the result cell (whose `T` the
    // handle's own type keeps from outliving `'a`) and the closure only to
    // cancel it, which a scope's tasks can no longer need once the scope
    // has joined them: the closure is gone by then.
    let state: Arc<dyn TaskState<T>> = unsafe { mem::transmute(state) };
    (task, TaskHandle { state, scope: scope.cloned() })
}

/// A handle to a task's result: wait for it, wait with a timeout, or poll it.
///
/// Dropping the handle does not cancel the task; it runs and its value is
/// dropped.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let handle = pool.submit(|| 6 * 7);
/// assert_eq!(handle.wait(), Ok(42));
///
/// let handle = pool.submit(|| -> u32 { panic!("boom") });
/// assert!(handle.wait().unwrap_err().is_panic());
/// ```
pub struct TaskHandle<T> {
    state: Arc<dyn TaskState<T>>,
    /// Kept alive by the handle (not by the task) so that dropping a handle
    /// that escaped its scope can still report an unread panic safely.
    scope: Option<Arc<ScopeLatch>>,
}

impl<T> TaskHandle<T> {
    /// True once the task has finished (with a value, a panic or cancelled).
    pub fn is_finished(&self) -> bool {
        self.state.cell().done.load(Ordering::Acquire)
    }

    /// Blocks until the task finishes and returns its value, or the panic
    /// it raised, or [`TaskError::Cancelled`].
    ///
    /// Called from a worker of a pool, this runs other queued tasks while it
    /// waits, so a task may wait on tasks it submitted without deadlock.
    pub fn wait(self) -> Result<T, TaskError> {
        let cell = self.state.cell();
        registry::wait_until(&|| cell.is_done(), &|limit| cell.block(limit), None);
        self.take()
    }

    /// Waits at most `timeout`. Returns the outcome when the task finished
    /// in time, or gives the handle back (`Err`) so the caller can wait again.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, TaskError>, TaskHandle<T>> {
        let deadline = Instant::now() + timeout;
        let cell = self.state.cell();
        if registry::wait_until(&|| cell.is_done(), &|limit| cell.block(limit), Some(deadline)) {
            Ok(self.take())
        } else {
            Err(self)
        }
    }

    /// Cancels the task if it has not started yet; its outcome becomes
    /// [`TaskError::Cancelled`]. A task already running is not interrupted.
    pub fn cancel(&self) {
        self.state.cancel_task();
    }

    fn take(&self) -> Result<T, TaskError> {
        let mut slot = self.state.cell().slot.lock();
        match mem::replace(&mut *slot, Slot::Taken) {
            Slot::Ready(result) => result,
            // `take` is only reached after `done` was observed, and only once.
            Slot::Pending | Slot::Taken | Slot::Abandoned => {
                unreachable!("task result taken before it was ready")
            }
        }
    }
}

impl<T> ResultCell<T> {
    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Sleeps until the task is done, or at most until `deadline`.
    fn block(&self, deadline: Option<Instant>) {
        registry::block_on(&self.ready, &mut self.slot.lock(), deadline, |_| !self.is_done());
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        let cell = self.state.cell();
        let mut slot = cell.slot.lock();
        match mem::replace(&mut *slot, Slot::Abandoned) {
            Slot::Ready(result) => {
                drop(slot);
                if let (Err(TaskError::Panicked(message)), Some(scope)) = (&result, &self.scope) {
                    scope.record_panic(message.clone());
                }
            }
            Slot::Taken => *slot = Slot::Taken,
            Slot::Pending | Slot::Abandoned => {}
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("finished", &self.is_finished()).finish()
    }
}
