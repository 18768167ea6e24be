//! `bench-harness report DIR…`: every chart and table rebuilt from saved
//! `results.json` files, without measuring, in any size, text scale and
//! format; and runs of one experiment on several machines drawn together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use sweep::exit::Usage;

use crate::analysis::{analyze, representative_chunk, speedup_points};
use crate::config::{Experiment, Plan};
use crate::machine::{Conditions, Machine};
use crate::measure::{Cell, Sample};
use crate::report::charts::{self, Canvas, Format, MeasuredPoint, MeasuredSeries, SpeedupChart, Style};
use crate::report::figures::{backend_style, busy_notes, suspect_label, suspect_marks, suspect_notes, Figures};
use crate::report::json::FILE_NAME as RESULTS;
use crate::report::latex::Latex;
use crate::report::markdown::Summary;
use crate::report::{
    derived_file_names, write_staged, write_whole, written, CreatedDirs, ExperimentReport, Exporter, RunStatus,
};
use crate::run::OutputLock;

/// How `report` redraws.
#[derive(Debug, Clone, PartialEq)]
pub struct RedrawOptions {
    /// Where to write; `None` rewrites each report's own directory.
    pub out: Option<PathBuf>,
    /// Chart formats.
    pub formats: Vec<Format>,
    /// Chart size and text scale.
    pub canvas: Canvas,
}

/// A saved report and the directory it was read from.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The directory holding `results.json`.
    pub dir: PathBuf,
    /// Its content.
    pub report: ExperimentReport,
}

/// What `results.json` holds besides the statistics.
#[derive(Deserialize)]
struct Measured {
    #[serde(default)]
    status: RunStatus,
    machine: Machine,
    #[serde(default)]
    conditions: Conditions,
    experiment: Experiment,
    samples: Vec<Sample>,
}

/// Reads a `results.json` and recomputes its statistics from the samples,
/// with the harness's current analysis: a file written years ago by an
/// older harness, whose statistics had another shape, still redraws.
pub fn read_saved(path: &Path) -> anyhow::Result<ExperimentReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let measured: Measured = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for sample in &measured.samples {
        sample.check().with_context(|| path.display().to_string())?;
    }
    check_raw_samples(path, &measured.experiment, &measured.samples, measured.status)?;
    check_started(path, &measured.experiment)?;
    // Every statistic is judged against the cores (a speedup above them is
    // suspect, more workers than them oversubscribed): none is no machine.
    // Fewer logical than physical cores is no refusal: the logical ones are
    // those the run could use (an affinity mask or a container's quota).
    anyhow::ensure!(
        measured.machine.logical_cores > 0 && measured.machine.physical_cores != Some(0),
        "{}: a machine record with {} logical and {} physical cores describes no machine that ran it; the file \
         was edited or damaged",
        path.display(),
        measured.machine.logical_cores,
        measured.machine.physical_cores.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
    );
    let cores = measured.machine.logical_cores;
    let mut analysis = analyze(&measured.experiment, &measured.samples, cores);
    // As a run reports them: how it was measured first.
    let mut warnings = crate::machine::measurement_warnings(&measured.machine, &measured.conditions);
    warnings.append(&mut analysis.warnings);
    analysis.warnings = warnings;
    Ok(ExperimentReport {
        status: measured.status,
        machine: mark_unrecorded(measured.machine),
        conditions: measured.conditions,
        experiment: measured.experiment,
        samples: measured.samples,
        analysis,
    })
}

/// Refuses a `results.json` that calls its run complete with repetitions
/// missing, and one whose samples differ from the `samples.csv` beside it, the raw data: statistics drawn from one while the other
/// says something else would be silently wrong. Without a `samples.csv`
/// (a `results.json` copied on its own) there is nothing to disagree with.
fn check_raw_samples(
    results: &Path,
    experiment: &Experiment,
    samples: &[Sample],
    status: RunStatus,
) -> anyhow::Result<()> {
    // Samples deleted from both files agree with each other, and the
    // report would call the run complete, every sample kept.
    if status == RunStatus::Complete {
        let repetitions = experiment.repetitions.get();
        for cell in crate::measure::cells(experiment) {
            let have = samples.iter().filter(|s| s.cell == cell).count();
            anyhow::ensure!(
                have >= repetitions as usize,
                "{} says its run is complete, but {cell} has {have} of its {repetitions} repetitions: samples were \
                 deleted, or the file was edited; restore them (or the run's own files)",
                results.display()
            );
        }
    }
    let csv = results.with_file_name(crate::report::csv::FILE_NAME);
    if !csv.exists() {
        return Ok(());
    }
    let raw = crate::report::csv::read_samples_csv(&csv, experiment)
        .with_context(|| format!("{} does not hold the samples of {}", csv.display(), results.display()))?;
    let by_key = |samples: &[Sample]| -> BTreeMap<(Cell, u32), f64> {
        samples.iter().map(|s| ((s.cell, s.repetition), s.seconds)).collect()
    };
    let (raw, saved) = (by_key(&raw), by_key(samples));
    let only_in = |these: &BTreeMap<(Cell, u32), f64>, those: &BTreeMap<(Cell, u32), f64>, file: &Path| {
        these
            .keys()
            .find(|key| !those.contains_key(key))
            .map(|(cell, repetition)| format!("{cell} repetition {repetition} is only in {}", file.display()))
    };
    let went_on = status == RunStatus::Interrupted
        && raw.len() > saved.len()
        && saved.iter().all(|(key, seconds)| raw.get(key).is_some_and(|r| r.to_bits() == seconds.to_bits()));
    anyhow::ensure!(
        !went_on,
        "{} holds {} samples more than {}: the interrupted run was resumed and stopped again; finish it with \
         `bench-harness CONFIG --resume OUT` (OUT: that run's --out), then run this again",
        csv.display(),
        raw.len() - saved.len(),
        results.display()
    );
    let disagreement = raw
        .iter()
        .find_map(|(key, seconds)| {
            let other = saved.get(key)?;
            (seconds.to_bits() != other.to_bits()).then(|| {
                format!("{} repetition {}: {seconds:?} s in samples.csv, {other:?} s in results.json", key.0, key.1)
            })
        })
        .or_else(|| only_in(&raw, &saved, &csv))
        .or_else(|| only_in(&saved, &raw, results));
    match disagreement {
        None => Ok(()),
        Some(what) => anyhow::bail!(
            "{} does not agree with {} ({what}): the raw samples were edited, or the two files come from \
             different runs; restore the one that was changed",
            csv.display(),
            results.display()
        ),
    }
}

/// Refuses a `results.json` whose experiment is not the one the run's
/// start record beside it (see [`crate::run::STARTED_FILE`]) says it
/// measured: statistics of an edited definition (another input count)
/// describe a problem nobody measured. Bad input (2): the files disagree.
fn check_started(results: &Path, experiment: &Experiment) -> anyhow::Result<()> {
    let Some(dir) = results.parent() else { return Ok(()) };
    match crate::run::started_experiment(dir) {
        Some(started) if started != *experiment => Err(Usage(format!(
            "{} and {} record different definitions of experiment {:?}: one of them was edited, or they come \
             from different runs; restore the one that was changed",
            results.display(),
            dir.join(crate::run::STARTED_FILE).display(),
            experiment.name.as_str()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// Why runs of experiments `a` and `b` cannot be set side by side: they
/// measured different problems (workload or inputs); `None` if the same.
/// `compare` refuses their cells, `report` to draw them in one chart.
pub fn different_problems(a: &Experiment, b: &Experiment) -> Option<String> {
    (a.workload != b.workload || a.inputs != b.inputs).then(|| {
        format!(
            "the runs measured different problems (A: {}, {}; B: {}, {})",
            a.workload, a.inputs, b.workload, b.inputs
        )
    })
}

/// Whether two saved reports are one run: the same experiment, machine
/// and samples, or every sample's time the same to the bit (no two runs
/// measure the same nanoseconds in every repetition of every cell: a copy
/// whose host or date was edited to pass for another machine).
pub fn same_run(a: &ExperimentReport, b: &ExperimentReport) -> bool {
    let times = |r: &ExperimentReport| -> BTreeMap<(Cell, u32), u64> {
        r.samples.iter().map(|s| ((s.cell, s.repetition), s.seconds.to_bits())).collect()
    };
    // Of different problems they are no copy (made-up samples may agree)
    // and are refused as such wherever runs are set side by side.
    let same_problem = different_problems(&a.experiment, &b.experiment).is_none();
    (a.experiment == b.experiment && a.machine == b.machine && a.samples == b.samples)
        || (same_problem && !a.samples.is_empty() && times(a) == times(b))
}

/// Refuses two of `saved` that are [`same_run`]: drawn together they
/// read as two machines (or runs) that agree exactly.
fn refuse_same_runs(saved: &[Saved]) -> anyhow::Result<()> {
    for (i, b) in saved.iter().enumerate() {
        if let Some(a) = saved[..i].iter().find(|a| same_run(&a.report, &b.report)) {
            return Err(Usage(format!(
                "{} and {} hold the same run of experiment {:?} ({}, {} cores, {}; the same time in every \
                 sample): give each run once",
                a.dir.display(),
                b.dir.display(),
                b.report.experiment.name.as_str(),
                a.report.machine.hostname,
                a.report.machine.logical_cores,
                a.report.machine.date_utc
            ))
            .into());
        }
    }
    Ok(())
}

/// A `results.json` from an older harness lacks fields of the machine
/// record; they say so rather than leave gaps ("release profile, , ").
fn mark_unrecorded(mut machine: Machine) -> Machine {
    for field in
        [&mut machine.kernel, &mut machine.hostname, &mut machine.rustc, &mut machine.target, &mut machine.target_cpu]
    {
        if field.trim().is_empty() {
            *field = "not recorded".to_owned();
        }
    }
    machine
}

/// The experiments whose complete reports sit in `out_dir` and that
/// `plan` does not define: another experiment file's, run into the same
/// `--out`. A run writes its summaries beside theirs, where a paper may
/// input them together, so their LaTeX macros must not collide with the
/// run's. A report that cannot be read is left out: judging it is
/// `report`'s business, not this run's.
pub fn neighbours(plan: &Plan, out_dir: &Path) -> Vec<Experiment> {
    /// All a neighbour's macros need: not its samples or statistics.
    #[derive(Deserialize)]
    struct Definition {
        experiment: Experiment,
    }
    let definition = |dir: &Path| -> Option<Experiment> {
        let text = std::fs::read_to_string(dir.join(RESULTS)).ok()?;
        serde_json::from_str::<Definition>(&text).ok().map(|d| d.experiment)
    };
    let Ok(entries) = std::fs::read_dir(out_dir) else { return Vec::new() };
    let mut found: Vec<Experiment> = entries
        .filter_map(|entry| definition(&entry.ok()?.path()))
        .filter(|experiment| plan.experiment(experiment.name.as_str()).is_none())
        .collect();
    found.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    found
}

/// Reads every report under `dirs`: each is a report directory (with a
/// `results.json`) or a directory of them (a whole run's `--out`).
pub fn load(dirs: &[PathBuf]) -> anyhow::Result<Vec<Saved>> {
    let mut found = Vec::new();
    for dir in dirs {
        if dir.join(RESULTS).is_file() {
            found.push(dir.clone());
            continue;
        }
        // A path that names no directory, or one that is no report
        // directory, is a wrong argument (2), as `--resume` treats it.
        if !dir.is_dir() {
            return Err(Usage(format!("{}: no such directory", dir.display())).into());
        }
        let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        let mut inside: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join(RESULTS).is_file()).collect();
        if inside.is_empty() {
            return Err(not_a_report(dir));
        }
        inside.sort();
        found.extend(inside);
    }
    found
        .into_iter()
        .map(|dir| {
            let report = read_saved(&dir.join(RESULTS))?;
            Ok(Saved { dir, report })
        })
        .collect()
}

/// Why `dir` holds no `results.json`: a run is measuring there (named by
/// its lock), a run was killed there (neither of which the argument is to
/// blame for: 1), or it is no report directory at all (a wrong argument: 2).
fn not_a_report(dir: &Path) -> anyhow::Error {
    let measured =
        |d: &Path| [crate::report::csv::FILE_NAME, crate::run::STARTED_FILE].iter().any(|file| d.join(file).is_file());
    let subdirectories: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    let started = measured(dir) || subdirectories.iter().any(|d| measured(d));
    // The lock is on a run's --out: `dir` itself, or the one holding it.
    let holder = OutputLock::holder(dir).or_else(|| dir.parent().and_then(OutputLock::holder));
    match (holder, started) {
        (Some(holder), _) => anyhow::anyhow!(
            "{} is being measured by a bench-harness run ({holder}) and has no {RESULTS} yet; run `report` \
             once that run has finished",
            dir.display()
        ),
        (None, true) => anyhow::anyhow!(
            "{} holds the samples of a run that was stopped before writing its {RESULTS}; finish it with \
             `bench-harness CONFIG --resume OUT` (OUT: that run's --out), then run `report`",
            dir.display()
        ),
        (None, false) => Usage(format!(
            "{} holds no {RESULTS}, neither directly nor in a subdirectory: give a report directory \
             (bench-harness's --out, or one experiment's directory in it)",
            dir.display()
        ))
        .into(),
    }
}

/// What identifies a machine in a legend: host and cores, plus the date
/// when the same machine appears twice.
pub fn machine_labels(reports: &[&ExperimentReport]) -> Vec<String> {
    let short = |r: &ExperimentReport| format!("{}, {} cores", r.machine.hostname, r.machine.logical_cores);
    reports
        .iter()
        .map(|r| {
            let label = short(r);
            if reports.iter().filter(|o| short(o) == label).count() > 1 {
                format!("{label}, {}", r.machine.date_utc)
            } else {
                label
            }
        })
        .collect()
}

/// Redraws every report under `dirs`; returns the files written.
pub fn redraw(dirs: &[PathBuf], options: &RedrawOptions) -> anyhow::Result<Vec<PathBuf>> {
    // Sizes and formats come from the command line: refusing them is bad input.
    let canvas = options.canvas.checked().map_err(|refusal| Usage(format!("{refusal:#}")))?;
    if options.formats.is_empty() {
        return Err(Usage("no figure format chosen: give --format png, svg and/or pdf".to_owned()).into());
    }
    if let Some(out) = &options.out {
        crate::run::check_output_dir(out, "the redrawn report")?;
    }
    // Nothing else may write where this does meanwhile: neither a run still
    // measuring into these reports nor another `report` (the lock a run
    // takes on its output directory). A first look says which directories
    // to lock; the reports are read again under the locks, since a run may
    // have rewritten them (or moved them to `.previous`) in between.
    let lock_targets = |saved: &[Saved]| -> Vec<PathBuf> {
        let mut targets: Vec<PathBuf> = match &options.out {
            Some(out) => vec![out.clone()],
            None => saved.iter().map(|s| run_directory(&s.dir)).collect(),
        };
        targets.sort();
        targets.dedup();
        targets
    };
    let macros_clash = |saved: &[Saved]| {
        crate::report::latex::check_macro_names(saved.iter().map(|s| &s.report.experiment)).map_err(|clash| {
            Usage(format!(
                "{clash}, so a paper that inputs both redrawn summaries would read one's numbers under the other's \
                 names; redraw them with separate `report` commands (nothing was written)"
            ))
        })
    };
    let first = load(dirs)?;
    macros_clash(&first)?;
    refuse_same_runs(&first)?;
    let targets = lock_targets(&first);
    let created = options.out.as_deref().map(CreatedDirs::create).transpose()?;
    let _locks = targets.iter().map(|dir| OutputLock::acquire(dir)).collect::<anyhow::Result<Vec<_>>>()?;
    let saved = load(dirs)?;
    anyhow::ensure!(
        lock_targets(&saved).iter().all(|dir| targets.contains(dir)),
        "the reports in {} changed while `report` read them (a run wrote there meanwhile); run it again",
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    macros_clash(&saved)?;
    refuse_same_runs(&saved)?;
    let mut by_name: BTreeMap<&str, Vec<&Saved>> = BTreeMap::new();
    for s in &saved {
        by_name.entry(s.report.experiment.name.as_str()).or_default().push(s);
    }
    // Runs of one experiment are drawn side by side, each in a directory
    // named for its machine and date: two with the same name (one run given
    // twice, or a copy of it) would overwrite each other's report.
    let mut labelled = Vec::new();
    for (name, runs) in by_name {
        // One chart of several runs compares them: as `compare` does, it
        // refuses runs of different problems under one name.
        for run in &runs[1..] {
            if let Some(why) = different_problems(&runs[0].report.experiment, &run.report.experiment) {
                return Err(Usage(format!(
                    "{} (A) and {} (B) hold experiment {name:?}, but {why}: one chart cannot draw them together; \
                     redraw them with separate `report` commands (nothing was written)",
                    runs[0].dir.display(),
                    run.dir.display()
                ))
                .into());
            }
        }
        let labels = machine_labels(&runs.iter().map(|s| &s.report).collect::<Vec<_>>());
        for (i, label) in labels.iter().enumerate() {
            if let Some(j) = labels[..i].iter().position(|earlier| directory_name(earlier) == directory_name(label)) {
                return Err(Usage(format!(
                    "{} and {} hold the same run of experiment {name:?} ({label}): give each run once",
                    runs[j].dir.display(),
                    runs[i].dir.display()
                ))
                .into());
            }
        }
        labelled.push((name, runs, labels));
    }
    // Where a run's report goes, one rule for the check below and the writing.
    let target = |name: &str, saved: &Saved, label: &str, several: bool| match &options.out {
        None => saved.dir.clone(),
        Some(out) if several => out.join(name).join(directory_name(label)),
        Some(out) => out.join(name),
    };
    // A report directory of another run under --out keeps its report: its
    // summary and charts must describe its own results.json, so nothing is
    // redrawn over them from other data.
    for (name, runs, labels) in labelled.iter().filter(|_| options.out.is_some()) {
        for (saved, label) in runs.iter().zip(labels) {
            refuse_another_run(&target(name, saved, label, runs.len() > 1), &saved.dir)?;
        }
    }
    // Nor does it replace a file of the user's in an --out; a report
    // directory's files (its own run's, as checked above) are the harness's.
    let users = |dir: &Path| options.out.is_some() && crate::run::measured_file(dir).is_none();
    if let Some(out) = &options.out {
        let derived = derived_file_names();
        for (name, runs, labels) in &labelled {
            for dir in runs.iter().zip(labels).map(|(saved, label)| target(name, saved, label, runs.len() > 1)) {
                if users(&dir) {
                    written::check(&dir, &derived, "the redrawn report")?;
                }
            }
            let dir = out.join(name);
            if runs.len() > 1 && users(&dir) {
                written::check(&dir, &machines_file_names(), "the chart of several machines")?;
            }
        }
    }
    let figures = Figures { formats: options.formats.clone(), canvas };
    let exporters: [&dyn Exporter; 3] = [&figures, &Summary, &Latex];
    let mut written = Vec::new();
    for (name, runs, labels) in &labelled {
        let several = runs.len() > 1;
        if several && options.out.is_none() {
            anyhow::bail!(
                "experiment {name:?} was found {} times ({}): give --out DIR for the figure that draws them together",
                runs.len(),
                runs.iter().map(|s| s.dir.display().to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        for (saved, label) in runs.iter().zip(labels) {
            let dir = target(name, saved, label, several);
            let files = write_staged(&saved.report, &dir, &exporters)?;
            if users(&dir) {
                written::record(&dir, &files)?;
            }
            written.extend(files);
        }
        if let (true, Some(out)) = (several, &options.out) {
            let reports: Vec<&ExperimentReport> = runs.iter().map(|s| &s.report).collect();
            let dir = out.join(name);
            let files = draw_machines(&reports, labels, &dir, &options.formats, &canvas)?;
            if users(&dir) {
                written::record(&dir, &files)?;
            }
            written.extend(files);
        }
    }
    if let Some(created) = created {
        created.keep();
    }
    Ok(written)
}

/// Refuses to draw into `target` when it is the report directory of a run
/// (see [`crate::run::measured_file`]) other than the one in `source`.
fn refuse_another_run(target: &Path, source: &Path) -> anyhow::Result<()> {
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if let Some(file) = crate::run::measured_file(target).filter(|_| !same(target, source)) {
        return Err(sweep::exit::Usage(format!(
            "{} holds the results of another run (its own {file}); redrawing {} there would replace that run's \
             report with one that does not describe them. Choose another --out",
            target.display(),
            source.display()
        ))
        .into());
    }
    Ok(())
}

/// The run's output directory that holds an experiment's report directory,
/// also for a report a rerun keeps aside ([`crate::run::kept_report`]): the
/// run that measures there moves and removes it.
fn run_directory(report_dir: &Path) -> PathBuf {
    match report_dir.parent() {
        Some(parent) if parent.file_name().is_some_and(|name| name == crate::run::KEPT_DIR) => run_directory(parent),
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A label as a directory name: letters, digits, `-`, `_` and `.`.
fn directory_name(label: &str) -> String {
    let mut name = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    name.trim_matches('_').to_owned()
}

/// The speedup series of every parallel backend of every run, labelled
/// `backend — label`: colour by backend, marker by run.
pub fn overlay_series(reports: &[&ExperimentReport], labels: &[String]) -> Vec<MeasuredSeries> {
    let mut series = Vec::new();
    for (index, (report, label)) in reports.iter().zip(labels).enumerate() {
        let experiment = &report.experiment;
        for &backend in experiment.backends.as_slice().iter().filter(|b| b.is_parallel()) {
            let points: Vec<MeasuredPoint> =
                speedup_points(&report.analysis.cells, backend, representative_chunk(experiment, backend))
                    .into_iter()
                    .map(|(x, s)| MeasuredPoint { x, y: s.value, ci_low: s.ci_low, ci_high: s.ci_high })
                    .collect();
            if points.is_empty() {
                continue;
            }
            // Each run's suspect speedups stay marked on the overlay, as on its own chart.
            let suspect =
                suspect_label(&suspect_marks(&report.analysis, backend, representative_chunk(experiment, backend)));
            series.push(MeasuredSeries {
                label: format!("{backend} — {label}{suspect}"),
                points,
                style: Style { color: backend_style(backend).color, marker: index },
            });
        }
    }
    series
}

/// Where each machine runs more workers than it has cores, when the
/// machines differ in cores: one shaded region and hollow markers cannot
/// show that for all of them, so a note says it.
fn oversubscription_note(reports: &[&ExperimentReport], labels: &[String]) -> Option<String> {
    let cores: std::collections::BTreeSet<usize> = reports.iter().map(|r| r.machine.logical_cores).collect();
    if cores.len() < 2 {
        return None;
    }
    let beyond: Vec<String> = reports
        .iter()
        .zip(labels)
        .filter(|(r, _)| r.experiment.workers.as_slice().iter().any(|&p| p > r.machine.logical_cores))
        .map(|(r, label)| format!("{label} beyond p = {}", r.machine.logical_cores))
        .collect();
    (!beyond.is_empty())
        .then(|| format!("More workers than cores (threads share cores, not hollow here): {}.", beyond.join("; ")))
}

/// Speedup and efficiency of the same experiment from several machines in
/// one chart each: `machines-speedup.*` and `machines-efficiency.*`.
/// Every file [`draw_machines`] may write.
fn machines_file_names() -> Vec<String> {
    let charts = ["machines-speedup", "machines-efficiency"];
    charts.iter().flat_map(|chart| Format::ALL.map(|format| format!("{chart}.{}", format.extension()))).collect()
}

fn draw_machines(
    reports: &[&ExperimentReport],
    labels: &[String],
    dir: &Path,
    formats: &[Format],
    canvas: &Canvas,
) -> anyhow::Result<Vec<PathBuf>> {
    let name = reports[0].experiment.name.as_str();
    let chart = machines_chart(reports, labels);
    let what = machines_or_runs(reports);
    write_whole(dir, |staging| {
        let mut written = Vec::new();
        for format in formats {
            let speedup = staging.join("machines-speedup").with_extension(format.extension());
            charts::draw_speedup(&speedup, &chart, canvas)
                .with_context(|| format!("drawing {}", dir.join("machines-speedup").display()))?;
            let efficiency = staging.join("machines-efficiency").with_extension(format.extension());
            let efficiency_chart =
                SpeedupChart { title: format!("Efficiency on {} {what} — {name}", reports.len()), ..chart.clone() };
            charts::draw_efficiency(&efficiency, &efficiency_chart, canvas)
                .with_context(|| format!("drawing {}", dir.join("machines-efficiency").display()))?;
            written.extend([speedup, efficiency]);
        }
        Ok(written)
    })
}

/// What the reports are called on their overlay: "machines" when each is
/// of another host, "runs" otherwise.
fn machines_or_runs(reports: &[&ExperimentReport]) -> &'static str {
    let hosts: std::collections::BTreeSet<&str> = reports.iter().map(|r| r.machine.hostname.as_str()).collect();
    if hosts.len() == reports.len() {
        "machines"
    } else {
        "runs"
    }
}

/// The speedup chart of one experiment from several runs (see
/// [`draw_machines`]): each run's suspect speedups marked in its series'
/// legend and explained in the small print, with its busy-machine warnings,
/// as on its own charts.
fn machines_chart(reports: &[&ExperimentReport], labels: &[String]) -> SpeedupChart {
    let name = reports[0].experiment.name.as_str();
    let weak = reports.iter().all(|r| r.experiment.inputs.is_weak());
    let notes: Vec<String> =
        reports.iter().zip(labels).map(|(r, label)| format!("{label}: {}.", r.machine.caption())).collect();
    let what = machines_or_runs(reports);
    let cores: std::collections::BTreeSet<usize> = reports.iter().map(|r| r.machine.logical_cores).collect();
    let mut notes = notes;
    if let Some(note) = oversubscription_note(reports, labels) {
        notes.insert(0, note);
    }
    // Each run's busy-machine warnings and suspect speedups, first, as on its own charts.
    let runs = || reports.iter().zip(labels);
    let busy = runs().flat_map(|(report, label)| busy_notes(report, Some(label)));
    let suspect = runs().flat_map(|(report, label)| suspect_notes(report, Some(label)));
    notes.splice(0..0, busy.chain(suspect).collect::<Vec<_>>());
    SpeedupChart {
        title: format!("Speedup on {} {what} — {name}", reports.len()),
        caption: format!(
            "{name} — {}, {}; marker shape: {}, colour: backend.",
            reports[0].experiment.workload,
            reports[0].experiment.inputs,
            what.trim_end_matches('s')
        ),
        notes,
        series: overlay_series(reports, labels),
        fits: Vec::new(),
        // Machines with different core counts share no shaded region.
        max_cores: if cores.len() == 1 { cores.into_iter().next() } else { None },
        weak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_with_different_cores_say_where_each_is_oversubscribed() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [1, 2, 4], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let laptop = crate::testing::report(experiment.clone(), 2, |_| 1.0);
        let server = crate::testing::report(experiment, 16, |_| 1.0);
        let labels = ["laptop".to_owned(), "server".to_owned()];
        let note = oversubscription_note(&[&laptop, &server], &labels).unwrap();
        assert!(note.ends_with(": laptop beyond p = 2."), "{note}");
        assert_eq!(oversubscription_note(&[&laptop, &laptop], &labels), None, "one core count: the shading shows it");
    }

    /// `report A B --out C` drew `machines-speedup` without the suspect
    /// marks and busy-machine warnings of each run's own charts.
    #[test]
    fn the_machines_chart_keeps_each_run_s_suspect_marks_and_warnings() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(100), workers: [1, 2, 4], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let mut busy = crate::testing::report(experiment.clone(), 8, |cell| 1.0 / cell.workers as f64);
        busy.conditions.foreign_cpu = Some(0.98);
        let suspect = crate::testing::report(experiment, 8, |cell| {
            if cell.backend.is_parallel() && cell.workers == 4 {
                0.2
            } else {
                1.0 / cell.workers as f64
            }
        });
        let labels = ["one".to_owned(), "two".to_owned()];
        let chart = machines_chart(&[&busy, &suspect], &labels);
        let legend: Vec<&str> = chart.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(legend, ["pool — one", "pool — two — SUSPECT: S > p at p = 4"]);
        assert!(chart.notes[0].starts_with("WARNING (one): "), "{:?}", chart.notes);
        assert_eq!(chart.notes.iter().filter(|n| n.starts_with("WARNING")).count(), 1, "{:?}", chart.notes);
        let explained: Vec<&String> = chart.notes.iter().filter(|n| n.starts_with("SUSPECT")).collect();
        assert_eq!(explained.len(), 1, "{:?}", chart.notes);
        assert!(explained[0].starts_with("SUSPECT (two): the pool speedup at p = 4 exceeds p beyond"), "{explained:?}");
    }

    #[test]
    fn an_older_results_json_says_what_it_did_not_record() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [1, 2], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let mut json = serde_json::to_value(crate::testing::report(experiment, 2, |_| 1.0)).unwrap();
        let machine = json["machine"].as_object_mut().unwrap();
        for field in ["kernel", "hostname", "rustc", "target", "target_cpu"] {
            machine.remove(field);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS);
        std::fs::write(&path, json.to_string()).unwrap();
        let report = read_saved(&path).unwrap();
        assert_eq!(report.machine.rustc, "not recorded");
        assert_eq!(report.machine.hostname, "not recorded");
        let caption = report.machine.caption();
        assert!(!caption.contains(", ,") && caption.contains("target-cpu not recorded"), "{caption}");
    }
}
