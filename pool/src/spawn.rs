//! The one place tasks enter a pool, scoped or not.

use std::sync::Arc;
use std::time::Instant;

use crate::job::JobRef;
use crate::registry::Registry;
use crate::scope::{LatchRef, ScopeLatch};
use crate::task::{self, Detached, TaskHandle};

/// Where a map or a scope sends its tasks.
///
/// Invariant: a `Spawner<'a>` without a scope latch is only made for `'a =
/// 'static` data (see [`Spawner::unscoped`]); with a latch, the scope that
/// owns the latch outlives `'a`'s borrows by joining every task it counted.
#[derive(Clone, Copy)]
pub(crate) struct Spawner<'a> {
    registry: &'a Arc<Registry>,
    scope: Option<&'a Arc<ScopeLatch>>,
    num_workers: usize,
}

impl<'a> Spawner<'a> {
    /// # Safety
    /// Everything spawned through the result must be `'static`, even though
    /// the signature only asks for `'a`. `ThreadPool`'s methods ensure it
    /// with `'static` bounds.
    pub(crate) unsafe fn unscoped(registry: &'a Arc<Registry>, num_workers: usize) -> Self {
        Spawner { registry, scope: None, num_workers }
    }

    pub(crate) fn scoped(registry: &'a Arc<Registry>, latch: &'a Arc<ScopeLatch>, num_workers: usize) -> Self {
        Spawner { registry, scope: Some(latch), num_workers }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.num_workers
    }

    pub(crate) fn spawn<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
    {
        if let Some(latch) = self.scope {
            latch.task_started();
        }
        let (task, handle) = task::new_task(f, self.scope, self.stamp());
        // SAFETY: see the type's invariant: either the data is `'static`,
        // or the scope joins this job (its latch counted it above and is
        // released only once the job ran or was cancelled).
        let job = unsafe { JobRef::new(task) };
        self.registry.push(job);
        handle
    }

    /// Queues `f` with no handle; only scopes do this, since the scope is
    /// where its panic is reported.
    pub(crate) fn spawn_detached<F>(&self, latch: &ScopeLatch, f: F)
    where
        F: FnOnce() + Send + 'a,
    {
        latch.task_started();
        // SAFETY: as in `spawn`: the scope owning `latch` joins the job.
        let job = unsafe { JobRef::new(Detached::new(f, LatchRef::new(latch), self.stamp())) };
        self.registry.push(job);
    }

    fn stamp(&self) -> Option<Instant> {
        self.registry.timed().then(Instant::now)
    }
}
