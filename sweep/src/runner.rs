//! Evaluating a space on the pool: skip what is already on disk, run the
//! rest (in any order), append each record as it arrives, report progress,
//! retry failures, and stop gracefully when asked.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use pool::ThreadPool;

use crate::command::{Evaluation, Exit};
use crate::eprintln;
use crate::point::Point;
use crate::signals;
use crate::space::Space;
use crate::store::{hostname, Header, Provenance, Record, ResultsWriter, Resume, SyncPolicy, DEFAULT_MAX_ATTEMPTS};

/// Which point indices of a space a run covers.
#[derive(Clone, Default)]
pub enum Selection {
    /// Every point.
    #[default]
    All,
    /// These indices (out-of-range ones are ignored, a repeated one counts
    /// once).
    Indices(Vec<usize>),
    /// Every `step`-th index from `offset`: `offset, offset + step, ...`
    /// (shard `offset` of `step`). Counted by arithmetic.
    Stride {
        /// First index.
        offset: usize,
        /// Distance between indices (at least 1).
        step: usize,
    },
    /// Indices for which the predicate holds; checked lazily, so nothing is
    /// materialised (but counting them takes a pass over the indices).
    Filter(Arc<dyn Fn(usize) -> bool + Send + Sync>),
    /// The first `count` indices of `offset, offset + step, ...` (a prefix
    /// of a space or of a shard). Counted by arithmetic.
    Prefix {
        /// First index.
        offset: usize,
        /// Distance between indices (at least 1).
        step: usize,
        /// How many indices, at most.
        count: usize,
    },
    /// `count` indices of `from` drawn at random, in the order drawn (see
    /// [`Selection::sample`]). Drawn one at a time as the run takes them,
    /// and tested for by inverting the draw, so a sample of any size holds
    /// nothing per point; counted by arithmetic when `from` is.
    Sample {
        /// The selection drawn from.
        from: Box<Selection>,
        /// How many indices, at most.
        count: usize,
        /// The key of the draw.
        seed: u64,
    },
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("All"),
            Selection::Indices(indices) => write!(f, "Indices({} points)", indices.len()),
            Selection::Stride { offset, step } => write!(f, "Stride({offset} + k·{step})"),
            Selection::Filter(_) => f.write_str("Filter(..)"),
            Selection::Prefix { offset, step, count } => write!(f, "Prefix({offset} + k·{step}, k < {count})"),
            Selection::Sample { from, count, seed } => write!(f, "Sample({count} of {from:?}, seed {seed})"),
        }
    }
}

impl Selection {
    /// The selected indices of a space of `len` points, each once, in
    /// increasing order except for `Indices`, which come as first given,
    /// and `Sample`, which come as drawn.
    pub fn indices(&self, len: usize) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            Selection::All => Box::new(0..len),
            Selection::Indices(indices) => {
                // A repeated index is one point: computing it twice would
                // write two records for one point.
                let mut seen = HashSet::new();
                Box::new(indices.iter().copied().filter(move |i| *i < len && seen.insert(*i)))
            }
            Selection::Stride { offset, step } => Box::new((*offset..len).step_by((*step).max(1))),
            Selection::Filter(keep) => Box::new((0..len).filter(move |i| keep(*i))),
            Selection::Prefix { offset, step, count } => Box::new((*offset..len).step_by((*step).max(1)).take(*count)),
            Selection::Sample { from, count, seed } => {
                // Counted once here, not per draw: `from` may count by
                // enumerating.
                let available = from.count(len);
                let permutation = Permutation::new(available, *seed);
                Box::new((0..available.min(*count)).filter_map(move |k| from.nth(permutation.apply(k), len)))
            }
        }
    }

    /// `count` of this selection's indices drawn at random (all of them
    /// when `count` is not smaller), as a selection whose
    /// [`indices`](Selection::indices) come in the order drawn: a keyed
    /// pseudo-random permutation of this selection's ranks, walked as the
    /// run goes, so nothing is held per point whatever `count` is. The same
    /// `seed` draws the same points, and a larger `count` draws the same
    /// ones first: a rerun resumes the sample, a larger one extends it.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweep::Selection;
    /// let huge = 1_000_000_000_000;
    /// let five: Vec<usize> = Selection::All.sample(5, 7).indices(huge).collect();
    /// assert_eq!(five.len(), 5);
    /// assert!(five.iter().all(|i| *i < huge));
    /// // As large as the space: counted, tested and drawn without a list.
    /// let all = Selection::All.sample(huge, 7);
    /// assert_eq!(all.count(huge), huge);
    /// assert_eq!(all.indices(huge).take(5).collect::<Vec<_>>(), five);
    /// assert!(five.iter().all(|i| all.membership(huge)(*i)));
    /// ```
    pub fn sample(self, count: usize, seed: u64) -> Selection {
        Selection::Sample { from: Box::new(self), count, seed }
    }

    /// How many indices of a space of `len` points are selected.
    pub fn count(&self, len: usize) -> usize {
        match (self, self.progression()) {
            (_, Some((offset, step, cap))) => len.saturating_sub(offset).div_ceil(step).min(cap),
            (Selection::Sample { from, count, .. }, _) => from.count(len).min(*count),
            (other, _) => other.indices(len).count(),
        }
    }

    /// A test of whether an index of a space of `len` points is selected
    /// (`Indices` are put in a set once, not searched each time).
    pub fn membership(&self, len: usize) -> impl Fn(usize) -> bool + '_ {
        let listed: HashSet<usize> = match self {
            Selection::Indices(indices) => indices.iter().copied().collect(),
            _ => HashSet::new(),
        };
        move |i| self.contains(i, len, &listed)
    }

    /// Whether index `i` of a space of `len` points is selected.
    fn contains(&self, i: usize, len: usize, listed: &HashSet<usize>) -> bool {
        match self {
            Selection::Indices(_) => i < len && listed.contains(&i),
            Selection::Filter(keep) => i < len && keep(i),
            _ => self.rank(i, len).is_some(),
        }
    }

    /// `(offset, step, cap)` when the selection is the arithmetic
    /// progression `offset + k·step` for `k < cap` (cut at the space's
    /// end): its indices are then found, counted and ranked by arithmetic.
    fn progression(&self) -> Option<(usize, usize, usize)> {
        match self {
            Selection::All => Some((0, 1, usize::MAX)),
            Selection::Stride { offset, step } => Some((*offset, (*step).max(1), usize::MAX)),
            Selection::Prefix { offset, step, count } => Some((*offset, (*step).max(1), *count)),
            _ => None,
        }
    }

    /// The selected index at position `rank` of [`Selection::indices`].
    fn nth(&self, rank: usize, len: usize) -> Option<usize> {
        match (self, self.progression()) {
            (_, Some((offset, step, cap))) => {
                (rank < cap).then(|| rank.checked_mul(step)?.checked_add(offset)).flatten().filter(|i| *i < len)
            }
            (Selection::Sample { from, count, seed }, _) => {
                let available = from.count(len);
                (rank < available.min(*count)).then(|| from.nth(Permutation::new(available, *seed).apply(rank), len))?
            }
            (other, _) => other.indices(len).nth(rank),
        }
    }

    /// The position of index `i` in [`Selection::indices`], if selected:
    /// the inverse of [`Selection::nth`]. A sample inverts its draw.
    fn rank(&self, i: usize, len: usize) -> Option<usize> {
        match (self, self.progression()) {
            (_, Some((offset, step, cap))) => {
                let rank = i.checked_sub(offset).filter(|d| d.is_multiple_of(step))? / step;
                (i < len && rank < cap).then_some(rank)
            }
            (Selection::Sample { from, count, seed }, _) => {
                let drawn = Permutation::new(from.count(len), *seed).invert(from.rank(i, len)?);
                (drawn < *count).then_some(drawn)
            }
            (other, _) => other.indices(len).position(|j| j == i),
        }
    }
}

/// A keyed bijection of `0..size`: a balanced Feistel network on the
/// smallest even number of bits that holds `size`, walked along its cycle
/// until it lands inside (fewer than four steps on average). The same walk
/// backwards, through the rounds undone in reverse, inverts it.
struct Permutation {
    size: usize,
    half_bits: u32,
    seed: u64,
}

impl Permutation {
    const ROUNDS: u64 = 4;

    fn new(size: usize, seed: u64) -> Self {
        let bits = (usize::BITS - size.saturating_sub(1).leading_zeros()).max(2);
        Permutation { size, half_bits: bits.div_ceil(2), seed }
    }

    /// The image of `x`, for `x < size` (there is none otherwise, and the
    /// walk would not end).
    fn apply(&self, mut x: usize) -> usize {
        debug_assert!(x < self.size, "{x} is outside 0..{}", self.size);
        loop {
            x = self.round_trip(x as u64) as usize;
            if x < self.size {
                return x;
            }
        }
    }

    /// The `x` with `apply(x) == y`, for `y < size`.
    fn invert(&self, mut y: usize) -> usize {
        debug_assert!(y < self.size, "{y} is outside 0..{}", self.size);
        loop {
            y = self.round_trip_back(y as u64) as usize;
            if y < self.size {
                return y;
            }
        }
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn mix(&self, round: u64, half: u64) -> u64 {
        splitmix64(self.seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ half) & self.mask()
    }

    fn round_trip(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask());
        for round in 0..Self::ROUNDS {
            (left, right) = (right, left ^ self.mix(round, right));
        }
        (left << self.half_bits) | right
    }

    fn round_trip_back(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask());
        for round in (0..Self::ROUNDS).rev() {
            (left, right) = (right ^ self.mix(round, left), left);
        }
        (left << self.half_bits) | right
    }
}

/// SplitMix64's finaliser: a cheap, well-mixed hash of a 64-bit word.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Asks a run to stop gracefully: no new points are started, the points in
/// flight finish (or, once [`Stop::cancelled`] is set, are abandoned), the
/// results are flushed, and the run returns with [`RunSummary::stopped`].
///
/// Clones share one request. [`Stop::on_signals`] also counts SIGINT,
/// SIGTERM, SIGHUP and SIGUSR1 as requests.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    requests: Arc<AtomicUsize>,
    /// The installed handlers, while this or a clone lives.
    signals: Option<Arc<signals::Handlers>>,
    cancel: Arc<AtomicBool>,
}

impl Stop {
    /// A handle nobody has asked to stop yet.
    pub fn new() -> Self {
        Stop::default()
    }

    /// A handle that also counts SIGINT, SIGTERM, SIGHUP and SIGUSR1
    /// (installing handlers for them: they no longer kill the process;
    /// see [`signals`] for one the process ignores).
    pub fn on_signals() -> std::io::Result<Self> {
        Ok(Stop { signals: Some(Arc::new(signals::install()?)), ..Stop::default() })
    }

    /// Asks the run to stop; asking twice also abandons the points in
    /// flight at once.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times a stop was asked for.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst) + if self.signals.is_some() { signals::requests() } else { 0 }
    }

    /// Set once points in flight are to be abandoned (the grace period ran
    /// out, or a second stop request came): long evaluations should check
    /// it and give up. [`crate::command::CommandOptions::cancel`] takes it.
    pub fn cancelled(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// What asked for the stop, for messages: a signal's name or "a stop
    /// request".
    pub fn reason(&self) -> &'static str {
        if self.signals.is_some() && signals::requests() > 0 {
            signals::last().unwrap_or("a signal")
        } else {
            "a stop request"
        }
    }
}

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Points per task; `None` lets the pool choose. Large chunks lower
    /// overhead for cheap points but put more points in flight (lost on a
    /// crash, and reported later).
    pub chunk_size: Option<usize>,
    /// Report on stderr: a progress bar on a terminal (unless `bar` is
    /// off), else a progress line every `progress_every`; and notices when
    /// stopping.
    pub progress: bool,
    /// Draw the progress bar on a terminal; without it, progress lines are
    /// printed there as in logs.
    pub bar: bool,
    /// Interval between progress lines when stderr is not a terminal.
    pub progress_every: Duration,
    /// Recompute points whose latest record is a failure (up to
    /// `max_attempts` attempts in all).
    pub retry_failed: bool,
    /// Attempts a point gets across all runs of the file; a point that
    /// failed this many times is given up and never retried.
    pub max_attempts: u32,
    /// Immediate retries of a failed point within this run (each after a
    /// back-off), still capped by `max_attempts`.
    pub retries: u32,
    /// Back-off before the first immediate retry; doubled for each next one
    /// (at most a minute).
    pub retry_delay: Duration,
    /// The points this run is responsible for.
    pub selection: Selection,
    /// When [`run_to_file`] flushes records to the disk.
    pub sync: SyncPolicy,
    /// Stop requests (see [`Stop`]).
    pub stop: Stop,
    /// After a stop request, how long points in flight may finish before
    /// they are abandoned (commands are killed).
    pub grace: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            chunk_size: Some(1),
            progress: true,
            bar: true,
            progress_every: Duration::from_secs(30),
            retry_failed: false,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            selection: Selection::All,
            sync: SyncPolicy::default(),
            stop: Stop::default(),
            grace: Duration::from_secs(10),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    /// Selected points.
    pub selected: usize,
    /// Selected points skipped because their result was already on disk
    /// (done, given up, or failed and not retried).
    pub skipped: usize,
    /// Of the skipped points, those given up (failed `max_attempts` times).
    pub skipped_given_up: usize,
    /// Of the skipped points, those that failed and are not retried in
    /// this run, though not given up.
    pub skipped_failed: usize,
    /// Points evaluated to a final record in this run.
    pub computed: usize,
    /// Of those, how many failed (after any retries).
    pub failed: usize,
    /// Of the failed ones, how many used up their attempts.
    pub given_up: usize,
    /// Attempts made in this run (more than `computed` when retrying).
    pub attempts: usize,
    /// Points started but abandoned when the run was stopped; they have no
    /// record and a resume computes them.
    pub interrupted: usize,
    /// Whether the run was stopped before all selected points were done.
    pub stopped: bool,
    /// Wall-clock time of the evaluation.
    pub elapsed: Duration,
}

/// The most workers a run accepts: 64 per core. Beyond it threads cost
/// more than they can gain, and 10^5 of them exhaust the machine.
pub fn max_workers() -> usize {
    64 * std::thread::available_parallelism().map_or(1, usize::from)
}

/// What one point's task did; its records went out through the emitter
/// as each attempt ended.
struct PointRun {
    /// Attempts made (records emitted).
    attempts: usize,
    /// Whether the last attempt succeeded, and its number.
    last: Option<(bool, u32)>,
    /// Abandoned in flight (its last attempt has no record).
    interrupted: bool,
    /// A stop request cut the back-off before a retry it was owed.
    retry_cut: bool,
}

/// Settings a worker needs for one point.
struct Attempts {
    prior: HashMap<usize, u32>,
    max: u32,
    retries: u32,
    delay: Duration,
    host: String,
    stop: Stop,
}

/// Evaluates one point, retrying failures as allowed, timing each attempt
/// and turning a panic into a failure so the sweep goes on. Each attempt's
/// record is handed to `emit` as soon as the attempt ends, before any
/// back-off, so a crash between attempts loses none of them.
fn evaluate_point<F>(
    space: &Space,
    evaluate: &F,
    attempts: &Attempts,
    index: usize,
    emit: &dyn Fn(Record),
) -> Option<PointRun>
where
    F: Fn(&Point) -> Option<Evaluation>,
{
    let mut run = PointRun { attempts: 0, last: None, interrupted: false, retry_cut: false };
    // Queued before a stop request: not started, not recorded.
    if attempts.stop.requests() > 0 {
        return Some(run);
    }
    let point = space.point(index)?;
    // Counts come from the file, which a hand edit may have pushed to the end.
    let first = attempts.prior.get(&index).copied().unwrap_or(0).saturating_add(1);
    let mut delay = attempts.delay;
    for (retry, attempt) in (0..=attempts.retries).zip(first..=u32::MAX) {
        let started_at = SystemTime::now();
        let started = Instant::now();
        let evaluation = catch_unwind(AssertUnwindSafe(|| evaluate(&point))).unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            Some(Evaluation { outcome: Err(format!("panicked: {message}")), exit: None })
        });
        let Some(Evaluation { outcome, exit }) = evaluation else {
            run.interrupted = true;
            return Some(run);
        };
        let outcome = outcome.and_then(crate::store::refuse_null);
        let failed = outcome.is_err();
        if failed && killed_alongside_us(exit.as_ref(), &attempts.stop) {
            // Not the point's failure: whoever stopped the run (scancel,
            // a requeue, kill of the job) signalled the black box too. No
            // attempt is spent; the point stays pending for the next run.
            run.interrupted = true;
            return Some(run);
        }
        let retrying = failed && attempt < attempts.max && retry < attempts.retries;
        emit(Record {
            index,
            id: point.id(),
            point: point.clone(),
            outcome,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            attempt,
            provenance: Some(Provenance::here(&attempts.host, started_at, exit)),
            retrying,
        });
        run.attempts += 1;
        run.last = Some((!failed, attempt));
        if !retrying {
            break;
        }
        // Back off, but wake up for a stop request.
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if attempts.stop.requests() > 0 {
                run.retry_cut = true;
                return Some(run);
            }
            thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
    Some(run)
}

pub use crate::store::NULL_VALUE;

/// Whether a black box that died of a stopping signal (TERM, INT, HUP,
/// USR1, KILL), or exited with 128 + that signal, went down with this run:
/// Slurm's scancel and requeue signal every process of a job, so the run's
/// own stop request may arrive a moment after the black box's death is
/// seen. That moment is waited for. A black box that catches the signal
/// (a shell's `trap 'exit 143' TERM`, the JVM, Python with a handler) exits
/// with 128 + N as shells report a death by it; without a stop request,
/// that status is the black box's failure like any other.
fn killed_alongside_us(exit: Option<&Exit>, stop: &Stop) -> bool {
    #[cfg(unix)]
    {
        const STOPPING: [i32; 5] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1, libc::SIGKILL];
        let stopping = |signal: i32| STOPPING.contains(&signal);
        let by_signal = exit.and_then(|e| e.signal).is_some_and(stopping);
        let as_if_by_signal = exit.and_then(|e| e.code).and_then(|code| code.checked_sub(128)).is_some_and(stopping);
        if !by_signal && !as_if_by_signal {
            return false;
        }
        let deadline = Instant::now() + Duration::from_millis(250);
        while stop.requests() == 0 {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
        true
    }
    #[cfg(not(unix))]
    {
        let _ = (exit, stop);
        false
    }
}

/// What the workers tell the thread that owns the sink.
enum Event {
    /// An attempt ended: write its record.
    Record(Record),
    /// A point's task ended (after all of its records).
    Point(anyhow::Result<PointRun>),
}

fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} points ({rate}, ETA {eta}) {msg}",
    );
    if let Ok(style) = style {
        // indicatif's own {per_sec} prints four decimals; one is plenty.
        bar.set_style(style.with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.1} points/s", state.per_sec());
        }));
    }
    bar
}

/// `1h02m`, `3m07s`, `12s`.
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        // A grace of 0.2 s is not "0s": tenths below 10 s.
        s if s < 10 && d.subsec_nanos() != 0 => format!("{:.1}s", d.as_secs_f64()),
        s => format!("{s}s"),
    }
}

/// Counters shared with the monitor thread.
#[derive(Default)]
struct Counters {
    done: AtomicUsize,
    failed: AtomicUsize,
}

/// The line printed at intervals when stderr is not a terminal (logs):
/// `sweep: 120/400 points (30.0%), 2 failed, 3.1 points/s, ETA 1m30s`.
fn progress_line(done: usize, failed: usize, total: usize, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let share = if total == 0 { 100.0 } else { done as f64 * 100.0 / total as f64 };
    let left = total.saturating_sub(done) as f64 / rate;
    let eta = if done == 0 || rate <= 0.0 {
        "unknown".to_owned()
    } else if left >= 100.0 * 365.25 * 86_400.0 {
        "centuries".to_owned()
    } else {
        duration_text(Duration::from_secs_f64(left))
    };
    format!("sweep: {done}/{total} points ({share:.1}%), {failed} failed, {rate:.2} points/s, ETA {eta}")
}

/// Watches a run from a thread of its own: prints progress lines for logs
/// and turns a stop request into a cancel once the grace period is over.
fn monitor(
    options: &RunOptions,
    bar: ProgressBar,
    counters: Arc<Counters>,
    total: usize,
    in_flight: Arc<AtomicUsize>,
    log_lines: bool,
) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (finished, wait) = mpsc::channel::<()>();
    let stop = options.stop.clone();
    let grace = options.grace;
    let every = options.progress_every;
    let talk = options.progress;
    let handle = thread::spawn(move || {
        let started = Instant::now();
        let mut next_line = started + every;
        let mut stop_seen: Option<(Instant, usize)> = None;
        while let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(Duration::from_millis(50)) {
            let requests = stop.requests();
            if requests > 0 && stop_seen.is_none() {
                stop_seen = Some((Instant::now(), requests));
                if talk {
                    // Above the progress bar, not through it.
                    bar.suspend(|| {
                        eprintln!(
                            "sweep: {} received: starting no new points; waiting up to {} for the {} in flight \
                             (send it again to kill them now)",
                            stop.reason(),
                            duration_text(grace),
                            in_flight.load(Ordering::SeqCst)
                        )
                    });
                }
            }
            if let Some((since, first)) = stop_seen {
                let cancel = stop.cancelled();
                if !cancel.load(Ordering::SeqCst) && (since.elapsed() >= grace || requests > first) {
                    cancel.store(true, Ordering::SeqCst);
                    if talk {
                        bar.suspend(|| {
                            eprintln!("sweep: abandoning the points still running (their commands are killed)")
                        });
                    }
                }
            }
            if log_lines && Instant::now() >= next_line {
                let (done, failed) = (counters.done.load(Ordering::SeqCst), counters.failed.load(Ordering::SeqCst));
                eprintln!("{}", progress_line(done, failed, total, started.elapsed()));
                next_line += every;
            }
        }
    });
    (finished, handle)
}

/// Runs `evaluate` on the pool at every selected point not in
/// `resume.skip`, handing each record to `sink` as soon as it is complete
/// (completion order, not index order).
///
/// `evaluate` returns the value or an error message; a panic in it, and a
/// value of `null` (what serde_json makes of NaN: [`NULL_VALUE`]), are
/// recorded as failures. Attempt numbers continue from `resume.attempts`.
pub fn run<F>(
    space: &Space,
    evaluate: F,
    resume: &Resume,
    options: &RunOptions,
    sink: impl FnMut(Record) -> anyhow::Result<()>,
) -> anyhow::Result<RunSummary>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    run_evaluations(space, move |point: &Point| Some(Evaluation::from(evaluate(point))), resume, options, sink)
}

/// [`run`] for evaluations that report how their process ended and may be
/// abandoned (`None`: the point is not recorded), e.g. through
/// [`crate::command::execute`].
pub fn run_evaluations<F>(
    space: &Space,
    evaluate: F,
    resume: &Resume,
    options: &RunOptions,
    mut sink: impl FnMut(Record) -> anyhow::Result<()>,
) -> anyhow::Result<RunSummary>
where
    F: Fn(&Point) -> Option<Evaluation> + Send + Sync + 'static,
{
    let len = space.validate()?;
    if options.workers > max_workers() {
        anyhow::bail!(
            "{} workers is more than this machine can use (at most {}, 64 per core)",
            options.workers,
            max_workers()
        );
    }
    // `workers` black boxes at once, never more: a pool with a start handler
    // runs `f` on its workers only, never on this thread (the map's
    // consumer), which writes the records and watches for stop signals.
    let pool = ThreadPool::builder()
        .num_workers(options.workers)
        .start_handler(|_worker| {})
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Sizes by arithmetic: nothing is enumerated before the first point starts.
    let selected = options.selection.count(len);
    let selected_here = options.selection.membership(len);
    let skipped = resume.skip.iter().filter(|i| selected_here(**i)).count();
    let skipped_failures = resume.failed.iter().filter(|(i, _)| selected_here(**i));
    let skipped_given_up = skipped_failures.clone().filter(|(_, given_up)| **given_up).count();
    let skipped_failed = skipped_failures.count() - skipped_given_up;
    let pending = selected.saturating_sub(skipped);

    let interactive = options.progress && options.bar && std::io::stderr().is_terminal();
    let bar = if interactive { progress_bar(pending) } else { ProgressBar::hidden() };
    let counters = Arc::new(Counters::default());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let log_lines = options.progress && !interactive;
    let (finished, watcher) =
        monitor(options, bar.clone(), Arc::clone(&counters), pending, Arc::clone(&in_flight), log_lines);

    let attempts = Arc::new(Attempts {
        prior: resume.attempts.clone(),
        max: options.max_attempts.max(1),
        retries: options.retries,
        delay: options.retry_delay,
        host: hostname(),
        stop: options.stop.clone(),
    });
    let shared_space = Arc::new(space.clone());
    let (events, received) = mpsc::channel::<Event>();
    let task = {
        let in_flight = Arc::clone(&in_flight);
        let events = events.clone();
        move |index: usize| {
            in_flight.fetch_add(1, Ordering::SeqCst);
            // A send fails only once the sink gave up; the record has
            // nowhere to go then.
            let emit = |record: Record| drop(events.send(Event::Record(record)));
            let run = evaluate_point(&shared_space, &evaluate, &attempts, index, &emit);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            run
        }
    };
    let stop = options.stop.clone();
    let skip = &resume.skip;
    let started = Instant::now();
    let mut summary = RunSummary {
        selected,
        skipped,
        skipped_given_up,
        skipped_failed,
        computed: 0,
        failed: 0,
        given_up: 0,
        attempts: 0,
        interrupted: 0,
        stopped: false,
        elapsed: Duration::ZERO,
    };
    let mut outcome = Ok(());
    let mut retries_cut = 0;
    thread::scope(|scope| {
        // The pool's results are collected on a thread of their own, so
        // that this one can hand every record to the sink the moment its
        // attempt ends (a task sends its records before it returns, so they
        // arrive before the task's `Point` event).
        let pool = &pool;
        scope.spawn(move || {
            let inputs = options
                .selection
                .indices(len)
                .filter(move |i| !skip.contains(i))
                .take_while(move |_| stop.requests() == 0);
            let mut map = pool.map_unordered(task, inputs);
            if let Some(size) = options.chunk_size {
                map = map.chunk_size(size);
            }
            for (_, result) in map {
                let run = result
                    .map_err(|e| anyhow::anyhow!("a worker was lost: {e}"))
                    .and_then(|run| run.context("a selected index has no point"));
                let lost = run.is_err();
                // Stop feeding points once the sink gave up or a worker was lost.
                if events.send(Event::Point(run)).is_err() || lost {
                    break;
                }
            }
        });
        for event in &received {
            match event {
                Event::Record(record) => {
                    summary.attempts += 1;
                    if let Err(e) = sink(record) {
                        outcome = Err(e);
                        break;
                    }
                }
                Event::Point(Err(e)) => {
                    outcome = Err(e);
                    break;
                }
                Event::Point(Ok(run)) => {
                    summary.interrupted += usize::from(run.interrupted);
                    retries_cut += usize::from(run.retry_cut);
                    if let Some((ok, attempt)) = run.last.filter(|_| !run.interrupted) {
                        summary.computed += 1;
                        if !ok {
                            summary.failed += 1;
                            summary.given_up += usize::from(crate::store::is_given_up(attempt, options.max_attempts));
                            counters.failed.fetch_add(1, Ordering::SeqCst);
                            bar.set_message(format!("{} failed", summary.failed));
                        }
                        counters.done.fetch_add(1, Ordering::SeqCst);
                        bar.inc(1);
                    }
                }
            }
        }
        // Dropping the receiver makes the collecting thread stop at its
        // next send; the scope then waits for it.
        drop(received);
    });
    drop(finished);
    let _ = watcher.join();
    bar.finish_and_clear();
    outcome?;
    // A point whose retry the stop cut short is recorded as failed, yet
    // the run did not do all it was asked: it was stopped.
    summary.stopped = options.stop.requests() > 0 && (summary.computed < pending || retries_cut > 0);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Runs a sweep into the results file at `path`, resuming it: points with a
/// result already in the file are skipped (failed ones too, unless
/// `options.retry_failed`, and given-up ones always). Holds the file's lock
/// throughout; refuses a file that belongs to another sweep.
///
/// Returns the summary and any warnings from reading the existing file.
pub fn run_to_file<F>(
    path: &Path,
    header: &Header,
    evaluate: F,
    options: &RunOptions,
) -> anyhow::Result<(RunSummary, Vec<String>)>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    run_evaluations_to_file(path, header, move |point: &Point| Some(Evaluation::from(evaluate(point))), options)
}

/// [`run_to_file`] for evaluations as in [`run_evaluations`].
pub fn run_evaluations_to_file<F>(
    path: &Path,
    header: &Header,
    evaluate: F,
    options: &RunOptions,
) -> anyhow::Result<(RunSummary, Vec<String>)>
where
    F: Fn(&Point) -> Option<Evaluation> + Send + Sync + 'static,
{
    let (mut writer, existing) = ResultsWriter::open_with(path, header, options.sync)?;
    let resume = existing.resume(options.retry_failed, options.max_attempts);
    let summary =
        run_evaluations(&header.space, evaluate, &resume, options, |record| writer.append(&record).map_err(Into::into));
    // Flush what was written even when the run failed part-way.
    let closed = writer.close();
    let summary = summary?;
    closed?;
    Ok((summary, existing.warnings))
}

/// Runs a sweep in memory and returns one record per selected point, in
/// index order (the last attempt's, when retrying).
pub fn run_collect<F>(space: &Space, evaluate: F, options: &RunOptions) -> anyhow::Result<Vec<Record>>
where
    F: Fn(&Point) -> Result<serde_json::Value, String> + Send + Sync + 'static,
{
    let mut latest: HashMap<usize, Record> = HashMap::new();
    run(space, evaluate, &Resume::default(), options, |record| {
        latest.insert(record.index, record);
        Ok(())
    })?;
    let mut records: Vec<Record> = latest.into_values().collect();
    records.sort_by_key(|r| r.index);
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_below_ten_seconds_keep_their_tenths() {
        assert_eq!(duration_text(Duration::from_secs_f64(0.2)), "0.2s");
        assert_eq!(duration_text(Duration::from_secs(10)), "10s");
        assert_eq!(duration_text(Duration::from_secs(3)), "3s");
        assert_eq!(duration_text(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration_text(Duration::from_secs(3 * 3600 + 120)), "3h02m");
    }

    #[test]
    fn selections_count_without_enumerating() {
        assert_eq!(Selection::Stride { offset: 1, step: 3 }.count(10), 3);
        assert_eq!(Selection::Stride { offset: 0, step: 3 }.count(10), 4);
        assert_eq!(Selection::Stride { offset: 12, step: 3 }.count(10), 0);
        let huge = Selection::Stride { offset: 2, step: 4 };
        assert_eq!(huge.count(1_000_000_000_000), 250_000_000_000);
        let listed: Vec<usize> = Selection::Stride { offset: 1, step: 3 }.indices(10).collect();
        assert_eq!(listed, [1, 4, 7]);
        assert!(Selection::Stride { offset: 1, step: 3 }.contains(7, 10, &HashSet::new()));
        assert!(!Selection::Stride { offset: 1, step: 3 }.contains(8, 10, &HashSet::new()));
    }

    #[test]
    fn prefixes_count_and_contain_by_arithmetic() {
        let prefix = Selection::Prefix { offset: 1, step: 3, count: 2 };
        assert_eq!(prefix.count(10), 2);
        assert_eq!(prefix.indices(10).collect::<Vec<_>>(), [1, 4]);
        let member = prefix.membership(10);
        assert!(member(4) && !member(7) && !member(2));
        assert_eq!(Selection::Prefix { offset: 0, step: 1, count: 99 }.count(5), 5);
    }

    /// The drawn indices, in the order drawn.
    fn drawn(selection: &Selection, len: usize, n: usize, seed: u64) -> Vec<usize> {
        selection.clone().sample(n, seed).indices(len).collect()
    }

    #[test]
    fn samples_are_distinct_deterministic_and_extend_with_n() {
        for size in [1, 2, 3, 7, 64, 1000, 1023, 1025] {
            let all = drawn(&Selection::All, size, usize::MAX, 11);
            let mut sorted = all.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..size).collect::<Vec<_>>(), "a permutation of 0..{size}");
        }
        let a = drawn(&Selection::All, 1000, 10, 1);
        assert_eq!(a, drawn(&Selection::All, 1000, 10, 1));
        assert_ne!(a, drawn(&Selection::All, 1000, 10, 2), "the seed matters");
        assert_eq!(drawn(&Selection::All, 1000, 20, 1)[..10], a[..]);
        let shard = Selection::Stride { offset: 2, step: 4 };
        let sample = drawn(&shard, 1_000_000_000_000, 100, 5);
        assert_eq!(sample.len(), 100);
        assert!(sample.iter().all(|i| i % 4 == 2 && *i < 1_000_000_000_000), "{sample:?}");
    }

    /// What the first release of `--sample` drew (computed with its code).
    const DRAWN_FROM_HUGE_WITH_SEED_42: [usize; 4] =
        [634_472_718_883, 14_074_798_367, 136_702_958_219, 531_747_680_107];
    const DRAWN_FROM_SHARD_1_OF_3_WITH_SEED_0: [usize; 5] = [34, 58, 31, 79, 1];

    /// Which points `--sample` draws is on disk in every sampled results
    /// file: a rerun resumes it only if the draw never changes.
    #[test]
    fn the_draw_of_a_seed_never_changes() {
        assert_eq!(drawn(&Selection::All, 1_000_000_000_000, 4, 42), DRAWN_FROM_HUGE_WITH_SEED_42);
        assert_eq!(drawn(&Selection::Stride { offset: 1, step: 3 }, 100, 5, 0), DRAWN_FROM_SHARD_1_OF_3_WITH_SEED_0);
    }

    #[test]
    fn the_inverse_permutation_inverts() {
        for size in [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 100, 1000, 1023, 1024, 1025, 4097] {
            for seed in [0, 1, 42, u64::MAX] {
                let permutation = Permutation::new(size, seed);
                let mut hit = vec![false; size];
                for x in 0..size {
                    let y = permutation.apply(x);
                    assert!(y < size && !hit[y], "apply is a bijection of 0..{size} (seed {seed})");
                    hit[y] = true;
                    assert_eq!(permutation.invert(y), x, "size {size}, seed {seed}");
                }
            }
        }
        for size in [1_000_000_000_000, (1 << 40) + 1, usize::MAX / 3, usize::MAX] {
            let permutation = Permutation::new(size, 9);
            for x in (0..1000).chain(size - 1000..size) {
                assert_eq!(permutation.invert(permutation.apply(x)), x, "size {size}");
                assert_eq!(permutation.apply(permutation.invert(x)), x, "size {size}");
            }
        }
    }

    /// Membership of a sample agrees with its draw for every kind of
    /// selection drawn from, and is tested without listing the draw.
    #[test]
    fn a_sample_contains_exactly_what_it_draws() {
        let froms = [
            Selection::All,
            Selection::Stride { offset: 1, step: 3 },
            Selection::Prefix { offset: 2, step: 5, count: 40 },
            Selection::Indices(vec![90, 4, 4, 17, 500, 33, 8]),
            Selection::Filter(Arc::new(|i| i % 7 < 2)),
            Selection::All.sample(150, 3),
        ];
        for from in froms {
            for (len, n) in [(0, 5), (1, 5), (200, 0), (200, 1), (200, 37), (200, 1000)] {
                let sample = from.clone().sample(n, 8);
                let draw: Vec<usize> = sample.indices(len).collect();
                let set: HashSet<usize> = draw.iter().copied().collect();
                assert_eq!(set.len(), draw.len(), "{sample:?} of {len}: drawn once each");
                assert_eq!(sample.count(len), draw.len(), "{sample:?} of {len}");
                let member = sample.membership(len);
                let within = from.membership(len);
                for i in 0..len + 3 {
                    assert_eq!(member(i), set.contains(&i), "{sample:?} of {len}: index {i}");
                    assert!(!member(i) || within(i), "{sample:?} of {len}: {i} is not in {from:?}");
                }
            }
        }
        let huge = 1_000_000_000_000;
        let sample = Selection::Stride { offset: 3, step: 4 }.sample(huge, 1);
        assert_eq!(sample.count(huge), huge / 4);
        let member = sample.membership(huge);
        assert!(sample.indices(huge).take(1000).all(&member));
        assert!(!member(0) && !member(huge + 3));
    }

    #[test]
    fn progress_lines_give_rate_and_eta() {
        let line = progress_line(120, 2, 400, Duration::from_secs(60));
        assert_eq!(line, "sweep: 120/400 points (30.0%), 2 failed, 2.00 points/s, ETA 2m20s");
        assert!(progress_line(0, 0, 10, Duration::from_secs(5)).ends_with("ETA unknown"));
        // 1.8e19 points at one per 10 s: the ETA overflows a Duration.
        let slow = progress_line(1, 0, usize::MAX, Duration::from_secs(10));
        assert!(slow.ends_with("ETA centuries"), "{slow}");
    }
}
