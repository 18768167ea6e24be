//! Scoped tasks: closures that borrow from the caller's stack, all joined
//! before [`ThreadPool::scope`](crate::ThreadPool::scope) returns.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::map::{Map, MapUnordered, TryMap};
use crate::registry::{self, Registry};
use crate::spawn::Spawner;
use crate::task::TaskHandle;

/// Counts a scope's unfinished tasks; the scope's caller waits on it.
pub(crate) struct ScopeLatch {
    pending: AtomicUsize,
    /// Panics of tasks whose handles were dropped unread.
    panics: Mutex<Vec<String>>,
    lock: Mutex<()>,
    all_done: Condvar,
}

impl ScopeLatch {
    fn new() -> Self {
        ScopeLatch {
            pending: AtomicUsize::new(0),
            panics: Mutex::new(Vec::new()),
            lock: Mutex::new(()),
            all_done: Condvar::new(),
        }
    }

    pub(crate) fn task_started(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn task_finished(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _guard = self.lock.lock();
            self.all_done.notify_all();
        }
    }

    pub(crate) fn record_panic(&self, message: String) {
        self.panics.lock().push(message);
    }

    fn is_done(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    fn block(&self, deadline: Option<Instant>) {
        let mut guard = self.lock.lock();
        while !self.is_done() {
            match deadline {
                None => self.all_done.wait(&mut guard),
                Some(deadline) => {
                    if self.all_done.wait_until(&mut guard, deadline).timed_out() {
                        return;
                    }
                }
            }
        }
    }

    fn wait(&self) {
        registry::wait_until(&|| self.is_done(), &|limit| self.block(limit), None);
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

    /// Runs `f` on the pool; it may borrow from outside the scope.
    ///
    /// If the task panics and its handle is dropped without being waited
    /// on, the scope re-raises that panic when it ends (as
    /// `std::thread::scope` does), so failures are never silent.
    pub fn spawn<F, T>(&'scope self, f: F) -> TaskHandle<T>
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

/// Runs `body` with a fresh scope and joins everything it spawned, even if
/// `body` panics (the panic is re-raised after the join).
pub(crate) fn run<'env, F, R>(registry: &Arc<Registry>, num_workers: usize, body: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope =
        Scope { registry, latch: Arc::new(ScopeLatch::new()), num_workers, _scope: PhantomData, _env: PhantomData };
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
    scope.latch.wait();
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
