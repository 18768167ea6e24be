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
use crate::analysis::{representative_chunk, speedup_points};
use crate::config::BackendKind;
use crate::stats::precision::{interval, percent_interval, seconds_interval};

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

/// Seconds with a unit, for LaTeX: `1.23\,s`, `45.6\,ms`, `789\,$\mu$s`.
fn seconds_tex(seconds: f64) -> String {
    let text = super::format_seconds(seconds);
    escape(&text).replacen(' ', "\\,", 1)
}

/// What a macro or table cell shows in place of a suspect speedup (or the
/// efficiency derived from it).
const SUSPECT: &str = "$S > p$: suspect";

/// `value` alone, rounded as `interval` rounds it: to the digits its
/// interval supports, so a macro never quotes more than the table does.
fn value_only(value: f64, low: f64, high: f64) -> String {
    if !value.is_finite() {
        return "--".to_owned();
    }
    let text = interval(value, low, high);
    text.split_once(" [").map_or(text.clone(), |(value, _)| value.to_owned())
}

/// A median time with its unit, rounded as the table rounds it.
fn seconds_value(value: f64, low: f64, high: f64) -> String {
    let text = seconds_interval(value, low, high);
    match (text.split_once(" ["), text.rsplit_once("] ")) {
        (Some((number, _)), Some((_, unit))) => format!("{}\\,{}", escape(number), escape(unit)),
        _ => seconds_tex(value),
    }
}

fn number(value: f64, digits: usize) -> String {
    if value.is_finite() {
        format!("{value:.digits$}")
    } else {
        "--".to_owned()
    }
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
        // A speedup above p beyond its interval is no result (see
        // `speedup_exceeds_workers`): a paper quoting the macro must show
        // that, not a number. Both macros used to print it as a result.
        let suspect = stats.speedup_exceeds_workers();
        if let Some(speedup) = stats.speedup {
            let value =
                if suspect { SUSPECT.to_owned() } else { value_only(speedup.value, speedup.ci_low, speedup.ci_high) };
            macros.push((format!("{name}Speedup"), value));
        }
        if let Some(efficiency) = stats.efficiency_estimate() {
            let value = if suspect {
                SUSPECT.to_owned()
            } else {
                // Rounded like the table's figure, not to a fixed 3 digits.
                let percent = percent_interval(efficiency.value, efficiency.ci_low, efficiency.ci_high);
                format!("{}\\,\\%", percent.split_once(" [").map_or(percent.as_str(), |(value, _)| value))
            };
            macros.push((format!("{name}Efficiency"), value));
        }
    }
    for &backend in experiment.backends.as_slice().iter().filter(|b| b.is_parallel()) {
        let chunk = representative_chunk(experiment, backend);
        // The best speedup among results: suspect speedups (S > p beyond
        // their interval) are not results and must not become the headline.
        let suspect = |workers: f64| {
            analysis.cells.iter().any(|c| {
                c.cell.backend == backend
                    && c.cell.chunk == chunk
                    && c.cell.workers as f64 == workers
                    && c.speedup_exceeds_workers()
            })
        };
        let points = speedup_points(&analysis.cells, backend, chunk);
        let best =
            points.iter().filter(|(workers, _)| !suspect(*workers)).max_by(|a, b| a.1.value.total_cmp(&b.1.value));
        let name = format!("{prefix}{}", macro_part(backend.name()));
        if let Some((workers, best)) = best {
            macros.push((format!("{name}BestSpeedup"), value_only(best.value, best.ci_low, best.ci_high)));
            macros.push((format!("{name}BestWorkers"), format!("{workers}")));
        } else if !points.is_empty() {
            // Every speedup suspect: the macros still exist (a paper's
            // `\bh...BestSpeedup` must not become an undefined control
            // sequence because the data turned suspect) and say so.
            macros.push((format!("{name}BestSpeedup"), SUSPECT.to_owned()));
            macros.push((format!("{name}BestWorkers"), "--".to_owned()));
        }
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
                macros.push((name, number(parameter.value, 4)));
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
        let speedup = match (cell.backend, stats.speedup) {
            (BackendKind::Sequential, _) => "1 (baseline)".to_owned(),
            // Marked as the Markdown table marks it: not a result.
            (_, Some(s)) if stats.speedup_exceeds_workers() => {
                format!("{} ({SUSPECT})", interval(s.value, s.ci_low, s.ci_high))
            }
            (_, Some(s)) => interval(s.value, s.ci_low, s.ci_high),
            (_, None) => "--".to_owned(),
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
}
