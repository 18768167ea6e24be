//! A queued job: an owned, type-erased pointer plus the function that runs
//! (or cancels) it, as in rayon-core's `JobRef`.
//!
//! Erasing the type lets one queue carry every kind of job without an
//! `Arc<dyn Trait>`'s reference counting: a fire-and-forget scoped task is
//! one `Box`, a task with a handle one `Arc` shared with its handle.

use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::time::Instant;

use crate::metrics::Metrics;

/// Where a job reports its run time, when the pool keeps metrics. The job
/// records *before* it completes, so whoever waits on it sees the counts.
pub(crate) struct Recorder<'m> {
    pub(crate) metrics: &'m Metrics,
    pub(crate) worker: usize,
}

impl Recorder<'_> {
    pub(crate) fn start(recorder: Option<&Self>) -> Option<Instant> {
        recorder.map(|_| Instant::now())
    }

    pub(crate) fn finish(recorder: Option<&Self>, enqueued_at: Option<Instant>, start: Option<Instant>) {
        if let (Some(recorder), Some(start)) = (recorder, start) {
            recorder.metrics.record(recorder.worker, enqueued_at, start, Instant::now());
        }
    }
}

/// Something a worker can run once, or cancel instead.
pub(crate) trait Job: Sized + Send {
    /// Runs the job; says whether it actually ran (it may have been
    /// cancelled through a handle in the meantime).
    fn execute(self, recorder: Option<&Recorder<'_>>) -> bool;
    /// Drops the job without running it, completing any handle as cancelled.
    fn cancel(self);
    /// Gives up ownership as a raw pointer.
    fn into_raw(self) -> NonNull<()>;
    /// Takes ownership back.
    ///
    /// # Safety
    /// `ptr` must come from `into_raw` of the same type, once.
    unsafe fn from_raw(ptr: NonNull<()>) -> Self;
}

/// Two words, like rayon's: queues move these around by the million.
pub(crate) struct JobRef {
    data: NonNull<()>,
    run: unsafe fn(NonNull<()>, Option<Option<&Recorder<'_>>>) -> bool,
}

// SAFETY: a `JobRef` is only made from a `Job`, which is `Send`, and it is
// the sole owner of that job.
unsafe impl Send for JobRef {}

/// Runs the job (`Some(recorder)`) or cancels it (`None`).
///
/// # Safety
/// `data` must come from `J::into_raw` (as `JobRef::new::<J>` makes it),
/// and this must be the only call for that `data`: it takes ownership.
unsafe fn run_raw<J: Job>(data: NonNull<()>, run: Option<Option<&Recorder<'_>>>) -> bool {
    // SAFETY: `data` came from `J::into_raw` in `JobRef::new`, and a
    // `JobRef` calls `run` at most once (it is consumed or dropped).
    let job = unsafe { J::from_raw(data) };
    match run {
        Some(recorder) => job.execute(recorder),
        None => {
            job.cancel();
            false
        }
    }
}

impl JobRef {
    /// # Safety
    /// Whatever `job` borrows must stay alive until the job has been run or
    /// cancelled; the type no longer carries its lifetime (see `Spawner`).
    pub(crate) unsafe fn new<J: Job>(job: J) -> JobRef {
        JobRef { data: job.into_raw(), run: run_raw::<J> }
    }

    /// Where the job lives: for a task with a handle, the address its
    /// handle knows too (`Handle::addr`).
    pub(crate) fn addr(&self) -> *const () {
        self.data.as_ptr()
    }

    pub(crate) fn execute(self, metrics: Option<(&Metrics, usize)>) -> bool {
        let this = ManuallyDrop::new(self);
        let recorder = metrics.map(|(metrics, worker)| Recorder { metrics, worker });
        // SAFETY: `this` is never used or dropped again.
        unsafe { (this.run)(this.data, Some(recorder.as_ref())) }
    }

    pub(crate) fn cancel(self) {
        drop(self);
    }
}

impl Drop for JobRef {
    /// A job dropped without being run (a queue torn down, a shutdown that
    /// cancels) is cancelled, so its handle never waits forever.
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `execute` skips it.
        unsafe {
            (self.run)(self.data, None);
        }
    }
}
