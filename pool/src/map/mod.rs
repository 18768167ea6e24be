//! Ordered and unordered lazy maps over an input iterator.
//!
//! The consumer's thread pulls inputs, cuts them into chunks and queues
//! each onto the map's own lane, which at most one pool job per worker
//! drains ([`Lane`](crate::lane::Lane)), but never more than `window`
//! chunks ahead of what it has handed out ([`feeder`]). That bound keeps memory constant when the input
//! has 10^8 items (unlike Python's `Executor.map`, which submits everything
//! up front: cpython#74028), and inputs need not be `Send`: only the items
//! are. A chunk's results come back as one buffer, which the consumer hands
//! out with no per-item synchronisation ([`values`]). When the consumer
//! needs a chunk that is still on the lane, it takes it off and runs it
//! itself (the [`ordered`] map's head; the [`unordered`] map's newest). Progress is
//! counted per chunk ([`progress`]).

mod feeder;
mod ordered;
mod progress;
mod unordered;
mod values;

pub use ordered::{Map, TryMap};
pub use progress::Progress;
pub use unordered::MapUnordered;

/// The settings every map flavour shares; `$example` is a call that makes
/// one, for the doc tests.
macro_rules! settings {
    ($example:literal) => {
        /// Sets the chunking: a number for chunks of exactly that many
        /// inputs (the last may be shorter), like Python's `chunksize`, or
        /// [`Chunking::Auto`] (the default). Panics if the size is 0.
        ///
        /// Called after iteration has begun, it applies to the chunks cut
        /// from then on; those already queued run as they were cut.
        ///
        /// ```
        /// let pool = pool::ThreadPool::new(2).unwrap();
        #[doc = concat!("let n = pool.", $example, ".chunk_size(100).count();")]
        /// assert_eq!(n, 1000);
        #[doc = concat!("let n = pool.", $example, ".chunk_size(pool::Chunking::Auto).count();")]
        /// assert_eq!(n, 1000);
        /// ```
        // Inline, as the map's constructors: see `Cursor`. The panic
        // names the caller's line, not this one.
        #[inline]
        #[track_caller]
        pub fn chunk_size(mut self, chunking: impl Into<Chunking>) -> Self {
            let chunking = chunking.into();
            if let Chunking::Fixed(size) = chunking {
                assert!(size >= 1, "chunk size must be at least 1, got {size}");
            }
            self.engine.feeder.set_chunking(chunking);
            self
        }

        /// Keeps at most `chunks` chunks queued or running ahead of the
        /// consumer. Panics if `chunks` is 0. The default is 4 per worker;
        /// with a fixed chunk size, fewer when chunks are big: no more
        /// buffer memory than automatic chunking keeps in flight (4 chunks
        /// per worker of at most 96 KiB), but at least one chunk per worker.
        ///
        /// Called after iteration has begun, it applies from then on: a
        /// smaller window queues no new chunk until fewer are in flight.
        ///
        /// The window is the map's memory bound: the map cuts chunks until
        /// `chunks` are in flight, so on an endless input a window of a
        /// million chunks holds a million chunks' inputs and results
        /// (`usize::MAX` fills memory). Inputs are read on this thread: the
        /// ordered maps fill the window before handing out a chunk's items,
        /// so they read ahead of the item handed out; the unordered map
        /// reads when asked for an item. A feedback loop (each input made
        /// from the last result) takes `map_unordered` with
        /// `chunk_size(1).window(1)`, which hands items out in order.
        ///
        /// ```
        /// let pool = pool::ThreadPool::new(2).unwrap();
        #[doc = concat!("let n = pool.", $example, ".window(2).count();")]
        /// assert_eq!(n, 1000);
        /// ```
        // Inline, as the map's constructors: see `Cursor`.
        #[inline]
        #[track_caller]
        pub fn window(mut self, chunks: usize) -> Self {
            assert!(chunks >= 1, "a map's window must hold at least 1 chunk, got {chunks}");
            self.engine.feeder.set_window(chunks);
            self
        }

        /// Calls `callback` each time a chunk finishes (on the thread that
        /// ran it) and as this thread receives a chunk, with the number of
        /// inputs done and the total when known; enough to drive a progress
        /// bar. Calls never overlap and `done` only grows (chunks that
        /// finish while a call is running are reported together by the
        /// next one, always before the map ends). A slow callback slows
        /// the chunk making the call, so keep it cheap. It may use the pool itself:
        /// waiting inside it does not block this map's other chunks. If it
        /// panics, the chunk that made that call (or, for a call made as
        /// this thread received a chunk, that chunk) fails with the panic
        /// (its items come out as that error, or `Map` re-raises it); other
        /// chunks whose counts the call covered keep their results.
        ///
        /// `done` counts from the map's start: attached after iteration has
        /// begun, the callback is first called at once (on this thread)
        /// with what is already done, and `done` still reaches the total.
        /// On a pool-level map the callback must be `'static`; in a
        /// [`Scope`](crate::Scope) it may borrow.
        ///
        /// ```
        /// use std::sync::atomic::{AtomicUsize, Ordering};
        /// use std::sync::Arc;
        /// let pool = pool::ThreadPool::new(2).unwrap();
        /// let seen = Arc::new(AtomicUsize::new(0));
        /// let last = Arc::clone(&seen);
        #[doc = concat!("let n = pool.", $example, ".on_progress(move |p| last.store(p.done, Ordering::SeqCst)).count();")]
        /// assert_eq!((n, seen.load(Ordering::SeqCst)), (1000, 1000));
        /// ```
        // Inline, as the map's constructors: see `Cursor`.
        #[inline]
        pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'a) -> Self {
            self.engine.feeder.set_progress(Box::new(callback));
            self
        }
    };
}
use settings;
