//! A map's own queue of chunks, and the pool jobs that drain it.
//!
//! Protocol: the feeder pushes each chunk's job onto its map's [`Lane`],
//! not onto the pool. The pool is handed a [`Drainer`] instead: a job that
//! runs the lane's chunks front to back until the lane is empty, and only
//! while fewer drainers than workers are counted. So a chunk costs a push
//! under the lane's lock, where a pool job would cost a push onto the
//! pool's shared queue, which every idle worker polls, and a wake-up. The
//! consumer takes a chunk it needs off the lane itself (the ordered map's
//! head is at the front, or a drainer has it), so no worker ever pops a
//! chunk that has already run, and a lane holds no more than the chunks
//! its map keeps in flight.
//!
//! No chunk is stranded: a drainer leaves by lowering the count and then
//! looking at the lane once more, under its lock; a push adds the chunk
//! under the lock and then tries to raise the count. Whichever comes
//! second sees the other: the push finds room and starts a drainer, or
//! the leaving drainer finds the chunk and stays. A drainer is counted
//! from when it is queued on the pool, so a lane with chunks always has
//! one queued or running (modelled in `loom_tests.rs`).

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::job::{Job, JobRef, Recorder};
use crate::registry::Registry;
use crate::sync::{AtomicUsize, Mutex, Ordering};

/// A queue of jobs and the count of drainers working on it.
pub(crate) struct Lane<J> {
    jobs: Mutex<VecDeque<J>>,
    drainers: AtomicUsize,
    /// Drainers at most: one per worker.
    most: usize,
}

impl<J> Lane<J> {
    pub(crate) fn new(most: usize) -> Self {
        Lane { jobs: Mutex::new(VecDeque::new()), drainers: AtomicUsize::new(0), most: most.max(1) }
    }

    /// Queues `job`; true when the caller must start a drainer (counted
    /// already).
    pub(crate) fn push(&self, job: J) -> bool {
        self.jobs.lock().push_back(job);
        self.enter()
    }

    /// Counts one more drainer if there is room.
    fn enter(&self) -> bool {
        self.drainers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.most).then_some(n + 1)).is_ok()
    }

    /// The oldest job, for a drainer.
    pub(crate) fn pop_front(&self) -> Option<J> {
        self.jobs.lock().pop_front()
    }

    /// The oldest job if `wanted` says it is the one.
    pub(crate) fn take_front_if(&self, wanted: impl FnOnce(&J) -> bool) -> Option<J> {
        let mut jobs = self.jobs.lock();
        if wanted(jobs.front()?) {
            jobs.pop_front()
        } else {
            None
        }
    }

    /// The newest job.
    pub(crate) fn pop_back(&self) -> Option<J> {
        self.jobs.lock().pop_back()
    }

    /// Every job queued.
    pub(crate) fn take_all(&self) -> VecDeque<J> {
        std::mem::take(&mut *self.jobs.lock())
    }

    /// A drainer found the lane empty: it leaves, unless a job came in
    /// meanwhile and it may be counted again (true: it stays).
    pub(crate) fn leave(&self) -> bool {
        self.drainers.fetch_sub(1, Ordering::SeqCst);
        if self.jobs.lock().is_empty() {
            return false;
        }
        self.enter()
    }
}

/// A pool job that runs a lane's jobs until the lane is empty. Not itself
/// recorded in the pool's metrics: the chunks it runs are, one task each.
///
/// Not counted in a scoped map's scope either: each chunk's task is, and
/// the drainer itself borrows nothing (its lane and registry are shared
/// by count). So a scope whose chunks are all done ends at once, even
/// while its map's drainer still waits for a worker to find the lane
/// empty.
pub(crate) struct Drainer {
    lane: Arc<Lane<JobRef>>,
    /// To cancel rather than run the chunks after `shutdown_now`, as a
    /// worker does with the jobs it takes.
    registry: Arc<Registry>,
}

impl Drainer {
    pub(crate) fn new(lane: Arc<Lane<JobRef>>, registry: Arc<Registry>) -> Box<Self> {
        Box::new(Drainer { lane, registry })
    }
}

impl Job for Box<Drainer> {
    fn execute(self, recorder: Option<&Recorder<'_>>) -> bool {
        let metrics = recorder.map(|recorder| (recorder.metrics, recorder.worker));
        loop {
            while let Some(job) = self.lane.pop_front() {
                if self.registry.is_cancelling() {
                    job.cancel();
                    continue;
                }
                job.execute(metrics);
                // Other work waiting (another map's drainer, a task), or
                // a wait this worker is helping inside: take turns, as one
                // job per chunk would, rather than hold this worker for as
                // long as the map keeps its lane full.
                if self.registry.worker_wanted_elsewhere() {
                    let registry = Arc::clone(&self.registry);
                    // SAFETY: the same drainer, still counted in its lane
                    // and its scope, queued again.
                    registry.push_shared(unsafe { JobRef::new(self) });
                    return true;
                }
            }
            if !self.lane.leave() {
                return true;
            }
        }
    }

    /// Cancelled with the pool's queue (`shutdown_now`): the chunks it
    /// would have run are cancelled too, or their consumer would wait for
    /// them for ever.
    fn cancel(self) {
        loop {
            drop(self.lane.take_all());
            if !self.lane.leave() {
                return;
            }
        }
    }

    fn into_raw(self) -> NonNull<()> {
        let ptr = Box::into_raw(self).cast::<()>();
        // SAFETY: `Box::into_raw` never returns null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        // SAFETY: the caller passes back what `into_raw` gave, once.
        unsafe { Box::from_raw(ptr.as_ptr().cast::<Drainer>()) }
    }
}
