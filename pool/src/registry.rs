//! The shared state of a pool (queues, sleep, shutdown flags, metrics) and
//! the loop each worker thread runs.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::Backoff;

use crate::job::JobRef;
use crate::metrics::Metrics;
use crate::sleep::Sleep;

/// How many empty polls an idle worker makes (spinning, then yielding)
/// before it parks. Long enough to catch a producer that submits in a
/// tight loop, short enough (tens of microseconds) that an idle pool burns
/// no measurable CPU.
const IDLE_ROUNDS: u32 = 64;

pub(crate) struct Registry {
    injector: Injector<JobRef>,
    stealers: Vec<Stealer<JobRef>>,
    sleep: Sleep,
    /// Graceful shutdown: workers leave once every queue is empty.
    terminating: AtomicBool,
    /// Immediate shutdown: workers stop taking jobs and cancel their own.
    cancelling: AtomicBool,
    pub(crate) metrics: Option<Metrics>,
}

/// What a worker thread knows about itself, reachable from code it runs.
pub(crate) struct WorkerThread {
    registry: Arc<Registry>,
    index: usize,
    local: Worker<JobRef>,
    /// How many waits this worker is inside, helping with queued jobs
    /// while it waits (see `wait_with`).
    waiting: Cell<usize>,
}

thread_local! {
    /// Points at the `WorkerThread` living in this thread's `main_loop`
    /// frame, or is null on threads that are not pool workers.
    static CURRENT: Cell<*const WorkerThread> = const { Cell::new(ptr::null()) };
}

impl WorkerThread {
    /// Calls `f` with the worker running on this thread, if it is one.
    ///
    /// The reference is only lent for the call: it points into the
    /// `main_loop` frame, which no `'static` borrow may outlive.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let current = CURRENT.with(Cell::get);
        // SAFETY: `CURRENT` is set at the top of `main_loop` to a value that
        // lives on that frame and is reset to null before the frame ends
        // (also when unwinding). Any code running on this thread with a
        // non-null `CURRENT` runs inside that frame, so the value outlives
        // this call, and `f`'s borrow cannot escape it.
        f(unsafe { current.as_ref() })
    }

    fn find_work(&self) -> Option<JobRef> {
        if let Some(job) = self.local.pop() {
            return Some(job);
        }
        let registry = &self.registry;
        // Jobs are taken one at a time, in queue order, unless the backlog
        // is long: then a batch (one steal for many jobs) saves more than
        // the order is worth. One at a time keeps the turns fair between
        // maps' drainers and tasks queued beside them (see `lane`).
        let batch = registry.injector.len() > BATCH_BACKLOG_PER_WORKER * registry.stealers.len();
        loop {
            let stolen =
                if batch { registry.injector.steal_batch_and_pop(&self.local) } else { registry.injector.steal() };
            match stolen {
                Steal::Success(job) => return Some(job),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
        let n = registry.stealers.len();
        // Start after our own index so thieves spread over their victims.
        for offset in 1..n {
            let victim = &registry.stealers[(self.index + offset) % n];
            loop {
                // Take a batch: one steal (and one epoch pin) moves many
                // jobs when a producer is filling its deque quickly.
                match victim.steal_batch_and_pop(&self.local) {
                    Steal::Success(job) => return Some(job),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        None
    }

    /// Runs `job`, or cancels it after `shutdown_now`: a worker that is
    /// waiting (helping with queued jobs meanwhile) must not run what the
    /// shutdown cancels, such as a nested map's queued chunks.
    fn run(&self, job: JobRef) {
        if self.registry.is_cancelling() {
            job.cancel();
            return;
        }
        job.execute(self.registry.metrics.as_ref().map(|m| (m, self.index)));
    }

    /// Runs one queued job if there is one; used while waiting on a latch.
    fn help_once(&self) -> bool {
        match self.find_work() {
            Some(job) => {
                self.run(job);
                true
            }
            None => false,
        }
    }
}

/// Injector backlog per worker above which workers take jobs in batches:
/// a flood of tiny `spawn`s, where one steal for many jobs is worth more
/// than their order. A map queues at most one drainer per worker.
const BATCH_BACKLOG_PER_WORKER: usize = 64;

impl Registry {
    pub(crate) fn new(num_workers: usize, metrics: bool) -> (Arc<Registry>, Vec<Worker<JobRef>>) {
        // LIFO: a worker that waits for nested work it queued (a scope or
        // map inside a task) runs the newest job first, usually the one it
        // waits for, which keeps recursion as deep as the program's (a FIFO
        // deque would start the oldest, which may recurse in turn).
        let locals: Vec<Worker<JobRef>> = (0..num_workers).map(|_| Worker::new_lifo()).collect();
        let registry = Arc::new(Registry {
            injector: Injector::new(),
            stealers: locals.iter().map(Worker::stealer).collect(),
            sleep: Sleep::new(),
            terminating: AtomicBool::new(false),
            cancelling: AtomicBool::new(false),
            metrics: metrics.then(|| Metrics::new(num_workers)),
        });
        (registry, locals)
    }

    /// True on a worker thread of this registry, while it runs its loop.
    pub(crate) fn is_current_worker(self: &Arc<Self>) -> bool {
        WorkerThread::with_current(|worker| worker.is_some_and(|worker| Arc::ptr_eq(&worker.registry, self)))
    }

    /// `shutdown_now` was called: queued work is being cancelled.
    pub(crate) fn is_cancelling(&self) -> bool {
        self.cancelling.load(Ordering::Relaxed)
    }

    pub(crate) fn timed(&self) -> bool {
        self.metrics.is_some()
    }

    /// Queues a job: onto the current worker's own deque when called from
    /// one of this pool's workers (cheap, and keeps nested work local),
    /// otherwise onto the shared injector.
    ///
    /// After [`cancel_all`](Registry::cancel_all) the job is cancelled
    /// instead: the check after the push pairs with the store in
    /// `cancel_all` (both `SeqCst`), so either the final drain sees the job
    /// or this push sees the flag and drains it itself.
    pub(crate) fn push(self: &Arc<Self>, job: JobRef) {
        let job = WorkerThread::with_current(|worker| match worker {
            // A worker's own deque is only drained by a worker, which
            // cancels what it takes after `shutdown_now` (`run`); a job
            // pushed after the shutdown is cancelled here, at once.
            Some(worker) if Arc::ptr_eq(&worker.registry, self) => {
                if self.cancelling.load(Ordering::SeqCst) {
                    job.cancel();
                    return None;
                }
                worker.local.push(job);
                // `shutdown_now` may have swept the deques between the
                // check above and the push (see `drain_cancelled`): look
                // again, as for the injector below, and cancel what this
                // worker queued (its own deque; a sweep may take some too).
                if self.cancelling.load(Ordering::SeqCst) {
                    while let Some(job) = worker.local.pop() {
                        job.cancel();
                    }
                }
                None
            }
            _ => Some(job),
        });
        match job {
            Some(job) => self.push_shared(job),
            None => self.sleep.notify_one(),
        }
    }

    /// Queues a job on the shared injector, behind every job queued there
    /// already, from any thread (see [`push`](Registry::push)).
    pub(crate) fn push_shared(&self, job: JobRef) {
        self.injector.push(job);
        if self.cancelling.load(Ordering::SeqCst) {
            self.drain_cancelled();
            return;
        }
        self.sleep.notify_one();
    }

    /// Whether the calling worker, running a job that could go on for as
    /// long as it finds more to do (a map's drainer), should stop after
    /// its current piece and queue the rest again: a job waits on the
    /// shared injector or on its own deque (nested work, which only
    /// thieves would reach otherwise), or the worker is inside a wait,
    /// helping, and must get back to it. Other workers' deques are theirs
    /// to run: not looked at, so the check costs the same on a thousand
    /// workers as on two.
    pub(crate) fn worker_wanted_elsewhere(&self) -> bool {
        !self.injector.is_empty()
            || WorkerThread::with_current(|worker| {
                worker.is_some_and(|worker| worker.waiting.get() > 0 || !worker.local.is_empty())
            })
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty() || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Asks workers to finish everything queued, then leave.
    pub(crate) fn terminate(&self) {
        self.terminating.store(true, Ordering::SeqCst);
        self.sleep.notify_all();
    }

    /// Asks workers to stop taking jobs; what is queued gets cancelled.
    pub(crate) fn cancel_all(&self) {
        self.cancelling.store(true, Ordering::SeqCst);
        self.terminating.store(true, Ordering::SeqCst);
        self.sleep.notify_all();
    }

    /// Cancels whatever is queued: in the shared queue and in every
    /// worker's deque.
    ///
    /// Not only after the workers left: a task still running may wait
    /// (with a timeout, or by polling `is_finished`) for a job queued behind
    /// it, and timed waits never run jobs. Workers that see `cancelling`
    /// leave at once, so if nobody else cancelled that job, the task would
    /// wait for ever and `shutdown_now` would wait for the task (found by
    /// `tests/attack_lifecycle.rs`). So `shutdown_now` sweeps before it
    /// joins, and each worker sweeps as it leaves. Stealing from another
    /// worker's deque is safe from any thread, and so is cancelling a job.
    pub(crate) fn drain_cancelled(&self) {
        let steal_all = |steal: &dyn Fn() -> Steal<JobRef>| loop {
            match steal() {
                Steal::Success(job) => job.cancel(),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        };
        steal_all(&|| self.injector.steal());
        for stealer in &self.stealers {
            steal_all(&|| stealer.steal());
        }
    }

    pub(crate) fn main_loop(self: Arc<Self>, index: usize, local: Worker<JobRef>) {
        let worker = WorkerThread { registry: self, index, local, waiting: Cell::new(0) };
        CURRENT.with(|c| c.set(&worker));
        // Reset the pointer even if a job's panic escaped (it cannot: jobs
        // catch their own panics, but the invariant should not rest on it).
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(ptr::null()));
            }
        }
        let _reset = Reset;

        let registry = &worker.registry;
        // Set when this worker comes back from idling: producers may have
        // skipped waking others because it was searching, so when it finds
        // work and more is waiting, it passes a wake-up on (a chain that
        // reaches as many sleepers as there are jobs).
        let mut was_idle = false;
        loop {
            if registry.cancelling.load(Ordering::Acquire) {
                // Its own deque and every other queue: a worker still
                // running a task may be waiting for a job queued elsewhere
                // (see `drain_cancelled`).
                registry.drain_cancelled();
                break;
            }
            if let Some(job) = worker.find_work() {
                if was_idle {
                    was_idle = false;
                    if registry.has_work() {
                        registry.sleep.wake_one();
                    }
                }
                worker.run(job);
                continue;
            }
            if registry.terminating.load(Ordering::Acquire) && !registry.has_work() {
                break;
            }
            was_idle = true;
            // Idle: poll a little, then park until a producer wakes us.
            let backoff = Backoff::new();
            registry.sleep.start_searching();
            let mut found_work = false;
            for _ in 0..IDLE_ROUNDS {
                if registry.has_work() || registry.terminating.load(Ordering::Acquire) {
                    found_work = true;
                    break;
                }
                if backoff.is_completed() {
                    std::thread::yield_now();
                } else {
                    backoff.snooze();
                }
            }
            registry.sleep.stop_searching();
            if !found_work {
                registry.sleep.sleep(|| registry.has_work() || registry.terminating.load(Ordering::SeqCst));
            }
        }
    }
}

/// Waits until `done()` holds, or until `deadline`; says whether it holds.
///
/// On a pool worker an untimed wait runs queued jobs meanwhile (so a task
/// that waits on work it queued cannot deadlock the pool), parking only
/// briefly between looks; otherwise it simply blocks in `block`.
pub(crate) fn wait_until(done: &dyn Fn() -> bool, block: &dyn Fn(Option<Instant>), deadline: Option<Instant>) -> bool {
    if done() {
        return true;
    }
    WorkerThread::with_current(|worker| wait_with(worker, done, block, deadline))
}

fn wait_with(
    worker: Option<&WorkerThread>,
    done: &dyn Fn() -> bool,
    block: &dyn Fn(Option<Instant>),
    deadline: Option<Instant>,
) -> bool {
    let Some(worker) = worker else {
        block(deadline);
        return done();
    };
    if deadline.is_some() {
        // Helping could start a job that outlasts the deadline (even the very
        // task being waited on, if it then waits for us): a timed wait only
        // waits.
        block(deadline);
        return done();
    }
    /// Counts the wait for as long as it lasts (see `waiting`).
    struct Waiting<'w>(&'w Cell<usize>);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    worker.waiting.set(worker.waiting.get() + 1);
    let _waiting = Waiting(&worker.waiting);
    let backoff = Backoff::new();
    loop {
        if done() {
            return true;
        }
        if worker.help_once() {
            backoff.reset();
            continue;
        }
        if backoff.is_completed() {
            // The latch wakes us when it is set; the short limit makes sure
            // we come back to help with work queued meanwhile.
            block(Some(Instant::now() + Duration::from_micros(500)));
        } else {
            backoff.snooze();
        }
    }
}
