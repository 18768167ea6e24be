//! The pipeline for whole experiments: choose, check, measure, analyze,
//! write — keeping every sample on disk as it is taken.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use indicatif::ProgressBar;
use sweep::eprintln;

use crate::analysis::analyze;
use crate::config::{Experiment, Plan};
use crate::custom::Registry;
use crate::machine::{CpuTimes, Machine, Monitor};
use crate::measure::{measure, run_count, Cell, Observer, Sample};
use crate::preflight;
use crate::report::csv::{read_samples_csv, SampleLog};
use crate::report::{json, write_report, ExperimentReport, RunStatus};

/// The experiments of `plan` named in `only`, in file order, or all of them
/// when `only` is empty. An unknown name is bad input
/// ([`sweep::exit::Usage`]) that lists the known ones.
pub fn select<'a>(plan: &'a Plan, only: &[String]) -> anyhow::Result<Vec<&'a Experiment>> {
    if let Some(unknown) = only.iter().find(|name| plan.experiment(name).is_none()) {
        let known: Vec<&str> = plan.experiments.iter().map(|e| e.name.as_str()).collect();
        return Err(sweep::exit::Usage(format!(
            "no experiment named {unknown:?} in this file; it defines: {}",
            known.join(", ")
        ))
        .into());
    }
    Ok(plan.experiments.iter().filter(|e| only.is_empty() || only.iter().any(|name| name == e.name.as_str())).collect())
}

/// Where a run writes, and whether it continues an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Reports go to `out_dir/<experiment>/`.
    pub out_dir: PathBuf,
    /// Continue the run in `out_dir`: skip complete experiments, keep the
    /// samples of an interrupted one and measure only what is missing.
    pub resume: bool,
    /// The experiment file, as given: recorded (canonical) in each
    /// experiment's [`STARTED_FILE`], so that advice on finishing a stopped
    /// run can name the file that defines the experiment as that run
    /// measured it, from whatever directory it is given.
    pub config: Option<PathBuf>,
}

/// What an earlier run left in an experiment's report directory.
#[derive(Debug)]
pub enum Previous {
    /// Nothing usable: measure from scratch.
    Nothing,
    /// A complete report of this very experiment.
    Complete(Box<ExperimentReport>),
    /// The samples of an interrupted (or killed) run.
    Partial(Vec<Sample>),
}

/// Written into an experiment's directory before its first measurement:
/// what is measured, by which build, on which machine. A killed run leaves
/// no `results.json`, so this is how `--resume` tells whether the samples
/// in `samples.csv` belong to the experiment and build it is asked to finish.
pub const STARTED_FILE: &str = "started.json";

/// The first file found in `dir` that only an experiment's own run
/// writes there (its results, its samples, its start record): `dir` is
/// then that experiment's report directory, finished or not, and no other
/// command may write into it.
pub fn measured_file(dir: &Path) -> Option<&'static str> {
    [json::FILE_NAME, crate::report::csv::FILE_NAME, STARTED_FILE].into_iter().find(|file| dir.join(file).is_file())
}

/// Refuses `out`, the `--out` of `report` or `compare` (`what` they
/// write there), where it cannot hold their files: a file, or an
/// experiment's report directory, among whose files they would be mixed
/// (and which a rerun of the experiment then moves aside or deletes with
/// its own). Bad input, either: the user named it.
pub fn check_output_dir(out: &Path, what: &str) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(sweep::exit::Usage(format!(
            "--out {} is a file: --out must be a directory ({what} is written into it)",
            out.display()
        ))
        .into());
    }
    if let Some(file) = measured_file(out) {
        return Err(sweep::exit::Usage(format!(
            "{} is an experiment's report directory (it holds {file}): {what} is not written into it; choose \
             another --out",
            out.display()
        ))
        .into());
    }
    Ok(())
}

/// The entries of `dir` that make it someone else's directory rather than
/// an experiment's report (finished or not): every entry when it holds no
/// [`measured_file`], or `samples.csv` when that is the only one and its
/// first line is not the harness's header (another tool's table, a note).
/// Empty for a missing or empty directory and for a report of any
/// experiment (whether it is this one's is [`check_nothing_lost`]'s
/// question). The hidden files a stopped writer of the harness leaves (see
/// [`crate::report::is_stale_write`]) are its own.
pub fn foreign_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !crate::report::is_stale_write(name))
        .collect();
    names.sort();
    match measured_file(dir) {
        None => names,
        Some(file) if file == crate::report::csv::FILE_NAME && !samples_header_is_ours(&dir.join(file)) => {
            vec![file.to_owned()]
        }
        Some(_) => Vec::new(),
    }
}

/// Whether the file at `path` starts with the header row a [`SampleLog`]
/// writes, or is empty (a run killed before the header was written).
/// Reads the first line only: the file may be anything.
fn samples_header_is_ours(path: &Path) -> bool {
    use std::io::BufRead;
    let header = crate::report::csv::HEADER.join(",");
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut first = String::new();
    let limit = header.len() as u64 + 2;
    match std::io::BufReader::new(std::io::Read::take(file, limit)).read_line(&mut first) {
        Ok(_) => first.is_empty() || first.trim_end() == header,
        Err(_) => false,
    }
}

/// The contents of [`STARTED_FILE`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Started {
    experiment: Experiment,
    machine: Machine,
    /// The experiment file the run was started with, canonical (absent in
    /// the records of older harnesses; relative, as given, in some: then
    /// relative to the directory that run started in, which is not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<PathBuf>,
}

/// What the run in an experiment's directory measured, as its records say.
struct Recorded {
    experiment: Experiment,
    /// The experiment file it was started with, where recorded.
    config: Option<PathBuf>,
    /// The record: `started.json`, or for a run without one (an older
    /// harness's) its `results.json`.
    record: PathBuf,
}

impl Recorded {
    /// The record of the run in `dir`, if there is a readable one.
    fn read(dir: &Path) -> Option<Recorded> {
        let record = dir.join(STARTED_FILE);
        if let Some(started) =
            std::fs::read_to_string(&record).ok().and_then(|t| serde_json::from_str::<Started>(&t).ok())
        {
            return Some(Recorded { experiment: started.experiment, config: started.config, record });
        }
        let record = dir.join(json::FILE_NAME);
        let report = json::read_results_json(&record).ok()?;
        Some(Recorded { experiment: report.experiment, config: None, record })
    }

    /// The experiment file recorded, as a command line in the current
    /// directory takes it (see [`shown_path`]).
    fn config_shown(&self) -> Option<String> {
        self.config.as_deref().map(shown_path)
    }

    /// The experiment file that defines the experiment as this run
    /// measured it: the one recorded, or, where none was, what it must hold.
    fn definition(&self) -> String {
        match self.config_shown() {
            Some(config) => {
                let note = if self.config.as_deref().is_some_and(Path::is_relative) {
                    ", relative to the directory that run was started in"
                } else {
                    ""
                };
                format!("{config} (recorded in {}{note})", self.record.display())
            }
            None => format!(
                "an experiment file that defines {:?} as {} records it",
                self.experiment.name.as_str(),
                self.record.display()
            ),
        }
    }
}

/// The experiment that the start record in `dir` says its run measured;
/// `None` without a readable one (an older harness's run has none).
pub fn started_experiment(dir: &Path) -> Option<Experiment> {
    let text = std::fs::read_to_string(dir.join(STARTED_FILE)).ok()?;
    serde_json::from_str::<Started>(&text).ok().map(|started| started.experiment)
}

/// Records in `dir` that `experiment` is being measured by `machine`'s
/// build (see [`STARTED_FILE`]), started with the experiment file `config`.
pub fn record_start(
    experiment: &Experiment,
    machine: &Machine,
    config: Option<&Path>,
    dir: &Path,
) -> anyhow::Result<()> {
    // Canonical: a path as given is relative to the directory the run
    // started in, and advice printed from another one named a file that
    // is not there (`bench-harness long.ron --resume /tmp/a9/bh/rl` in /tmp).
    let config = config.map(|config| {
        config.canonicalize().or_else(|_| std::path::absolute(config)).unwrap_or_else(|_| config.to_path_buf())
    });
    let started = Started { experiment: experiment.clone(), machine: machine.clone(), config };
    crate::report::replace_file(&dir.join(STARTED_FILE), |file| {
        serde_json::to_writer_pretty(file, &started)?;
        Ok(())
    })
}

/// A recorded path as a command line in the current directory takes it:
/// relative to the current directory where the path lies under it (the
/// shorter), else as recorded. A relative record (an older harness's) is
/// shown as it was recorded; [`Recorded::definition`] says relative to what.
fn shown_path(path: &Path) -> String {
    let cwd = std::env::current_dir().and_then(|cwd| cwd.canonicalize());
    match cwd.ok().and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf)) {
        Some(relative) if path.is_absolute() && !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// Why samples measured by `then` must not be mixed with ones measured by
/// `now`: the differences between the machine records, revisions included.
fn build_or_machine_changed(then: &Machine, now: &Machine) -> Vec<String> {
    let mut differences = crate::machine::machine_differences(then, now);
    if then.git_revision != now.git_revision {
        differences.push(format!("harness revision: {} → {}", then.git_revision, now.git_revision));
    }
    if then.code_revision != now.code_revision {
        let revision = |r: &Option<String>| r.clone().unwrap_or_else(|| "none".to_owned());
        differences.push(format!(
            "code revision: {} → {}",
            revision(&then.code_revision),
            revision(&now.code_revision)
        ));
    }
    differences
}

/// Reads what an earlier run of `experiment` left in `dir`, for `--resume`
/// by `machine`'s build. Errors when that run measured a differently
/// defined experiment, on another machine or with another build (their
/// samples would be mixed or, for a complete report, the run would be of
/// two builds), or its samples do not fit this one.
pub fn previous(experiment: &Experiment, machine: &Machine, dir: &Path) -> anyhow::Result<Previous> {
    let differently_defined = || {
        let file = Recorded::read(dir).map_or_else(
            || "the same experiment file".to_owned(),
            |run| format!("the file that started it, {}", run.definition()),
        );
        format!(
            "{} holds a run of a differently defined experiment {:?}; --resume needs {file}; \
             or use a fresh --out directory",
            dir.display(),
            experiment.name.as_str()
        )
    };
    let other_build = |differences: Vec<String>| {
        format!(
            "{} was measured by another build or on another machine ({}); resuming would mix their samples: \
             use a fresh --out directory",
            dir.display(),
            differences.join("; ")
        )
    };
    let results = dir.join(json::FILE_NAME);
    if results.exists() {
        let report = json::read_results_json(&results)?;
        anyhow::ensure!(report.experiment == *experiment, differently_defined());
        // Complete or not, a report of another build is not this run's:
        // kept beside the experiments this build measures, it would make
        // one run of two builds.
        let differences = build_or_machine_changed(&report.machine, machine);
        anyhow::ensure!(differences.is_empty(), other_build(differences));
        if report.status == RunStatus::Complete {
            return Ok(Previous::Complete(Box::new(report)));
        }
    } else if let Ok(text) = std::fs::read_to_string(dir.join(STARTED_FILE)) {
        // A killed run: only its start record tells what it measured.
        let started: Started =
            serde_json::from_str(&text).with_context(|| format!("reading {}", dir.join(STARTED_FILE).display()))?;
        anyhow::ensure!(started.experiment == *experiment, differently_defined());
        let differences = build_or_machine_changed(&started.machine, machine);
        anyhow::ensure!(differences.is_empty(), other_build(differences));
    }
    let samples = dir.join(crate::report::csv::FILE_NAME);
    if samples.exists() {
        return Ok(Previous::Partial(read_samples_csv(&samples, experiment)?));
    }
    Ok(Previous::Nothing)
}

/// The experiments an earlier run left in `out_dir` (subdirectories with
/// samples or a report), when none of them is defined by `plan`: a sign
/// that `--resume` was given another experiment file than the one that
/// started the run. Empty when `out_dir` holds any experiment of `plan`
/// (runs of several files may share one `--out`).
pub fn foreign_experiments(plan: &Plan, out_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(out_dir) else { return Vec::new() };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| measured_file(&entry.path()).is_some())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    if found.iter().any(|name| plan.experiment(name).is_some()) {
        return Vec::new();
    }
    found.sort();
    found
}

/// Refuses a fresh run (no `--resume`) into `out_dir` when an experiment's
/// directory there holds the samples of an interrupted or killed run: a
/// fresh run starts `samples.csv` anew and would delete them. A complete
/// report of the same experiment is replaced by a fresh run once it
/// completes (see [`kept_report`]); one of a differently defined
/// experiment only when `replace` says so.
pub fn check_nothing_lost(
    experiments: &[&Experiment],
    out_dir: &Path,
    config: &Path,
    replace: bool,
) -> anyhow::Result<()> {
    for experiment in experiments {
        let dir = out_dir.join(experiment.name.as_str());
        let foreign = foreign_files(&dir);
        if !foreign.is_empty() {
            return Err(sweep::exit::Usage(format!(
                "{} holds {} that bench-harness did not write ({}); it is no report of {:?}, and a run would \
                 write its report over them: move them, or give another --out (nothing was changed)",
                dir.display(),
                sweep::output::counted(foreign.len(), "file"),
                foreign.join(", "),
                experiment.name.as_str()
            ))
            .into());
        }
        let kept = kept_report(out_dir, experiment.name.as_str());
        let csv = dir.join(crate::report::csv::FILE_NAME);
        // Rows after the header; a last row cut short counts too: it was measured.
        let rows = std::fs::read_to_string(&csv)
            .map_or(0, |text| text.lines().skip(1).filter(|line| !line.trim().is_empty()).count());
        // An interrupted run's samples are refused first, whatever report
        // is kept aside: --yes never lets a fresh run delete them, so the
        // kept report's "pass --yes to replace it" sent a user to a second
        // refusal.
        if rows > 0 && !completed(&dir) {
            return Err(interrupted_run(experiment, &dir, &kept, out_dir, config));
        }
        // Checked whatever samples.csv holds: a complete report is its
        // results.json (which holds the samples); with samples.csv deleted
        // or emptied, another experiment's report was replaced unasked.
        // The report kept aside by a rerun that never completed is the one
        // this run replaces once it completes, as much as one in `dir`.
        let complete = [&dir, &kept].into_iter().find(|d| completed(d));
        if let Some(complete) = complete {
            // A rerun of the same experiment replaces its report (what
            // `reports/latest` is for); another experiment's is not ours to
            // delete unasked. A report this build cannot read counts as
            // another's: nothing says it is this experiment's.
            let report = json::read_results_json(&complete.join(json::FILE_NAME));
            let same = report.as_ref().is_ok_and(|report| report.experiment == **experiment);
            let rows = report.map_or(rows, |report| report.samples.len());
            anyhow::ensure!(
                same || replace,
                "{} holds the complete report of a differently defined experiment {:?} ({rows} sample(s)), \
                 which a fresh run would delete; pass --yes to replace it, or give another --out (nothing was \
                 changed)",
                complete.display(),
                experiment.name.as_str()
            );
        }
    }
    Ok(())
}

/// The refusal of a fresh run into `dir`, which holds the samples of an
/// interrupted (or killed) run of `experiment`, with the way on that works:
/// `--resume` with the file that defines the experiment as that run
/// measured it, which is not `config` when the run was started from
/// another definition (a rerun with --yes of a changed file): the advice
/// `bench-harness CONFIG --resume DIR` was then refused in turn.
fn interrupted_run(experiment: &Experiment, dir: &Path, kept: &Path, out_dir: &Path, config: &Path) -> anyhow::Error {
    // Samples without a complete report may be a live run's, still
    // measuring: it is not interrupted, and resuming it is no way on.
    if let Some(holder) = OutputLock::holder(out_dir) {
        return OutputLock::busy(out_dir, &holder);
    }
    let rows = std::fs::read_to_string(dir.join(crate::report::csv::FILE_NAME))
        .map_or(0, |text| text.lines().skip(1).filter(|line| !line.trim().is_empty()).count());
    let kept = if completed(kept) {
        format!("; the previous complete report is kept in {}/ until it completes", kept.display())
    } else {
        String::new()
    };
    let recorded = Recorded::read(dir);
    let file = match &recorded {
        // Started from another definition of the experiment than `config`
        // holds: only the file that defines it as the run did finishes it.
        Some(started) if started.experiment != *experiment => match started.config_shown() {
            Some(file) => format!(
                "it measures another definition of {:?} than {}'s, started from {}: finish it with \
                 `bench-harness {file} --resume {}`",
                experiment.name.as_str(),
                config.display(),
                started.definition(),
                out_dir.display()
            ),
            None => format!(
                "it measures another definition of {:?} than {}'s: finish it with `bench-harness CONFIG --resume \
                 {}`, CONFIG being {}",
                experiment.name.as_str(),
                config.display(),
                out_dir.display(),
                started.definition()
            ),
        },
        _ => format!("finish it with `bench-harness {} --resume {}`", config.display(), out_dir.display()),
    };
    anyhow::anyhow!(
        "{} holds {} of an interrupted run of {:?}, which a fresh run would delete; {file}, or give another \
         --out (nothing was changed){kept}",
        dir.display(),
        sweep::output::counted(rows, "sample"),
        experiment.name.as_str(),
    )
}

/// Where a fresh run keeps the complete report it replaces, under its
/// `--out`: `.previous/<experiment>/`. Experiment names never start with a
/// dot, and `report`, `compare` and `--resume` read only the directories
/// directly under `--out`, so nothing takes it for a report of the run.
pub const KEPT_DIR: &str = ".previous";

/// Where the complete report of experiment `name` in `out_dir` is kept
/// while a fresh run measures it anew: `out_dir/.previous/<name>/`. It is
/// moved there before the first sample, and removed once the new run's
/// report is complete; a run interrupted or killed before that leaves it
/// there, and `--resume` removes it once it completes the run.
pub fn kept_report(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(KEPT_DIR).join(name)
}

/// The complete reports kept aside (see [`kept_report`]) for the
/// experiments named in `names` whose run in `out_dir` has not completed.
pub fn kept_reports<'a>(names: impl IntoIterator<Item = &'a str>, out_dir: &Path) -> Vec<PathBuf> {
    names
        .into_iter()
        .filter(|name| !completed(&out_dir.join(name)))
        .map(|name| kept_report(out_dir, name))
        .filter(|kept| completed(kept))
        .collect()
}

/// Moves the complete report in `dir` to `kept` (see [`kept_report`]), file
/// by file, `results.json` last: a run killed meanwhile leaves the report
/// complete in `dir` (the next run moves it again) or complete in `kept`.
/// Files a report does not write stay in `dir`. An older report kept in
/// `kept` is deleted first: the one in `dir` replaced it.
fn keep_previous(dir: &Path, kept: &Path) -> anyhow::Result<()> {
    remove_kept(kept)?;
    std::fs::create_dir_all(kept).with_context(|| format!("creating {}", kept.display()))?;
    let mut names = vec![crate::report::csv::FILE_NAME.to_owned(), STARTED_FILE.to_owned()];
    names.extend(crate::report::derived_file_names());
    names.push(json::FILE_NAME.to_owned());
    for name in names {
        match std::fs::rename(dir.join(&name), kept.join(&name)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(error)
                    .with_context(|| format!("moving {} to {}", dir.join(&name).display(), kept.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Deletes the reports kept aside (see [`kept_report`]) for experiments
/// whose report in `out_dir` is complete: a run killed after writing its
/// report, but before deleting the one it replaced, left them. Called by
/// `--resume`, under the output directory's lock.
pub fn discard_replaced_reports(experiments: &[&Experiment], out_dir: &Path) -> anyhow::Result<()> {
    for experiment in experiments {
        if completed(&out_dir.join(experiment.name.as_str())) {
            remove_kept(&kept_report(out_dir, experiment.name.as_str()))?;
        }
    }
    Ok(())
}

/// Deletes the report kept in `kept`, and its parent once empty.
fn remove_kept(kept: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(kept) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("removing {}", kept.display()))
        }
        _ => {}
    }
    // Fails, as it should, while another experiment's report is kept there.
    let _ = kept.parent().map(std::fs::remove_dir);
    Ok(())
}

/// Whether `dir` holds the `results.json` of a complete run. One without a
/// status was written before interrupted runs were recorded: complete.
fn completed(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(json::FILE_NAME)) else { return false };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    match value.get("status") {
        None => true,
        Some(status) => serde_json::from_value::<RunStatus>(status.clone()).ok() == Some(RunStatus::Complete),
    }
}

/// Total runs (warm-up and timed) still to make, the length of a progress bar.
pub fn total_runs(experiments: &[(&Experiment, &[Sample])]) -> u64 {
    experiments.iter().map(|(e, done)| run_count(e, done)).sum()
}

/// Everything checkable before the first measurement, for every experiment,
/// without creating anything (a refused run leaves nothing behind): the
/// data fits in memory, the workload runs on its first inputs (an external
/// command prints a number). Returns the estimated duration of what
/// remains to measure. [`prepare_directories`] comes next.
pub fn preflight(
    experiments: &[(&Experiment, &[Sample])],
    registry: &Registry,
    machine: &Machine,
) -> anyhow::Result<Duration> {
    let available = preflight::memory_available();
    for (experiment, _) in experiments {
        preflight::check_memory(experiment, available).map_err(anyhow::Error::msg)?;
    }
    let mut total = Duration::ZERO;
    for &(experiment, done) in experiments {
        let remaining = run_count(experiment, done);
        if remaining == 0 {
            continue;
        }
        if preflight::nominal_seconds_per_input(&experiment.workload).is_none() {
            // An external command or code of yours may take long, or hang:
            // say what is running rather than sit silent.
            eprintln!("checking {}: running its workload on its first inputs…", experiment.name);
        }
        let per_input = preflight::probe(experiment, registry)?;
        let full = preflight::estimate(experiment, per_input, machine.logical_cores);
        let share = remaining as f64 / run_count(experiment, &[]).max(1) as f64;
        total = total.saturating_add(full.mul_f64(share));
    }
    Ok(total)
}

/// Creates `out_dir` and the report directory of every experiment with
/// runs left to make, and checks that files can be written in them: the
/// last step before measuring, once everything else was checked.
pub fn prepare_directories(experiments: &[(&Experiment, &[Sample])], out_dir: &Path) -> anyhow::Result<()> {
    preflight::check_writable(out_dir)?;
    for &(experiment, done) in experiments {
        if run_count(experiment, done) > 0 {
            preflight::check_writable(&out_dir.join(experiment.name.as_str()))?;
        }
    }
    Ok(())
}

/// Advances the progress bar, appends every sample to `samples.csv` as it
/// is taken, and stops when asked to (Ctrl-C).
struct Recorder<'a> {
    name: &'a str,
    progress: &'a ProgressBar,
    log: Option<&'a mut SampleLog>,
    stop: &'a AtomicBool,
}

impl Observer for Recorder<'_> {
    fn run_done(&mut self, cell: &Cell) {
        self.progress.set_message(format!("{}: {cell}", self.name));
        self.progress.inc(1);
    }

    fn sample_taken(&mut self, sample: &Sample) -> std::io::Result<()> {
        self.log.as_mut().map_or(Ok(()), |log| log.push(sample))
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Measures and analyzes one experiment, given the samples already measured
/// (`done`), appending new samples to `log` as they are taken and stopping
/// between runs once `stop` is set; advances `progress` by one per run.
/// `Named` workloads and backends come from `registry`.
pub fn run_experiment(
    experiment: &Experiment,
    registry: &Registry,
    machine: &Machine,
    done: Vec<Sample>,
    log: Option<&mut SampleLog>,
    stop: &AtomicBool,
    progress: &ProgressBar,
) -> anyhow::Result<ExperimentReport> {
    let monitor = Monitor::start();
    let start = crate::machine::Conditions { load_before: monitor.load_before(), ..Default::default() };
    // The load average counts this process's own work of the last minute:
    // before measuring, it speaks of other processes only while this one
    // has done little yet (the first experiment of a run). Later ones are
    // judged by other processes' measured share, after the fact.
    let fresh = CpuTimes::now().is_none_or(|cpu| cpu.own_seconds() < 1.0);
    for warning in start.warnings(machine.logical_cores).into_iter().filter(|_| fresh) {
        progress.suspend(|| eprintln!("  warning: {}: {warning}", experiment.name));
    }
    let mut recorder = Recorder { name: experiment.name.as_str(), progress, log, stop };
    let measurement = measure(experiment, registry, done, &mut recorder)
        .with_context(|| format!("experiment {:?}", experiment.name.as_str()))?;
    let conditions = monitor.finish();
    let mut analysis = analyze(experiment, &measurement.samples, machine.logical_cores);
    let mut warnings = crate::machine::measurement_warnings(machine, &conditions);
    warnings.append(&mut analysis.warnings);
    analysis.warnings = warnings;
    Ok(ExperimentReport {
        status: if measurement.complete { RunStatus::Complete } else { RunStatus::Interrupted },
        machine: machine.clone(),
        conditions,
        experiment: experiment.clone(),
        samples: measurement.samples,
        analysis,
    })
}

/// Exclusive use of an output directory for one run: two runs writing the
/// same `samples.csv` would interleave their rows. An `flock` on a file in
/// the directory (sweep's [`ResultsLock`](sweep::store::ResultsLock)): the
/// kernel releases it when its holder dies, however it dies, so no lock is
/// ever stale, and of two runs racing for it exactly one wins. Released
/// when dropped.
#[derive(Debug)]
pub struct OutputLock {
    _lock: sweep::store::ResultsLock,
}

impl OutputLock {
    /// The lock file's name inside the output directory.
    pub const FILE_NAME: &'static str = ".bench-harness.lock";

    /// What the lock guards, as sweep names it: the lock file without `.lock`.
    fn guarded(dir: &Path) -> PathBuf {
        dir.join(Self::FILE_NAME.trim_end_matches(".lock"))
    }

    /// Takes the lock on `dir` (which must exist), or says who holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<OutputLock> {
        match sweep::store::ResultsLock::acquire(&Self::guarded(dir)) {
            Ok(lock) => Ok(OutputLock { _lock: lock }),
            Err(sweep::store::StoreError::Locked { holder, .. }) => Err(Self::busy(dir, &holder)),
            Err(error) => Err(error).with_context(|| format!("locking {}", dir.display())),
        }
    }

    /// The refusal of a run into `dir` while `holder` measures there.
    fn busy(dir: &Path, holder: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "another bench-harness run ({holder}) is writing to {}; wait for it, or use another --out directory",
            dir.display()
        )
    }

    /// Who holds the lock on `dir` ("pid 1234 on host"), if anyone does.
    pub fn holder(dir: &Path) -> Option<String> {
        if !dir.join(Self::FILE_NAME).is_file() {
            return None;
        }
        match sweep::store::ResultsLock::acquire(&Self::guarded(dir)) {
            Err(sweep::store::StoreError::Locked { holder, .. }) => Some(holder),
            // Free (taken and released at once), or not lockable here.
            _ => None,
        }
    }
}

/// The report directories of a run, and whether it was interrupted.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// One per experiment reached, in order.
    pub dirs: Vec<PathBuf>,
    /// Whether the run stopped before measuring everything.
    pub interrupted: bool,
    /// Experiments that differ only in their pinning, compared (see [`compare_pinning`]).
    pub pinning: Vec<PinningComparison>,
}

/// The speedup spread of experiments that differ only in `pinning`.
#[derive(Debug, Clone, PartialEq)]
pub struct PinningComparison {
    /// One per experiment, in run order.
    pub rows: Vec<PinningRow>,
}

/// One experiment of a [`PinningComparison`].
#[derive(Debug, Clone, PartialEq)]
pub struct PinningRow {
    /// The experiment's name.
    pub name: String,
    /// Its pinning.
    pub pinning: crate::config::Pinning,
    /// Median speedup spread over its parallel cells.
    pub spread: Option<f64>,
    /// Share of the CPU other processes used meanwhile: the confounder a
    /// reader must see next to the spread.
    pub foreign_cpu: Option<f64>,
}

impl std::fmt::Display for PinningComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                let spread = row.spread.map_or_else(|| "—".to_owned(), |s| format!("{:.1}%", s * 100.0));
                let foreign = row
                    .foreign_cpu
                    .map_or_else(String::new, |s| format!(" (other processes: {:.0}% of CPU)", s * 100.0));
                format!("{} (pinning {}): {spread}{foreign}", row.name, row.pinning)
            })
            .collect();
        write!(f, "speedup spread (median over parallel cells of the IQR of T1(r)/Tp(r)): {}", rows.join("; "))
    }
}

/// Groups reports of experiments identical but for name, description and
/// pinning, and gives each its median speedup spread — how much pinning
/// steadies the speedup curve, measured in one run.
pub fn compare_pinning(reports: &[&ExperimentReport]) -> Vec<PinningComparison> {
    // The experiment as data, without the fields the comparison ignores.
    let key = |report: &ExperimentReport| {
        let mut value = serde_json::to_value(&report.experiment).unwrap_or_default();
        if let Some(fields) = value.as_object_mut() {
            for ignored in ["name", "description", "pinning"] {
                fields.remove(ignored);
            }
        }
        value
    };
    let mut groups: Vec<(serde_json::Value, Vec<&ExperimentReport>)> = Vec::new();
    for &report in reports {
        let k = key(report);
        match groups.iter_mut().find(|(existing, _)| *existing == k) {
            Some((_, members)) => members.push(report),
            None => groups.push((k, vec![report])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| {
            let mut pinnings: Vec<_> = members.iter().map(|r| r.experiment.pinning).collect();
            pinnings.dedup();
            members.len() >= 2 && pinnings.len() >= 2
        })
        .map(|(_, members)| PinningComparison {
            rows: members
                .iter()
                .map(|report| {
                    let spreads: Vec<f64> =
                        report.analysis.cells.iter().filter_map(|cell| cell.speedup_spread).collect();
                    PinningRow {
                        name: report.experiment.name.to_string(),
                        pinning: report.experiment.pinning,
                        spread: crate::stats::median(&spreads),
                        foreign_cpu: report.conditions.foreign_cpu,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Runs `experiments` one after the other, each with the samples `done`
/// before (for `--resume`), writing each report to `out_dir/<name>/` as
/// soon as it is measured. Once `stop` is set, the current run finishes,
/// the experiment's report is written marked interrupted, and the rest
/// are skipped. `writing` is held while a report is written: whoever ends
/// the process early (a second Ctrl-C) takes it first, so that no report
/// is left half written.
pub fn run_all(
    experiments: Vec<(&Experiment, Vec<Sample>)>,
    registry: &Registry,
    machine: &Machine,
    options: &RunOptions,
    stop: &AtomicBool,
    writing: &Mutex<()>,
    progress: &ProgressBar,
) -> anyhow::Result<RunSummary> {
    let mut dirs = Vec::new();
    let mut reports = Vec::new();
    for (experiment, done) in experiments {
        if stop.load(Ordering::SeqCst) {
            // Stopped between experiments: the next one is not started.
            return Ok(RunSummary { dirs, interrupted: true, pinning: Vec::new() });
        }
        let dir = options.out_dir.join(experiment.name.as_str());
        let kept = kept_report(&options.out_dir, experiment.name.as_str());
        // A fresh run replaces an older report, which no longer matches the
        // samples being logged, with its charts, tables and pgfplots data: a
        // new report need not draw all of them (one chunk size, or one
        // worker count, draws no overhead chart), and those left
        // behind described the old experiment beside the new results.json.
        // A complete one is measured data: it is kept aside until the new
        // run completes. Anything else holds no sample (see
        // `check_nothing_lost`) and is removed. Only files a report writes
        // are moved or removed.
        if !options.resume {
            // Held so that a second Ctrl-C does not end the move half way.
            let _writing = writing.lock().unwrap_or_else(PoisonError::into_inner);
            if completed(&dir) {
                keep_previous(&dir, &kept)?;
            } else {
                let _ = std::fs::remove_file(dir.join(json::FILE_NAME));
                for stale in crate::report::derived_file_names() {
                    let _ = std::fs::remove_file(dir.join(stale));
                }
            }
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let csv = dir.join(crate::report::csv::FILE_NAME);
        let mut log = if options.resume { SampleLog::append(&csv) } else { SampleLog::create(&csv) }
            .with_context(|| format!("opening {}", csv.display()))?;
        if !options.resume || !dir.join(STARTED_FILE).exists() {
            record_start(experiment, machine, options.config.as_deref(), &dir)?;
        }
        let report = run_experiment(experiment, registry, machine, done, Some(&mut log), stop, progress)?;
        progress.set_message(format!("{}: drawing charts", experiment.name));
        let written = {
            let _writing = writing.lock().unwrap_or_else(PoisonError::into_inner);
            write_report(&report, &dir)?
        };
        let names: Vec<String> =
            written.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
        // `suspend` rather than `println`: it also prints when the bar is
        // hidden (stderr is not a terminal).
        progress.suspend(|| {
            let status = if report.status == RunStatus::Interrupted { " — INTERRUPTED, partial" } else { "" };
            eprintln!("wrote {}/ ({}){status}", dir.display(), names.join(", "));
            for warning in &report.analysis.warnings {
                eprintln!("  warning: {warning}");
            }
            let outliers = report.analysis.outlier_cells().count();
            if outliers > 0 {
                eprintln!(
                    "  note: {outliers} of {} cells have outlying samples (kept; listed in summary.md)",
                    report.analysis.cells.len()
                );
            }
        });
        dirs.push(dir);
        if report.status == RunStatus::Interrupted {
            return Ok(RunSummary { dirs, interrupted: true, pinning: Vec::new() });
        }
        // The new report is complete and written: the old one is replaced.
        remove_kept(&kept)?;
        // Kept for the pinning comparison only: the samples are on disk.
        reports.push(ExperimentReport { samples: Vec::new(), ..report });
    }
    let pinning = compare_pinning(&reports.iter().collect::<Vec<_>>());
    Ok(RunSummary { dirs, interrupted: false, pinning })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiments_differing_only_in_pinning_are_compared() {
        let text = |name: &str, pinning: &str, reps: u32| {
            format!(
                "(experiments: [(name: \"{name}\", workload: Square, inputs: Count(10), workers: [1, 2], \
                 repetitions: {reps}, backends: [Sequential, Pool], pinning: {pinning})])"
            )
        };
        let report = |name, pinning, reps| {
            let experiment = crate::testing::experiment(&text(name, pinning, reps));
            crate::testing::report(experiment, 2, |cell| 1.0 / cell.workers as f64)
        };
        let none = report("a", "None", 5);
        let cores = report("b", "Cores", 5);
        let other = report("c", "Spread", 6);
        let comparisons = compare_pinning(&[&none, &cores, &other]);
        assert_eq!(comparisons.len(), 1, "c has other repetitions: not comparable");
        let names: Vec<&str> = comparisons[0].rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(comparisons[0].rows.iter().all(|row| row.spread.is_some()));
        assert!(comparisons[0].to_string().starts_with("speedup spread (median over parallel cells"));
        assert!(compare_pinning(&[&none, &none]).is_empty(), "same pinning: nothing to compare");
    }

    #[test]
    fn one_run_per_output_directory_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = OutputLock::acquire(dir.path()).unwrap();
        let error = OutputLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(error.starts_with(&format!("another bench-harness run (pid {} on ", std::process::id())), "{error}");
        assert!(OutputLock::holder(dir.path()).is_some_and(|h| h.starts_with("pid ")));
        drop(lock);
        assert!(!dir.path().join(OutputLock::FILE_NAME).exists(), "released on drop");
        assert_eq!(OutputLock::holder(dir.path()), None);
        // What a killed run leaves: the file with its pid, but no flock.
        std::fs::write(dir.path().join(OutputLock::FILE_NAME), "4294967295 nowhere\n").unwrap();
        assert_eq!(OutputLock::holder(dir.path()), None);
        drop(OutputLock::acquire(dir.path()).unwrap());
        // Its pid since reused by a live process (here init): a pid names no
        // holder, only the flock does.
        std::fs::write(dir.path().join(OutputLock::FILE_NAME), "1 nowhere\n").unwrap();
        let _taken = OutputLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn of_runs_racing_for_a_stale_lock_exactly_one_wins() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(OutputLock::FILE_NAME), "4294967295 nowhere\n").unwrap();
            let racers = 8;
            let start = std::sync::Barrier::new(racers);
            let won = std::sync::Mutex::new(Vec::new());
            std::thread::scope(|scope| {
                for _ in 0..racers {
                    scope.spawn(|| {
                        start.wait();
                        if let Ok(lock) = OutputLock::acquire(dir.path()) {
                            won.lock().unwrap().push(lock);
                        }
                    });
                }
            });
            // Every winner still holds its lock here: two would be two writers.
            assert_eq!(won.into_inner().unwrap().len(), 1);
        }
    }

    #[test]
    fn select_keeps_file_order_and_refuses_unknown_names() {
        let text = "(experiments: [\
            (name: \"a\", workload: Square, inputs: Count(1), workers: [1], repetitions: 1, backends: [Sequential]),\
            (name: \"b\", workload: Square, inputs: Count(1), workers: [1], repetitions: 1, backends: [Sequential])])";
        let plan = Plan::parse(text, Path::new("t.ron")).unwrap();
        let names = |only: &[&str]| -> Vec<String> {
            let only: Vec<String> = only.iter().map(|s| s.to_string()).collect();
            select(&plan, &only).unwrap().iter().map(|e| e.name.to_string()).collect()
        };
        assert_eq!(names(&[]), ["a", "b"]);
        assert_eq!(names(&["b", "a"]), ["a", "b"]);
        assert_eq!(names(&["b"]), ["b"]);
        let error = select(&plan, &["c".to_owned()]).unwrap_err().to_string();
        assert_eq!(error, "no experiment named \"c\" in this file; it defines: a, b");
    }

    #[test]
    fn resuming_a_killed_run_refuses_another_experiment_or_build() {
        let text = |workload: &str| {
            format!(
                "(experiments: [(name: \"k\", workload: {workload}, inputs: Count(10), workers: [1, 2], \
                 repetitions: 3, backends: [Sequential, Pool])])"
            )
        };
        let experiment = crate::testing::experiment(&text("Spin(duration_us: 300)"));
        let machine = Machine::detect();
        let dir = tempfile::tempdir().unwrap();
        // What a run killed after its first sample leaves: the start record and one row.
        record_start(&experiment, &machine, None, dir.path()).unwrap();
        let mut log = SampleLog::create(&dir.path().join(crate::report::csv::FILE_NAME)).unwrap();
        let cell = crate::measure::cells(&experiment)[0];
        log.push(&Sample { experiment: "k".into(), cell, repetition: 0, seconds: 0.003 }).unwrap();
        assert!(matches!(previous(&experiment, &machine, dir.path()), Ok(Previous::Partial(s)) if s.len() == 1));

        let changed = crate::testing::experiment(&text("Spin(duration_us: 3000)"));
        let error = previous(&changed, &machine, dir.path()).unwrap_err().to_string();
        assert!(error.contains("differently defined experiment \"k\""), "{error}");
        let rebuilt = Machine { git_revision: "0000000".into(), ..machine.clone() };
        let error = previous(&experiment, &rebuilt, dir.path()).unwrap_err().to_string();
        assert!(error.contains(&format!("harness revision: {} → 0000000", machine.git_revision)), "{error}");
    }

    /// A complete report is kept by `--resume` only when this build
    /// measured it: kept beside what this build measures next, another
    /// build's would make one run of two builds.
    #[test]
    fn resuming_keeps_a_complete_report_only_of_this_build() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"k\", workload: Square, inputs: Count(10), workers: [1, 2], repetitions: 3, \
             backends: [Sequential, Pool])])",
        );
        let report = crate::testing::report(experiment.clone(), 2, |_| 0.001);
        let dir = tempfile::tempdir().unwrap();
        json::write_results_json(&dir.path().join(json::FILE_NAME), &report).unwrap();
        assert!(matches!(previous(&experiment, &report.machine, dir.path()), Ok(Previous::Complete(_))));
        let rebuilt = Machine { git_revision: "0000000".into(), ..report.machine.clone() };
        let error = previous(&experiment, &rebuilt, dir.path()).unwrap_err().to_string();
        assert!(error.contains("measured by another build"), "{error}");
        assert!(error.contains(&format!("harness revision: {} → 0000000", report.machine.git_revision)), "{error}");
    }

    #[test]
    fn a_resume_directory_of_another_file_is_told_apart_from_a_shared_one() {
        let plan = Plan::parse(
            "(experiments: [(name: \"mine\", workload: Square, inputs: Count(1), workers: [1], repetitions: 1, \
             backends: [Sequential])])",
            Path::new("t.ron"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let leave = |name: &str| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join(crate::report::csv::FILE_NAME), "").unwrap();
        };
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        assert!(foreign_experiments(&plan, dir.path()).is_empty(), "nothing measured yet");
        leave(&format!("{KEPT_DIR}/other"));
        assert!(foreign_experiments(&plan, dir.path()).is_empty(), "a kept report is no experiment of the run");
        leave("other");
        leave("another");
        assert_eq!(foreign_experiments(&plan, dir.path()), ["another", "other"]);
        leave("mine");
        assert!(foreign_experiments(&plan, dir.path()).is_empty(), "one --out shared by two files");
    }
}
