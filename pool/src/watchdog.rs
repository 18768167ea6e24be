//! A watchdog for maps whose consumer computes items itself.
//!
//! An ordered map whose items are cheap computes them on its consumer, in
//! legs of about 10 µs of expected work (see `map.rs`). Between two legs the
//! consumer does not look at the clock, so items that turn slow in the
//! middle of a leg would all run there, one after the other. The watchdog
//! looks from outside instead: one thread for the whole process, started on
//! first use, which while any map is watched wakes every [`PERIOD`] and sets
//! a map's `overrun` flag if it has not finished a leg since the last look.
//! The consumer reads the flag every few items and ends its leg there, so
//! slow items cost about a period on the consumer before the rest go to the
//! workers.
//!
//! It is a thread of its own, not a pool job: a job would hold a worker
//! (one the map may need again, or one that picked the job up while waiting
//! for something else) for as long as the map runs inline.
//!
//! Protocol: all flags are hints about time and publish no data, hence
//! `Relaxed`, except `registered`, whose swap decides who adds the entry.
//! A map is dropped from the list when its consumer asks (`stop`: it went
//! back to the workers, or ended), when its `Watch` is gone, or when it is
//! flagged; the consumer registers it again at its next leg. So a map that
//! is forgotten or paused costs at most one more look.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How often the watchdog looks, while it watches anything.
pub(crate) const PERIOD: Duration = Duration::from_millis(1);

/// One map's side of the watch.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Legs the consumer has finished.
    legs: AtomicUsize,
    /// Set by the watchdog: no leg finished for a period.
    overrun: AtomicBool,
    /// The consumer wants the watch (it computes items itself).
    active: AtomicBool,
    /// In the watchdog's list.
    registered: AtomicBool,
}

impl Watch {
    /// The watchdog says the current leg has overrun.
    #[inline(always)]
    pub(crate) fn overrun(&self) -> bool {
        self.overrun.load(Ordering::Relaxed)
    }

    pub(crate) fn start_leg(&self) {
        self.overrun.store(false, Ordering::Relaxed);
    }

    pub(crate) fn end_leg(&self) {
        self.legs.fetch_add(1, Ordering::Relaxed);
    }

    /// Has the watchdog watch this map's legs from now on.
    pub(crate) fn arm(self: &Arc<Self>) {
        self.active.store(true, Ordering::Relaxed);
        if self.registered.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(dog) = watchdog() else {
            // No thread for it: legs still bound the cost, in items.
            self.registered.store(false, Ordering::Release);
            return;
        };
        let seen = self.legs.load(Ordering::Relaxed);
        lock(&ENTRIES).push(Entry { watch: Arc::downgrade(self), seen, since: Instant::now() });
        dog.unpark();
    }

    /// No more watching: the map went back to the workers, or ended.
    pub(crate) fn stop(&self) {
        self.active.store(false, Ordering::Relaxed);
    }
}

struct Entry {
    watch: Weak<Watch>,
    /// `legs` at the previous look (or at registration)...
    seen: usize,
    /// ... and when that was: a map is judged on whole periods only.
    since: Instant,
}

static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The watchdog's thread, started on first use; `None` if the OS refused
/// it.
fn watchdog() -> Option<&'static Thread> {
    static THREAD: OnceLock<Option<Thread>> = OnceLock::new();
    THREAD
        .get_or_init(|| {
            thread::Builder::new().name("pool-watchdog".into()).spawn(watch_forever).ok().map(|h| h.thread().clone())
        })
        .as_ref()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The list stays consistent whatever panicked while holding it (no
    // user code runs under it).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn watch_forever() {
    loop {
        if lock(&ENTRIES).is_empty() {
            // Until a map registers (which unparks); a spurious wake-up
            // just looks again.
            thread::park();
            continue;
        }
        // Woken early (a registration, or spuriously), it looks anyway:
        // each entry is judged only once a whole period has passed.
        thread::park_timeout(PERIOD);
        let now = Instant::now();
        lock(&ENTRIES).retain_mut(|entry| look(entry, now));
    }
}

/// One look at one map; `false` drops it from the list.
fn look(entry: &mut Entry, now: Instant) -> bool {
    let Some(watch) = entry.watch.upgrade() else {
        return false;
    };
    // Read once: an `arm` racing this look then either finds the entry
    // still listed (and this look keeps it), or finds `registered` cleared
    // below and lists it anew. (An `arm` between the swap it sees and the
    // clearing below leaves the map unwatched until its next leg, which
    // arms again.)
    let active = watch.active.load(Ordering::Relaxed);
    if active && now.duration_since(entry.since) < PERIOD {
        return true;
    }
    entry.since = now;
    let legs = watch.legs.load(Ordering::Relaxed);
    let keep = active && legs != entry.seen;
    if active && legs == entry.seen {
        watch.overrun.store(true, Ordering::Relaxed);
    }
    entry.seen = legs;
    if !keep {
        watch.registered.store(false, Ordering::Release);
    }
    keep
}
