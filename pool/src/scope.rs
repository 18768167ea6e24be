//! Scoped tasks: closures that borrow from the caller's stack, all joined
//! before [`ThreadPool::scope`](crate::ThreadPool::scope) returns.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use parking_lot::Mutex;

use crate::map::{Map, MapUnordered, TryMap};
use crate::registry::{self, Registry};
use crate::spawn::Spawner;
use crate::task::TaskHandle;

/// Counts a scope's unfinished work (its tasks, plus one for the body) and
/// wakes the scope's owner when the count reaches zero.
///
/// The last finisher's final touch of the latch is the `released` store;
/// it wakes the owner through its own clone of the owner's `Thread`. So
/// tasks may point at the latch without keeping it alive: the owner frees
/// it only after seeing `released`, and nobody reads it afterwards.
pub(crate) struct ScopeLatch {
    pending: AtomicUsize,
    released: AtomicBool,
    owner: Thread,
    /// Panics of tasks nobody waited on.
    panics: Mutex<Vec<String>>,
}

impl ScopeLatch {
    fn new() -> Self {
        ScopeLatch {
            pending: AtomicUsize::new(1),
            released: AtomicBool::new(false),
            owner: thread::current(),
            panics: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn task_started(&self) {
        // Relaxed suffices, as for `Arc::clone`: the job that will call
        // `task_finished` is published after this, through the queue.
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn task_finished(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let owner = self.owner.clone();
            self.released.store(true, Ordering::Release);
            owner.unpark();
        }
    }

    pub(crate) fn record_panic(&self, message: String) {
        self.panics.lock().push(message);
    }

    fn is_done(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Parks the owner until released (or `deadline`); called only by it.
    fn park(&self, deadline: Option<Instant>) {
        while !self.is_done() {
            match deadline {
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return;
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
    }

    /// Drops the body's own count and waits for every task.
    fn finish_and_wait(&self) {
        self.task_finished();
        registry::wait_until(&|| self.is_done(), &|limit| self.park(limit), None);
    }
}

/// A task's pointer to its scope's latch.
#[derive(Clone, Copy)]
pub(crate) struct LatchRef(NonNull<ScopeLatch>);

// SAFETY: `ScopeLatch` is `Sync`; what keeps the pointer valid is the
// contract on `get`.
unsafe impl Send for LatchRef {}
unsafe impl Sync for LatchRef {}

impl LatchRef {
    pub(crate) fn new(latch: &ScopeLatch) -> Self {
        LatchRef(NonNull::from(latch))
    }

    /// # Safety
    /// Only for a task counted by `task_started` that has not yet called
    /// `task_finished`: until then the scope waits, keeping the latch alive.
    pub(crate) unsafe fn get(&self) -> &ScopeLatch {
        // SAFETY: see above.
        unsafe { self.0.as_ref() }
    }
}

/// A scope in which tasks may borrow anything that outlives it (`'env`).
///
/// Made by [`ThreadPool::scope`](crate::ThreadPool::scope). Every task
/// spawned or map started in it has finished when the scope returns.
pub struct Scope<'scope, 'env: 'scope> {
    registry: &'scope Arc<Registry>,
    latch: Arc<ScopeLatch>,
    num_workers: usize,
    // Invariant in both lifetimes, as `std::thread::Scope` is, so the
    // borrow checker cannot shrink them to let a borrow escape.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    fn spawner(&'scope self) -> Spawner<'scope> {
        Spawner::scoped(self.registry, &self.latch, self.num_workers)
    }

    /// Runs `f` on the pool, fire-and-forget (like `rayon::Scope::spawn`);
    /// it may borrow from outside the scope. The cheapest way to queue a
    /// task: no result cell is made.
    ///
    /// If `f` panics, the scope re-raises the panic once every task has
    /// finished.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let mut parts = vec![0u64; 8];
    /// let hits = AtomicUsize::new(0);
    /// pool.scope(|s| {
    ///     for (i, part) in parts.iter_mut().enumerate() {
    ///         let hits = &hits;
    ///         s.spawn(move || {
    ///             *part = i as u64 * 10;
    ///             hits.fetch_add(1, Ordering::Relaxed);
    ///         });
    ///     }
    /// });
    /// assert_eq!(parts[7], 70);
    /// assert_eq!(hits.into_inner(), 8);
    /// ```
    pub fn spawn<F>(&'scope self, f: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        self.spawner().spawn_detached(&self.latch, f)
    }

    /// Runs `f` on the pool and returns a handle to its result; `f` may
    /// borrow from outside the scope.
    ///
    /// If the task panics and its handle is dropped without being waited
    /// on, the scope re-raises that panic when it ends (as
    /// `std::thread::scope` does), so failures are never silent.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let data = vec![1, 2, 3, 4];
    /// let sum = pool.scope(|s| {
    ///     let (left, right) = data.split_at(2);
    ///     let l = s.submit(|| left.iter().sum::<i32>());
    ///     let r = s.submit(|| right.iter().sum::<i32>());
    ///     l.wait().unwrap() + r.wait().unwrap()
    /// });
    /// assert_eq!(sum, 10);
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.spawner().spawn(f)
    }

    /// [`ThreadPool::map`](crate::ThreadPool::map) over borrowed data.
    pub fn map<I, F, T>(&'scope self, f: F, inputs: I) -> Map<'scope, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'scope,
        F: Fn(I::Item) -> T + Send + Sync + 'scope,
        T: Send + 'scope,
    {
        Map::new(self.spawner(), f, inputs.into_iter())
    }

    /// [`ThreadPool::try_map`](crate::ThreadPool::try_map) over borrowed data.
    pub fn try_map<I, F, T>(&'scope self, f: F, inputs: I) -> TryMap<'scope, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'scope,
        F: Fn(I::Item) -> T + Send + Sync + 'scope,
        T: Send + 'scope,
    {
        TryMap::new(self.spawner(), f, inputs.into_iter())
    }

    /// [`ThreadPool::map_unordered`](crate::ThreadPool::map_unordered) over
    /// borrowed data.
    pub fn map_unordered<I, F, T>(&'scope self, f: F, inputs: I) -> MapUnordered<'scope, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'scope,
        F: Fn(I::Item) -> T + Send + Sync + 'scope,
        T: Send + 'scope,
    {
        MapUnordered::new(self.spawner(), f, inputs.into_iter())
    }
}

/// Runs `body` with a fresh scope on this thread and joins everything it
/// spawned, even if `body` panics (the panic is re-raised after the join).
pub(crate) fn run<'env, F, R>(registry: &Arc<Registry>, num_workers: usize, body: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope =
        Scope { registry, latch: Arc::new(ScopeLatch::new()), num_workers, _scope: PhantomData, _env: PhantomData };
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
    scope.latch.finish_and_wait();
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(value) => {
            let panics = std::mem::take(&mut *scope.latch.panics.lock());
            if let Some(first) = panics.first() {
                panic!("{} scoped task(s) panicked and were not waited on; first: {first}", panics.len());
            }
            value
        }
    }
}
