//! What every handle to a pool shares: the registry its jobs go through
//! and the threads that serve it. Dropping the last `Arc<Workers>` (the
//! last [`ThreadPool`](crate::ThreadPool) handle, or the last map still
//! running on it) stops the workers and joins them.
//!
//! The crate's internals (maps, scopes, `map_collect`) hold this, never
//! the public handle, so the modules that build on the pool do not depend
//! on the module that exposes it.

use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};

use parking_lot::Mutex;

use crate::registry::Registry;

pub(crate) struct Workers {
    registry: Arc<Registry>,
    /// Taken (and joined) by the first shutdown from outside the pool.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The workers' ids, kept after they are joined: tells a worker thread
    /// (also outside its loop: in an exit handler, or a thread-local's
    /// destructor) from any other.
    worker_ids: Mutex<Vec<ThreadId>>,
    /// Held while joining, so that a second `shutdown_now` racing the first
    /// also returns only once the workers are gone.
    joining: Mutex<()>,
    num_workers: usize,
    /// A start handler prepares each worker (pinning, thread-local state):
    /// maps then run `f` only on the workers, never on a consumer that is
    /// not one of them.
    workers_only: bool,
}

impl Workers {
    /// No threads yet: the builder adds them with [`add`](Self::add).
    pub(crate) fn new(registry: Arc<Registry>, num_workers: usize, workers_only: bool) -> Self {
        Workers {
            registry,
            threads: Mutex::new(Vec::with_capacity(num_workers)),
            worker_ids: Mutex::new(Vec::with_capacity(num_workers)),
            joining: Mutex::new(()),
            num_workers,
            workers_only,
        }
    }

    pub(crate) fn add(&self, thread: JoinHandle<()>) {
        self.worker_ids.lock().push(thread.thread().id());
        self.threads.lock().push(thread);
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.num_workers
    }

    /// Whether `f` of a map may run on the calling thread: always on one
    /// of this pool's workers, elsewhere only if no start handler set the
    /// workers up for it.
    pub(crate) fn may_run_here(&self) -> bool {
        !self.workers_only || self.registry.is_current_worker()
    }

    /// Cancels every job not yet started and joins the workers.
    pub(crate) fn shutdown_now(&self) {
        self.registry.cancel_all();
        // Before joining too: a running task may wait for a queued job
        // (see `Registry::drain_cancelled`), and the join for that task.
        self.registry.drain_cancelled();
        self.join();
        self.registry.drain_cancelled();
    }

    fn join(&self) {
        // Called from one of this pool's workers (a task dropping the last
        // handle, or calling `shutdown_now`; an exit handler), waiting would
        // deadlock as soon as another worker waits for the task running
        // here, and a worker cannot join itself. The workers leave on their
        // own once told to; their handles stay in the list for a later call
        // from outside the pool (or are detached with it).
        let me = thread::current().id();
        if self.registry.is_current_worker() || self.worker_ids.lock().contains(&me) {
            return;
        }
        let _joining = self.joining.lock();
        let threads = std::mem::take(&mut *self.threads.lock());
        for thread in threads {
            // Jobs catch their panics, so a worker cannot have panicked.
            let _ = thread.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.registry.terminate();
        self.join();
    }
}
