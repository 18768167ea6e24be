//! `bench-harness compare A B`: two saved runs of the same experiments
//! (two revisions, two machines, pinned against not), cell by cell.
//!
//! For every cell measured in both, the ratio of median wall times B/A
//! with a 95 % bootstrap interval and the Mann–Whitney U test of the two
//! sets of samples ([`crate::stats::compare`]); a chart overlaying both
//! speedup curves; a Markdown table. Cells measured in only one run, and
//! experiments whose workload or inputs differ, are refused by name rather
//! than compared; differing machine records are warned about.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sweep::exit::Usage;

use crate::analysis::{time_summary, AboveWorkers, BOOTSTRAP_RESAMPLES};
use crate::machine::Machine;
use crate::measure::Cell;
use crate::redraw::{different_problems, load, overlay_series};
use crate::report::charts::{self, Canvas, Format, SpeedupChart};
use crate::report::figures::{busy_notes, suspect_notes};
use crate::report::markdown::{escape, suspect_legend, suspect_mark};
use crate::report::ExperimentReport;
use crate::stats::compare::{compare, Comparison, PValueMethod};
use crate::stats::precision::{interval, seconds_interval};
use crate::stats::Estimate;

/// Significance level of the verdicts.
pub const ALPHA: f64 = 0.05;

/// The smallest relative difference of medians worth a verdict: a
/// significant difference below it is reported as "same". With many
/// repetitions, 0.2 % between two runs of one build is significant and
/// means nothing (frequency, layout, the other processes).
///
/// Written and parsed as a percentage (`2%`) or a fraction (`0.02`).
///
/// # Examples
///
/// ```
/// use bench_harness::comparison::Threshold;
/// let threshold: Threshold = "2.5%".parse().unwrap();
/// assert_eq!(threshold.fraction(), 0.025);
/// assert_eq!(threshold.to_string(), "2.5%");
/// assert_eq!("0.02".parse::<Threshold>().unwrap(), Threshold::default());
/// assert!("-1%".parse::<Threshold>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold(f64);

impl Threshold {
    /// The threshold as a fraction of the baseline's median (0.02 for 2 %).
    pub fn fraction(self) -> f64 {
        self.0
    }

    /// Whether the ratio of medians `ratio` differs from 1 by less than the threshold.
    pub fn contains(self, ratio: f64) -> bool {
        (ratio - 1.0).abs() < self.0
    }
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold(0.02)
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Through f32's shortest representation: 2.5, not 2.5000000000000004.
        write!(f, "{}%", (self.0 * 100.0) as f32)
    }
}

impl std::str::FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (number, scale) = match trimmed.strip_suffix('%') {
            Some(percent) => (percent.trim(), 0.01),
            None => (trimmed, 1.0),
        };
        let value = number
            .parse::<f64>()
            .map_err(|_| format!("threshold {text:?} is not a number or a percentage such as 2%"))?
            * scale;
        if !(0.0..1.0).contains(&value) {
            return Err(format!("threshold {text:?} must be at least 0% and below 100%"));
        }
        Ok(Threshold(value))
    }
}

/// One cell measured in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CellComparison {
    /// The cell.
    pub cell: Cell,
    /// Median wall time in A, seconds, with the 95 % bootstrap interval
    /// A's summary prints for it.
    pub median_a: Estimate,
    /// Median wall time in B, seconds, with B's interval.
    pub median_b: Estimate,
    /// The statistics, B against A.
    pub comparison: Comparison,
    /// The Mann–Whitney p-value adjusted by Holm's method over all cells of
    /// the experiment: with dozens of cells, some raw p-values fall below
    /// 0.05 by chance alone; this one keeps that chance at 5 % for the whole
    /// table.
    pub p_holm: f64,
    /// Differences of medians below this are "same", significant or not.
    pub threshold: Threshold,
    /// Whether the cell's speedup is suspect in A, and in B, as each run's
    /// own summary marks it.
    pub suspect: (Option<AboveWorkers>, Option<AboveWorkers>),
}

impl CellComparison {
    /// `faster`, `slower`, `same` (a significant difference below the
    /// [`Threshold`]) or `no significant difference`, for B against A.
    pub fn verdict(&self) -> &'static str {
        if !(self.p_holm < ALPHA && self.comparison.is_significant(ALPHA)) {
            "no significant difference"
        } else if self.threshold.contains(self.comparison.ratio.value) {
            "same"
        } else if self.comparison.ratio.value < 1.0 {
            "faster"
        } else {
            "slower"
        }
    }
}

/// One experiment found in both runs.
#[derive(Debug, Clone)]
pub struct ExperimentComparison {
    /// Its name.
    pub name: String,
    /// The cells measured in both.
    pub cells: Vec<CellComparison>,
    /// Cells left out, and why.
    pub refused: Vec<String>,
    /// Differences between the two machine records.
    pub machine_differences: Vec<String>,
    /// The project revisions that measured A and B.
    pub revisions: (String, String),
    /// Warnings about how A, and B, were measured: interrupted, or on a busy machine.
    pub busy: (Vec<String>, Vec<String>),
    /// The practical threshold of the verdicts.
    pub threshold: Threshold,
}

/// Holm's step-down adjustment of `p_values` (as R's `p.adjust(p, "holm")`),
/// in the given order.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![1.0; m];
    let mut running: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[index]).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

pub use crate::machine::machine_differences;

/// Compares the runs of one experiment, B against A; differences of
/// medians below `threshold` are called "same".
pub fn compare_reports(a: &ExperimentReport, b: &ExperimentReport, threshold: Threshold) -> ExperimentComparison {
    let name = a.experiment.name.to_string();
    let machine_differences = machine_differences(&a.machine, &b.machine);
    // The measured code's revision when a bench gave it, else the harness's.
    let revision = |m: &Machine| m.code_revision.clone().unwrap_or_else(|| format!("parsweep {}", m.git_revision));
    let revisions = (revision(&a.machine), revision(&b.machine));
    let busy = |r: &ExperimentReport| {
        let mut warnings = r.conditions.warnings(r.machine.logical_cores);
        if r.status == crate::report::RunStatus::Interrupted {
            warnings.insert(0, "the run was interrupted: partial data (finish it with --resume)".to_owned());
        }
        warnings
    };
    let busy = (busy(a), busy(b));
    let mut refused = Vec::new();
    let mut cells = Vec::new();
    if let Some(why) = different_problems(&a.experiment, &b.experiment) {
        refused.push(format!("every cell: {why}"));
        return ExperimentComparison { name, cells, refused, machine_differences, revisions, busy, threshold };
    }
    let samples = |report: &ExperimentReport| {
        let mut by_cell: BTreeMap<Cell, Vec<f64>> = BTreeMap::new();
        for sample in &report.samples {
            by_cell.entry(sample.cell).or_default().push(sample.seconds);
        }
        by_cell
    };
    let (in_a, in_b) = (samples(a), samples(b));
    // As the run's own summary table prints it, interval and all.
    let median = |report: &ExperimentReport, cell: &Cell, times: &[f64]| {
        time_summary(&report.experiment, cell, times).map_or_else(
            || {
                let value = crate::stats::median(times).unwrap_or(f64::NAN);
                Estimate { value, ci_low: value, ci_high: value }
            },
            |s| Estimate { value: s.median, ci_low: s.ci_low, ci_high: s.ci_high },
        )
    };
    let suspect = |report: &ExperimentReport, cell: &Cell| {
        report.analysis.cell(cell).and_then(crate::analysis::CellStats::speedup_above_workers)
    };
    for (index, (cell, times_a)) in in_a.iter().enumerate() {
        let Some(times_b) = in_b.get(cell) else {
            refused.push(format!("{cell}: measured in A only"));
            continue;
        };
        match compare(times_a, times_b, BOOTSTRAP_RESAMPLES, index as u64 + 1) {
            Some(comparison) => cells.push(CellComparison {
                cell: *cell,
                median_a: median(a, cell, times_a),
                median_b: median(b, cell, times_b),
                comparison,
                p_holm: f64::NAN,
                threshold,
                suspect: (suspect(a, cell), suspect(b, cell)),
            }),
            None => refused.push(format!("{cell}: no usable samples in one of the runs")),
        }
    }
    refused
        .extend(in_b.keys().filter(|cell| !in_a.contains_key(cell)).map(|cell| format!("{cell}: measured in B only")));
    // Cells in measurement order, as the reports list them.
    let order = |cell: &Cell| crate::measure::cells(&a.experiment).iter().position(|c| c == cell);
    cells.sort_by_key(|c| order(&c.cell));
    let adjusted = holm(&cells.iter().map(|c| c.comparison.test.p_value).collect::<Vec<_>>());
    for (cell, p_holm) in cells.iter_mut().zip(adjusted) {
        cell.p_holm = p_holm;
    }
    ExperimentComparison { name, cells, refused, machine_differences, revisions, busy, threshold }
}

/// The Markdown table of one experiment's comparison.
pub fn markdown(comparison: &ExperimentComparison, names: (&str, &str)) -> String {
    let (a, b) = (escape(names.0), escape(names.1));
    let mut out = format!("## Experiment `{}`\n\n", comparison.name);
    let (revision_a, revision_b) = &comparison.revisions;
    let _ = writeln!(out, "Revisions measured: {revision_a} ({a}) and {revision_b} ({b}).\n");
    if !comparison.machine_differences.is_empty() {
        let _ = writeln!(
            out,
            "**Warning: the machine records differ** ({a} → {b}): {}. Differences below may come from the \
             machine rather than the code.\n",
            comparison.machine_differences.join("; ")
        );
    }
    for (run, warnings) in [(&a, &comparison.busy.0), (&b, &comparison.busy.1)] {
        if !warnings.is_empty() {
            let _ = writeln!(
                out,
                "**Warning about {run}**: {}. Differences below may come from how it was measured rather than \
                 from the code.\n",
                warnings.join("; ")
            );
        }
    }
    if !comparison.cells.is_empty() {
        let _ = writeln!(
            out,
            "Ratio = median({b}) / median({a}) with its 95% bootstrap interval (below 1: {b} is faster); \
             p: two-sided Mann–Whitney U (exact permutation p for small samples, else normal approximation \
             with tie correction); p (Holm): adjusted for testing {} cells at once. A difference is called only \
             when the adjusted p < {ALPHA} and the interval excludes 1, and \"same\" when it is significant but \
             the medians differ by less than the threshold of {threshold} (`--threshold`).\n",
            comparison.cells.len(),
            threshold = comparison.threshold,
        );
        let _ = writeln!(
            out,
            "| cell | median {a} [95% CI] | median {b} [95% CI] | ratio {b}/{a} [95% CI] | p | p (Holm) | verdict (threshold ±{}) |",
            comparison.threshold
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|---|");
        for cell in &comparison.cells {
            let c = &cell.comparison;
            let exact = if c.test.method == PValueMethod::Exact { " (exact)" } else { "" };
            let _ = writeln!(
                out,
                "| {} | {}{} | {}{} | {} | {}{exact} | {} | {} |",
                cell.cell,
                seconds_interval(cell.median_a.value, cell.median_a.ci_low, cell.median_a.ci_high),
                suspect_mark(cell.suspect.0),
                seconds_interval(cell.median_b.value, cell.median_b.ci_low, cell.median_b.ci_high),
                suspect_mark(cell.suspect.1),
                interval(c.ratio.value, c.ratio.ci_low, c.ratio.ci_high),
                p_value(c.test.p_value),
                p_value(cell.p_holm),
                cell.verdict()
            );
        }
        let marks = comparison.cells.iter().flat_map(|cell| [cell.suspect.0, cell.suspect.1]).flatten();
        if let Some(legend) = suspect_legend(marks, "see the warnings in the marked run's summary.md") {
            let _ = writeln!(out, "\n{legend}");
        }
    }
    if comparison.cells.is_empty() && comparison.refused.is_empty() {
        let _ = writeln!(out, "Not compared: neither run has a sample of any cell (interrupted before measuring).");
    }
    if !comparison.refused.is_empty() {
        let _ = writeln!(out, "\nNot compared:\n");
        for reason in &comparison.refused {
            let _ = writeln!(out, "- {reason}");
        }
    }
    out
}

/// A p-value to three significant digits, or `< 1e-6`.
fn p_value(p: f64) -> String {
    if p < 1e-6 {
        "< 1e-6".to_owned()
    } else if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// Compares the runs in `a` and `b` (report directories or directories of
/// them), writes `comparison.md` and one overlay chart per experiment into
/// `out`, and returns the Markdown.
pub fn compare_dirs(
    a: &Path,
    b: &Path,
    names: (&str, &str),
    out: &Path,
    formats: &[Format],
    threshold: Threshold,
) -> anyhow::Result<(String, Vec<PathBuf>)> {
    crate::run::check_output_dir(out, "the comparison")?;
    let runs_a = load(&[a.to_owned()])?;
    let runs_b = load(&[b.to_owned()])?;
    // Experiments are matched by name, and each gets one section and one
    // chart named after it: a side with two runs of one experiment would
    // have one compared twice over the other's chart, and one never.
    for (side, runs) in [(a, &runs_a), (b, &runs_b)] {
        for (i, run) in runs.iter().enumerate() {
            let name = run.report.experiment.name.as_str();
            if let Some(earlier) = runs[..i].iter().find(|r| r.report.experiment.name.as_str() == name) {
                return Err(Usage(format!(
                    "{} holds two runs of experiment {name:?} ({} and {}): compare directories with one run of \
                     each experiment",
                    side.display(),
                    earlier.dir.display(),
                    run.dir.display()
                ))
                .into());
            }
        }
    }
    // The names as comparison.md spells them; the charts take them as given.
    let md_names = (escape(names.0), escape(names.1));
    let mut text =
        format!("# Comparison: {} ({}) against {} ({})\n\n", md_names.1, b.display(), md_names.0, a.display());
    let mut written = Vec::new();
    // Two report directories given as such are compared whatever their
    // experiments are called (say `spin` and `spin-pinned` of one run);
    // within whole runs, experiments are matched by name.
    let one_each = |dir: &Path, runs: &[crate::redraw::Saved]| {
        runs.len() == 1 && dir.join(crate::report::json::FILE_NAME).is_file()
    };
    let paired = one_each(a, &runs_a) && one_each(b, &runs_b);
    let pairs: Vec<(&crate::redraw::Saved, Option<&crate::redraw::Saved>)> = runs_a
        .iter()
        .map(|run_a| {
            let name = run_a.report.experiment.name.as_str();
            let same_name = runs_b.iter().find(|r| r.report.experiment.name.as_str() == name);
            (run_a, same_name.or(runs_b.first().filter(|_| paired)))
        })
        .collect();
    // A run against itself (one directory given twice, or a copy of it)
    // differs nowhere, p = 1 in every cell: a table that reads as a result.
    for (run_a, run_b) in &pairs {
        let ours = &run_a.report;
        if let Some(run_b) = run_b.filter(|b| crate::redraw::same_run(ours, &b.report)) {
            return Err(Usage(format!(
                "{} and {} hold the same run of experiment {:?} ({}, {}): compare two different runs",
                run_a.dir.display(),
                run_b.dir.display(),
                run_a.report.experiment.name.as_str(),
                run_a.report.machine.hostname,
                run_a.report.machine.date_utc
            ))
            .into());
        }
    }
    let comparisons: Vec<Option<ExperimentComparison>> = pairs
        .iter()
        .map(|(run_a, run_b)| run_b.map(|run_b| compare_reports(&run_a.report, &run_b.report, threshold)))
        .collect();
    anyhow::ensure!(
        comparisons.iter().any(Option::is_some),
        "{} and {} have no experiment in common: nothing to compare",
        a.display(),
        b.display()
    );
    // A comparison.md of refusals only would read as a result: say why here instead.
    if comparisons.iter().flatten().all(|comparison| comparison.cells.is_empty()) {
        let reasons: Vec<String> = comparisons
            .iter()
            .flatten()
            .map(|comparison| {
                let why = match comparison.refused.as_slice() {
                    [] => "neither run has a sample of any cell".to_owned(),
                    [only] => only.clone(),
                    [first, more @ ..] => {
                        format!("{first}; and {} more refused", sweep::output::counted(more.len(), "cell"))
                    }
                };
                format!("experiment {:?}: {why}", comparison.name)
            })
            .collect();
        anyhow::bail!(
            "{} and {} have no cell both measured comparably: nothing to compare ({})",
            a.display(),
            b.display(),
            reasons.join("; ")
        );
    }
    let to_write: Vec<String> = std::iter::once("comparison.md".to_owned())
        .chain(runs_a.iter().flat_map(|run| {
            let name = run.report.experiment.name.as_str();
            formats.iter().map(move |format| format!("{name}-speedup.{}", format.extension()))
        }))
        .collect();
    crate::report::written::check(out, &to_write, "the comparison")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for ((run_a, run_b), comparison) in pairs.iter().zip(&comparisons) {
        let name = run_a.report.experiment.name.as_str();
        let (Some(run_b), Some(comparison)) = (run_b, comparison) else {
            let _ = writeln!(text, "## Experiment `{name}`\n\nNot compared: it is in {} only.\n", md_names.0);
            continue;
        };
        let mut section = markdown(comparison, names);
        if run_b.report.experiment.name != run_a.report.experiment.name {
            let heading_end = section.find("\n\n").map_or(section.len(), |end| end + 2);
            let other = format!("Against {}'s experiment `{}`.\n\n", md_names.1, run_b.report.experiment.name);
            section.insert_str(heading_end, &other);
        }
        text.push_str(&section);
        text.push('\n');
        if !comparison.cells.is_empty() && run_a.report.experiment.workers.as_slice().len() >= 2 {
            let chart = overlay_chart(&run_a.report, &run_b.report, names);
            for format in formats {
                let path = out.join(format!("{name}-speedup")).with_extension(format.extension());
                charts::draw_speedup(&path, &chart, &Canvas::default())
                    .with_context(|| format!("drawing {}", path.display()))?;
                written.push(path);
            }
            // Link a format Markdown viewers show, among those written.
            if let Some(format) = formats.iter().find(|f| **f != Format::Pdf).or(formats.first()) {
                let file = format!("{name}-speedup.{}", format.extension());
                let _ = writeln!(text, "![speedup, {} against {}]({file})\n", md_names.1, md_names.0);
            }
        }
    }
    for run_b in runs_b
        .iter()
        .filter(|_| !paired)
        .filter(|r| !runs_a.iter().any(|a| a.report.experiment.name == r.report.experiment.name))
    {
        let _ = writeln!(
            text,
            "## Experiment `{}`\n\nNot compared: it is in {} only.\n",
            run_b.report.experiment.name, md_names.1
        );
    }
    let markdown_path = out.join("comparison.md");
    std::fs::write(&markdown_path, &text).with_context(|| format!("writing {}", markdown_path.display()))?;
    written.push(markdown_path);
    crate::report::written::record(out, &written)?;
    Ok((text, written))
}

/// The speedup chart of experiment `a` overlaid with `b`, the runs named
/// `names`: each run's suspect speedups marked in its series' legend and
/// explained in the small print, with its busy-machine warnings, as on its
/// own charts.
fn overlay_chart(a: &ExperimentReport, b: &ExperimentReport, names: (&str, &str)) -> SpeedupChart {
    let name = a.experiment.name.as_str();
    let labels = [names.0.to_owned(), names.1.to_owned()];
    SpeedupChart {
        title: format!("Speedup, {} against {} — {name}", names.1, names.0),
        caption: format!(
            "{name} — {}, {}; marker shape: run, colour: backend.",
            a.experiment.workload, a.experiment.inputs
        ),
        notes: busy_notes(a, Some(names.0))
            .into_iter()
            .chain(busy_notes(b, Some(names.1)))
            .chain(suspect_notes(a, Some(names.0)))
            .chain(suspect_notes(b, Some(names.1)))
            .chain([format!("{}: {}", names.0, a.machine.caption()), format!("{}: {}", names.1, b.machine.caption())])
            .collect(),
        series: overlay_series(&[a, b], &labels),
        fits: Vec::new(),
        max_cores: (a.machine.logical_cores == b.machine.logical_cores).then_some(a.machine.logical_cores),
        weak: a.experiment.inputs.is_weak(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_r_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005]);
        for (got, want) in adjusted.iter().zip([0.03, 0.06, 0.06, 0.02]) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]), [1.0, 1.0], "capped at 1, never below a smaller p's");
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn a_significant_difference_below_the_threshold_is_the_same() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [1, 2], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let a = crate::testing::report(experiment, 8, |_| 1.0);
        let scaled = |factor: f64| {
            let mut b = a.clone();
            // Five repetitions spread over 0.4 %: a factor beyond that separates them fully.
            b.samples.iter_mut().for_each(|s| s.seconds *= factor);
            b
        };
        for (factor, verdict) in [(1.015, "same"), (0.985, "same"), (1.05, "slower"), (0.9, "faster")] {
            let comparison = compare_reports(&a, &scaled(factor), Threshold::default());
            for cell in &comparison.cells {
                assert!(cell.comparison.is_significant(ALPHA) && cell.p_holm < ALPHA, "{factor}: {cell:?}");
                assert_eq!(cell.verdict(), verdict, "{factor}: {}", cell.cell);
            }
        }
        // A threshold of 0 calls every significant difference.
        let strict = compare_reports(&a, &scaled(1.015), "0%".parse().unwrap());
        assert!(strict.cells.iter().all(|c| c.verdict() == "slower"));
        let text = markdown(&compare_reports(&a, &scaled(1.015), Threshold::default()), ("A", "B"));
        assert!(text.contains("| verdict (threshold ±2%) |"), "{text}");
        assert!(text.contains("the threshold of 2% (`--threshold`)"), "{text}");
        assert!(text.lines().filter(|l| l.ends_with("| same |")).count() == 3, "{text}");
        assert!("200%".parse::<Threshold>().is_err() && "fast".parse::<Threshold>().is_err());
    }

    /// `compare` printed medians with `format_seconds` (`76.3 ms`) where the
    /// run's summary prints `76 [69, 113] ms`: digits the interval does not
    /// support, and no interval.
    #[test]
    fn medians_are_printed_with_the_interval_of_each_runs_summary() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [1, 2], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        // Five repetitions spread over ±40 %: an interval of tens of ms around 76 ms.
        let spread = [1.0, 0.9, 1.48, 0.95, 1.2];
        let mut a = crate::testing::report(experiment, 8, |_| 0.0763);
        a.samples.iter_mut().for_each(|s| s.seconds *= spread[s.repetition as usize]);
        a.analysis = crate::analysis::analyze(&a.experiment, &a.samples, 8);
        let mut b = a.clone();
        b.samples.iter_mut().for_each(|s| s.seconds *= 0.5);
        b.analysis = crate::analysis::analyze(&b.experiment, &b.samples, 8);
        let text = markdown(&compare_reports(&a, &b, Threshold::default()), ("A", "B"));
        assert!(text.contains("| median A [95% CI] | median B [95% CI] |"), "{text}");
        let summary_time = |report: &ExperimentReport, index: usize| {
            let s = &report.analysis.cells[index].seconds;
            seconds_interval(s.median, s.ci_low, s.ci_high)
        };
        for (index, cell) in crate::measure::cells(&a.experiment).iter().enumerate() {
            let (time_a, time_b) = (summary_time(&a, index), summary_time(&b, index));
            assert!(time_a.contains(" [") && time_a.ends_with(" ms"), "{time_a}");
            let row = format!("| {cell} | {time_a} | {time_b} |");
            assert!(text.lines().any(|l| l.starts_with(&row)), "no row {row:?} in:\n{text}");
        }
        assert!(!text.contains("76.3 ms"), "{text}");
    }

    #[test]
    fn a_chance_p_value_among_many_cells_is_not_a_verdict_and_load_is_warned() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(10), workers: [1, 2, 3, 4, 5, 6, 7, 8], \
             repetitions: 5, backends: [Sequential, Pool, StdScope])])",
        );
        let a = crate::testing::report(experiment, 8, |_| 1.0);
        let mut b = a.clone();
        // One cell of seventeen "differs" with p = 0.008 (5 against 5, fully separated) and a ratio
        // interval excluding 1: uncorrected, that is a verdict; Holm's 0.13 is not.
        let shifted = b.samples.iter_mut().filter(|s| s.cell.workers == 5 && s.cell.backend.name() == "pool");
        shifted.for_each(|s| s.seconds *= 1.01);
        b.conditions.load_before = Some(crate::machine::LoadAverage { one: 6.0, five: 6.0, fifteen: 6.0 });
        let comparison = compare_reports(&a, &b, Threshold::default());
        assert_eq!(comparison.cells.len(), 17);
        let cell = comparison.cells.iter().find(|c| c.cell.workers == 5 && c.cell.backend.name() == "pool").unwrap();
        assert!(
            cell.comparison.is_significant(ALPHA) && cell.p_holm > ALPHA,
            "{} {}",
            cell.comparison.test.p_value,
            cell.p_holm
        );
        assert!(comparison.cells.iter().all(|c| c.verdict() == "no significant difference"));
        let text = markdown(&comparison, ("A", "B"));
        assert!(text.contains("**Warning about B**: busy machine: load average 6.00"), "{text}");
        assert!(!text.contains("Warning about A"), "{text}");
        let nothing = ExperimentReport { samples: Vec::new(), ..a.clone() };
        let text = markdown(&compare_reports(&nothing, &nothing, Threshold::default()), ("A", "B"));
        assert!(text.contains("Not compared: neither run has a sample"), "{text}");
        b.status = crate::report::RunStatus::Interrupted;
        let text = markdown(&compare_reports(&b, &a, Threshold::default()), ("A", "B"));
        assert!(text.contains("**Warning about A**: the run was interrupted: partial data"), "{text}");
    }

    /// comparison.md printed a suspect cell's row like any other: a reader
    /// saw a verdict on a time whose run's own summary calls it no result.
    #[test]
    fn the_table_marks_each_run_s_suspect_speedups_as_its_summary_does() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(100), workers: [1, 2, 4], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let clean = crate::testing::report(experiment.clone(), 8, |cell| 1.0 / cell.workers as f64);
        // S = 1.05·p at p = 4 only: wholly above p.
        let suspect = crate::testing::report(experiment, 8, |cell| match cell.workers {
            4 => 1.0 / 4.2,
            workers => 1.0 / workers as f64,
        });
        let summary = crate::report::markdown::render(&suspect, &[]);
        assert!(summary.contains(" **S > p: suspect** |"), "{summary}");
        let text = markdown(&compare_reports(&clean, &suspect, Threshold::default()), ("A", "B"));
        let marked: Vec<&str> = text.lines().filter(|l| l.starts_with("| ") && l.contains("suspect")).collect();
        assert_eq!(marked.len(), 1, "{text}");
        let columns: Vec<&str> = marked[0].split(" | ").collect();
        assert!(marked[0].starts_with("| pool ×4 "), "{text}");
        assert!(!columns[1].contains("suspect") && columns[2].ends_with(" **S > p: suspect**"), "{text}");
        assert!(
            text.contains("\n**S > p: suspect** marks a speedup above its worker count even at its interval's low end"),
            "{text}"
        );
        let unmarked = markdown(&compare_reports(&clean, &clean, Threshold::default()), ("A", "B"));
        assert!(!unmarked.contains("suspect"), "{unmarked}");
    }

    /// The overlay chart dropped the suspect marks and busy-machine
    /// warnings each run's own chart carries.
    #[test]
    fn the_overlay_chart_keeps_each_run_s_suspect_marks_and_warnings() {
        let experiment = crate::testing::experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(100), workers: [1, 2, 4], \
             repetitions: 5, backends: [Sequential, Pool])])",
        );
        let clean = crate::testing::report(experiment.clone(), 8, |cell| 1.0 / cell.workers as f64);
        // S = 1.05·p: above p everywhere, and measured on a busy machine.
        let mut suspect = crate::testing::report(experiment, 8, |cell| {
            if cell.workers == 1 && !cell.backend.is_parallel() {
                1.0
            } else {
                1.0 / (1.05 * cell.workers as f64)
            }
        });
        suspect.conditions.foreign_cpu = Some(0.98);
        let chart = overlay_chart(&clean, &suspect, ("A", "B"));
        let labels: Vec<&str> = chart.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["pool — A", "pool — B — SUSPECT: S > p at p = 1, 2, 4"]);
        assert!(chart.notes[0].starts_with("WARNING (B): "), "{:?}", chart.notes);
        assert!(!chart.notes.iter().any(|n| n.starts_with("WARNING (A)")), "{:?}", chart.notes);
        // The small print says what the marks mean, as B's own chart does.
        let own = crate::report::figures::suspect_notes(&suspect, None);
        assert_eq!(own.len(), 1, "{own:?}");
        let explained = own[0].replacen("SUSPECT: ", "SUSPECT (B): ", 1);
        assert!(explained.starts_with("SUSPECT (B): the pool speedup at p = 1, 2, 4 exceeds p beyond"), "{explained}");
        assert!(chart.notes.contains(&explained), "{:?}", chart.notes);
        assert!(!chart.notes.iter().any(|n| n.starts_with("SUSPECT (A)")), "{:?}", chart.notes);
    }
}
