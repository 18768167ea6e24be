//! The pipeline for whole experiments: choose, measure, analyze, write.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::ProgressBar;

use crate::analysis::analyze;
use crate::config::{Experiment, Plan};
use crate::custom::Registry;
use crate::machine::Machine;
use crate::measure::{measure, run_count};
use crate::report::{write_report, ExperimentReport};

/// The experiments of `plan` named in `only`, in file order, or all of them
/// when `only` is empty. An unknown name is an error that lists the known ones.
pub fn select<'a>(plan: &'a Plan, only: &[String]) -> anyhow::Result<Vec<&'a Experiment>> {
    if let Some(unknown) = only.iter().find(|name| plan.experiment(name).is_none()) {
        let known: Vec<&str> = plan.experiments.iter().map(|e| e.name.as_str()).collect();
        anyhow::bail!("no experiment named {unknown:?} in this file; it defines: {}", known.join(", "));
    }
    Ok(plan.experiments.iter().filter(|e| only.is_empty() || only.iter().any(|name| name == e.name.as_str())).collect())
}

/// Total runs (warm-up and timed) of `experiments`, the length of a progress bar.
pub fn total_runs(experiments: &[&Experiment]) -> u64 {
    experiments.iter().map(|e| run_count(e)).sum()
}

/// Measures and analyzes one experiment, advancing `progress` by one per
/// run; `Named` workloads and backends come from `registry`.
pub fn run_experiment(
    experiment: &Experiment,
    registry: &Registry,
    machine: &Machine,
    progress: &ProgressBar,
) -> anyhow::Result<ExperimentReport> {
    let samples = measure(experiment, registry, &mut |cell| {
        progress.set_message(format!("{}: {cell}", experiment.name));
        progress.inc(1);
    })
    .with_context(|| format!("experiment {:?}", experiment.name.as_str()))?;
    let analysis = analyze(experiment, &samples, machine.logical_cores);
    Ok(ExperimentReport { machine: machine.clone(), experiment: experiment.clone(), samples, analysis })
}

/// Runs `experiments` one after the other, writing each report to
/// `out_dir/<name>/` as soon as it is measured. Returns the report directories.
pub fn run_all(
    experiments: &[&Experiment],
    registry: &Registry,
    machine: &Machine,
    out_dir: &Path,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for experiment in experiments {
        let report = run_experiment(experiment, registry, machine, progress)?;
        progress.set_message(format!("{}: drawing charts", experiment.name));
        let dir = out_dir.join(experiment.name.as_str());
        let written = write_report(&report, &dir)?;
        let names: Vec<String> =
            written.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
        // `suspend` rather than `println`: it also prints when the bar is
        // hidden (stderr is not a terminal).
        progress.suspend(|| {
            eprintln!("wrote {}/ ({})", dir.display(), names.join(", "));
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
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
