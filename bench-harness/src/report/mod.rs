//! The pipeline's product and its outputs.
//!
//! [`ExperimentReport`] is everything known about one experiment run; every
//! output format is one [`Exporter`] in a file of its own, as hyperfine
//! keeps its formats behind one trait:
//!
//! - [`figures`]: the charts as PNG, SVG and PDF (drawn by [`charts`]);
//! - [`csv`]: `samples.csv`, one row per timed repetition;
//! - [`json`]: `results.json`, the whole report, read back by [`json::read_results_json`];
//! - [`markdown`]: `summary.md`, tables, fits, warnings and the machine;
//! - [`latex`]: `summary.tex` (booktabs table, `\newcommand` macros) and a pgfplots `.dat` per figure.
//!
//! Every table rounds a figure with an interval by [`crate::stats::precision`].

pub mod charts;
pub mod csv;
pub mod figures;
pub mod json;
pub mod latex;
pub mod markdown;
pub mod written;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::config::Experiment;
use crate::machine::{Conditions, Machine};
use crate::measure::Sample;

/// Whether every planned repetition was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Every cell has all its repetitions.
    #[default]
    Complete,
    /// The run was stopped (Ctrl-C) before every repetition was measured;
    /// the report covers what exists, and `--resume` can finish it.
    Interrupted,
}

/// Everything known about one experiment run: the content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// Complete, or interrupted with some repetitions missing.
    #[serde(default)]
    pub status: RunStatus,
    /// Where and with what build it ran.
    pub machine: Machine,
    /// Load on the machine around the measurements.
    #[serde(default)]
    pub conditions: Conditions,
    /// The experiment as configured.
    pub experiment: Experiment,
    /// Every timed repetition.
    pub samples: Vec<Sample>,
    /// Statistics computed from `samples`.
    pub analysis: Analysis,
}

/// One output format of a report.
pub trait Exporter {
    /// Writes this format's file(s) for `report` into the existing
    /// directory `dir` and returns the paths written.
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>>;
}

/// Every format a run writes, in the order they are written: the data
/// first (`samples.csv`, `results.json`), so that nothing measured depends
/// on drawing, then `summary.md`, `summary.tex` and the figures' pgfplots
/// data, and the charts (PNG, SVG, PDF) last.
pub fn exporters() -> Vec<Box<dyn Exporter>> {
    // results.json last: it is what marks a report complete, and files are
    // moved into place in this order, so a writer killed half way leaves a
    // report that is not complete (which --resume finishes), never a
    // complete one without its charts.
    vec![
        Box::new(csv::SamplesCsv),
        Box::new(markdown::Summary),
        Box::new(latex::Latex),
        Box::new(figures::Figures::default()),
        Box::new(json::ResultsJson),
    ]
}

/// The names of the files a report draws from its data (summaries, charts
/// in every format, pgfplots tables), not the data (`samples.csv`,
/// `results.json`): what a fresh run into the directory makes stale.
pub fn derived_file_names() -> Vec<String> {
    let mut names = vec![markdown::FILE_NAME.to_owned(), latex::FILE_NAME.to_owned()];
    let extensions = charts::Format::ALL.map(charts::Format::extension);
    for figure in figures::Figure::FILE_NAMES {
        // Every chart format, and the pgfplots table (see `latex`).
        for extension in extensions.iter().chain(&[latex::DATA_EXTENSION]) {
            names.push(Path::new(figure).with_extension(extension).display().to_string());
        }
    }
    names
}

/// Writes every output of `report` into `dir` (created if needed). Returns
/// the files written, in [`exporters`] order.
/// Every file is replaced whole, after all of them were drawn (see
/// [`write_staged`]).
pub fn write_report(report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let exporters = exporters();
    write_staged(report, dir, &exporters.iter().map(|e| e.as_ref()).collect::<Vec<_>>())
}

impl ExperimentReport {
    /// The small print every chart carries: the experiment, the machine,
    /// the build and the load while it ran.
    pub fn caption(&self) -> String {
        let experiment = &self.experiment;
        let interrupted = match self.status {
            RunStatus::Complete => "",
            RunStatus::Interrupted => "INTERRUPTED: partial data. ",
        };
        let pinning = match experiment.pinning {
            crate::config::Pinning::None => String::new(),
            pinning => format!(", workers pinned ({pinning})"),
        };
        format!(
            "{interrupted}{} — {}, {}, median of {} repetitions per point{pinning}. {} · {}",
            experiment.name,
            experiment.workload,
            experiment.inputs,
            experiment.repetitions.get(),
            self.machine.caption(),
            self.conditions.text()
        )
    }
}

/// Replaces the file at `path` whole, with sweep's
/// [`write_atomically`](sweep::store::write_atomically): `write` fills a
/// temporary file in the same directory, which is flushed to disk and
/// renamed over `path`, so readers (and a crash or power cut) see the old
/// file or the new one, never half of one.
pub fn replace_file(path: &Path, write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut failure = None;
    let written = sweep::store::write_atomically(path, |out| {
        // Nothing is buffered yet: `write` may use the file directly.
        write(out.get_mut()).map_err(|error| {
            let message = format!("{error:#}");
            failure = Some(error);
            std::io::Error::other(message)
        })
    });
    match (written, failure) {
        (Err(_), Some(error)) => Err(error.context(format!("writing {}", path.display()))),
        (written, _) => Ok(written?),
    }
}

/// Runs `exporters` on `report` into a hidden staging directory inside
/// `dir`, then moves every file it wrote into `dir` (see [`write_whole`]).
/// Returns the final paths, in order.
pub fn write_staged(
    report: &ExperimentReport,
    dir: &Path,
    exporters: &[&dyn Exporter],
) -> anyhow::Result<Vec<PathBuf>> {
    write_whole(dir, |staging| {
        let mut staged = Vec::new();
        for exporter in exporters {
            staged.extend(exporter.export(report, staging)?);
        }
        Ok(staged)
    })
}

/// Has `draw` write its files into a hidden staging directory inside `dir`
/// (created if needed), then moves each into `dir`, replaced whole
/// ([`replace_file`]): a process stopped while drawing leaves the previous
/// files, never one cut short. `draw` returns the paths it wrote; the final
/// paths are returned in the same order.
pub fn write_whole(
    dir: &Path,
    draw: impl FnOnce(&Path) -> anyhow::Result<Vec<PathBuf>>,
) -> anyhow::Result<Vec<PathBuf>> {
    let created = CreatedDirs::create(dir)?;
    remove_stale_staging(dir);
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(dir)
        .with_context(|| format!("creating a directory in {}", dir.display()))?;
    let staged = draw(staging.path())?;
    let mut written = Vec::with_capacity(staged.len());
    for file in staged {
        let name = file.strip_prefix(staging.path()).with_context(|| {
            format!("{} was written outside its directory {}", file.display(), staging.path().display())
        })?;
        let target = dir.join(name);
        replace_file(&target, |out| {
            std::io::copy(&mut std::fs::File::open(&file)?, out)?;
            Ok(())
        })?;
        written.push(target);
    }
    created.keep();
    Ok(written)
}

/// The directories [`CreatedDirs::create`] made for a path that did not
/// exist: unless kept, those still empty are removed again on drop, so a
/// report that failed (a chart too small for its text, say) leaves no
/// empty report directory behind.
#[derive(Debug)]
#[must_use = "dropped, the directories are removed again"]
pub struct CreatedDirs {
    /// Deepest first.
    dirs: Vec<PathBuf>,
}

impl CreatedDirs {
    /// Creates `dir` and any missing parent, remembering which were missing.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let dirs: Vec<PathBuf> =
            dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).map(Path::to_path_buf).collect();
        let created = Self { dirs };
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(created)
    }

    /// Keeps the directories: what went into them is the result.
    pub fn keep(mut self) {
        self.dirs.clear();
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        // `remove_dir` removes only empty directories: whatever another
        // writer put there meanwhile stays, and so does its directory.
        for dir in &self.dirs {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

/// Staging directories are named `.bench-harness-writing…`.
const STAGING_PREFIX: &str = ".bench-harness-writing";

/// Whether `name` is what a writer of the harness stopped midway leaves in
/// a report directory: a staging directory ([`write_whole`]) or the hidden
/// temporary file of a file being replaced ([`replace_file`]:
/// `.<name>.<pid>.tmp`).
pub fn is_stale_write(name: &str) -> bool {
    name.starts_with(STAGING_PREFIX) || replaced_by(name).is_some()
}

/// The file that `name`, a temporary file of [`replace_file`]
/// (`.<file>.<pid>.tmp`), was to replace.
fn replaced_by(name: &str) -> Option<&str> {
    let stem = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (file, pid) = stem.rsplit_once('.')?;
    (!file.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(file)
}

/// Removes what a killed writer left in `dir`: staging directories, and
/// the temporary files of files it was replacing (a `report` stopped by a
/// signal dies where it is, in the middle of a [`replace_file`]). Callers
/// hold the directory's lock, so no other writer is using one. A temporary
/// file is removed only when it is of a file the harness writes, or one
/// present beside it: a user's `.notes.1.tmp` is not the harness's.
fn remove_stale_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let derived = derived_file_names();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        } else if let Some(file) = replaced_by(&name) {
            if derived.iter().any(|d| d == file) || dir.join(file).is_file() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Formats seconds with a unit that keeps three significant digits readable
/// (`1.23 s`, `45.6 ms`, `789 µs`, `12.0 ns`).
pub fn format_seconds(seconds: f64) -> String {
    let (scale, unit) = crate::stats::precision::time_unit(seconds.abs());
    let value = seconds * scale;
    let digits = match value.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.digits$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_replaced_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("samples.csv");
        std::fs::write(&path, "old").unwrap();
        let failed = replace_file(&path, |file| {
            std::io::Write::write_all(file, b"half")?;
            anyhow::bail!("interrupted")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old", "a failed write leaves the old file");
        replace_file(&path, |file| Ok(std::io::Write::write_all(file, b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }

    /// A report that failed to draw (a chart too small for its text) left
    /// the report directory it had created behind, empty.
    #[test]
    fn a_failed_report_leaves_no_directory_it_created() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out/experiment");
        let failed = write_whole(&dir, |staging| {
            std::fs::write(staging.join("speedup.png"), "half")?;
            anyhow::bail!("the chart's text leaves only 0 of its 300 pixels for the plot")
        });
        assert!(failed.is_err());
        assert!(!root.path().join("out").exists(), "an empty report directory is left");

        // A directory that was there stays, with what else is in it.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), "{}").unwrap();
        assert!(write_whole(&dir, |_| anyhow::bail!("failed")).is_err());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["results.json"]);
        // Drawn, the created directories are kept.
        let fresh = root.path().join("fresh/experiment");
        let written = write_whole(&fresh, |staging| {
            std::fs::write(staging.join("summary.md"), "# t")?;
            Ok(vec![staging.join("summary.md")])
        });
        assert_eq!(written.unwrap(), [fresh.join("summary.md")]);
    }

    #[test]
    fn seconds_get_a_readable_unit() {
        assert_eq!(format_seconds(1.234), "1.23 s");
        assert_eq!(format_seconds(0.0456), "45.6 ms");
        assert_eq!(format_seconds(0.000_789), "789 µs");
        assert_eq!(format_seconds(12e-9), "12.0 ns");
        assert_eq!(format_seconds(-2.5e-6), "-2.50 µs");
    }
}
