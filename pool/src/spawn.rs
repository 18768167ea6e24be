//! The one place tasks enter a pool, scoped or not.

use std::mem;
use std::sync::Arc;

use crate::registry::Registry;
use crate::scope::ScopeLatch;
use crate::task::{self, Job, TaskHandle};

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
        let latch = self.scope.cloned();
        if let Some(latch) = &latch {
            latch.task_started();
        }
        let (job, handle) = task::new_task(f, latch, self.registry.timed());
        // SAFETY: see the type's invariant: either the data is `'static`,
        // or the scope joins this job (its latch counted it above and is
        // released only once the job ran or was cancelled).
        let job: Arc<dyn Job> = unsafe { mem::transmute::<Arc<dyn Job + 'a>, Arc<dyn Job>>(job) };
        self.registry.push(job);
        handle
    }
}
