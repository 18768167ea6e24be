//! The pool itself: building it, submitting to it, shutting it down.

use std::fmt;
use std::sync::Arc;
use std::thread;

use crate::args::Apply;
use crate::collect::{self, IntoIndexed};
use crate::error::BuildError;
use crate::map::{Map, MapUnordered, TryMap};
use crate::metrics::MetricsSnapshot;
use crate::registry::Registry;
use crate::scope::{self, Scope};
use crate::spawn::{self, Spawner};
use crate::task::TaskHandle;
use crate::workers::Workers;

/// The most workers a pool may have (as many as rayon allows): beyond
/// this, [`Builder::build`] returns [`BuildError::TooManyWorkers`] rather
/// than trying to reserve queues and threads the machine cannot have.
/// Below it the operating system may still refuse threads
/// ([`BuildError::Spawn`]).
///
/// ```
/// let error = pool::ThreadPool::new(pool::MAX_WORKERS + 1).unwrap_err();
/// assert!(matches!(error, pool::BuildError::TooManyWorkers { .. }));
/// assert!(error.to_string().contains("at most 65535 workers"));
/// ```
pub const MAX_WORKERS: usize = 0xFFFF;

type ThreadName = Box<dyn FnMut(usize) -> String>;
type WorkerHook = Arc<dyn Fn(usize) + Send + Sync>;

/// Configures a [`ThreadPool`] before it starts.
///
/// ```
/// let pool = pool::ThreadPool::builder()
///     .num_workers(3)
///     .thread_name(|i| format!("solver-{i}"))
///     .metrics(true)
///     .build()
///     .unwrap();
/// assert_eq!(pool.num_workers(), 3);
/// let name = pool.submit(|| std::thread::current().name().unwrap().to_string()).wait().unwrap();
/// assert!(name.starts_with("solver-"));
/// ```
#[must_use]
pub struct Builder {
    num_workers: Option<usize>,
    thread_name: Option<ThreadName>,
    stack_size: Option<usize>,
    metrics: bool,
    start_handler: Option<WorkerHook>,
    exit_handler: Option<WorkerHook>,
}

impl Builder {
    /// Defaults: one worker per available CPU, threads named `pool-<i>`,
    /// metrics off. Reached through [`ThreadPool::builder`], the one way in.
    fn new() -> Self {
        Builder {
            num_workers: None,
            thread_name: None,
            stack_size: None,
            metrics: false,
            start_handler: None,
            exit_handler: None,
        }
    }

    /// The number of worker threads; 0 or more than [`MAX_WORKERS`] makes
    /// [`build`](Builder::build) fail.
    ///
    /// ```
    /// assert!(pool::ThreadPool::builder().num_workers(0).build().is_err());
    /// ```
    pub fn num_workers(mut self, n: usize) -> Self {
        self.num_workers = Some(n);
        self
    }

    /// Names worker `i` (0-based) `name(i)`.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(1).thread_name(|i| format!("io-{i}")).build().unwrap();
    /// let name = pool.submit(|| std::thread::current().name().map(str::to_owned)).wait().unwrap();
    /// assert_eq!(name.as_deref(), Some("io-0"));
    /// ```
    pub fn thread_name(mut self, name: impl FnMut(usize) -> String + 'static) -> Self {
        self.thread_name = Some(Box::new(name));
        self
    }

    /// Stack size of each worker thread, in bytes.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(1).stack_size(8 << 20).build().unwrap();
    /// let deep = pool.submit(|| { let big = [1u8; 1 << 20]; big.iter().map(|&b| b as u32).sum::<u32>() });
    /// assert_eq!(deep.wait(), Ok(1 << 20));
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Records per-task queue wait and run time and per-worker busy time;
    /// read them with [`ThreadPool::metrics`].
    ///
    /// Every task's timing is kept (24 bytes each; a map's task is a
    /// chunk) until [`ThreadPool::reset_metrics`], and each
    /// [`ThreadPool::metrics`] call copies them all: a long-lived pool
    /// running millions of tasks should read and reset them now and then.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(2).metrics(true).build().unwrap();
    /// pool.submit(|| ()).wait().unwrap();
    /// assert_eq!(pool.metrics().unwrap().total_tasks(), 1);
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Runs `hook(i)` on worker `i` (0-based) when it starts, before it
    /// takes any task: the place to pin a worker to a core or set up
    /// thread-local state (rayon's `start_handler`).
    ///
    /// A pool with a start handler runs maps' `f` on its workers only:
    /// without one, a map's consumer runs a chunk itself when it needs it
    /// and no worker has taken it yet, on a thread the hook never prepared
    /// (so up to workers + 1 calls of `f` run at once).
    ///
    /// A panic in the hook is caught and ignored; the worker runs anyway.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let seen = Arc::clone(&started);
    /// let pool = pool::ThreadPool::builder()
    ///     .num_workers(2)
    ///     .start_handler(move |_worker| { seen.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// drop(pool); // joins the workers
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// ```
    pub fn start_handler(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.start_handler = Some(Arc::new(hook));
        self
    }

    /// Runs `hook(i)` on worker `i` as it exits, after its last task, when
    /// the pool shuts down. A panic in the hook is caught and ignored.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let exited = Arc::new(AtomicUsize::new(0));
    /// let seen = Arc::clone(&exited);
    /// let pool = pool::ThreadPool::builder()
    ///     .num_workers(3)
    ///     .exit_handler(move |_worker| { seen.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// drop(pool);
    /// assert_eq!(exited.load(Ordering::SeqCst), 3);
    /// ```
    pub fn exit_handler(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.exit_handler = Some(Arc::new(hook));
        self
    }

    /// Starts the workers.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(2).build()?;
    /// assert_eq!(pool.num_workers(), 2);
    /// # Ok::<(), pool::BuildError>(())
    /// ```
    pub fn build(mut self) -> Result<ThreadPool, BuildError> {
        let num_workers = match self.num_workers {
            Some(0) => return Err(BuildError::ZeroWorkers),
            Some(n) if n > MAX_WORKERS => return Err(BuildError::TooManyWorkers { requested: n }),
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let (registry, locals) = Registry::new(num_workers, self.metrics);
        let pool = ThreadPool {
            inner: Arc::new(Workers::new(Arc::clone(&registry), num_workers, self.start_handler.is_some())),
        };
        for (index, local) in locals.into_iter().enumerate() {
            let name = match &mut self.thread_name {
                Some(name) => name(index),
                None => format!("pool-{index}"),
            };
            // std's spawn panics on such a name; `pool` is dropped here,
            // stopping the workers already started.
            if name.contains('\0') {
                return Err(BuildError::ThreadName { worker: index, name });
            }
            let mut builder = thread::Builder::new().name(name);
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let registry = Arc::clone(&registry);
            let (start, exit) = (self.start_handler.clone(), self.exit_handler.clone());
            // On failure, `pool` is dropped here, which stops the workers
            // already started.
            let thread = builder
                .spawn(move || {
                    run_hook(start.as_deref(), index);
                    registry.main_loop(index, local);
                    run_hook(exit.as_deref(), index);
                })
                .map_err(BuildError::Spawn)?;
            pool.inner.add(thread);
        }
        Ok(pool)
    }
}

/// Runs a start or exit hook; a panic in it must not take the worker down
/// (a worker that never enters its loop would leave its deque unserved).
fn run_hook(hook: Option<&(dyn Fn(usize) + Send + Sync)>, index: usize) {
    if let Some(hook) = hook {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(index)));
    }
}

/// A fixed-size pool of worker threads.
///
/// `ThreadPool` is a cheap handle (one `Arc`): clone it to share the pool,
/// for instance with tasks that map on it themselves. The workers finish
/// every queued task and stop when the last handle is dropped (maps in
/// progress hold one); [`shutdown_now`](ThreadPool::shutdown_now), through
/// any handle, cancels what has not started. Dropping the last handle
/// waits for the workers to leave, except on one of the pool's own workers
/// (a task holding the last handle), which cannot wait for the others
/// without risking a deadlock: there the workers leave on their own.
///
/// ```
/// let pool = pool::ThreadPool::new(4).unwrap();
/// // Like Python's `executor.map(f, xs)`: results in input order, lazily.
/// let squares: Vec<u64> = pool.map(|x: u64| x * x, 0..10).collect();
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
///
/// // Nested: a task maps on the pool it runs on (the waiting task helps).
/// let inner = pool.clone();
/// let sums: Vec<u64> = pool.map(move |n: u64| inner.map(|x: u64| x, 0..n).sum(), 0..4).collect();
/// assert_eq!(sums, [0, 0, 1, 3]);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<Workers>,
}

impl ThreadPool {
    /// A pool of `num_workers` threads; 0 is an error.
    ///
    /// ```
    /// assert!(pool::ThreadPool::new(0).is_err());
    /// ```
    pub fn new(num_workers: usize) -> Result<ThreadPool, BuildError> {
        Builder::new().num_workers(num_workers).build()
    }

    /// A [`Builder`] for more options than [`new`](ThreadPool::new) takes.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(2).stack_size(1 << 20).build().unwrap();
    /// assert_eq!(pool.num_workers(), 2);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The number of worker threads.
    ///
    /// ```
    /// assert_eq!(pool::ThreadPool::new(3).unwrap().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.inner.num_workers()
    }

    fn spawner(&self) -> Spawner<'static> {
        Spawner::unscoped(&self.inner)
    }

    /// Runs `f` on a worker and returns a handle to its result.
    ///
    /// A panic in `f` is caught: the handle reports it as
    /// [`TaskError::Panicked`](crate::TaskError::Panicked) and the worker
    /// goes on with other tasks.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let handle = pool.submit(|| (1..=10).product::<u64>());
    /// assert_eq!(handle.wait(), Ok(3_628_800));
    /// ```
    pub fn submit<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: `f` and `T` are `'static`.
        TaskHandle::new(unsafe { spawn::spawn(self.inner.registry(), None, f) })
    }

    /// Applies `f` to every input on the pool and yields the results in
    /// input order, like Python's `Executor.map`, while later inputs are
    /// still being computed.
    ///
    /// Lazy and bounded: inputs are pulled (on the caller's thread) only a
    /// window of chunks ahead of the consumer, so mapping over a huge
    /// generated input uses constant memory. Chunking is automatic unless
    /// set with [`chunk_size`](Map::chunk_size). A panic in `f` is re-raised
    /// when its item is reached; use [`try_map`](ThreadPool::try_map) to get
    /// it as a value. Dropping the iterator early cancels chunks not yet
    /// started.
    ///
    /// To map over borrowed data, use [`scope`](ThreadPool::scope).
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let mut squares = pool.map(|x: u64| x * x, 0..); // an endless input is fine
    /// assert_eq!(squares.nth(1000), Some(1_000_000));
    /// ```
    #[inline]
    pub fn map<I, F, T>(&self, f: F, inputs: I) -> Map<'static, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Map::new(self.spawner(), f, inputs.into_iter())
    }

    /// Maps `f` over indexable inputs (a slice, a `&Vec`, an integer range
    /// `a..b` or `a..=b`, a `Vec` by value: see [`IntoIndexed`]) and
    /// returns the results in input order, like `list(executor.map(f, xs))`,
    /// with each worker writing its share of the output in place.
    ///
    /// Unlike [`map`](ThreadPool::map), no thread touches the items one by
    /// one, which makes this the fastest way to map a very cheap function.
    /// It is not lazy: it returns when every result is in. `f` and the
    /// inputs may borrow from the caller. A panic in `f` is re-raised here
    /// once the other workers have finished; the results already made, and
    /// the elements of a `Vec` by value not yet taken, are dropped first (as
    /// rayon does). On a pool shut down by
    /// [`shutdown_now`](ThreadPool::shutdown_now) it panics, since the items
    /// were cancelled rather than mapped.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let squares = pool.map_collect(|x: u64| x * x, 0..1_000_000u64);
    /// assert_eq!(squares[999], 998_001);
    ///
    /// let weights = vec![1.5, 2.0, 4.0];
    /// let scaled = pool.map_collect(|w: &f64| w * 10.0, &weights);
    /// assert_eq!(scaled, [15.0, 20.0, 40.0]);
    ///
    /// let owned = pool.map_collect(|w: f64| w as u32, weights); // moved in
    /// assert_eq!(owned, [1, 2, 4]);
    /// assert_eq!(pool.map_collect(|x: u32| x, 1..=3u32), [1, 2, 3]);
    /// ```
    pub fn map_collect<I, F, T>(&self, f: F, inputs: I) -> Vec<T>
    where
        I: IntoIndexed,
        F: Fn(I::Item) -> T + Sync,
        T: Send,
    {
        collect::map_collect(&self.inner, f, inputs)
    }

    /// Like [`map`](ThreadPool::map), but yields `Result`s: a panic in `f`
    /// becomes `Err(TaskError::Panicked(message))` at its item.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let out: Vec<_> = pool.try_map(|x: i32| if x == 2 { panic!("two") } else { x }, 0..4).collect();
    /// assert_eq!(out[1], Ok(1));
    /// assert!(out[2].as_ref().unwrap_err().is_panic());
    /// ```
    #[inline]
    pub fn try_map<I, F, T>(&self, f: F, inputs: I) -> TryMap<'static, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        TryMap::new(self.spawner(), f, inputs.into_iter())
    }

    /// Yields `(input index, result)` as chunks complete, in no particular
    /// order (Python's `as_completed` / `imap_unordered`).
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let mut out: Vec<(usize, u32)> =
    ///     pool.map_unordered(|x: u32| x + 1, [10, 20, 30]).map(|(i, r)| (i, r.unwrap())).collect();
    /// out.sort();
    /// assert_eq!(out, [(0, 11), (1, 21), (2, 31)]);
    /// ```
    #[inline]
    pub fn map_unordered<I, F, T>(&self, f: F, inputs: I) -> MapUnordered<'static, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        MapUnordered::new(self.spawner(), f, inputs.into_iter())
    }

    /// Maps a function of several arguments over a stream of argument
    /// tuples, in order (Python's `executor.map(f, xs, ys)` or
    /// `itertools.starmap`). See [`args`](crate::args) for building the
    /// stream and fixing arguments.
    ///
    /// ```
    /// use std::iter::repeat;
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let f = |a: f64, x: f64, y: f64| a * (x * x + y * y);
    /// let z: Vec<f64> = pool.starmap(f, pool::args::zip((repeat(-1.0), [1.0, 2.0], [0.0, 1.0]))).collect();
    /// assert_eq!(z, [-1.0, -5.0]);
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn starmap<I, F>(
        &self,
        f: F,
        inputs: I,
    ) -> Map<'static, I::IntoIter, impl Fn(I::Item) -> F::Output + Send + Sync + 'static, F::Output>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Apply<I::Item> + Send + Sync + 'static,
        F::Output: Send + 'static,
    {
        self.map(move |args| f.apply(args), inputs)
    }

    /// Runs `body` with a [`Scope`] whose tasks and maps may borrow from the
    /// caller's stack; returns once all of them have finished.
    ///
    /// As with `std::thread::scope`, the body runs on the calling thread, so
    /// it may block on what its tasks send (a channel, say) even on a
    /// one-worker pool. A panic in the body, or in a task nobody waited on,
    /// is re-raised here after every task has finished.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(2).unwrap();
    /// let weights = vec![0.5, 2.0, 4.0]; // borrowed, not cloned
    /// let total: f64 = pool.scope(|s| s.map(|i: usize| weights[i] * 10.0, 0..weights.len()).sum());
    /// assert_eq!(total, 65.0);
    /// ```
    pub fn scope<'env, F, R>(&self, body: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        scope::run(&self.inner, body)
    }

    /// The metrics recorded so far, or `None` unless the pool was built
    /// with [`Builder::metrics(true)`](Builder::metrics). They time what
    /// the workers run: a map chunk its consumer ran itself is not counted.
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(2).metrics(true).build().unwrap();
    /// let tasks: Vec<_> = (0..10).map(|i| pool.submit(move || i)).collect();
    /// tasks.into_iter().for_each(|t| drop(t.wait()));
    /// let m = pool.metrics().unwrap();
    /// assert_eq!(m.total_tasks(), 10);
    /// assert!(pool::ThreadPool::new(1).unwrap().metrics().is_none());
    /// ```
    pub fn metrics(&self) -> Option<MetricsSnapshot> {
        self.inner.registry().metrics.as_ref().map(|m| m.snapshot())
    }

    /// Clears the recorded metrics (to measure one phase on its own).
    ///
    /// ```
    /// let pool = pool::ThreadPool::builder().num_workers(1).metrics(true).build().unwrap();
    /// pool.submit(|| ()).wait().unwrap();
    /// pool.reset_metrics();
    /// assert_eq!(pool.metrics().unwrap().total_tasks(), 0);
    /// ```
    pub fn reset_metrics(&self) {
        if let Some(metrics) = &self.inner.registry().metrics {
            metrics.reset();
        }
    }

    /// Stops now, for every handle: tasks already running finish, tasks
    /// not started are cancelled (their handles report
    /// [`TaskError::Cancelled`](crate::TaskError::Cancelled), maps yield
    /// it), and the workers are joined (unless this is called from one of
    /// them: then they are told to stop but not waited for). Whatever is
    /// submitted afterwards is cancelled at once.
    ///
    /// A map reads no input after this: it hands out what it had already
    /// queued or computed, then one more input reported cancelled (`Map`
    /// raises the cancelled panic there), and ends, rather than reading on
    /// through a possibly endless input to report each one cancelled.
    ///
    /// ```
    /// let pool = pool::ThreadPool::new(1).unwrap();
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let shared = pool.clone(); // any handle will do, even a task's
    /// let running = pool.submit(move || { gate.recv().unwrap(); shared.shutdown_now(); "finished" });
    /// let queued = pool.submit(|| 1);
    /// release.send(()).unwrap();
    /// assert_eq!(running.wait(), Ok("finished"));
    /// assert_eq!(queued.wait(), Err(pool::TaskError::Cancelled));
    /// assert_eq!(pool.submit(|| 2).wait(), Err(pool::TaskError::Cancelled));
    /// ```
    pub fn shutdown_now(&self) {
        self.inner.shutdown_now();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool").field("num_workers", &self.num_workers()).finish()
    }
}
