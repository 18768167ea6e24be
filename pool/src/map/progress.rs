//! Progress reporting: counting finished inputs and calling the user's
//! callback.
//!
//! Protocol: every chunk, wherever it ran (a worker, or the consumer
//! running the head itself), adds its length with
//! [`ProgressHook::advance`] once its items are computed and before its
//! results are published, and reports the count. The consumer reports
//! again ([`ProgressHook::catch_up`]) as it receives each chunk, so the
//! count is complete and reported by the time the map ends. Counting
//! starts with the map's first chunk whether or not a callback is
//! attached, so one attached late still sees `done` reach the total.
//! Until one is, counting is one atomic add per chunk. The callback never
//! runs under the lock and calls never overlap (see [`ProgressHook`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};

/// How far a map has got, passed to an [`on_progress`](crate::Map::on_progress)
/// callback each time a chunk finishes.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let pool = pool::ThreadPool::new(2).unwrap();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let n = pool.map(|x: u8| x, 0..8u8).chunk_size(4).on_progress(move |p| log.lock().unwrap().push(p)).count();
/// assert_eq!(n, 8);
/// let last = *seen.lock().unwrap().last().unwrap();
/// assert_eq!(last, pool::Progress { done: 8, total: Some(8) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Inputs processed so far.
    pub done: usize,
    /// The number of inputs, when the input iterator knows it exactly.
    pub total: Option<usize>,
}

pub(super) type ProgressCallback<'a> = Box<dyn Fn(Progress) + Send + Sync + 'a>;

/// Counts every finished input from the map's first chunk on, whether or
/// not a callback is attached yet, so a callback attached late still sees
/// `done` reach the total.
///
/// Protocol: `advance` adds to `done`, then, if a callback was ever
/// attached, reports; `attach` sets `attached`, then reports (both
/// `SeqCst`). So an add that missed the flag is seen by the attaching
/// report, and one that saw it reports itself.
///
/// The lock is never held while the callback runs (it is user
/// code, which may wait on the pool and, while waiting on a worker, run
/// chunks of this very map, whose `advance` would then deadlock on a held
/// lock). Instead one caller at a time is the *reporter* (`busy`): it
/// takes the callback out, reports the latest count without the lock and
/// puts the callback back, once. Any `advance` meanwhile (on another
/// thread, or nested in the callback on this one) only adds to `done`,
/// which the next report covers. So calls never overlap and `done` only
/// grows. A reporter reports once rather than until the count stops
/// moving: it is a chunk whose results wait for it, and with a slow
/// callback and a busy map the count never stops moving. The last report
/// is the final count all the same, before the map ends: the consumer
/// reports as it receives each chunk ([`catch_up`](Self::catch_up)), and
/// when it receives the last one every chunk has counted itself and left
/// its report, so nobody is reporting and nothing stands in its way.
pub(super) struct ProgressHook<'a> {
    /// Inputs done, counted outside the lock: a map without a callback
    /// takes no lock per chunk.
    done: AtomicUsize,
    /// Whether a callback was ever attached: until then `advance` counts.
    attached: AtomicBool,
    state: Mutex<ProgressState<'a>>,
    total: Option<usize>,
}

struct ProgressState<'a> {
    /// The highest `done` the callback has been given.
    reported: usize,
    /// Taken out by the reporter while it calls it.
    callback: Option<ProgressCallback<'a>>,
    busy: bool,
}

impl<'a> ProgressHook<'a> {
    pub(super) fn new(total: Option<usize>) -> Self {
        ProgressHook {
            done: AtomicUsize::new(0),
            attached: AtomicBool::new(false),
            state: Mutex::new(ProgressState { reported: 0, callback: None, busy: false }),
            total,
        }
    }

    pub(super) fn advance(&self, items: usize) {
        self.done.fetch_add(items, Ordering::SeqCst);
        if self.attached.load(Ordering::SeqCst) {
            self.report(self.state.lock());
        }
    }

    /// Reports the count if it has moved since the last report and no
    /// report is under way; the consumer's, as each chunk arrives.
    pub(super) fn catch_up(&self) {
        if self.attached.load(Ordering::SeqCst) {
            self.report(self.state.lock());
        }
    }

    /// Attaches `callback`; if some inputs are already done, reports them
    /// at once (on the calling thread, unless a report is under way).
    pub(super) fn attach(&self, callback: ProgressCallback<'a>) {
        let mut state = self.state.lock();
        let previous = state.callback.replace(callback);
        // A new callback has been told nothing yet.
        state.reported = 0;
        self.attached.store(true, Ordering::SeqCst);
        self.report(state);
        // A replaced callback is user code: dropped without the lock.
        drop(previous);
    }

    /// Becomes the reporter unless there is one, and reports the latest
    /// count once (see the type's protocol).
    fn report<'h>(&'h self, mut state: MutexGuard<'h, ProgressState<'a>>) {
        let done = self.done.load(Ordering::SeqCst);
        if state.busy || done == state.reported {
            return;
        }
        let Some(callback) = state.callback.take() else {
            return;
        };
        state.reported = done;
        state.busy = true;
        drop(state);
        // Puts the callback back and ends the report even if it panics
        // (the panic goes on to the caller: a chunk task, or the
        // consumer).
        let lent = Lent { hook: self, callback: Some(callback) };
        (lent.callback.as_ref().expect("lent callback"))(Progress { done, total: self.total });
        drop(lent);
    }
}

/// The reporter's loan of the callback, returned on drop (also while
/// unwinding), which ends the report.
struct Lent<'h, 'a> {
    hook: &'h ProgressHook<'a>,
    callback: Option<ProgressCallback<'a>>,
}

impl<'a> Lent<'_, 'a> {
    /// Puts `callback` back unless another was attached meanwhile, in
    /// which case it is returned for dropping outside the lock.
    fn restore(state: &mut ProgressState<'a>, callback: Option<ProgressCallback<'a>>) -> Option<ProgressCallback<'a>> {
        if state.callback.is_none() {
            state.callback = callback;
            None
        } else {
            callback
        }
    }
}

impl Drop for Lent<'_, '_> {
    fn drop(&mut self) {
        if self.callback.is_none() {
            return;
        }
        let replaced = {
            let mut state = self.hook.state.lock();
            state.busy = false;
            Self::restore(&mut state, self.callback.take())
        };
        drop(replaced);
    }
}
