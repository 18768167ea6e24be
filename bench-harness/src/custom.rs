//! Measuring your own code: register named workloads (your function of
//! the input) and named backends (your parallel implementations), then run
//! a RON file that names them, from a bench of yours the way criterion does.
//!
//! In `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! bench-harness = { path = "…" }
//!
//! [[bench]]
//! name = "scaling"
//! harness = false
//! ```
//!
//! In `benches/scaling.rs`:
//!
//! ```no_run
//! use bench_harness::custom::{CustomWorkload, Job, Registry};
//!
//! fn collatz_steps(x: f64) -> f64 {
//!     let (mut n, mut steps) = (x as u64 + 1, 0u32);
//!     while n != 1 {
//!         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
//!         steps += 1;
//!     }
//!     f64::from(steps)
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let registry = Registry::new()
//!         .workload(CustomWorkload::new("collatz", collatz_steps))
//!         // Your parallel map: given the worker count once, then each run's job.
//!         .backend("chunked-threads", |workers| {
//!             move |job: &Job<'_>| {
//!                 let block = job.len().div_ceil(workers);
//!                 let mut results = vec![0.0; job.len()];
//!                 std::thread::scope(|scope| {
//!                     for (index, out) in results.chunks_mut(block).enumerate() {
//!                         scope.spawn(move || {
//!                             for (offset, slot) in out.iter_mut().enumerate() {
//!                                 *slot = job.call(index * block + offset);
//!                             }
//!                         });
//!                     }
//!                 });
//!                 results
//!             }
//!         });
//!     // The command line of the `bench-harness` binary, run with these
//!     // workloads and backends (cargo's `--bench` flag is accepted).
//!     bench_harness::cli::main_with(registry)
//! }
//! ```
//!
//! and a configuration that names them, `workload: Named("collatz")`,
//! `backends: [Sequential, Rayon, Named("chunked-threads")]`; then
//! `cargo bench --bench scaling -- configs/mine.ron`.
//!
//! Every run of a workload is checked: results must equal the sequential
//! ones bit for bit (unless the workload is
//! [`CustomWorkload::nondeterministic`]), and pass the workload's own
//! [`CustomWorkload::check`] if it has one. A backend that returns wrong
//! results stops the experiment: its timings would mean nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::config::{BackendKind, BackendName, Plan};
use crate::workload::{Task, Workload, WorkloadError};

type PrepareFn = dyn Fn(&[f64]) -> Task + Send + Sync;
type CheckFn = dyn Fn(&[f64], &[f64]) -> Result<(), String> + Send + Sync;
/// A started backend of your own: maps one run's [`Job`].
pub(crate) type RunFn = dyn Fn(&Job<'_>) -> Vec<f64> + Send + Sync;
type StartFn = dyn Fn(usize) -> Box<RunFn> + Send + Sync;

/// A function of yours, mapped over an experiment's inputs: the
/// `Named("…")` workload of a configuration.
#[derive(Clone)]
pub struct CustomWorkload {
    name: String,
    prepare: Arc<PrepareFn>,
    check: Option<Arc<CheckFn>>,
    deterministic: bool,
}

impl fmt::Debug for CustomWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomWorkload")
            .field("name", &self.name)
            .field("check", &self.check.is_some())
            .field("deterministic", &self.deterministic)
            .finish_non_exhaustive()
    }
}

impl CustomWorkload {
    /// A workload computing `function(x)` for every input `x`.
    pub fn new(name: &str, function: impl Fn(f64) -> f64 + Send + Sync + 'static) -> Self {
        let function = Arc::new(function);
        let prepare = move |_: &[f64]| -> Task {
            let function = Arc::clone(&function);
            Arc::new(move |_, x| Ok(function(x)))
        };
        Self { name: name.to_owned(), prepare: Arc::new(prepare), check: None, deterministic: true }
    }

    /// A workload with per-run setup: before every run (warm-up or timed,
    /// outside the timed region) `setup` builds a state from all the inputs
    /// — a fresh array to sort, a buffer to fill — and the run computes
    /// `function(&state, index, x)` for every input `x` at `index`.
    pub fn with_setup<S: Send + Sync + 'static>(
        name: &str,
        setup: impl Fn(&[f64]) -> S + Send + Sync + 'static,
        function: impl Fn(&S, usize, f64) -> f64 + Send + Sync + 'static,
    ) -> Self {
        let function = Arc::new(function);
        let prepare = move |inputs: &[f64]| -> Task {
            let state = setup(inputs);
            let function = Arc::clone(&function);
            Arc::new(move |index, x| Ok(function(&state, index, x)))
        };
        Self { name: name.to_owned(), prepare: Arc::new(prepare), check: None, deterministic: true }
    }

    /// Adds a check of every run's results (`inputs`, `results`, in input
    /// order); an `Err` names what is wrong and stops the experiment.
    pub fn check(mut self, check: impl Fn(&[f64], &[f64]) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.check = Some(Arc::new(check));
        self
    }

    /// Results may differ between runs (a random seed per run, floating-
    /// point sums in a run-dependent order): only their count, and the
    /// [`check`](Self::check), are compared.
    pub fn nondeterministic(mut self) -> Self {
        self.deterministic = false;
        self
    }

    /// The name configurations use: `Named("…")`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// One run of a backend of yours: the inputs and the workload's function,
/// to be mapped over all of them.
///
/// [`Job::call`] is `Sync`: call it from as many threads as you like, in
/// any order; return the results in input order.
///
/// A job lives for one run: nothing of it (its inputs, itself) can be kept
/// for later, so a backend cannot read a run's data after the harness has
/// moved on:
///
/// ```compile_fail
/// use bench_harness::custom::{Job, Registry};
/// use std::sync::Mutex;
///
/// static KEPT: Mutex<Vec<&'static [f64]>> = Mutex::new(Vec::new());
/// let _ = Registry::new().backend("leaky", |_| {
///     |job: &Job<'_>| {
///         KEPT.lock().unwrap().push(job.inputs()); // error: borrowed data escapes
///         Vec::new()
///     }
/// });
/// ```
pub struct Job<'a> {
    inputs: &'a [f64],
    task: &'a Task,
    failure: Mutex<Option<WorkloadError>>,
}

impl<'a> Job<'a> {
    pub(crate) fn new(inputs: &'a [f64], task: &'a Task) -> Self {
        Self { inputs, task, failure: Mutex::new(None) }
    }

    /// The number of inputs.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether there are no inputs (never, for a validated configuration).
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The inputs, in order.
    pub fn inputs(&self) -> &'a [f64] {
        self.inputs
    }

    /// The workload's result for the input at `index`.
    ///
    /// A failing task (an external command that exits with an error)
    /// returns NaN here and fails the run, with its error, once the backend
    /// returns. Panics if `index >= self.len()`.
    pub fn call(&self, index: usize) -> f64 {
        match (self.task)(index, self.inputs[index]) {
            Ok(value) => value,
            Err(error) => {
                if let Ok(mut slot) = self.failure.lock() {
                    slot.get_or_insert(error);
                }
                f64::NAN
            }
        }
    }

    /// The backend's results, or the first failure of a task it called.
    pub(crate) fn finish(self, results: Vec<f64>) -> Result<Vec<f64>, WorkloadError> {
        match self.failure.into_inner() {
            Ok(Some(error)) => Err(error),
            _ => Ok(results),
        }
    }
}

/// The git revision of the repository holding `dir`, with `-dirty` when it
/// has uncommitted changes; `unknown` when git or the repository is
/// missing. Pass your package's directory, `env!("CARGO_MANIFEST_DIR")`, to
/// [`Registry::code_revision`].
pub fn git_revision(dir: &str) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(revision) if !revision.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{revision}-dirty")
            } else {
                revision
            }
        }
        _ => "unknown".to_owned(),
    }
}

/// Your named workloads and backends, and the entry point of a bench that
/// runs configurations naming them: see the [module documentation](self).
#[derive(Default, Clone)]
pub struct Registry {
    workloads: BTreeMap<String, CustomWorkload>,
    backends: BTreeMap<BackendName, Arc<StartFn>>,
    code_revision: Option<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("workloads", &self.workloads.keys().collect::<Vec<_>>())
            .field("backends", &self.backends.keys().map(|b| b.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// An empty registry: only the built-in workloads and backends.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `workload` under its name.
    ///
    /// # Panics
    /// If a workload of that name is already registered (a bug in the bench).
    pub fn workload(mut self, workload: CustomWorkload) -> Self {
        assert!(
            !self.workloads.contains_key(&workload.name),
            "bench-harness: workload {:?} is registered twice",
            workload.name
        );
        self.workloads.insert(workload.name.clone(), workload);
        self
    }

    /// Registers a parallel implementation of yours as the backend `name`.
    /// `start` is called before every run, outside the timing (build your
    /// thread pool there); the function it returns maps that run's [`Job`]
    /// and returns the results in input order, and is dropped after the
    /// run, also untimed. A pool whose drop joins its threads so leaves none
    /// running while the next cell is timed.
    ///
    /// # Panics
    /// If `name` is not a valid backend name (letters, digits, `-`, `_`,
    /// `.`), is a built-in backend's, or is registered twice: bugs in the bench.
    pub fn backend<B>(mut self, name: &str, start: impl Fn(usize) -> B + Send + Sync + 'static) -> Self
    where
        B: Fn(&Job<'_>) -> Vec<f64> + Send + Sync + 'static,
    {
        let name = BackendName::try_from(name).unwrap_or_else(|message| panic!("bench-harness: {message}"));
        assert!(!self.backends.contains_key(&name), "bench-harness: backend {:?} is registered twice", name.as_str());
        let start: Arc<StartFn> = Arc::new(move |workers| Box::new(start(workers)));
        self.backends.insert(name, start);
        self
    }

    /// Records the revision of the code being measured in every report
    /// (results, summary, chart footers), so `compare` can tell two
    /// revisions apart: for example `git_revision(env!("CARGO_MANIFEST_DIR"))`,
    /// or a version string.
    pub fn code_revision(mut self, revision: impl Into<String>) -> Self {
        self.code_revision = Some(revision.into());
        self
    }

    /// The revision given to [`Registry::code_revision`], if any.
    pub fn revision(&self) -> Option<&str> {
        self.code_revision.as_deref()
    }

    /// Checks that every `Named` workload and backend of `plan` is
    /// registered; the error lists what is.
    pub fn check_plan(&self, plan: &Plan) -> Result<(), String> {
        for experiment in &plan.experiments {
            if let Workload::Named(name) = &experiment.workload {
                if !self.workloads.contains_key(name) {
                    return Err(format!(
                        "experiment {:?}: workload {name:?} is not registered; {}",
                        experiment.name.as_str(),
                        self.known("workloads", self.workloads.keys().map(String::as_str))
                    ));
                }
            }
            for backend in experiment.backends.as_slice() {
                if let BackendKind::Named(name) = backend {
                    if !self.backends.contains_key(name) {
                        return Err(format!(
                            "experiment {:?}: backend {:?} is not registered; {}",
                            experiment.name.as_str(),
                            name.as_str(),
                            self.known("backends", self.backends.keys().map(|b| b.as_str()))
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn known<'a>(&self, what: &str, names: impl Iterator<Item = &'a str>) -> String {
        let names: Vec<&str> = names.collect();
        if names.is_empty() {
            format!(
                "no {what} are registered here (`Named` {what} are registered by a bench of your own: \
                 see bench-harness/README.md, \"Measuring your own code\")"
            )
        } else {
            format!("registered {what}: {}", names.join(", "))
        }
    }

    /// One run's function for `workload` over `inputs`, after its setup.
    pub(crate) fn task(&self, workload: &Workload, inputs: &[f64]) -> Result<Task, WorkloadError> {
        match workload {
            Workload::Named(name) => match self.workloads.get(name) {
                Some(custom) => Ok((custom.prepare)(inputs)),
                None => Err(WorkloadError::Unregistered { name: name.clone() }),
            },
            builtin => Ok(builtin.task()),
        }
    }

    /// Whether `workload`'s results must match the sequential ones exactly.
    pub(crate) fn is_deterministic(&self, workload: &Workload) -> bool {
        match workload {
            Workload::Named(name) => self.workloads.get(name).is_none_or(|w| w.deterministic),
            builtin => builtin.is_deterministic(),
        }
    }

    /// The workload's own check of one run's results, if it has one.
    pub(crate) fn check_results(&self, workload: &Workload, inputs: &[f64], results: &[f64]) -> Result<(), String> {
        match workload {
            Workload::Named(name) => match self.workloads.get(name).and_then(|w| w.check.as_ref()) {
                Some(check) => check(inputs, results),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Starts the backend registered as `name` for `workers` workers.
    pub(crate) fn start_backend(&self, name: BackendName, workers: usize) -> Option<Box<RunFn>> {
        self.backends.get(&name).map(|start| start(workers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(workload: &str, backends: &str) -> Plan {
        let text = format!(
            "(experiments: [(name: \"t\", workload: {workload}, inputs: Count(5), workers: [2], \
             repetitions: 1, backends: {backends})])"
        );
        Plan::parse(&text, Path::new("t.ron")).unwrap()
    }

    #[test]
    fn unregistered_names_are_refused_with_what_is_registered() {
        let registry = Registry::new()
            .workload(CustomWorkload::new("double", |x| 2.0 * x))
            .backend("mine", |_| |job: &Job<'_>| (0..job.len()).map(|i| job.call(i)).collect());
        assert_eq!(registry.check_plan(&plan("Named(\"double\")", "[Sequential, Named(\"mine\")]")), Ok(()));
        let error = registry.check_plan(&plan("Named(\"triple\")", "[Sequential]")).unwrap_err();
        assert_eq!(error, "experiment \"t\": workload \"triple\" is not registered; registered workloads: double");
        let error = registry.check_plan(&plan("Square", "[Sequential, Named(\"theirs\")]")).unwrap_err();
        assert_eq!(error, "experiment \"t\": backend \"theirs\" is not registered; registered backends: mine");
        let error = Registry::new().check_plan(&plan("Named(\"double\")", "[Sequential]")).unwrap_err();
        assert!(error.contains("no workloads are registered here"), "{error}");
    }

    #[test]
    fn setup_runs_per_task_and_jobs_collect_the_first_failure() {
        let setups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&setups);
        let offset = CustomWorkload::with_setup(
            "offset",
            move |inputs: &[f64]| {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                inputs.len() as f64
            },
            |length: &f64, index, x| length + index as f64 + x,
        );
        let registry = Registry::new().workload(offset);
        let inputs = [10.0, 20.0];
        let task = registry.task(&Workload::Named("offset".into()), &inputs).unwrap();
        assert_eq!(setups.load(std::sync::atomic::Ordering::SeqCst), 1);
        let job = Job::new(&inputs, &task);
        let results: Vec<f64> = (0..job.len()).map(|i| job.call(i)).collect();
        assert_eq!(job.finish(results), Ok(vec![12.0, 23.0]));

        let failing: Task =
            Arc::new(
                |index, _| {
                    if index == 1 {
                        Err(WorkloadError::Unregistered { name: "boom".into() })
                    } else {
                        Ok(1.0)
                    }
                },
            );
        let job = Job::new(&inputs, &failing);
        assert!(job.call(1).is_nan());
        assert_eq!(job.call(0), 1.0);
        assert!(matches!(job.finish(vec![1.0, f64::NAN]), Err(WorkloadError::Unregistered { .. })));
    }

    #[test]
    fn git_revision_names_this_repository_and_unknown_elsewhere() {
        let here = git_revision(env!("CARGO_MANIFEST_DIR"));
        // A short hash, perhaps dirty; "unknown" only where git is missing.
        if here != "unknown" {
            assert!(here.trim_end_matches("-dirty").chars().all(|c| c.is_ascii_hexdigit()), "{here}");
        }
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(git_revision(&outside.path().to_string_lossy()), "unknown");
        let registry = Registry::new().code_revision("v1.2");
        assert_eq!(registry.revision(), Some("v1.2"));
    }

    #[test]
    #[should_panic(expected = "is a built-in backend's")]
    fn built_in_backend_names_cannot_be_taken() {
        let _ = Registry::new().backend("rayon", |_| |_: &Job<'_>| Vec::new());
    }
}
