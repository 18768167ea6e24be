//! `summary.md`: the tables, fits, warnings and machine description of one
//! experiment, in Markdown a paper's author can paste.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{figures, format_seconds, ExperimentReport, Exporter, RunStatus};
use crate::analysis::{AboveWorkers, CellStats};
use crate::stats::precision::{
    column_time_unit, interval, interval_within, percent_interval, plus_minus, seconds_interval_in,
};

/// The file name in a report directory.
pub const FILE_NAME: &str = "summary.md";

/// `text` as Markdown text that reads as itself: a backslash before each
/// character that could start emphasis, a link, HTML, an entity or
/// strikethrough, or end a table cell (`|`), so a name given on the
/// command line cannot add table columns or restyle what follows it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '!' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Writes `summary.md`, linking the charts [`figures::figures`] gives the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary;

impl Exporter for Summary {
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let figures = figures::figures(report);
        // A PNG unless only another format was drawn (`report --format svg`).
        let names: Vec<String> = figures
            .iter()
            .map(|figure| {
                let png = figure.file_name();
                let others = ["svg", "pdf"].map(|extension| Path::new(png).with_extension(extension));
                match others.iter().find(|other| dir.join(other).is_file()) {
                    Some(other) if !dir.join(png).is_file() => other.to_string_lossy().into_owned(),
                    _ => png.to_owned(),
                }
            })
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, render(report, &names)).with_context(|| format!("writing {}", path.display()))?;
        Ok(vec![path])
    }
}

/// Renders the Markdown summary of `report`; `figures` are the PNG file
/// names written next to it.
pub fn render(report: &ExperimentReport, figures: &[&str]) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = write_report(&mut out, report, figures);
    out
}

fn write_report(out: &mut String, report: &ExperimentReport, figures: &[&str]) -> std::fmt::Result {
    let experiment = &report.experiment;
    let analysis = &report.analysis;
    let machine = &report.machine;
    writeln!(out, "# Experiment `{}`\n", experiment.name)?;
    if report.status == RunStatus::Interrupted {
        let measured = report.samples.len();
        let planned = crate::measure::cells(experiment).len() * experiment.repetitions.get() as usize;
        writeln!(
            out,
            "> **Interrupted:** {measured} of {planned} planned repetitions were measured before the run was \
             stopped. Every number below comes from those alone; `--resume` with the same report directory \
             measures the rest.\n"
        )?;
    }
    if let Some(description) = &experiment.description {
        writeln!(out, "{description}\n")?;
    }
    let workers: Vec<String> = experiment
        .workers
        .as_slice()
        .iter()
        .map(|w| if *w > machine.logical_cores { format!("{w}†") } else { w.to_string() })
        .collect();
    let chunks: Vec<String> = experiment.chunk_sizes.iter().map(ToString::to_string).collect();
    let backends: Vec<&str> = experiment.backends.as_slice().iter().map(|b| b.name()).collect();
    writeln!(out, "- **Workload:** {}", experiment.workload)?;
    writeln!(out, "- **Inputs:** {}", experiment.inputs)?;
    writeln!(out, "- **Workers:** {}", workers.join(", "))?;
    writeln!(out, "- **Chunk sizes** (pool, rayon): {}", chunks.join(", "))?;
    writeln!(out, "- **Backends:** {}", backends.join(", "))?;
    writeln!(
        out,
        "- **Repetitions:** {} timed after {} warm-up run(s), per cell; all samples kept",
        experiment.repetitions.get(),
        experiment.warmup
    )?;
    writeln!(out, "- **Pinning:** {}", experiment.pinning)?;
    writeln!(
        out,
        "- **Machine:** {}, {}, {}; {} build, git {}, measured {}",
        machine.cpu_model,
        machine.cores_text(),
        machine.os,
        machine.build_profile,
        machine.git_revision,
        machine.date_utc
    )?;
    if experiment.workers.as_slice().iter().any(|w| *w > machine.logical_cores) {
        writeln!(out, "\n† more workers than the machine's {} logical cores (oversubscribed).", machine.logical_cores)?;
    }

    writeln!(out, "\n## Wall time, speedup and overhead\n")?;
    writeln!(
        out,
        "Median wall time of the whole map with its 95% bootstrap confidence interval; speedup S = T1/Tp \
         against the sequential loop; efficiency S/p; overhead = (Tp − T1/p) per input; \
         Karp–Flatt e = (1/S − 1/p)/(1 − 1/p); S spread = interquartile range of the \
         per-repetition speedups T1(r)/Tp(r) over their median (how much the curve moves from run to run). \
         Every figure comes with its 95% interval (efficiency's and Karp–Flatt's carried over from the \
         speedup's) and is rounded to the digits that interval supports.\n"
    )?;
    if experiment.inputs.is_weak() {
        writeln!(
            out,
            "**Weak scaling:** p workers map p × {n} inputs; T1 is the sequential time for {n} inputs, so \
             \"speedup\" is the scaled speedup p·T1/Tp, efficiency is the weak-scaling efficiency T1/Tp (ideal 1), \
             and overhead and Karp–Flatt (fixed-problem measures) are not computed.\n",
            n = experiment.inputs.len()
        )?;
    }
    let cores = analysis.logical_cores;
    writeln!(
        out,
        "| backend | workers | chunk | median time [95% CI] | speedup [95% CI] | S spread | efficiency [95% CI] | overhead / task [95% CI] | Karp–Flatt e [95% CI] | outliers |"
    )?;
    writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    // One unit per column: each row in its own unit mixed ms and µs.
    let units = ColumnUnits {
        time: column_time_unit(analysis.cells.iter().map(|c| (c.seconds.median, c.seconds.ci_low, c.seconds.ci_high))),
        overhead: column_time_unit(
            analysis
                .cells
                .iter()
                .filter_map(|c| c.overhead_per_task_ns)
                .map(|o| (o.value * 1e-9, o.ci_low * 1e-9, o.ci_high * 1e-9)),
        ),
    };
    for stats in &analysis.cells {
        writeln!(out, "{}", cell_row(stats, units))?;
    }
    writeln!(
        out,
        "\n— Overhead and Karp–Flatt are defined only for 1 < p ≤ {cores} (the logical cores): at p = 1 \
         nothing is split, and beyond the cores the threads time-share, so the excess time measures \
         the core limit rather than scheduling overhead or serial work. Karp–Flatt is also left out where \
         S < 1 (slower than the sequential loop) or S > p (superlinear): a serial fraction outside [0, 1] \
         describes nothing. Karp–Flatt counts every cost that does not shrink with p, scheduling overhead \
         as much as serial work, so it reads as a serial fraction only where the work per input dwarfs the \
         overhead per input; at p = 2 it is just 2/S − 1, the speedup in other words."
    )?;
    if analysis.cells.iter().any(CellStats::karp_flatt_cut) {
        writeln!(
            out,
            "\nA Karp–Flatt interval ending at exactly 0 (or 1) was cut there: the speedup's interval reaches \
             above p (or below 1), and a serial fraction lies in [0, 1]. The digits are those the uncut interval \
             supports."
        )?;
    }
    if analysis.cells.iter().any(|c| !c.speedup_has_interval()) {
        writeln!(
            out,
            "\n{SINGLE} marks a time measured once, or a speedup whose T1 or Tp was: one sample has no spread, so \
             it and the figures derived from it are given without an interval, and such a speedup is never \
             marked suspect (one sample cannot tell S > p from noise)."
        )?;
    }
    if let Some(legend) =
        suspect_legend(analysis.cells.iter().filter_map(CellStats::speedup_above_workers), "see the warnings")
    {
        writeln!(out, "\n{legend}")?;
    }
    let capped: Vec<String> = experiment
        .workers
        .as_slice()
        .iter()
        .filter(|&&w| crate::analysis::granularity_binds(experiment, w))
        .map(|&w| format!("S ≤ {:.2} at p = {w}", crate::analysis::granularity_bound(analysis.tasks, w)))
        .collect();
    if !capped.is_empty() {
        writeln!(
            out,
            "\n**Granularity bound:** {n} equal inputs on p workers leave the busiest worker ⌈{n}/p⌉ of them, \
             so S ≤ {n}/⌈{n}/p⌉ whatever the scheduler does: {}. The speedup chart draws this bound (dashed); \
             efficiency below 100% there is the bound, not overhead.",
            capped.join(", "),
            n = analysis.tasks
        )?;
    }

    if !analysis.series.is_empty() {
        writeln!(out, "\n## Scaling-model fits\n")?;
        writeln!(
            out,
            "Least-squares fits to the median speedups (± asymptotic standard error), over the worker \
             counts p ≤ {} (configurable per experiment with `fit_max_workers`), and only with at least \
             {} points more than the model has parameters. \
             Amdahl (fixed problem): S(p) = 1/(s + (1 − s)/p). Gustafson (weak scaling, scaled speedup): \
             S(p) = p − s·(p − 1). USL: S(p) = p/(1 + a(p − 1) + b·p(p − 1)); its predicted peak at \
             p = √((1 − a)/b) carries the error propagated from a's and b's, and is undetermined where b's \
             error reaches 0 (or a's reaches 1): a curve within the errors then has no peak.\n",
            analysis.series[0].fit_max_workers,
            crate::analysis::SPARE_FIT_POINTS,
        )?;
        writeln!(out, "| series | model | parameters | R² | RMSE | predicted peak |")?;
        writeln!(out, "|---|---|---|--:|--:|---|")?;
        for series in &analysis.series {
            let label = series.label(experiment.chunk_sizes.len() > 1);
            for fit in &series.fits {
                let peak = fit.peak.map_or_else(|| "—".to_owned(), |peak| peak.to_string());
                writeln!(
                    out,
                    "| {label} | {} | {} | {} | {:.3} | {peak} |",
                    fit.model,
                    fit.parameters_text(),
                    optional(fit.r_squared, |r| format!("{r:.3}")),
                    fit.rmse,
                )?;
            }
            for reason in &series.not_fitted {
                writeln!(out, "| {label} | — | {reason} | | | |")?;
            }
        }
        let left_out: Vec<String> = analysis
            .series
            .iter()
            .filter(|series| !series.suspect_left_out.is_empty())
            .map(|series| format!("{}{}", series.label(experiment.chunk_sizes.len() > 1), series.left_out_note()))
            .collect();
        if !left_out.is_empty() {
            writeln!(
                out,
                "\nThe fits use only speedups that are results: suspect ones are no data for a model. Left out: {}.",
                left_out.join("; ")
            )?;
        }
    }

    let outliers: Vec<String> =
        analysis.outlier_cells().map(|c| format!("- {}: {}", c.cell, c.outliers.describe())).collect();
    if !outliers.is_empty() {
        writeln!(
            out,
            "\n## Outliers\n\nSamples outside Tukey's fences (mild: 1.5 IQR, severe: 3 IQR); \
             they are kept in every statistic, which the median largely discounts.\n"
        )?;
        writeln!(out, "{}", outliers.join("\n"))?;
    }

    writeln!(out, "\n## Warnings\n")?;
    if analysis.warnings.is_empty() {
        writeln!(out, "None.")?;
    }
    for warning in &analysis.warnings {
        writeln!(out, "- {warning}")?;
    }

    if !figures.is_empty() {
        writeln!(out, "\n## Charts")?;
        for figure in figures {
            let name = figure.rsplit_once('.').map_or(*figure, |(name, _)| name);
            writeln!(out, "\n![{name}]({figure})")?;
        }
    }
    write_reproducibility(out, report)?;
    writeln!(
        out,
        "\n## Files\n\n- `samples.csv`: every timed repetition (experiment, backend, workers, chunk, repetition, seconds)\n\
         - `results.json`: machine, configuration, samples and all statistics"
    )?;
    Ok(())
}

fn write_reproducibility(out: &mut String, report: &ExperimentReport) -> std::fmt::Result {
    let machine = &report.machine;
    let conditions = &report.conditions;
    let load =
        |load: Option<crate::machine::LoadAverage>| load.map_or_else(|| "not readable".to_owned(), |l| l.to_string());
    writeln!(out, "\n## Reproducibility\n")?;
    writeln!(out, "| | |\n|---|---|")?;
    let rows = [
        ("parsweep revision (at build)", machine.git_revision.clone()),
        ("build", format!("{} profile, {}", machine.build_profile, machine.rustc)),
        ("target", format!("{}, target-cpu {}", machine.target, machine.target_cpu)),
        ("CPU", machine.cpu_model.clone()),
        ("cores", machine.cores_text()),
        ("frequency scaling", machine.frequency_text()),
        ("OS", format!("{}, kernel {}", machine.os, machine.kernel)),
        ("host", machine.hostname.clone()),
        ("workers pinned", report.experiment.pinning.to_string()),
        ("load average (1, 5, 15 min) before", load(conditions.load_before)),
        ("load average (1, 5, 15 min) after", load(conditions.load_after)),
        (
            "other processes' CPU use during the run",
            conditions
                .foreign_cpu
                .map_or_else(|| "not readable".to_owned(), |s| format!("{:.1}% of all cores", s * 100.0)),
        ),
        ("experiment wall time", format_seconds(conditions.seconds)),
        ("started", machine.date_utc.clone()),
    ];
    for (name, value) in rows {
        writeln!(out, "| {name} | {value} |")?;
    }
    if let Some(revision) = &machine.code_revision {
        writeln!(out, "| measured code revision | {revision} |")?;
    }
    Ok(())
}

/// The time unit of each column of times in the cell table.
#[derive(Clone, Copy)]
struct ColumnUnits {
    time: (f64, &'static str),
    overhead: (f64, &'static str),
}

fn cell_row(stats: &CellStats, units: ColumnUnits) -> String {
    let cell = &stats.cell;
    let workers = if stats.oversubscribed { format!("{}†", cell.workers) } else { cell.workers.to_string() };
    let seconds = &stats.seconds;
    let time = if stats.time_has_interval() {
        seconds_interval_in(seconds.median, seconds.ci_low, seconds.ci_high, units.time)
    } else {
        format!("{} {SINGLE}", seconds_alone_in(seconds.median, units.time))
    };
    // One sample of T1 or Tp: the figures divided from them, alone.
    let ranged = stats.speedup_has_interval();
    if !cell.backend.is_parallel() {
        return format!(
            "| {} | 1 | — | {time} | 1 (baseline T1) | — | — | — | — | {} |",
            cell.backend,
            stats.outliers.total()
        );
    }
    let suspect = suspect_mark(stats.speedup_above_workers());
    format!(
        "| {} | {workers} | {} | {time} | {} | {} | {} | {} | {} | {} |",
        cell.backend,
        cell.chunk.map_or_else(|| "—".to_owned(), |c| c.to_string()),
        optional(stats.speedup, |s| match ranged {
            true => format!("{}{suspect}", interval(s.value, s.ci_low, s.ci_high)),
            false => format!("{} {SINGLE}", plus_minus(s.value, None)),
        }),
        optional(stats.speedup_spread, |s| format!("{:.1}%", s * 100.0)),
        optional(stats.efficiency_estimate(), |e| match ranged {
            true => percent_interval(e.value, e.ci_low, e.ci_high),
            false => format!("{}%", plus_minus(100.0 * e.value, None)),
        }),
        optional(stats.overhead_per_task_ns, |o| match ranged {
            true => seconds_interval_in(o.value * 1e-9, o.ci_low * 1e-9, o.ci_high * 1e-9, units.overhead),
            false => seconds_alone_in(o.value * 1e-9, units.overhead),
        }),
        optional(stats.karp_flatt_estimate(), |e| match ranged {
            true => interval_within(e.value, e.ci_low, e.ci_high, 0.0, 1.0),
            false => plus_minus(e.value, None),
        }),
        stats.outliers.total(),
    )
}

/// What a table puts after a figure measured once, in place of an interval.
const SINGLE: &str = "(n = 1)";

/// A time without an interval, in a column's unit, to three significant digits.
fn seconds_alone_in(seconds: f64, (scale, unit): (f64, &'static str)) -> String {
    format!("{} {unit}", plus_minus(seconds * scale, None))
}

/// What a table puts after a suspect speedup's figure: ` **S > p: suspect**`, or nothing.
pub fn suspect_mark(above: Option<AboveWorkers>) -> String {
    above.map_or_else(String::new, |above| format!(" **{}: suspect**", above.mark()))
}

/// The sentence under a table that explains the [`suspect_mark`]s among
/// `marks` and where to read why (`see`), or nothing when none is marked.
pub fn suspect_legend(marks: impl IntoIterator<Item = AboveWorkers>, see: &str) -> Option<String> {
    let mut marks: Vec<AboveWorkers> = marks.into_iter().collect();
    marks.sort();
    marks.dedup();
    if marks.is_empty() {
        return None;
    }
    let explained: Vec<&str> = marks.iter().map(|above| above.explanation()).collect();
    Some(format!(
        "{}. A CPU-bound map cannot do that; a disturbed baseline can. Those rows are not results: {see}.",
        explained.join("; ")
    ))
}

fn optional<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "—".to_owned(), format)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{experiment, report};

    // Sleeping work: S = 4 with 4 workers on 2 cores is a result for it,
    // where busy work would be marked suspect (above the cores).
    const TEXT: &str = "(experiments: [(name: \"scan\", description: Some(\"A scan.\"), \
                        workload: Sleep(duration_us: 10), \
                        inputs: Count(100), workers: [1, 2, 4], repetitions: 5, \
                        backends: [Sequential, Pool])])";

    /// The referee's overhead summary (Square, pool and rayon over chunk
    /// sizes) printed `0.60 [0.47, 1.13] ms` above `600 [200, 1000] µs` in
    /// one "median time" column: every row took the unit of its own size.
    #[test]
    fn every_column_of_times_has_one_unit() {
        let text = "(experiments: [(name: \"o\", workload: Square, inputs: Count(20000), workers: [1, 2], \
                    chunk_sizes: [Fixed(1), Fixed(16), Fixed(256), Auto], repetitions: 5, \
                    backends: [Sequential, Pool, Rayon])])";
        // Fine chunks cost 2 ms, coarse ones 0.6 ms: medians on both sides of 1 ms.
        let report = report(experiment(text), 2, |cell| match cell.chunk {
            Some(crate::config::ChunkSize::Fixed(1)) => 2e-3 / cell.workers as f64,
            _ if cell.backend.is_parallel() => 0.6e-3,
            _ => 1.1e-3,
        });
        let markdown = render(&report, &[]);
        let rows: Vec<Vec<&str>> = markdown
            .lines()
            .filter(|l| ["| sequential |", "| pool |", "| rayon |"].iter().any(|b| l.starts_with(b)))
            .map(|l| l.split(" | ").collect())
            .collect();
        assert_eq!(rows.len(), 1 + 2 * 4 * 2, "{markdown}");
        let unit = |cell: &str| cell.rsplit(' ').next().unwrap_or("").to_owned();
        for column in [3, 7] {
            let units: std::collections::BTreeSet<String> =
                rows.iter().map(|r| unit(r[column])).filter(|u| u != "—").collect();
            assert_eq!(units.len(), 1, "column {column}: {units:?}\n{markdown}");
        }
        let tex = crate::report::latex::summary_tex(&report);
        let units: std::collections::BTreeSet<&str> = tex
            .lines()
            .filter(|l| ["sequential &", "pool &", "rayon &"].iter().any(|b| l.starts_with(b)))
            .filter_map(|l| l.split(" & ").nth(3)?.rsplit("\\,").next())
            .collect();
        assert_eq!(units.len(), 1, "{units:?}\n{tex}");
    }
    #[test]
    fn the_summary_has_tables_fits_warnings_and_charts() {
        let mut report = report(experiment(TEXT), 2, |cell| 1.0 / cell.workers as f64);
        report.samples.clear(); // the summary is rendered from the analysis alone
        let markdown = render(&report, &["speedup.png"]);
        assert!(markdown.starts_with("# Experiment `scan`\n\nA scan.\n"), "{markdown}");
        for line in [
            "- **Workers:** 1, 2, 4†",
            "- **Machine:** Test CPU, 2 logical / 2 physical cores, SMT off, linux x86_64; release build, git abc1234, measured 2026-01-01T00:00:00Z",
            "- **Pinning:** none",
            "| build | release profile, rustc 1.80.0 |",
            "| frequency scaling | governor performance, boost unknown |",
            "| host | testhost |",
            "| load average (1, 5, 15 min) before | not readable |",
            // Every figure to the digits its interval supports: the overhead's ±20 µs leaves no decimal.
            // One unit per column: the sequential second reads in ms beside the others.
            "| sequential | 1 | — | 1002.0 [1000.0, 1004.0] ms | 1 (baseline T1) | — | — | — | — | 0 |",
            "| pool | 2 | auto | 501.0 [500.0, 502.0] ms | 2.000 [1.994, 2.006] | 0.0% | 100.00 [99.70, 100.30]% | 0 [-20, 20] µs | 0.0000 [0.0000, 0.0030] | 0 |",
            "| pool | 4† | auto | 250.5 [250.0, 251.0] ms | 4.000 [3.988, 4.012] | 0.0% | 100.00 [99.70, 100.30]% | — | — | 0 |",
            "| pool | — | Amdahl not fitted: speedups at 1 worker count 1 < p ≤ 2 (p = 2), 3 or more needed (1 parameter + 2; every model has S(1) = 1) | | | |",
            "- oversubscribed: 4 worker(s) exceed the machine's 2 logical cores; those threads share cores (hollow markers on charts)",
            "![speedup](speedup.png)",
        ] {
            assert!(markdown.lines().any(|l| l == line), "missing line {line:?} in:\n{markdown}");
        }
        assert!(!markdown.contains("## Outliers"), "no cell has outliers");
        assert!(!markdown.contains("Interrupted"));
        assert!(markdown.contains("at p = 2 it is just 2/S − 1"), "{markdown}");
        // The Karp–Flatt interval reached -0.0030, below any serial fraction.
        assert!(markdown.contains("A Karp–Flatt interval ending at exactly 0 (or 1) was cut there"), "{markdown}");
        assert!(!markdown.contains("suspect") && !markdown.contains("Granularity bound"), "{markdown}");

        report.status = RunStatus::Interrupted;
        let markdown = render(&report, &[]);
        assert!(markdown.contains("> **Interrupted:** 0 of 20 planned repetitions were measured"), "{markdown}");
    }

    #[test]
    fn a_speedup_above_p_is_suspect_and_the_granularity_bound_is_explained() {
        // 20 inputs on 8 workers: S ≤ 20/3. The pool at 1 worker runs 25 times faster than the
        // sequential loop: the baseline was disturbed, not the pool superlinear.
        let text = "(experiments: [(name: \"seed\", workload: Square, inputs: Count(20), workers: [1, 2, 8], \
                    repetitions: 5, backends: [Sequential, Pool])])";
        let report = report(experiment(text), 8, |cell| match (cell.backend.is_parallel(), cell.workers) {
            (false, _) => 1.0,
            (true, 1) => 0.04,
            // Perfect scheduling of whole tasks: the busiest worker runs ⌈20/p⌉ of them.
            (true, p) => (20.0 / p as f64).ceil() / 20.0,
        });
        let markdown = render(&report, &[]);
        let suspect: Vec<&str> =
            markdown.lines().filter(|l| l.starts_with("| ") && l.contains("**S > p: suspect**")).collect();
        assert_eq!(suspect.len(), 1, "{markdown}");
        assert!(suspect[0].starts_with("| pool | 1 | auto |") && suspect[0].contains("| 25.00 ["), "{markdown}");
        assert!(markdown.contains("- pool ×1 chunk auto: speedup 25.00 ["), "{markdown}");
        assert!(
            markdown.contains("suspect, not a result") && markdown.contains("\n**S > p: suspect** marks"),
            "{markdown}"
        );
        assert!(
            markdown.contains(
                "**Granularity bound:** 20 equal inputs on p workers leave the busiest worker ⌈20/p⌉ \
                               of them, so S ≤ 20/⌈20/p⌉ whatever the scheduler does: S ≤ 6.67 at p = 8."
            ),
            "{markdown}"
        );
    }

    /// `2.4 [1.9, 9.2]` at p = 2 went unmarked: only intervals wholly above p were.
    #[test]
    fn a_median_speedup_above_p_is_marked_in_words_of_its_own() {
        let mut report = report(experiment(TEXT), 8, |cell| 1.0 / cell.workers as f64);
        let cell = report.analysis.cells.iter_mut().find(|c| c.cell.backend.is_parallel() && c.cell.workers == 2);
        let cell = cell.unwrap();
        cell.speedup = Some(crate::stats::Estimate { value: 2.4, ci_low: 1.9, ci_high: 9.2 });
        let row_start = format!("| {} | 2 |", cell.cell.backend);
        let markdown = render(&report, &[]);
        let row = markdown.lines().find(|l| l.starts_with(&row_start)).unwrap();
        assert!(row.contains("| 2.4 [1.9, 9.2] **median S > p: suspect** |"), "{row}");
        assert!(markdown.contains("\n**median S > p: suspect** marks a median speedup above"), "{markdown}");
        assert!(!markdown.contains("**S > p: suspect**"), "{markdown}");
    }

    /// An interrupted run's single round printed `46.0 [46.0, 46.0] ms`,
    /// `1.04 [1.04, 1.04] **S > p: suspect**` and `104 [104, 104]%`: a
    /// zero-width "95% CI" and a verdict resting on it.
    #[test]
    fn a_cell_measured_once_has_no_interval_and_no_suspect_verdict() {
        let text = "(experiments: [(name: \"once\", workload: Square, inputs: Count(100), workers: [1, 2], \
                    repetitions: 5, backends: [Sequential, Pool])])";
        let mut report = report(experiment(text), 2, |cell| match (cell.backend.is_parallel(), cell.workers) {
            (false, _) => 47.84e-3,
            (true, 1) => 46.0e-3,
            (true, _) => 24.0e-3,
        });
        report.samples.retain(|sample| sample.repetition == 0);
        report.analysis = crate::analysis::analyze(&report.experiment, &report.samples, 2);
        let markdown = render(&report, &[]);
        let row = markdown.lines().find(|l| l.starts_with("| pool | 1 |")).unwrap();
        assert_eq!(row, "| pool | 1 | auto | 46.0 ms (n = 1) | 1.04 (n = 1) | — | 104% | — | — | 0 |", "{markdown}");
        let sequential = markdown.lines().find(|l| l.starts_with("| sequential |")).unwrap();
        assert!(sequential.contains("| 47.8 ms (n = 1) |"), "{sequential}");
        assert!(!markdown.contains(": suspect") && !markdown.contains("suspect, not a result"), "{markdown}");
        assert!(report.analysis.cells.iter().all(|c| c.speedup_above_workers().is_none()));
        assert!(markdown.contains("\n(n = 1) marks a time measured once"), "{markdown}");

        // Two rounds: intervals again, and no note.
        let report = report_of(text);
        let markdown = render(&report, &[]);
        assert!(!markdown.contains("(n = 1)"), "{markdown}");
    }

    fn report_of(text: &str) -> ExperimentReport {
        report(experiment(text), 2, |cell| 0.1 / cell.workers as f64)
    }

    #[test]
    fn outliers_are_listed_per_cell() {
        let mut report = report(experiment(TEXT), 8, |cell| 1.0 / cell.workers as f64);
        report.analysis.cells[1].outliers = crate::stats::classify_outliers(&[1.0, 1.0, 1.01, 1.0, 9.0]);
        let markdown = render(&report, &[]);
        assert!(markdown.contains("## Outliers"), "{markdown}");
        assert!(
            markdown.contains("- pool ×1 chunk auto: 1 of 5 samples (20.0%) is an outlier: 1 high severe"),
            "{markdown}"
        );
        assert!(!markdown.contains("## Charts"));
    }

    #[test]
    fn charts_drawn_only_as_svg_are_linked_as_svg() {
        let report = report(experiment(TEXT), 2, |cell| 1.0 / cell.workers as f64);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("speedup.svg"), "<svg/>").unwrap();
        Summary.export(&report, dir.path()).unwrap();
        let summary = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(summary.contains("![speedup](speedup.svg)"), "{summary}");
        assert!(summary.contains("![efficiency](efficiency.png)"), "none drawn yet: the run draws PNGs next");
    }
}
