//! Scoped tasks: closures that borrow from the caller's stack, all joined
//! before [`ThreadPool::scope`](crate::ThreadPool::scope) returns.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::args::Apply;
use crate::latch::ScopeLatch;
use crate::map::{Map, MapUnordered, TryMap};
use crate::registry;
use crate::spawn::{self, Spawner};
use crate::task::ScopedTaskHandle;
use crate::workers::Workers;

/// A scope in which tasks may borrow anything that outlives it (`'env`).
///
/// Made by [`ThreadPool::scope`](crate::ThreadPool::scope). Every task
/// spawned or map started in it has finished when the scope returns.
///
/// ```
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let mut total = 0;
/// pool.scope(|s: &pool::Scope<'_, '_>| {
///     let handle = s.submit(|| 20);
///     total = handle.wait().unwrap() + 1;
/// });
/// assert_eq!(total, 21);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope Arc<Workers>,
    latch: ScopeLatch,
    // Invariant in both lifetimes, as `std::thread::Scope` is, so the
    // borrow checker cannot shrink them to let a borrow escape.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// The pool this scope runs on.
    pub(crate) fn pool(&self) -> &'scope Arc<Workers> {
        self.pool
    }

    fn spawner(&'scope self) -> Spawner<'scope> {
        Spawner::scoped(self.pool, &self.latch)
    }

    /// Runs `f` on the pool, fire-and-forget (like `rayon::Scope::spawn`);
    /// it may borrow from outside the scope. The cheapest way to queue a
    /// task: no result cell is made.
    ///
    /// If `f` panics, the scope re-raises the panic once every task has
    /// finished. If [`shutdown_now`](crate::ThreadPool::shutdown_now)
    /// cancels `f` before it runs, the scope panics when it ends, so that
    /// skipped work is never mistaken for done.
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
        // SAFETY: counted in this scope's latch, which `run` waits on
        // before `'scope` ends.
        unsafe { spawn::spawn_detached(self.pool.registry(), &self.latch, f) }
    }

    /// Runs `f` on the pool and returns a handle to its result; `f` may
    /// borrow from outside the scope.
    ///
    /// If the task panics and its handle is dropped without being waited
    /// on, the scope re-raises that panic when it ends (as
    /// `std::thread::scope` does), so failures are never silent; and if
    /// [`shutdown_now`](crate::ThreadPool::shutdown_now) cancels it with
    /// its handle dropped, the scope panics when it ends, as for
    /// [`spawn`](Scope::spawn).
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
    pub fn submit<F, T>(&'scope self, f: F) -> ScopedTaskHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        // SAFETY: as in `spawn`.
        let handle = unsafe { spawn::spawn(self.pool.registry(), Some(&self.latch), f) };
        ScopedTaskHandle::new(handle, &self.latch)
    }

    /// [`ThreadPool::map`](crate::ThreadPool::map) over borrowed data.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let offset = 10; // borrowed
    /// let out: Vec<i32> = pool.scope(|s| s.map(|x: i32| x + offset, 0..3).collect());
    /// assert_eq!(out, [10, 11, 12]);
    /// ```
    #[inline]
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
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let limit = 1;
    /// let out: Vec<_> = pool.scope(|s| s.try_map(|x: i32| if x > limit { panic!("big") } else { x }, 0..3).collect());
    /// assert!(out[2].is_err());
    /// ```
    #[inline]
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
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let names = ["a", "b"];
    /// let n = pool.scope(|s| s.map_unordered(|i: usize| names[i].len(), 0..2).count());
    /// assert_eq!(n, 2);
    /// ```
    #[inline]
    pub fn map_unordered<I, F, T>(&'scope self, f: F, inputs: I) -> MapUnordered<'scope, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'scope,
        F: Fn(I::Item) -> T + Send + Sync + 'scope,
        T: Send + 'scope,
    {
        MapUnordered::new(self.spawner(), f, inputs.into_iter())
    }

    /// [`ThreadPool::starmap`](crate::ThreadPool::starmap) over borrowed data.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let scale = 2.0;
    /// let f = |x: f64, y: f64| scale * (x + y);
    /// let z: Vec<f64> = pool.scope(|s| s.starmap(f, pool::args::zip(([1.0, 2.0], [3.0, 4.0]))).collect());
    /// assert_eq!(z, [8.0, 12.0]);
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn starmap<I, F>(
        &'scope self,
        f: F,
        inputs: I,
    ) -> Map<'scope, I::IntoIter, impl Fn(I::Item) -> F::Output + Send + Sync + 'scope, F::Output>
    where
        I: IntoIterator,
        I::Item: Send + 'scope,
        F: Apply<I::Item> + Send + Sync + 'scope,
        F::Output: Send + 'scope,
    {
        self.map(move |args| f.apply(args), inputs)
    }
}

/// Runs `body` with a fresh scope on this thread and joins everything it
/// spawned, even if `body` panics. Then re-raises, with its original
/// payload, the body's panic or else the first panic of a task nobody
/// waited on; or else panics if `shutdown_now` cancelled a task with no
/// handle to tell (spawned, or submitted with its handle dropped).
pub(crate) fn run<'env, F, R>(pool: &Arc<Workers>, body: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope { pool, latch: ScopeLatch::new(), _scope: PhantomData, _env: PhantomData };
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
    // SAFETY: the body's own count, set once; `scope` outlives the wait.
    unsafe { ScopeLatch::set(&scope.latch) };
    registry::wait_until(&|| scope.latch.is_released(), &|limit| scope.latch.park(limit), None);
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(value) => {
            if let Some(payload) = scope.latch.take_panic() {
                panic::resume_unwind(payload);
            }
            let cancelled = scope.latch.cancelled();
            if cancelled > 0 {
                // Work the caller counts on was skipped: say so, loudly.
                panic!(
                    "{cancelled} task(s) spawned in this scope were cancelled by shutdown_now before they ran, \
                     with no handle to report it"
                );
            }
            value
        }
    }
}
