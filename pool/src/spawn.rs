//! The one place tasks enter a pool, scoped or not, and the one place the
//! type system's view of their lifetime is erased.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use crate::job::JobRef;
use crate::lane::{Drainer, Lane};
use crate::latch::ScopeLatch;
use crate::registry::Registry;
use crate::task::{self, Detached, Handle, LatchPtr, Told};
use crate::workers::Workers;

fn stamp(registry: &Registry) -> Option<Instant> {
    registry.timed().then(Instant::now)
}

/// Queues `f` and returns its handle, counting it in `scope` if given.
///
/// # Safety
/// Whatever `f` and its result borrow (`'a`) must stay alive until the job
/// has run or been cancelled: either `'a` is `'static`, or `scope` is the
/// latch of a scope that outlives `'a`'s borrows and waits for every task
/// it counted before it ends.
pub(crate) unsafe fn spawn<'a, F, T>(registry: &Arc<Registry>, scope: Option<&ScopeLatch>, f: F) -> Handle<'a, T>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    // SAFETY: forwarded.
    let (job, handle) = unsafe { task_job(registry, scope, Told::ByHandle, f) };
    registry.push(job);
    handle
}

/// Makes `f`'s task, counted in `scope` if given, and its handle, without
/// queueing the job: the caller queues it, or runs or drops it.
///
/// # Safety
/// As for [`spawn`].
unsafe fn task_job<'a, F, T>(
    registry: &Arc<Registry>,
    scope: Option<&ScopeLatch>,
    told: Told,
    f: F,
) -> (JobRef, Handle<'a, T>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    if let Some(latch) = scope {
        latch.task_started();
    }
    let (task, handle) = task::new_task(f, scope, told, stamp(registry));
    // SAFETY: the caller's contract: the job cannot outlive what it borrows.
    (unsafe { JobRef::new(task) }, handle)
}

/// Queues `f` with no handle, counted in `scope`, which re-raises its panic.
///
/// # Safety
/// As for [`spawn`], with a scope.
pub(crate) unsafe fn spawn_detached<'a, F>(registry: &Arc<Registry>, scope: &ScopeLatch, f: F)
where
    F: FnOnce() + Send + 'a,
{
    scope.task_started();
    // SAFETY: the caller's contract: the scope joins the job.
    let job = unsafe { JobRef::new(Detached::new(f, LatchPtr::new(scope), stamp(registry))) };
    registry.push(job);
}

/// Where a map sends its tasks: the pool's shared state (which keeps its
/// workers alive while the map lives), plus the scope when the map's data
/// is borrowed.
///
/// Invariant, kept by the two constructors: a `Spawner<'a>` without a
/// scope has `'a = 'static`; with one, the scope joins every task it
/// counted before `'a`'s borrows end. So `spawn`'s `'a` bounds are enough.
pub(crate) struct Spawner<'a> {
    pool: Arc<Workers>,
    scope: Option<&'a ScopeLatch>,
    /// Invariant in `'a`, so a map cannot be coerced to a longer lifetime.
    _data: PhantomData<&'a mut &'a ()>,
}

impl Spawner<'static> {
    /// For a pool-level map: everything it spawns is `'static`.
    pub(crate) fn unscoped(pool: &Arc<Workers>) -> Self {
        Spawner { pool: Arc::clone(pool), scope: None, _data: PhantomData }
    }
}

impl<'a> Spawner<'a> {
    /// For a map in a scope, whose tasks may borrow for `'a`: `latch`'s
    /// scope waits for them before `'a` ends.
    pub(crate) fn scoped(pool: &Arc<Workers>, latch: &'a ScopeLatch) -> Self {
        Spawner { pool: Arc::clone(pool), scope: Some(latch), _data: PhantomData }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.pool.num_workers()
    }

    /// Whether the consumer may run a chunk itself: not after
    /// `shutdown_now` (its remaining chunks are cancelled, as they would be
    /// on the workers), nor off the workers of a pool whose start handler
    /// set them up for `f`.
    pub(crate) fn may_run_here(&self) -> bool {
        !self.is_shut_down() && self.pool.may_run_here()
    }

    /// `shutdown_now` was called on the pool.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.pool.registry().is_cancelling()
    }

    /// Queues `f` onto `lane`, starting a drainer for it on the pool when
    /// the lane has room for one more (see [`Lane`]).
    pub(crate) fn push<F, T>(&self, lane: &Arc<Lane<JobRef>>, f: F) -> Handle<'a, T>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
    {
        let registry = self.pool.registry();
        // SAFETY: the type's invariant: `'a` is `'static`, or the scope
        // joins the task before `'a` ends.
        let (job, handle) = unsafe { task_job(registry, self.scope, Told::ByMap, f) };
        if lane.push(job) {
            // SAFETY: the drainer borrows nothing: it holds its lane and
            // registry by count, and the chunk jobs it runs are counted in
            // their scope (if any) one by one (see `Drainer`).
            registry.push(unsafe { JobRef::new(Drainer::new(Arc::clone(lane), Arc::clone(registry))) });
        }
        handle
    }
}
