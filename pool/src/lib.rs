//! A fixed-size thread pool for embarrassingly parallel work, written from
//! scratch on `std`, `crossbeam-deque` and `parking_lot`.
//!
//! What Python users get from `concurrent.futures.ProcessPoolExecutor`,
//! without processes, pickling or the GIL:
//!
//! | Python | here |
//! |---|---|
//! | `executor.submit(f)` / `future.result()` | [`ThreadPool::submit`] / [`TaskHandle::wait`] |
//! | `executor.map(f, xs)` | [`ThreadPool::map`] (lazy, bounded memory, in order) |
//! | `list(executor.map(f, xs))` over a list or range | [`ThreadPool::map_collect`] (results written in place: fastest for tiny `f`) |
//! | `executor.map(f, xs, chunksize=100)` | `pool.map(f, xs).chunk_size(100)` ([`Chunking::Auto`] by default) |
//! | `as_completed` / `imap_unordered` | [`ThreadPool::map_unordered`] |
//! | `map(f, repeat(a), xs, ys)`, `partial` | [`ThreadPool::starmap`] with [`args::zip`], [`args::partial`] |
//! | meshgrid / `itertools.product` | [`args::grid`] |
//! | `tqdm(executor.map(...))` | [`Map::on_progress`] |
//! | `with executor:` | dropping the pool (the last handle); [`ThreadPool::shutdown_now`] to cancel |
//!
//! ```
//! use pool::ThreadPool;
//!
//! let pool = ThreadPool::new(4)?;
//! let xs: Vec<f64> = (0..20).map(|i| -1.0 + 2.0 * i as f64 / 19.0).collect();
//! let pairs: Vec<(f64, f64)> = xs.iter().copied().zip(pool.map(|x: f64| x * x, xs.clone())).collect();
//! assert_eq!(pairs[0], (-1.0, 1.0));
//! # Ok::<(), pool::BuildError>(())
//! ```
//!
//! Inside, a shared injector queue feeds one work-stealing deque per worker;
//! idle workers park and are woken by new work. A map queues its chunks on
//! a lane of its own, drained by at most one pool job per worker. A thread that waits for a
//! result from inside a worker runs queued tasks meanwhile, so nested maps
//! cannot deadlock.

#![warn(missing_docs)]

pub mod args;
mod chunk;
mod collect;
mod error;
mod job;
mod lane;
mod latch;
#[cfg(all(test, loom))]
mod loom_tests;
mod map;
mod metrics;
mod pool;
mod registry;
mod scope;
mod sleep;
mod spawn;
mod sync;
mod task;
mod workers;

pub use chunk::{Chunking, MAX_AUTO_CHUNK, TARGET_CHUNK_NS};
pub use collect::{Indexed, IntoIndexed};
pub use error::{BuildError, Panic, TaskError};
pub use map::{Map, MapUnordered, Progress, TryMap};
pub use metrics::{MetricsSnapshot, TaskTiming, WorkerStats};
pub use pool::{Builder, ThreadPool, MAX_WORKERS};
pub use scope::Scope;
pub use task::{ScopedTaskHandle, TaskHandle};
