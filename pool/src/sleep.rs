//! Parking idle workers and waking them when work arrives.
//!
//! The protocol avoids lost wake-ups without taking a lock on the hot path:
//! a worker announces itself in `sleepers` *before* its last look at the
//! queues, and a producer looks at `sleepers` *after* publishing its job,
//! with a sequentially consistent fence on both sides. So either the worker
//! sees the job, or the producer sees the sleeper and takes the lock to wake
//! it (the lock orders the wake after the worker is really waiting).
//!
//! Waking costs a system call, so a producer skips it while some worker is
//! idle but still awake (polling the queues before it parks): that worker
//! will find the job. It leaves the `searching` count before its final look
//! at the queues, so the job cannot slip past both of them.

use crate::sync::{fence, AtomicUsize, Condvar, Mutex, Ordering};

pub(crate) struct Sleep {
    sleepers: AtomicUsize,
    searching: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Sleep {
    pub(crate) fn new() -> Self {
        Sleep {
            sleepers: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Called after a job was published: wakes one sleeping worker, if any.
    pub(crate) fn notify_one(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 && self.searching.load(Ordering::SeqCst) == 0 {
            self.wake_one();
        }
    }

    /// Wakes one sleeping worker if there is one, whoever else is awake:
    /// used by a worker that found work while more is waiting.
    pub(crate) fn wake_one(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.wake.notify_one();
        }
    }

    /// The calling worker starts polling the queues while idle.
    pub(crate) fn start_searching(&self) {
        self.searching.fetch_add(1, Ordering::SeqCst);
    }

    /// The calling worker stops polling (found work, or is about to park).
    pub(crate) fn stop_searching(&self) {
        self.searching.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes every sleeping worker (shutdown).
    pub(crate) fn notify_all(&self) {
        let _guard = self.lock.lock();
        self.wake.notify_all();
    }

    /// Parks the calling worker unless `has_work` says there is something
    /// to do. Returns after a wake-up (possibly spurious).
    pub(crate) fn sleep(&self, has_work: impl Fn() -> bool) {
        let mut guard = self.lock.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !has_work() {
            self.wake.wait(&mut guard);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}
