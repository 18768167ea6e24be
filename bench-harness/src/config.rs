//! The RON experiment file: its schema, parsing and validation.
//!
//! A file holds a list of experiments:
//!
//! ```ron
//! (
//!     experiments: [
//!         (
//!             name: "spin-speedup",
//!             workload: Spin(duration_us: 200),
//!             inputs: Count(400),
//!             workers: [1, 2, 4],
//!             chunk_sizes: [Fixed(1), Auto],
//!             repetitions: 5,
//!             warmup: 1,
//!             backends: [Sequential, Pool, StdScope, Rayon],
//!         ),
//!     ],
//! )
//! ```
//!
//! Every check that concerns a single value (a zero worker count, an empty
//! input set, zero repetitions, ...) runs *while* the file is deserialized, so
//! the error carries the line and column of the offending value. Checks that
//! relate several experiments (duplicate names) run afterwards and name the
//! experiment instead.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::workload::Workload;

/// A parsed and validated experiment file: the plan the harness runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Experiments in file order.
    pub experiments: Vec<Experiment>,
}

/// One experiment: a workload swept over worker counts, chunk sizes and backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short identifier, also the name of the report directory.
    pub name: ExperimentName,
    /// One sentence for the summary; optional.
    #[serde(default)]
    pub description: Option<String>,
    /// The function applied to every input.
    pub workload: Workload,
    /// The inputs the workload is mapped over.
    pub inputs: Inputs,
    /// Worker (thread) counts to sweep; more than the machine's cores is allowed.
    pub workers: WorkerCounts,
    /// Chunk sizes to sweep for the backends that take one (`Pool`, `Rayon`);
    /// non-empty, each listed once.
    #[serde(default = "default_chunk_sizes", deserialize_with = "unique_chunk_sizes")]
    pub chunk_sizes: Vec<ChunkSize>,
    /// Timed repetitions per measurement cell.
    pub repetitions: Repetitions,
    /// Untimed runs before the timed ones, per cell (at most [`MAX_RUNS`]).
    #[serde(default = "default_warmup", deserialize_with = "bounded_warmup")]
    pub warmup: u32,
    /// Backends to compare; must include `Sequential`, the T1 baseline.
    pub backends: Backends,
    /// Largest worker count whose speedup enters the Amdahl/USL fits;
    /// default: the machine's logical cores (beyond them threads time-share
    /// cores, and a fit would describe the core limit, not the program).
    #[serde(default)]
    pub fit_max_workers: Option<usize>,
    /// Whether and how worker threads are pinned to cores; default `None`.
    #[serde(default)]
    pub pinning: Pinning,
}

/// Thread placement of the parallel backends' workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Pinning {
    /// The OS scheduler places and migrates threads freely.
    #[default]
    None,
    /// Worker `i` is pinned to the `i`-th core the process may run on
    /// (wrapping around): neighbours share caches, and with SMT siblings.
    Cores,
    /// Workers are spread over the allowed cores as far apart as possible
    /// (worker `i` on core `i · n / p`), one per physical core first where
    /// the numbering puts SMT siblings in the second half.
    Spread,
}

impl Pinning {
    /// The name used in files and charts.
    pub fn name(self) -> &'static str {
        match self {
            Pinning::None => "none",
            Pinning::Cores => "cores",
            Pinning::Spread => "spread",
        }
    }
}

impl fmt::Display for Pinning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn default_chunk_sizes() -> Vec<ChunkSize> {
    vec![ChunkSize::Auto]
}

/// The chunk sizes as listed, refused while parsing (so the error has the
/// list's position) when empty or when one repeats: a repeated one would be
/// measured, and written to `samples.csv`, as two cells of the same name.
fn unique_chunk_sizes<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ChunkSize>, D::Error> {
    let chunks = Vec::<ChunkSize>::deserialize(deserializer)?;
    if chunks.is_empty() {
        return Err(serde::de::Error::custom("`chunk_sizes` is empty; omit it to use [Auto]"));
    }
    let mut seen = HashSet::new();
    if let Some(duplicate) = chunks.iter().find(|chunk| !seen.insert(**chunk)) {
        let written = match duplicate {
            ChunkSize::Fixed(n) => format!("Fixed({n})"),
            ChunkSize::Auto => "Auto".to_owned(),
        };
        return Err(serde::de::Error::custom(format!("`chunk_sizes` lists {written} twice")));
    }
    Ok(chunks)
}

fn default_warmup() -> u32 {
    1
}

/// The most warm-up runs, and the most timed repetitions, per cell. Far
/// beyond any useful measurement, and small enough that warm-up plus
/// repetitions (at most `2 · MAX_RUNS`) fits in a `u32`: the measuring
/// loop's `warmup + repetitions` (measure.rs), the pre-flight estimate's
/// and `--list`'s can then never wrap. A count near `u32::MAX` did wrap
/// there and ran nothing, reported as a complete run.
pub const MAX_RUNS: u32 = 1_000_000;
const _: () = assert!(MAX_RUNS.checked_mul(2).is_some());

/// The warm-up count, refused while parsing (so the error has its
/// position) above [`MAX_RUNS`].
fn bounded_warmup<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let warmup = u32::deserialize(deserializer)?;
    if warmup > MAX_RUNS {
        return Err(serde::de::Error::custom(format!(
            "`warmup`: at most {MAX_RUNS} untimed runs per cell, got {warmup}"
        )));
    }
    Ok(warmup)
}

/// An experiment name: non-empty, made of letters, digits, `-`, `_` and `.`,
/// and not starting with `.`, so it is safe as a directory name and never
/// one of the harness's own (`.previous`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExperimentName(String);

/// The longest experiment name: file names have at most 255 bytes on the
/// usual file systems, and the longest the harness derives from a name,
/// `.<name>-speedup.<ext>.<pid>.tmp`, adds up to about 30.
pub const MAX_NAME_BYTES: usize = 200;

impl ExperimentName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExperimentName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() {
            Err("`name` must not be empty".to_owned())
        } else if !name.chars().all(allowed) {
            Err(format!(
                "`name` {name:?} must use only letters, digits, `-`, `_` and `.` \
                 (it names the report directory)"
            ))
        } else if name.len() > MAX_NAME_BYTES {
            // Found only when the directory was created, it failed the run
            // (1) and left an empty directory behind.
            Err(format!(
                "`name` is {} characters long, more than {MAX_NAME_BYTES}: it names the report directory and \
                 `compare`'s chart files (`<name>-speedup.png`, and their temporary files), and a file name may \
                 have at most 255 bytes",
                name.len()
            ))
        } else if name.starts_with('.') {
            // As a directory under --out, `.` is the run's own directory,
            // `..` its parent, `.previous` where reruns keep replaced
            // reports; other hidden names are kept for the harness too.
            Err(format!(
                "`name` {name:?} must not start with `.`: such names are kept for the harness's own directories \
                 (`.previous`, where a rerun keeps the report it replaces)"
            ))
        } else {
            Ok(Self(name))
        }
    }
}

impl From<ExperimentName> for String {
    fn from(name: ExperimentName) -> Self {
        name.0
    }
}

impl fmt::Display for ExperimentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The inputs an experiment maps its workload over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "InputsSpec", into = "InputsSpec")]
pub struct Inputs(InputsSpec);

/// How inputs are written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum InputsSpec {
    /// `Count(n)`: the values `0, 1, ..., n-1`.
    Count(usize),
    /// `Linspace(start: -1.0, end: 1.0, count: 20)`: `count` evenly spaced
    /// values including both ends, like NumPy's `linspace`.
    Linspace {
        /// First value.
        start: f64,
        /// Last value.
        end: f64,
        /// Number of values.
        count: usize,
    },
    /// `Values([0.5, 2.0])`: an explicit list.
    Values(Vec<f64>),
    /// `PerWorker(100)`: weak scaling. With `p` workers the map runs over
    /// `0, 1, ..., 100·p − 1`, so each worker keeps the same share of work;
    /// the sequential baseline runs the one-worker size, `0..100`.
    PerWorker(usize),
}

impl Inputs {
    /// Number of inputs (always at least one); for `PerWorker`, the number
    /// per worker (the one-worker size).
    pub fn len(&self) -> usize {
        match &self.0 {
            InputsSpec::Count(n) | InputsSpec::PerWorker(n) => *n,
            InputsSpec::Linspace { count, .. } => *count,
            InputsSpec::Values(values) => values.len(),
        }
    }

    /// Whether the inputs grow with the worker count (`PerWorker`: weak scaling).
    pub fn is_weak(&self) -> bool {
        matches!(self.0, InputsSpec::PerWorker(_))
    }

    /// Number of inputs of a run on `workers` workers.
    pub fn len_for(&self, workers: usize) -> usize {
        if self.is_weak() {
            self.len().saturating_mul(workers.max(1))
        } else {
            self.len()
        }
    }

    /// The input values of a run on `workers` workers, in order.
    pub fn values_for(&self, workers: usize) -> Vec<f64> {
        match &self.0 {
            InputsSpec::PerWorker(_) => (0..self.len_for(workers)).map(|i| i as f64).collect(),
            _ => self.values(),
        }
    }

    /// Always false: validation refuses empty input sets. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`-th input value of a one-worker run, without
    /// materializing the others.
    pub fn get(&self, index: usize) -> Option<f64> {
        match &self.0 {
            InputsSpec::Count(n) | InputsSpec::PerWorker(n) => (index < *n).then_some(index as f64),
            InputsSpec::Linspace { start, end, count } => (index < *count).then(|| match *count {
                1 => *start,
                _ if index + 1 == *count => *end,
                _ => start + (end - start) / (count - 1) as f64 * index as f64,
            }),
            InputsSpec::Values(values) => values.get(index).copied(),
        }
    }

    /// The input values, in order. Allocates `8 × len()` bytes: check the
    /// size first (the harness's pre-flight does) for huge counts.
    pub fn values(&self) -> Vec<f64> {
        match &self.0 {
            InputsSpec::Count(n) | InputsSpec::PerWorker(n) => (0..*n).map(|i| i as f64).collect(),
            InputsSpec::Linspace { start, end, count } => linspace(*start, *end, *count),
            InputsSpec::Values(values) => values.clone(),
        }
    }

    /// The specification as written in the file.
    pub fn spec(&self) -> &InputsSpec {
        &self.0
    }
}

impl fmt::Display for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            InputsSpec::Count(n) => write!(f, "{n} inputs (0..{n})"),
            InputsSpec::Linspace { start, end, count } => {
                write!(f, "{count} points of linspace({start}, {end})")
            }
            InputsSpec::Values(values) => write!(f, "{} listed values", values.len()),
            InputsSpec::PerWorker(n) => write!(f, "{n} inputs per worker (0..{n}·p; weak scaling)"),
        }
    }
}

/// `count` evenly spaced values from `start` to `end` inclusive.
pub fn linspace(start: f64, end: f64, count: usize) -> Vec<f64> {
    match count {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (end - start) / (count - 1) as f64;
            // The last point is set exactly so rounding never overshoots `end`.
            (0..count).map(|i| if i + 1 == count { end } else { start + step * i as f64 }).collect()
        }
    }
}

impl TryFrom<InputsSpec> for Inputs {
    type Error = String;

    fn try_from(spec: InputsSpec) -> Result<Self, Self::Error> {
        let inputs = Inputs(spec);
        if inputs.is_empty() {
            return Err("`inputs` must not be empty: give at least one input".to_owned());
        }
        // Checked without materializing the inputs: `Count(10^12)` must
        // parse (and be refused later, for its size) rather than abort.
        let finite = match &inputs.0 {
            InputsSpec::Count(_) | InputsSpec::PerWorker(_) => true,
            InputsSpec::Linspace { start, end, .. } => {
                start.is_finite() && end.is_finite() && (end - start).is_finite()
            }
            InputsSpec::Values(values) => values.iter().all(|x| x.is_finite()),
        };
        if !finite {
            return Err("`inputs` must be finite numbers (no NaN or inf)".to_owned());
        }
        Ok(inputs)
    }
}

impl From<Inputs> for InputsSpec {
    fn from(inputs: Inputs) -> Self {
        inputs.0
    }
}

/// The largest worker count an experiment may ask for. Far above any
/// machine's cores; a count beyond it is a typo, and a pool of 10 000
/// threads per backend aborts the process (out of memory maps).
pub const MAX_WORKERS: usize = 1024;

/// The worker counts an experiment sweeps: non-empty, each from 1 to
/// [`MAX_WORKERS`] and listed once, kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<usize>", into = "Vec<usize>")]
pub struct WorkerCounts(Vec<usize>);

impl WorkerCounts {
    /// The counts in increasing order.
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }
}

impl TryFrom<Vec<usize>> for WorkerCounts {
    type Error = String;

    fn try_from(mut counts: Vec<usize>) -> Result<Self, Self::Error> {
        if counts.is_empty() {
            return Err("`workers` must list at least one worker count".to_owned());
        }
        if counts.contains(&0) {
            return Err("`workers`: a worker count must be at least 1, got 0".to_owned());
        }
        if let Some(&huge) = counts.iter().find(|&&count| count > MAX_WORKERS) {
            return Err(format!(
                "`workers`: at most {MAX_WORKERS} worker threads, got {huge} (that many threads exhaust the \
                 process's thread and memory-map limits and abort the run)"
            ));
        }
        counts.sort_unstable();
        // Refused rather than merged, as a backend or chunk size listed
        // twice is: `[1, 2, 2]` is more likely a typo for `[1, 2, 4]` than
        // a wish to measure 2 twice.
        if let Some(twice) = counts.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!("`workers` lists {} twice", twice[0]));
        }
        Ok(Self(counts))
    }
}

impl From<WorkerCounts> for Vec<usize> {
    fn from(counts: WorkerCounts) -> Self {
        counts.0
    }
}

/// How many timed repetitions each cell gets (from 1 to [`MAX_RUNS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Repetitions(u32);

impl Repetitions {
    /// The count.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Repetitions {
    type Error = String;

    fn try_from(count: u32) -> Result<Self, Self::Error> {
        if count == 0 {
            Err("`repetitions` must be at least 1, got 0".to_owned())
        } else if count > MAX_RUNS {
            Err(format!("`repetitions`: at most {MAX_RUNS} timed runs per cell, got {count}"))
        } else {
            Ok(Self(count))
        }
    }
}

impl From<Repetitions> for u32 {
    fn from(count: Repetitions) -> Self {
        count.0
    }
}

/// How inputs are grouped into tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "ChunkSizeSpec", into = "ChunkSizeSpec")]
pub enum ChunkSize {
    /// `Fixed(n)`: `n` inputs per task (`n >= 1`).
    Fixed(usize),
    /// `Auto`: the backend chooses (the pool's automatic chunking, rayon's default splitting).
    Auto,
}

impl fmt::Display for ChunkSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkSize::Fixed(n) => write!(f, "{n}"),
            ChunkSize::Auto => f.write_str("auto"),
        }
    }
}

/// [`ChunkSize`] as written in the file, before the zero check.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ChunkSizeSpec {
    /// See [`ChunkSize::Fixed`].
    Fixed(usize),
    /// See [`ChunkSize::Auto`].
    Auto,
}

impl TryFrom<ChunkSizeSpec> for ChunkSize {
    type Error = String;

    fn try_from(spec: ChunkSizeSpec) -> Result<Self, Self::Error> {
        match spec {
            ChunkSizeSpec::Fixed(0) => Err("`chunk_sizes`: a chunk size must be at least 1, got Fixed(0)".to_owned()),
            ChunkSizeSpec::Fixed(n) => Ok(ChunkSize::Fixed(n)),
            ChunkSizeSpec::Auto => Ok(ChunkSize::Auto),
        }
    }
}

impl From<ChunkSize> for ChunkSizeSpec {
    fn from(chunk: ChunkSize) -> Self {
        match chunk {
            ChunkSize::Fixed(n) => ChunkSizeSpec::Fixed(n),
            ChunkSize::Auto => ChunkSizeSpec::Auto,
        }
    }
}

/// Which implementation runs the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BackendKind {
    /// A plain loop on the calling thread: the T1 baseline for speedup.
    Sequential,
    /// This project's `pool::ThreadPool::map`, with the experiment's chunk sizes.
    Pool,
    /// This project's `pool::ThreadPool::map_collect`: results written in
    /// place, its own chunking.
    PoolCollect,
    /// `std::thread::scope` with one contiguous block of inputs per thread.
    StdScope,
    /// Rayon `par_iter` on a dedicated pool, `with_min_len(chunk)` for a fixed chunk size.
    Rayon,
    /// `Named("mine-rayon")`: a backend of your own, registered under this
    /// name with [`crate::custom::Registry::backend`] in a bench of yours.
    Named(BackendName),
}

/// The name of a registered backend: non-empty, letters, digits, `-`, `_`
/// and `.`, and not one of the built-in names.
///
/// Names are interned (each distinct name is stored once for the life of
/// the process) so that [`BackendKind`] stays `Copy` like the built-ins;
/// a process sees a handful of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendName(&'static str);

impl Serialize for BackendName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

// By hand: derived with `try_from`, serde would still borrow the
// `&'static str` field and demand `'de: 'static`.
impl<'de> Deserialize<'de> for BackendName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        BackendName::try_from(name).map_err(serde::de::Error::custom)
    }
}

impl BackendName {
    /// The name as a string slice.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The order in which this process first met the name (0 for the first
    /// backend of your own named in a file, 1 for the next, ...): distinct
    /// names get distinct indices, which charts turn into distinct styles.
    pub fn index(self) -> usize {
        names().iter().position(|n| std::ptr::eq(*n, self.0)).unwrap_or(0)
    }
}

impl TryFrom<String> for BackendName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || !name.chars().all(allowed) {
            return Err(format!(
                "backend name {name:?} must be non-empty and use only letters, digits, `-`, `_` and `.`"
            ));
        }
        if BUILT_IN_BACKENDS.iter().any(|b| b.name() == name) {
            return Err(format!("backend name {name:?} is a built-in backend's; choose another name"));
        }
        Ok(Self(intern(name)))
    }
}

impl TryFrom<&str> for BackendName {
    type Error = String;

    fn try_from(name: &str) -> Result<Self, Self::Error> {
        Self::try_from(name.to_owned())
    }
}

impl From<BackendName> for String {
    fn from(name: BackendName) -> Self {
        name.0.to_owned()
    }
}

/// Every name interned so far, in order.
fn names() -> std::sync::MutexGuard<'static, Vec<&'static str>> {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    // A poisoned lock still holds a valid list: names are only ever added.
    NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Stores `name` once per process and returns it for good.
fn intern(name: String) -> &'static str {
    let mut names = names();
    if let Some(existing) = names.iter().find(|n| **n == name) {
        return existing;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.push(leaked);
    leaked
}

/// The backends built into the harness, in documentation order.
pub const BUILT_IN_BACKENDS: [BackendKind; 5] =
    [BackendKind::Sequential, BackendKind::Pool, BackendKind::PoolCollect, BackendKind::StdScope, BackendKind::Rayon];

impl BackendKind {
    /// Every backend, in the order charts list them.
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Sequential,
        BackendKind::Pool,
        BackendKind::PoolCollect,
        BackendKind::StdScope,
        BackendKind::Rayon,
    ];

    /// The backend called `name` (as [`BackendKind::name`] writes it).
    pub fn from_name(name: &str) -> Option<BackendKind> {
        BackendKind::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The name used in files and charts.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sequential => "sequential",
            BackendKind::Pool => "pool",
            BackendKind::PoolCollect => "pool-collect",
            BackendKind::StdScope => "std-scope",
            BackendKind::Rayon => "rayon",
            BackendKind::Named(name) => name.as_str(),
        }
    }

    /// Whether this backend's behaviour depends on the chunk size.
    pub fn uses_chunk_size(self) -> bool {
        matches!(self, BackendKind::Pool | BackendKind::Rayon)
    }

    /// Whether this backend runs on several worker threads.
    pub fn is_parallel(self) -> bool {
        self != BackendKind::Sequential
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The backends of an experiment: non-empty, without duplicates, and
/// including `Sequential` (speedups are relative to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<BackendKind>", into = "Vec<BackendKind>")]
pub struct Backends(Vec<BackendKind>);

impl Backends {
    /// The backends in file order.
    pub fn as_slice(&self) -> &[BackendKind] {
        &self.0
    }
}

impl TryFrom<Vec<BackendKind>> for Backends {
    type Error = String;

    fn try_from(backends: Vec<BackendKind>) -> Result<Self, Self::Error> {
        if !backends.contains(&BackendKind::Sequential) {
            return Err(
                "`backends` must include `Sequential`: it is the T1 baseline every speedup is measured against"
                    .to_owned(),
            );
        }
        let mut seen = HashSet::new();
        if let Some(duplicate) = backends.iter().find(|b| !seen.insert(**b)) {
            return Err(format!("`backends` lists {duplicate} twice"));
        }
        Ok(Self(backends))
    }
}

impl From<Backends> for Vec<BackendKind> {
    fn from(backends: Backends) -> Self {
        backends.0
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// The file is larger than any experiment file (sweep's bound for its
    /// specs, [`sweep::spec::MAX_SPEC_BYTES`]): not one, or an endless
    /// stream such as `/dev/zero`, which used to be read until memory ran out.
    #[error(
        "cannot read {path}: it is larger than {} MiB, far more than an experiment file needs; is it the right file?",
        sweep::spec::MAX_SPEC_BYTES >> 20
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid RON for the schema, or a value is out of range.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file parsed but is inconsistent as a whole.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Plan {
    /// Reads, parses and validates the experiment file at `path`.
    pub fn load(path: &Path) -> Result<Plan, ConfigError> {
        use std::io::Read;
        let read = |reason| ConfigError::Read { path: path.to_owned(), reason };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(sweep::spec::MAX_SPEC_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read)?;
        if bytes.len() as u64 > sweep::spec::MAX_SPEC_BYTES {
            return Err(ConfigError::TooLarge { path: path.to_owned() });
        }
        let text = String::from_utf8(bytes).map_err(|error| {
            read(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text: {error}")))
        })?;
        Plan::parse(&text, path)
    }

    /// Parses and validates `text`; `path` only labels error messages. A
    /// leading byte-order mark (some Windows editors write one) is skipped:
    /// editors do not show it, so positions are counted without it.
    pub fn parse(text: &str, path: &Path) -> Result<Plan, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let plan: Plan = ron::from_str(text).map_err(|error| ConfigError::Syntax {
            path: path.to_owned(),
            line: error.span.end.line,
            column: error.span.end.col,
            message: error.code.to_string(),
        })?;
        plan.check_consistency().map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })?;
        Ok(plan)
    }

    /// Checks that relate several values; single values were checked while parsing.
    fn check_consistency(&self) -> Result<(), String> {
        if self.experiments.is_empty() {
            return Err("`experiments` is empty: the file defines nothing to run".to_owned());
        }
        let mut names = HashSet::new();
        for experiment in &self.experiments {
            if !names.insert(experiment.name.as_str()) {
                return Err(format!(
                    "two experiments are named {:?}; names must be unique (they name report directories)",
                    experiment.name.as_str()
                ));
            }
            if experiment.fit_max_workers.is_some_and(|most| most < 2) {
                return Err(format!(
                    "experiment {:?}: `fit_max_workers` must be at least 2: a fit over one worker count or none \
                     describes nothing (leave it out to fit up to the machine's cores)",
                    experiment.name.as_str()
                ));
            }
            experiment
                .workload
                .validate()
                .map_err(|message| format!("experiment {:?}: {message}", experiment.name.as_str()))?;
        }
        Ok(())
    }

    /// The experiment called `name`, if any.
    pub fn experiment(&self, name: &str) -> Option<&Experiment> {
        self.experiments.iter().find(|e| e.name.as_str() == name)
    }
}
