//! A task, the cell its result travels back through, and the handle that
//! waits on it.
//!
//! One allocation per task: the [`Task`] is at once the queue entry (as a
//! [`JobRef`]) and the result cell the [`TaskHandle`] reads. Whoever takes
//! the closure out of `func` first owns the right to complete the task,
//! which is how running and cancelling race safely without `unsafe`.

use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::TaskError;
use crate::registry;
use crate::scope::ScopeLatch;

/// What the queues hold: something to run, or to cancel if the pool stops.
pub(crate) trait Job: Send + Sync {
    /// Runs the task unless it was already run or cancelled; says whether it ran.
    fn execute(&self) -> bool;
    /// Completes the task with [`TaskError::Cancelled`] if it has not started.
    fn cancel(&self);
    /// When the task was queued, if the pool records metrics.
    fn enqueued_at(&self) -> Option<Instant>;
}

pub(crate) type JobRef = Arc<dyn Job>;

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
    func: Mutex<Option<F>>,
    cell: ResultCell<T>,
    scope: Option<Arc<ScopeLatch>>,
    enqueued_at: Option<Instant>,
}

/// The typed view of a task a handle needs, with the closure type erased.
trait TaskState<T>: Send + Sync {
    fn cell(&self) -> &ResultCell<T>;
    fn scope(&self) -> Option<&ScopeLatch>;
    fn cancel_task(&self);
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(crate) fn new(func: F, scope: Option<Arc<ScopeLatch>>, timed: bool) -> Self {
        Task {
            func: Mutex::new(Some(func)),
            cell: ResultCell { slot: Mutex::new(Slot::Pending), ready: Condvar::new(), done: AtomicBool::new(false) },
            scope,
            enqueued_at: if timed { Some(Instant::now()) } else { None },
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
            if let (Err(TaskError::Panicked(message)), Some(scope)) = (&orphan, &self.scope) {
                scope.record_panic(message.clone());
            }
            drop(orphan);
        }
        if let Some(scope) = &self.scope {
            scope.task_finished();
        }
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn execute(&self) -> bool {
        let Some(func) = self.func.lock().take() else {
            return false;
        };
        let result = panic::catch_unwind(AssertUnwindSafe(func)).map_err(TaskError::from_panic);
        self.complete(result);
        true
    }

    fn cancel(&self) {
        let func = self.func.lock().take();
        if let Some(func) = func {
            drop(func);
            self.complete(Err(TaskError::Cancelled));
        }
    }

    fn enqueued_at(&self) -> Option<Instant> {
        self.enqueued_at
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

    fn scope(&self) -> Option<&ScopeLatch> {
        self.scope.as_deref()
    }

    fn cancel_task(&self) {
        self.cancel();
    }
}

/// Creates a task and the handle to its result; the caller queues the job.
pub(crate) fn new_task<'a, F, T>(
    func: F,
    scope: Option<Arc<ScopeLatch>>,
    timed: bool,
) -> (Arc<dyn Job + 'a>, TaskHandle<T>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let task = Arc::new(Task::new(func, scope, timed));
    let state: Arc<dyn TaskState<T> + 'a> = task.clone();
    // SAFETY: erasing `'a` only lengthens the lifetime the type system sees.
    // Every caller either passes `'a = 'static` (plain submit/map) or is a
    // scope, which does not return before this task has run or been
    // cancelled (its latch counts the task until `complete` has dropped any
    // orphaned value), so nothing borrowed is touched after it ends. What a
    // handle can still reach afterwards is `T`, which the handle's own type
    // keeps from outliving `'a`.
    let state: Arc<dyn TaskState<T>> = unsafe { mem::transmute(state) };
    (task, TaskHandle { state })
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
        let mut slot = self.slot.lock();
        while !self.is_done() {
            match deadline {
                None => self.ready.wait(&mut slot),
                Some(deadline) => {
                    if self.ready.wait_until(&mut slot, deadline).timed_out() {
                        return;
                    }
                }
            }
        }
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        let cell = self.state.cell();
        let mut slot = cell.slot.lock();
        match mem::replace(&mut *slot, Slot::Abandoned) {
            Slot::Ready(result) => {
                drop(slot);
                if let (Err(TaskError::Panicked(message)), Some(scope)) = (&result, self.state.scope()) {
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
