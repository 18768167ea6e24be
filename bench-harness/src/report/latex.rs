//! `summary.tex` and the pgfplots data of every figure, for papers.
//!
//! `summary.tex` holds a booktabs table of the cells (median time with its
//! interval, speedup with its interval, efficiency) and `\newcommand`
//! macros for the headline numbers, so a paper's text quotes them without
//! copying: `\input{summary.tex}` then `\bhSpinSpeedupPoolBestSpeedup`.
//! Each figure's data is a `<figure>.dat` table (whitespace separated, a
//! header row, `nan` for a missing point) that `\addplot table[x=workers,
//! y=pool, y error minus=pool_minus, y error plus=pool_plus]` reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::charts::MeasuredSeries;
use super::figures::{figures, Figure};
use super::{ExperimentReport, Exporter};
use crate::analysis::{representative_chunk, AboveWorkers, CellStats};
use crate::config::BackendKind;
use crate::stats::precision::{
    interval, percent_interval, plus_minus_rounded, rounded, seconds_interval, seconds_rounded,
};
use crate::stats::Parameter;

/// The file name of the LaTeX summary.
pub const FILE_NAME: &str = "summary.tex";

/// The extension of each figure's pgfplots table, beside its chart.
pub const DATA_EXTENSION: &str = "dat";

/// Writes `summary.tex` and one `.dat` per figure.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latex;

impl Exporter for Latex {
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        let tex = dir.join(FILE_NAME);
        std::fs::write(&tex, summary_tex(report)).with_context(|| format!("writing {}", tex.display()))?;
        written.push(tex);
        for figure in figures(report) {
            let path = dir.join(figure.file_name()).with_extension(DATA_EXTENSION);
            std::fs::write(&path, figure_dat(&figure)).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Escapes the characters LaTeX treats specially in text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            'µ' => out.push_str("$\\mu$"),
            '×' => out.push_str("$\\times$"),
            '†' => out.push_str("\\textdagger{}"),
            _ => out.push(c),
        }
    }
    out
}

/// A macro-name part from `text`: letters kept (first of each word
/// capitalised), digits spelled out, everything else dropped: LaTeX macro
/// names are letters only. `"spin-speedup"` → `SpinSpeedup`, `"p2"` → `PTwo`.
pub fn macro_part(text: &str) -> String {
    const DIGITS: [&str; 10] = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"];
    let mut out = String::new();
    let mut capital = true;
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            out.push(if capital { c.to_ascii_uppercase() } else { c });
            capital = false;
        } else if let Some(digit) = c.to_digit(10) {
            out.push_str(DIGITS[digit as usize]);
            capital = true;
        } else {
            capital = true;
        }
    }
    out
}

/// A worker count as a macro-name part: `Pone`, `Ptwo`, …, then digits.
fn workers_part(workers: usize) -> String {
    format!("P{}", macro_part(&workers.to_string()))
}

/// What a macro or table cell shows in place of a suspect speedup (or the
/// efficiency derived from it).
fn suspect(above: AboveWorkers) -> &'static str {
    match above {
        AboveWorkers::Median => "median $S > p$: suspect",
        AboveWorkers::MedianCores => "median $S >$ cores: suspect",
        AboveWorkers::Interval => "$S > p$: suspect",
        AboveWorkers::IntervalCores => "$S >$ cores: suspect",
    }
}

/// `value` alone, rounded as the table rounds it (`--` if not finite).
fn value_only(value: f64, low: f64, high: f64) -> String {
    if !value.is_finite() {
        return "--".to_owned();
    }
    rounded(value, low, high)
}

/// A median time with its unit, rounded as the table rounds it.
fn seconds_value(value: f64, low: f64, high: f64) -> String {
    let (number, unit) = seconds_rounded(value, low, high);
    format!("{}\\,{}", escape(&number), escape(unit))
}

/// A fitted parameter alone, rounded as the fit table's `value ± error`.
fn parameter_value(parameter: &Parameter) -> String {
    if !parameter.value.is_finite() {
        return "--".to_owned();
    }
    plus_minus_rounded(parameter.value, parameter.std_error)
}

/// The content of `summary.tex`.
pub fn summary_tex(report: &ExperimentReport) -> String {
    let experiment = &report.experiment;
    let analysis = &report.analysis;
    let prefix = format!("bh{}", macro_part(experiment.name.as_str()));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "% Generated by bench-harness from the results of experiment `{}` ({}).\n\
         % Needs \\usepackage{{booktabs}}. Redraw with: bench-harness report DIR\n\
         % Macros: \\{prefix}<Backend><Quantity>, worker counts spelled (PTwo = 2 workers).",
        experiment.name,
        report.machine.caption().replace('\n', " ")
    );

    let mut macros: Vec<(String, String)> = Vec::new();
    if let Some(baseline) = analysis.baseline() {
        let seconds = &baseline.seconds;
        macros
            .push((format!("{prefix}SequentialTime"), seconds_value(seconds.median, seconds.ci_low, seconds.ci_high)));
    }
    macros.push((format!("{prefix}Machine"), escape(&report.machine.cpu_model)));
    macros.push((format!("{prefix}Cores"), report.machine.logical_cores.to_string()));
    for stats in analysis.cells.iter().filter(|c| c.cell.backend.is_parallel()) {
        let backend = stats.cell.backend;
        if stats.cell.chunk != representative_chunk(experiment, backend) {
            continue;
        }
        let name = format!("{prefix}{}{}", macro_part(backend.name()), workers_part(stats.cell.workers));
        let seconds = &stats.seconds;
        macros.push((format!("{name}Time"), seconds_value(seconds.median, seconds.ci_low, seconds.ci_high)));
        // A speedup above p is no result (see `speedup_above_workers`): a
        // paper quoting the macro must show that, not a number. Both macros
        // used to print it as a result.
        let above = stats.speedup_above_workers();
        if let Some(speedup) = stats.speedup {
            let value = match above {
                Some(above) => suspect(above).to_owned(),
                None => value_only(speedup.value, speedup.ci_low, speedup.ci_high),
            };
            macros.push((format!("{name}Speedup"), value));
        }
        if let Some(efficiency) = stats.efficiency_estimate() {
            let value = if let Some(above) = above {
                suspect(above).to_owned()
            } else {
                // Rounded like the table's figure, not to a fixed 3 digits.
                let percent = |x: f64| 100.0 * x;
                let value = rounded(percent(efficiency.value), percent(efficiency.ci_low), percent(efficiency.ci_high));
                format!("{value}\\,\\%")
            };
            macros.push((format!("{name}Efficiency"), value));
        }
    }
    for &backend in experiment.backends.as_slice().iter().filter(|b| b.is_parallel()) {
        let chunk = representative_chunk(experiment, backend);
        // The headline is the best speedup among results, and only where no
        // suspect cell could beat it: a suspect speedup at p hides a true one
        // of at most p, so a best below such a p is no best, only the next
        // lower number (pool's 0.98 at p = 1 when p = 2 read 5.8). The macros
        // still exist then (a paper's `\bh...BestSpeedup` must not become an
        // undefined control sequence because the data turned suspect) and
        // say so.
        let cells: Vec<&CellStats> = analysis
            .cells
            .iter()
            .filter(|c| c.cell.backend == backend && c.cell.chunk == chunk && c.speedup.is_some())
            .collect();
        let best = cells
            .iter()
            .filter(|c| !c.speedup_exceeds_workers())
            .filter_map(|c| Some((c.cell.workers, c.speedup?)))
            .max_by(|a, b| a.1.value.total_cmp(&b.1.value));
        let hidden = cells
            .iter()
            .filter(|c| best.is_none_or(|(_, best)| c.cell.workers as f64 > best.value))
            .filter_map(|c| c.speedup_above_workers())
            .max();
        let name = format!("{prefix}{}", macro_part(backend.name()));
        let (speedup, workers) = match (hidden, best) {
            (Some(above), _) => (suspect(above).to_owned(), "--".to_owned()),
            (None, Some((workers, best))) => (value_only(best.value, best.ci_low, best.ci_high), workers.to_string()),
            (None, None) => continue,
        };
        macros.push((format!("{name}BestSpeedup"), speedup));
        macros.push((format!("{name}BestWorkers"), workers));
    }
    for series in &analysis.series {
        for fit in &series.fits {
            for parameter in &fit.params {
                let name = format!(
                    "{prefix}{}{}{}",
                    macro_part(series.backend.name()),
                    macro_part(&fit.model.to_string().to_lowercase()),
                    macro_part(&parameter.name)
                );
                macros.push((name, parameter_value(parameter)));
            }
        }
    }
    let _ = writeln!(out);
    for (name, value) in &macros {
        let _ = writeln!(out, "\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{{{value}}}");
    }

    let weak = experiment.inputs.is_weak();
    let _ = writeln!(
        out,
        "\n\\begin{{table}}[htbp]\n\\centering\n\\small\\setlength{{\\tabcolsep}}{{4pt}}\n\\caption{{{}: median wall time and {} against the sequential \
         loop, with 95\\,\\% bootstrap confidence intervals.}}\n\\label{{tab:{}}}\n\\begin{{tabular}}{{lrlrrr}}\n\
         \\toprule\nbackend & $p$ & chunk & median time & {} & efficiency \\\\\n\\midrule",
        escape(experiment.name.as_str()),
        if weak { "scaled speedup $p\\,T_1/T_p$ (weak scaling)" } else { "speedup $T_1/T_p$" },
        experiment.name,
        if weak { "scaled speedup" } else { "speedup" },
    );
    for stats in &analysis.cells {
        let cell = stats.cell;
        let chunk = cell.chunk.map_or_else(|| "--".to_owned(), |c| c.to_string());
        // The unit follows the last space: a thin space in LaTeX.
        let time = seconds_interval(stats.seconds.median, stats.seconds.ci_low, stats.seconds.ci_high);
        let time = match time.rsplit_once(' ') {
            Some((numbers, unit)) => format!("{}\\,{}", escape(numbers), escape(unit)),
            None => escape(&time),
        };
        let speedup = match (cell.backend, stats.speedup, stats.speedup_above_workers()) {
            (BackendKind::Sequential, _, _) => "1 (baseline)".to_owned(),
            // Marked as the Markdown table marks it: not a result.
            (_, Some(s), Some(above)) => format!("{} ({})", interval(s.value, s.ci_low, s.ci_high), suspect(above)),
            (_, Some(s), None) => interval(s.value, s.ci_low, s.ci_high),
            (_, None, _) => "--".to_owned(),
        };
        let efficiency = match (cell.backend.is_parallel(), stats.efficiency_estimate()) {
            (true, Some(e)) => {
                percent_interval(e.value, e.ci_low, e.ci_high).trim_end_matches('%').to_owned() + "\\,\\%"
            }
            _ => "--".to_owned(),
        };
        let dagger = if stats.oversubscribed { "\\textsuperscript{\\textdagger}" } else { "" };
        let _ = writeln!(
            out,
            "{} & {}{dagger} & {} & {time} & {speedup} & {efficiency} \\\\",
            escape(cell.backend.name()),
            cell.workers,
            escape(&chunk)
        );
    }
    let _ = writeln!(out, "\\bottomrule\n\\end{{tabular}}");
    if analysis.cells.iter().any(|c| c.oversubscribed) {
        let _ = writeln!(
            out,
            "\\par\\smallskip\\footnotesize\\textsuperscript{{\\textdagger}}\\,more workers than the machine's {} \
             logical cores.",
            analysis.logical_cores
        );
    }
    let _ = writeln!(out, "\\end{{table}}");
    out
}

/// A pgfplots column name: letters, digits and `_`.
fn column(label: &str) -> String {
    let name: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    name.trim_matches('_').to_owned()
}

/// The data of a figure as a pgfplots table: the x column, then per
/// series its value and the distances to the ends of its interval (what
/// `y error minus`/`y error plus` take), `nan` where a series has no point.
pub fn figure_dat(figure: &Figure) -> String {
    let (x_name, series): (&str, Vec<MeasuredSeries>) = match figure {
        Figure::Speedup(chart) => ("workers", chart.series.clone()),
        Figure::Efficiency(chart) => (
            "workers",
            chart
                .series
                .iter()
                .map(|s| MeasuredSeries {
                    points: s
                        .points
                        .iter()
                        .map(|p| super::charts::MeasuredPoint {
                            x: p.x,
                            y: p.y / p.x,
                            ci_low: p.ci_low / p.x,
                            ci_high: p.ci_high / p.x,
                        })
                        .collect(),
                    ..s.clone()
                })
                .collect(),
        ),
        Figure::Overhead(chart) => ("chunk", chart.series.clone()),
        Figure::Backends(chart) => ("workers", chart.series.clone()),
    };
    table(x_name, &series)
}

fn table(x_name: &str, series: &[MeasuredSeries]) -> String {
    let mut xs: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.x)).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let mut out = String::from(x_name);
    for s in series {
        // The series' name, not its legend: a warning in the legend must
        // not rename the column a paper's pgfplots code reads.
        let name = column(s.name());
        let _ = write!(out, " {name} {name}_minus {name}_plus");
    }
    out.push('\n');
    for x in xs {
        let _ = write!(out, "{x}");
        for s in series {
            match s.points.iter().find(|p| p.x == x) {
                Some(p) => {
                    let _ = write!(out, " {} {} {}", p.y, p.y - p.ci_low, p.ci_high - p.y);
                }
                None => out.push_str(" nan nan nan"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::charts::{MeasuredPoint, Style};

    /// What `tex` defines the macro `\name` as, if it defines it.
    fn macro_value<'a>(tex: &'a str, name: &str) -> Option<&'a str> {
        let prefix = format!("\\renewcommand{{\\{name}}}{{");
        tex.lines().find_map(|l| l.split_once(&prefix)).and_then(|(_, rest)| rest.strip_suffix('}'))
    }

    #[test]
    fn names_become_letters_only_macro_parts() {
        assert_eq!(macro_part("spin-speedup"), "SpinSpeedup");
        assert_eq!(macro_part("pool-collect"), "PoolCollect");
        assert_eq!(macro_part("rows_on.pool2"), "RowsOnPoolTwo");
        assert_eq!(workers_part(16), "POneSix");
        assert_eq!(escape("a_b & 50% µs ×2"), "a\\_b \\& 50\\% $\\mu$s $\\times$2");
    }

    #[test]
    fn dat_tables_align_series_on_x_with_nan_for_gaps() {
        let point = |x, y| MeasuredPoint { x, y, ci_low: y - 0.5, ci_high: y + 0.25 };
        let style = Style::nth(0);
        let series = [
            MeasuredSeries { label: "pool".into(), points: vec![point(1.0, 1.0), point(2.0, 1.75)], style },
            // A warning in the legend leaves the column's name alone.
            MeasuredSeries {
                label: format!("std-scope{}SUSPECT: S > p at p = 2", MeasuredSeries::WARNING),
                points: vec![point(2.0, 1.5)],
                style,
            },
        ];
        assert_eq!(
            table("workers", &series),
            "workers pool pool_minus pool_plus std_scope std_scope_minus std_scope_plus\n\
             1 1 0.5 0.25 nan nan nan\n\
             2 1.75 0.5 0.25 1.5 0.5 0.25\n"
        );
    }

    /// The referee's `sup` run: std-scope's `2.4 [1.9, 9.2]` at p = 2 (median
    /// above p, interval reaching below it) was printed unmarked and became
    /// `\bhSupStdScopeBestSpeedup{2.4}`; pool's suspect 5.8 at p = 2 left
    /// `\bhSupPoolBestSpeedup` silently at p = 1's 0.98.
    #[test]
    fn a_median_above_p_is_marked_and_no_best_hides_behind_a_suspect_cell() {
        use crate::stats::Estimate;
        let text = "(experiments: [(name: \"sup\", workload: Square, inputs: Count(8), workers: [1, 2, 4], \
                    repetitions: 5, backends: [Sequential, Pool, StdScope, Rayon])])";
        let mut report = crate::testing::report(crate::testing::experiment(text), 4, |_| 1.0);
        let speedups = |backend: BackendKind| match backend {
            BackendKind::Pool => [(0.98, 0.85, 1.02), (5.8, 3.9, 9.2), (1.5, 1.4, 1.6)],
            BackendKind::StdScope => [(0.992, 0.939, 1.016), (2.4, 1.9, 9.2), (1.9, 1.8, 1.95)],
            _ => [(0.99, 0.98, 1.0), (1.9, 1.8, 1.95), (3.5, 3.4, 3.6)],
        };
        for cell in report.analysis.cells.iter_mut().filter(|c| c.cell.backend.is_parallel()) {
            let (value, ci_low, ci_high) = speedups(cell.cell.backend)[cell.cell.workers.ilog2() as usize];
            cell.speedup = Some(Estimate { value, ci_low, ci_high });
            cell.efficiency = Some(value / cell.cell.workers as f64);
        }
        let tex = summary_tex(&report);
        assert_eq!(macro_value(&tex, "bhSupStdScopePTwoSpeedup"), Some("median $S > p$: suspect"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupStdScopePTwoEfficiency"), Some("median $S > p$: suspect"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupPoolPTwoSpeedup"), Some("$S > p$: suspect"), "{tex}");
        let row = tex.lines().find(|l| l.starts_with("std-scope & 2 &")).unwrap();
        assert!(row.contains("2.4 [1.9, 9.2] (median $S > p$: suspect)"), "{row}");
        // std-scope's 1.9 at p = 4 is a result, but the true speedup at p = 2
        // may be up to 2: no best is known. Pool's 1.5 at p = 4 is below 2
        // too. Rayon has no suspect cell.
        assert_eq!(macro_value(&tex, "bhSupStdScopeBestSpeedup"), Some("median $S > p$: suspect"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupStdScopeBestWorkers"), Some("--"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupPoolBestSpeedup"), Some("$S > p$: suspect"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupRayonBestSpeedup"), Some("3.50"), "{tex}");
        assert_eq!(macro_value(&tex, "bhSupRayonBestWorkers"), Some("4"), "{tex}");
        // A result above every suspect p is the best: no suspect speedup
        // (at most p in truth) can beat it.
        let pool4 =
            report.analysis.cells.iter_mut().find(|c| c.cell.backend == BackendKind::Pool && c.cell.workers == 4);
        pool4.unwrap().speedup = Some(Estimate { value: 2.5, ci_low: 2.4, ci_high: 2.6 });
        let tex = summary_tex(&report);
        assert!(tex.contains("\\renewcommand{\\bhSupPoolBestSpeedup}{2.50}"), "{tex}");
        assert!(tex.contains("\\renewcommand{\\bhSupPoolBestWorkers}{4}"), "{tex}");
    }

    /// `\bh…AmdahlS` printed `number(value, 4)`: `0.5790` beside a table's
    /// `0.58 ± 0.15`, and `0.0000` for any parameter below 5e-5.
    #[test]
    fn fit_parameter_macros_are_rounded_as_the_fit_table_is() {
        use crate::stats::{Fit, Model};
        let text = "(experiments: [(name: \"fit\", workload: Square, inputs: Count(100), workers: [1, 2, 4], \
                    repetitions: 5, backends: [Sequential, Pool])])";
        let mut report = crate::testing::report(crate::testing::experiment(text), 2, |cell| 1.0 / cell.workers as f64);
        let parameter = |name: &str, value, std_error| Parameter { name: name.to_owned(), value, std_error };
        let fits = vec![
            Fit {
                model: Model::Usl,
                params: vec![parameter("a", 0.579_04, Some(0.1512)), parameter("b", 0.027_04, Some(0.0461))],
                r_squared: Some(0.9),
                rmse: 0.1,
                peak: None,
                warnings: Vec::new(),
            },
            Fit {
                model: Model::Amdahl,
                params: vec![parameter("s", 0.000_018_09, Some(0.000_000_33))],
                r_squared: None,
                rmse: 0.0,
                peak: None,
                warnings: Vec::new(),
            },
            Fit {
                model: Model::Gustafson,
                params: vec![parameter("s", f64::NAN, None)],
                r_squared: None,
                rmse: 0.0,
                peak: None,
                warnings: Vec::new(),
            },
        ];
        report.analysis.series[0].fits = fits;
        let tex = summary_tex(&report);
        // As the Markdown table prints them: `a = 0.58 ± 0.15, b = 0.03 ± 0.05`.
        assert_eq!(macro_value(&tex, "bhFitPoolUslA"), Some("0.58"), "{tex}");
        assert_eq!(macro_value(&tex, "bhFitPoolUslB"), Some("0.03"), "{tex}");
        assert_eq!(macro_value(&tex, "bhFitPoolAmdahlS"), Some("0.00001809"), "{tex}");
        assert_eq!(macro_value(&tex, "bhFitPoolGustafsonS"), Some("--"), "{tex}");
        assert_eq!(report.analysis.series[0].fits[0].parameters_text(), "a = 0.58 ± 0.15, b = 0.03 ± 0.05");
    }
}
