//! A task, and the handles that wait on its result.
//!
//! A task with a handle is one `Arc<Task>`, shared by the queue (as a
//! [`JobRef`](crate::job::JobRef)) and the handle, which reads the result
//! through the task's [`ResultCell`]. Whoever takes the closure out of its
//! [`Claim`] first owns the right to complete the task, which is how
//! running and cancelling race safely. A fire-and-forget scoped task is a
//! [`Detached`]: one `Box`.
//!
//! Every piece of user code a task touches runs under a panic guard: the
//! closure (whose captures are dropped inside the call), the captures of a
//! cancelled closure, and a result nobody will read. A worker never
//! unwinds.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::job::{Job, Recorder};
use crate::latch::{drop_quietly, ResultCell, ScopeLatch};
use crate::registry;
use crate::sync::{AtomicBool, Ordering};

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

/// A task's pointer to its scope's latch (no reference count: the scope
/// outlives its tasks by waiting for them).
#[derive(Clone, Copy)]
pub(crate) struct LatchPtr(NonNull<ScopeLatch>);

// SAFETY: `ScopeLatch` is `Sync`; what keeps the pointer valid is the
// contract on `get` and `set`.
unsafe impl Send for LatchPtr {}
unsafe impl Sync for LatchPtr {}

impl LatchPtr {
    pub(crate) fn new(latch: &ScopeLatch) -> Self {
        LatchPtr(NonNull::from(latch))
    }

    /// # Safety
    /// Only for a task counted by `task_started` that has not yet called
    /// [`set`](LatchPtr::set): until then the scope waits, keeping the
    /// latch alive.
    pub(crate) unsafe fn get(&self) -> &ScopeLatch {
        // SAFETY: see above.
        unsafe { self.0.as_ref() }
    }

    /// The task's last touch of the latch.
    ///
    /// # Safety
    /// As for `get`; the pointer is not used again afterwards.
    pub(crate) unsafe fn set(self) {
        // SAFETY: forwarded: our count keeps the latch alive until `set`
        // releases it, and `set` never holds a reference across that point.
        unsafe { ScopeLatch::set(self.0.as_ptr()) }
    }
}

/// A wait that long (about 136 years) ends no sooner than one for ever.
const NEVER: Duration = Duration::from_secs(1 << 32);

/// Reports a panic of a task nobody will ask about: to its scope if it has
/// one (the scope re-raises it), otherwise nowhere.
fn report_unobserved(scope: Option<LatchPtr>, payload: Box<dyn std::any::Any + Send>) {
    match scope {
        // SAFETY: called before the task's `set`.
        Some(scope) => unsafe { scope.get() }.record_panic(payload),
        None => drop_quietly(payload),
    }
}

/// Drops an outcome nobody will read, under a panic guard (its `Drop` is
/// user code); a panic in `f` or in that `Drop` goes to the scope, and so
/// does a cancellation (unless `told` says someone was told of it by
/// other means), as a fire-and-forget task's does: work skipped with
/// nobody to tell must not pass for done.
fn drop_orphan<T>(scope: Option<LatchPtr>, told: Told, orphan: Result<T, TaskError>) {
    let unobserved = match orphan {
        Err(TaskError::Panicked(panic)) => Some(panic.into_payload()),
        Err(TaskError::Cancelled) => {
            if let (Some(scope), Told::ByHandle) = (scope, told) {
                // SAFETY: called before the task's `set` (see `complete`).
                unsafe { scope.get() }.record_cancelled();
            }
            None
        }
        Ok(value) => panic::catch_unwind(AssertUnwindSafe(move || drop(value))).err(),
    };
    if let Some(payload) = unobserved {
        report_unobserved(scope, payload);
    }
}

/// Who hears of a task's cancellation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Told {
    /// Its handle; if the handle is gone, its scope (a task of `submit`).
    ByHandle,
    /// Its map, through its own channel: the consumer was told, or let
    /// the map go (a map's chunk). Never its scope: the consumer may have
    /// heard of the cancellation and dropped the map just before the task
    /// completed, which is no skipped work.
    ByMap,
}

pub(crate) struct Task<F, T> {
    func: Claim<F>,
    cell: ResultCell<T>,
    scope: Option<LatchPtr>,
    told: Told,
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
    fn run_once(&self, recorder: Option<&Recorder<'_>>) -> bool {
        let Some(func) = self.func.take() else {
            return false;
        };
        let start = Recorder::start(recorder);
        // The closure's captures are dropped inside the call, so a panic in
        // their `Drop` is caught here too.
        let result = panic::catch_unwind(AssertUnwindSafe(func)).map_err(TaskError::from_panic);
        Recorder::finish(recorder, self.enqueued_at, start);
        self.complete(result);
        true
    }

    fn cancel_once(&self) {
        if let Some(func) = self.func.take() {
            let result = match panic::catch_unwind(AssertUnwindSafe(move || drop(func))) {
                Ok(()) => Err(TaskError::Cancelled),
                Err(payload) => Err(TaskError::from_panic(payload)),
            };
            self.complete(result);
        }
    }

    fn complete(&self, result: Result<T, TaskError>) {
        if let Some(orphan) = self.cell.complete(result) {
            // The orphan may borrow from a scope's caller: drop it before
            // telling the scope we are done.
            drop_orphan(self.scope, self.told, orphan);
        }
        if let Some(scope) = self.scope {
            // SAFETY: counted by `task_started` in `spawn`; this is the
            // task's last use of the latch (`complete` runs once, guarded
            // by the claim).
            unsafe { scope.set() };
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
    scope: LatchPtr,
    enqueued_at: Option<Instant>,
}

impl<F: FnOnce() + Send> Detached<F> {
    pub(crate) fn new(func: F, scope: LatchPtr, enqueued_at: Option<Instant>) -> Box<Self> {
        Box::new(Detached { func, scope, enqueued_at })
    }
}

impl<F: FnOnce() + Send> Job for Box<Detached<F>> {
    fn execute(self, recorder: Option<&Recorder<'_>>) -> bool {
        let Detached { func, scope, enqueued_at } = *self;
        let start = Recorder::start(recorder);
        let outcome = panic::catch_unwind(AssertUnwindSafe(func));
        Recorder::finish(recorder, enqueued_at, start);
        if let Err(payload) = outcome {
            report_unobserved(Some(scope), payload);
        }
        // SAFETY: counted by `task_started`; the job's last use of the latch.
        unsafe { scope.set() };
        true
    }

    fn cancel(self) {
        let Detached { func, scope, .. } = *self;
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(func))) {
            report_unobserved(Some(scope), payload);
        }
        // SAFETY: before our `set`, so the scope is still waiting.
        unsafe { scope.get() }.record_cancelled();
        // SAFETY: as in `execute`.
        unsafe { scope.set() };
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

/// Creates a task and the handle to its result; the caller counts it in
/// `scope` (if any) and queues the job.
pub(crate) fn new_task<'a, F, T>(
    func: F,
    scope: Option<&ScopeLatch>,
    told: Told,
    enqueued_at: Option<Instant>,
) -> (Arc<Task<F, T>>, Handle<'a, T>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let task = Arc::new(Task {
        func: Claim::new(func),
        cell: ResultCell::new(),
        scope: scope.map(LatchPtr::new),
        told,
        enqueued_at,
    });
    let state: Arc<dyn TaskState<T> + 'a> = task.clone();
    (task, Handle { state })
}

/// The handle logic shared by [`TaskHandle`], [`ScopedTaskHandle`] and the
/// maps. `'a` is what the task may borrow; the handle cannot outlive it.
pub(crate) struct Handle<'a, T> {
    state: Arc<dyn TaskState<T> + 'a>,
}

impl<T> Handle<'_, T> {
    pub(crate) fn is_finished(&self) -> bool {
        self.state.cell().is_done()
    }

    pub(crate) fn wait(&self) -> Result<T, TaskError> {
        let cell = self.state.cell();
        registry::wait_until(&|| cell.is_done(), &|limit| cell.block(limit), None);
        cell.take()
    }

    /// `None` when the deadline passed first.
    fn wait_timeout(&self, timeout: Duration) -> Option<Result<T, TaskError>> {
        // A timeout past what `Instant` can hold (`Duration::MAX`) is a
        // deadline that never comes, and still a timed wait: it must not
        // turn into the untimed one, which runs queued jobs on a worker.
        let now = Instant::now();
        let deadline = now.checked_add(timeout).or_else(|| now.checked_add(NEVER)).unwrap_or(now);
        let cell = self.state.cell();
        registry::wait_until(&|| cell.is_done(), &|limit| cell.block(limit), Some(deadline)).then(|| cell.take())
    }

    pub(crate) fn cancel(&self) {
        self.state.cancel_task();
    }

    /// The task's address, which its queued job's
    /// [`JobRef::addr`](crate::job::JobRef::addr) gives too.
    pub(crate) fn addr(&self) -> *const () {
        Arc::as_ptr(&self.state).cast()
    }

    /// The unread outcome, if the task has finished; afterwards the task
    /// drops whatever it produces.
    fn abandon(&self) -> Option<Result<T, TaskError>> {
        self.state.cell().abandon()
    }
}

impl<T> Drop for Handle<'_, T> {
    fn drop(&mut self) {
        // An unread value is dropped here, on the handle's thread: a panic
        // in its `Drop` is the dropper's, as for any other value.
        drop(self.abandon());
    }
}

/// A handle to a task's result: wait for it, wait with a timeout, or poll
/// it, as with `std::thread::JoinHandle`.
///
/// Dropping the handle does not cancel the task; it runs, and its value is
/// dropped on the worker (a panic in that `Drop` is caught there), unless
/// the task had already finished: then the value is dropped at once, on
/// the thread dropping the handle, like any other value that thread owns
/// (so a panic in its `Drop` is that thread's).
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
    inner: Handle<'static, T>,
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(inner: Handle<'static, T>) -> Self {
        TaskHandle { inner }
    }

    /// True once the task has finished (with a value, a panic or cancelled).
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let handle = pool.submit(|| 1);
    /// while !handle.is_finished() { std::thread::yield_now(); }
    /// assert_eq!(handle.wait(), Ok(1));
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// Blocks until the task finishes and returns its value, or the panic
    /// it raised (with its payload), or [`TaskError::Cancelled`].
    ///
    /// Called from a worker of a pool, this runs other queued tasks while it
    /// waits, so a task may wait on tasks it submitted without deadlock.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// assert_eq!(pool.submit(|| "done").wait(), Ok("done"));
    /// ```
    pub fn wait(self) -> Result<T, TaskError> {
        self.inner.wait()
    }

    /// Waits at most `timeout`. Returns the outcome when the task finished
    /// in time, or gives the handle back (`Err`) so the caller can wait again.
    ///
    /// Unlike [`wait`](TaskHandle::wait), it runs no other queued task
    /// meanwhile, even on a worker (one it started could outlast the
    /// deadline): a task polling this way for a task queued behind it
    /// waits until another worker is free to run that one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let handle = pool.submit(|| std::thread::sleep(Duration::from_millis(50)));
    /// let handle = handle.wait_timeout(Duration::ZERO).unwrap_err(); // not yet
    /// assert_eq!(handle.wait_timeout(Duration::from_secs(10)).unwrap(), Ok(()));
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, TaskError>, TaskHandle<T>> {
        self.inner.wait_timeout(timeout).ok_or(self)
    }

    /// Cancels the task if it has not started yet; its outcome becomes
    /// [`TaskError::Cancelled`]. A task already running is not interrupted.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().ok());
    /// let queued = pool.submit(|| 1);
    /// queued.cancel();
    /// tx.send(()).unwrap();
    /// assert_eq!(queued.wait(), Err(pool::TaskError::Cancelled));
    /// # blocker.wait().unwrap();
    /// ```
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("finished", &self.is_finished()).finish()
    }
}

/// A handle to a scoped task's result, from
/// [`Scope::submit`](crate::Scope::submit); like [`TaskHandle`], but it
/// cannot leave its scope (as `std::thread::ScopedJoinHandle`).
///
/// If the task panicked and the handle is dropped unread, the scope
/// re-raises that panic when it ends, so failures are never silent.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let v = vec![1, 2, 3];
/// let sum = pool.scope(|s| {
///     let h: pool::ScopedTaskHandle<'_, i32> = s.submit(|| v.iter().sum());
///     h.wait().unwrap()
/// });
/// assert_eq!(sum, 6);
/// ```
pub struct ScopedTaskHandle<'scope, T> {
    inner: Handle<'scope, T>,
    scope: &'scope ScopeLatch,
    /// [`cancel`](ScopedTaskHandle::cancel) was called: a cancellation
    /// left unread is then the caller's own doing, not skipped work.
    cancel_asked: AtomicBool,
    /// Invariant, so the handle cannot be made to outlive `'scope`.
    _scope: PhantomData<&'scope mut &'scope ()>,
}

impl<'scope, T> ScopedTaskHandle<'scope, T> {
    pub(crate) fn new(inner: Handle<'scope, T>, scope: &'scope ScopeLatch) -> Self {
        ScopedTaskHandle { inner, scope, cancel_asked: AtomicBool::new(false), _scope: PhantomData }
    }

    /// See [`TaskHandle::is_finished`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// pool.scope(|s| {
    ///     let h = s.submit(|| 1);
    ///     while !h.is_finished() { std::thread::yield_now(); }
    ///     assert_eq!(h.wait(), Ok(1));
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// See [`TaskHandle::wait`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let data = [1, 2, 3];
    /// let sum = pool.scope(|s| s.submit(|| data.iter().sum::<i32>()).wait());
    /// assert_eq!(sum, Ok(6));
    /// ```
    pub fn wait(self) -> Result<T, TaskError> {
        self.inner.wait()
    }

    /// See [`TaskHandle::wait_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let out = pool.scope(|s| s.submit(|| 5).wait_timeout(Duration::from_secs(10)).ok());
    /// assert_eq!(out, Some(Ok(5)));
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, TaskError>, Self> {
        self.inner.wait_timeout(timeout).ok_or(self)
    }

    /// See [`TaskHandle::cancel`].
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let outcome = pool.scope(|s| {
    ///     s.spawn(move || { rx.recv().ok(); }); // keeps the only worker busy
    ///     let queued = s.submit(|| 1);
    ///     queued.cancel();
    ///     tx.send(()).unwrap();
    ///     queued.wait()
    /// });
    /// assert_eq!(outcome, Err(pool::TaskError::Cancelled));
    /// ```
    pub fn cancel(&self) {
        self.cancel_asked.store(true, Ordering::Relaxed);
        self.inner.cancel();
    }
}

impl<T> Drop for ScopedTaskHandle<'_, T> {
    fn drop(&mut self) {
        match self.inner.abandon() {
            Some(Err(TaskError::Panicked(panic))) => self.scope.record_panic(panic.into_payload()),
            // Cancelled by `shutdown_now`, and nobody read it: the scope
            // says so, as for a fire-and-forget task.
            Some(Err(TaskError::Cancelled)) if !self.cancel_asked.load(Ordering::Relaxed) => {
                self.scope.record_cancelled();
            }
            other => drop(other),
        }
    }
}

impl<T> fmt::Debug for ScopedTaskHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedTaskHandle").field("finished", &self.is_finished()).finish()
    }
}
