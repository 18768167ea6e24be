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

/// Chunks kept in flight per worker by default: enough that a worker never
/// waits for the consumer to queue more, and that one slow chunk at the
/// head of an ordered map does not idle the others.
const WINDOW_PER_WORKER: usize = 4;

/// A map's default window: [`WINDOW_PER_WORKER`] chunks per worker, but
/// with a fixed chunk size no more chunks than keep its buffers in flight
/// within what automatic chunking keeps (that many chunks of at most
/// [`MAX_CHUNK_BYTES`]), and never fewer than one per worker. Chunk buffers
/// beyond the caches cost more to move between cores than a cheap `f`
/// costs to run: for chunks of 65,536 `u64`s a window of 8 measured 2 to
/// 3 times slower than a window of 2.
pub(crate) fn default_window(chunking: Chunking, num_workers: usize, item_bytes: usize) -> usize {
    let workers = num_workers.max(1);
    let most = WINDOW_PER_WORKER.saturating_mul(workers);
    match chunking {
        Chunking::Auto => most,
        Chunking::Fixed(size) => {
            let chunk_bytes = size.saturating_mul(item_bytes).max(1);
            (most.saturating_mul(MAX_CHUNK_BYTES) / chunk_bytes).clamp(workers, most)
        }
    }
}

/// Chunks per worker an automatic chunk size leaves for load balance when
/// the input length is known.
const CHUNKS_PER_WORKER: usize = 4;

/// A chunk may grow at most this factor per observation, so one noisy
/// timing cannot make the next chunk absurdly large.
const MAX_GROWTH: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct Chunker {
    fixed: bool,
    size: usize,
    max: usize,
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
                Chunker { fixed: true, size, max: size, per_item_ns: None }
            }
            Chunking::Auto => {
                let balance_cap =
                    total.map(|n| (n / (num_workers.max(1) * CHUNKS_PER_WORKER)).max(1)).unwrap_or(MAX_AUTO_CHUNK);
                let memory_cap = (MAX_CHUNK_BYTES / item_bytes.max(1)).max(1);
                Chunker {
                    fixed: false,
                    size: 1,
                    max: balance_cap.min(memory_cap).min(MAX_AUTO_CHUNK),
                    per_item_ns: None,
                }
            }
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_window_holds_no_more_than_automatic_chunking_would() {
        assert_eq!(default_window(Chunking::Auto, 2, 8), 8);
        assert_eq!(default_window(Chunking::Fixed(1), 2, 8), 8);
        assert_eq!(default_window(Chunking::Fixed(MAX_CHUNK_BYTES / 8), 2, 8), 8);
        assert_eq!(default_window(Chunking::Fixed(MAX_CHUNK_BYTES / 4), 2, 8), 4);
        // Chunks of 65,536 u64s: 512 KiB each, one per worker.
        assert_eq!(default_window(Chunking::Fixed(65_536), 2, 8), 2);
        assert_eq!(default_window(Chunking::Fixed(usize::MAX), 3, usize::MAX), 3);
        assert_eq!(default_window(Chunking::Fixed(7), 65_535, 0), 4 * 65_535);
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
