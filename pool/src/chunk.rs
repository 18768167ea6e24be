//! Fixed and automatic chunk sizes for maps.
//!
//! Dispatching a task costs on the order of a microsecond (allocation,
//! queue traffic, possibly a wake-up), so tiny functions must be batched.
//! The automatic mode follows joblib's auto-batching: it times the chunks
//! that come back and sizes the next ones so each runs for about
//! [`TARGET_CHUNK_NS`], while capping the size so that a known-length input
//! still splits into several chunks per worker (load balance) and a huge
//! input never has more than a bounded number of items in flight (memory).

/// How a map groups its inputs into tasks.
///
/// ```
/// use pool::Chunking;
/// let pool = pool::ThreadPool::new(2).unwrap();
/// for chunking in [Chunking::Auto, Chunking::Fixed(16)] {
///     assert_eq!(pool.map(|x: u32| x, 0..100u32).chunk_size(chunking).count(), 100);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Chunking {
    /// Sized from measured run times (the default): long enough that
    /// dispatch cost is small, short enough to balance load.
    #[default]
    Auto,
    /// Exactly this many inputs per task (the last chunk may be shorter),
    /// like `chunksize` in Python's `Executor.map`. Must be at least 1.
    Fixed(usize),
}

/// `n` means [`Chunking::Fixed(n)`](Chunking::Fixed), so `chunk_size(100)`
/// reads as in Python.
///
/// ```
/// assert_eq!(pool::Chunking::from(8), pool::Chunking::Fixed(8));
/// ```
impl From<usize> for Chunking {
    fn from(size: usize) -> Self {
        Chunking::Fixed(size)
    }
}

/// Aim for chunks that run this long. Dispatching a chunk costs about a
/// microsecond, but each one the consumer has to wake for costs context
/// switches too (~10 µs, often on a worker's core); at 0.5 ms both stay
/// near 1%, while chunks stay short enough that workers finish close
/// together (and the balance cap applies on top).
///
/// ```
/// assert_eq!(pool::TARGET_CHUNK_NS, 500_000.0); // 0.5 ms
/// ```
pub const TARGET_CHUNK_NS: f64 = 500_000.0;

/// Largest automatic chunk, which bounds a map's memory to
/// `window * MAX_AUTO_CHUNK` items whatever the input size.
///
/// ```
/// assert!(pool::MAX_AUTO_CHUNK >= 1024);
/// ```
pub const MAX_AUTO_CHUNK: usize = 1 << 16;

/// Largest automatic chunk buffer, in bytes. Below glibc's default mmap
/// threshold (128 KiB), so chunk buffers are recycled by the allocator
/// instead of being mapped, page-faulted and unmapped every time — which
/// costs more than the work itself for a tiny function.
pub(crate) const MAX_CHUNK_BYTES: usize = 96 * 1024;

/// Chunks per worker an automatic chunk size leaves for load balance when
/// the input length is known.
const CHUNKS_PER_WORKER: usize = 4;

/// A chunk may grow at most this factor per observation, so one noisy
/// timing cannot make the next chunk absurdly large.
const MAX_GROWTH: usize = 8;

/// Largest run an ordered map computes straight from its inputs on the
/// consumer (see [`Placement`]). Such a run has no buffer, so only the
/// granularity of progress reports and timing samples bounds it.
const MAX_DIRECT_RUN: usize = 1 << 20;

#[derive(Debug, Clone)]
pub(crate) struct Chunker {
    fixed: bool,
    size: usize,
    max: usize,
    /// Items per run computed on the consumer with no chunk buffer: sized
    /// for [`TARGET_CHUNK_NS`] like `size`, but free of the buffer caps.
    direct: usize,
    /// Smoothed nanoseconds per item.
    per_item_ns: Option<f64>,
}

impl Chunker {
    /// `total` is the input length when the iterator knows it exactly;
    /// `item_bytes` the larger of an input's and a result's size.
    pub(crate) fn new(chunking: Chunking, total: Option<usize>, num_workers: usize, item_bytes: usize) -> Self {
        match chunking {
            Chunking::Fixed(size) => {
                assert!(size >= 1, "chunk size must be at least 1, got {size}");
                Chunker { fixed: true, size, max: size, direct: size, per_item_ns: None }
            }
            Chunking::Auto => {
                let balance_cap =
                    total.map(|n| (n / (num_workers.max(1) * CHUNKS_PER_WORKER)).max(1)).unwrap_or(MAX_AUTO_CHUNK);
                let memory_cap = (MAX_CHUNK_BYTES / item_bytes.max(1)).max(1);
                Chunker {
                    fixed: false,
                    size: 1,
                    max: balance_cap.min(memory_cap).min(MAX_AUTO_CHUNK),
                    direct: 1,
                    per_item_ns: None,
                }
            }
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Items in the next run computed straight from the inputs on the
    /// consumer.
    pub(crate) fn direct_size(&self) -> usize {
        self.direct
    }

    /// Items the consumer computes between two looks at the clock when it
    /// runs them itself: about [`LEG_NS`] of work, at most [`MAX_LEG`].
    pub(crate) fn leg_size(&self) -> usize {
        self.per_item_ns.map_or(1, |ns| ((LEG_NS / ns) as usize).clamp(1, MAX_LEG))
    }

    /// Automatic chunking, and items measured as cheap: the case where
    /// running them on the consumer may beat handing them out (see
    /// [`Placement`]).
    pub(crate) fn may_inline(&self) -> bool {
        !self.fixed && self.per_item_ns.is_some_and(|ns| ns < MAX_INLINE_ITEM_NS)
    }

    /// Feeds back how long a finished chunk of `items` inputs ran.
    pub(crate) fn observe(&mut self, items: usize, elapsed_ns: u64) {
        if self.fixed || items == 0 {
            return;
        }
        // Clock resolution makes very short chunks read as ~0 ns; floor the
        // estimate so the size still grows geometrically instead of jumping.
        let sample = (elapsed_ns as f64 / items as f64).max(0.1);
        let estimate = match self.per_item_ns {
            None => sample,
            Some(previous) => 0.5 * previous + 0.5 * sample,
        };
        self.per_item_ns = Some(estimate);
        let wanted = (TARGET_CHUNK_NS / estimate) as usize;
        self.size = wanted.clamp(1, (self.size * MAX_GROWTH).min(self.max));
        self.direct = wanted.clamp(1, self.direct.saturating_mul(MAX_GROWTH).min(MAX_DIRECT_RUN));
    }
}

/// How long the consumer computes items itself before it reads the clock
/// again, to report progress, time the items, and end the run if they got
/// slow (within a leg, the watchdog does that). A clock read every 10 µs
/// costs well under 1%.
const LEG_NS: f64 = 10_000.0;

/// The most items in one leg, whatever their measured cost.
const MAX_LEG: usize = 4096;

/// Items slower than this always go to workers.
const MAX_INLINE_ITEM_NS: f64 = 1_000.0;

/// How many full-size chunks a placement decision first holds before the
/// other placement is measured again (so a change in `f`'s cost is
/// noticed). Each re-measurement that confirms the decision doubles the
/// interval, up to [`MAX_REPROBE_EVERY`], so a stable map spends little
/// time probing.
const REPROBE_EVERY: usize = 32;
const MAX_REPROBE_EVERY: usize = 1024;

/// Where an ordered map with automatic chunking runs its chunks: on the
/// workers, or on the consumer itself when items are so cheap that the
/// consumer's own per-item work (pulling inputs, handing out results) is
/// the bottleneck and a hand-off only adds to it.
///
/// It decides by measurement, not by a threshold: the consumer's wall
/// time per item handed out, in each placement, including whatever the
/// caller does with the items. A map starts on the workers and measures
/// them, then tries inline ([`handed_out`](Self::handed_out)); or, when
/// a chunk back from the workers shows cheap items before anything was
/// measured, starts inline at once ([`start_inline`](Self::start_inline)),
/// which spares cheap maps the cost of measuring the workers first (the
/// workers' per-item time alone does not say which is faster: that also
/// depends on what the caller does per item). Either way it keeps
/// the faster and measures the other again every [`REPROBE_EVERY`]
/// full-size chunks.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    /// Smoothed wall ns per item: `[on workers, inline]`.
    wall_ns: [Option<f64>; 2],
    inline: bool,
    /// The next sample spans a change of placement: skip it.
    skip: bool,
    since_probe: usize,
    /// Full-size chunks between re-measurements; 0 (the initial state)
    /// measures the other placement as soon as this one has a sample.
    probe_every: usize,
    /// While the other placement is being measured: the placement before.
    probing_from: Option<bool>,
}

impl Placement {
    pub(crate) fn inline(&self) -> bool {
        self.inline
    }

    /// Nothing measured or decided yet (a new map, or items that were
    /// not cheap until now).
    pub(crate) fn is_unmeasured(&self) -> bool {
        !self.inline && self.wall_ns == [None, None]
    }

    /// Runs inline from now on, until the workers are next measured.
    pub(crate) fn start_inline(&mut self) {
        *self = Placement { inline: true, skip: true, probe_every: REPROBE_EVERY, ..Placement::default() };
    }

    /// A chunk of `items` was handed out `elapsed_ns` after the previous
    /// one (`None`: no previous one, not a full-size chunk, or the sample
    /// spans a transition); `eligible` is [`Chunker::may_inline`].
    pub(crate) fn handed_out(&mut self, items: usize, elapsed_ns: Option<u64>, eligible: bool) {
        if !eligible {
            *self = Placement::default();
            return;
        }
        let sampled = match elapsed_ns {
            Some(ns) if !self.skip && items > 0 => {
                let sample = ns as f64 / items as f64;
                let slot = &mut self.wall_ns[usize::from(self.inline)];
                *slot = Some(slot.map_or(sample, |previous| 0.5 * previous + 0.5 * sample));
                true
            }
            _ => false,
        };
        self.skip = false;
        if !sampled {
            return;
        }
        match (self.probing_from, self.wall_ns) {
            (Some(from), [Some(workers), Some(inline)]) => {
                // A measurement of both is complete: keep the faster, and
                // back off if it confirmed the previous decision.
                self.probing_from = None;
                self.since_probe = 0;
                let want_inline = inline < workers;
                self.probe_every =
                    if from == want_inline { (self.probe_every * 2).min(MAX_REPROBE_EVERY) } else { REPROBE_EVERY };
                self.switch_to(want_inline);
            }
            (Some(_), _) => {}
            (None, _) => {
                self.since_probe += 1;
                if self.since_probe >= self.probe_every {
                    self.probe_every = self.probe_every.max(REPROBE_EVERY);
                    self.probing_from = Some(self.inline);
                    self.wall_ns[usize::from(!self.inline)] = None;
                    self.switch_to(!self.inline);
                }
            }
        }
    }

    fn switch_to(&mut self, inline: bool) {
        if inline != self.inline {
            self.inline = inline;
            self.skip = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_measures_both_and_keeps_the_faster() {
        let mut p = Placement::default();
        p.handed_out(100, Some(300), true); // workers: 3 ns/item
        assert!(p.inline(), "should probe inline next");
        p.handed_out(100, Some(999_999), true); // transition: skipped
        p.handed_out(100, Some(100), true); // inline: 1 ns/item
        assert!(p.inline());
        // Inline holds until the re-probe measures the workers again.
        let mut held = 0;
        while p.inline() {
            p.handed_out(100, Some(100), true);
            held += 1;
        }
        assert!(held <= REPROBE_EVERY, "held {held}");
        p.handed_out(100, Some(999_999), true); // transition: skipped
        p.handed_out(100, Some(20), true); // the workers are now faster
        assert!(!p.inline());
        // Not eligible (e.g. items got slow): back to workers, forgetting all.
        p.handed_out(100, Some(20), false);
        assert!(!p.inline());
        assert_eq!(p.wall_ns, [None, None]);
    }

    #[test]
    fn a_placement_started_inline_holds_until_it_measures_the_workers() {
        let mut p = Placement::default();
        p.start_inline();
        assert!(p.inline());
        p.handed_out(100, Some(999_999), true); // spans the switch: skipped
        let mut held = 0;
        while p.inline() {
            p.handed_out(100, Some(100), true); // inline: 1 ns/item
            held += 1;
            assert!(held <= REPROBE_EVERY, "never measured the workers");
        }
        assert_eq!(held, REPROBE_EVERY);
        p.handed_out(100, Some(999_999), true); // transition: skipped
        p.handed_out(100, Some(500), true); // workers: 5 ns/item, slower
        assert!(p.inline(), "kept the workers although inline was faster");
        // Confirmed: the next measurement waits twice as long.
        assert_eq!(p.probe_every, 2 * REPROBE_EVERY);
    }

    #[test]
    fn direct_runs_grow_past_the_buffer_caps_for_cheap_items() {
        let mut c = Chunker::new(Chunking::Auto, Some(10_000_000), 2, 8);
        for _ in 0..12 {
            let n = c.direct_size();
            c.observe(n, n as u64); // 1 ns per item
        }
        assert_eq!(c.size(), MAX_CHUNK_BYTES / 8, "buffered chunks keep their cap");
        assert_eq!(c.direct_size(), (TARGET_CHUNK_NS as usize).min(MAX_DIRECT_RUN));
        assert!(c.may_inline());
    }

    #[test]
    fn fixed_never_changes() {
        let mut c = Chunker::new(Chunking::Fixed(7), Some(1000), 2, 8);
        c.observe(7, 1);
        c.observe(7, 10_000_000);
        assert_eq!(c.size(), 7);
    }

    #[test]
    #[should_panic(expected = "chunk size must be at least 1")]
    fn zero_chunk_is_refused() {
        let _ = Chunker::new(Chunking::Fixed(0), None, 2, 8);
    }

    #[test]
    fn auto_grows_for_cheap_items_up_to_the_balance_cap() {
        let mut c = Chunker::new(Chunking::Auto, Some(1_000_000), 2, 1);
        assert_eq!(c.size(), 1);
        let mut sizes = vec![];
        for _ in 0..10 {
            let n = c.size();
            c.observe(n, n as u64); // 1 ns per item
            sizes.push(c.size());
        }
        assert!(sizes.windows(2).all(|w| w[1] >= w[0]), "{sizes:?}");
        assert!(sizes[0] <= MAX_GROWTH);
        // 1e6 / (2 workers * 4) = 125_000, above MAX_AUTO_CHUNK.
        assert_eq!(*sizes.last().unwrap(), MAX_AUTO_CHUNK);
    }

    #[test]
    fn auto_targets_the_chunk_duration_for_slow_items() {
        let mut c = Chunker::new(Chunking::Auto, None, 4, 8);
        for _ in 0..20 {
            let n = c.size();
            c.observe(n, n as u64 * 30_000); // 30 us per item
        }
        assert_eq!(c.size(), (TARGET_CHUNK_NS / 30_000.0) as usize);
    }

    #[test]
    fn auto_caps_for_load_balance() {
        let mut c = Chunker::new(Chunking::Auto, Some(80), 2, 8);
        for _ in 0..10 {
            let n = c.size();
            c.observe(n, n as u64);
        }
        assert_eq!(c.size(), 10); // 80 / (2 * 4)
    }

    #[test]
    fn auto_keeps_chunk_buffers_small() {
        let mut c = Chunker::new(Chunking::Auto, None, 2, 8);
        for _ in 0..20 {
            let n = c.size();
            c.observe(n, n as u64);
        }
        assert_eq!(c.size(), MAX_CHUNK_BYTES / 8);
    }

    #[test]
    fn auto_shrinks_when_items_get_slower() {
        let mut c = Chunker::new(Chunking::Auto, None, 1, 8);
        for _ in 0..10 {
            let n = c.size();
            c.observe(n, n as u64 * 10);
        }
        let big = c.size();
        for _ in 0..10 {
            let n = c.size();
            c.observe(n, n as u64 * 50_000);
        }
        assert!(c.size() < big / 100, "{} vs {big}", c.size());
        assert!(c.size() >= 1);
    }
}
