//! `samples.csv`: one row per timed repetition,
//! `experiment,backend,workers,chunk,repetition,seconds`; `chunk` is a
//! number, `auto`, or empty for backends without chunks.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ExperimentReport, Exporter};
use crate::config::{BackendKind, BackendName, ChunkSize, Experiment};
use crate::measure::{Cell, Sample};

/// The file name in a report directory.
pub const FILE_NAME: &str = "samples.csv";

/// The header row.
pub const HEADER: [&str; 6] = ["experiment", "backend", "workers", "chunk", "repetition", "seconds"];

/// Writes `samples.csv`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SamplesCsv;

impl Exporter for SamplesCsv {
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let path = dir.join(FILE_NAME);
        write_samples_csv(&path, &report.samples)?;
        Ok(vec![path])
    }
}

/// The CSV fields of one sample, in [`HEADER`] order.
pub fn record(sample: &Sample) -> [String; 6] {
    [
        sample.experiment.clone(),
        sample.cell.backend.to_string(),
        sample.cell.workers.to_string(),
        sample.cell.chunk.map(|c| c.to_string()).unwrap_or_default(),
        sample.repetition.to_string(),
        // Shortest representation that parses back to the same f64.
        format!("{:?}", sample.seconds),
    ]
}

/// Writes `samples` to `path`, header first. The file is replaced whole
/// (written beside it, then renamed), so a crash or a second Ctrl-C while
/// writing leaves the previous `samples.csv` — every sample logged so far —
/// rather than half a file.
pub fn write_samples_csv(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    super::replace_file(path, |file| {
        let mut writer = ::csv::Writer::from_writer(file);
        writer.write_record(HEADER)?;
        for sample in samples {
            writer.write_record(record(sample))?;
        }
        writer.flush()?;
        Ok(())
    })
}

/// `samples.csv` written as the samples are taken: every row is flushed to
/// the OS before the next run, so an interrupted or killed run loses at most
/// the row being written.
#[derive(Debug)]
pub struct SampleLog {
    file: std::fs::File,
}

impl SampleLog {
    /// Creates (or truncates) the file at `path` and writes the header.
    pub fn create(path: &Path) -> std::io::Result<SampleLog> {
        let mut log = SampleLog { file: std::fs::File::create(path)? };
        log.write_row(&HEADER.map(str::to_owned))?;
        Ok(log)
    }

    /// Opens the file at `path` to append samples after the ones it holds;
    /// creates it when it does not exist.
    pub fn append(path: &Path) -> std::io::Result<SampleLog> {
        if !path.exists() {
            return SampleLog::create(path);
        }
        // A killed run may have left half a row: cut it off, so the next
        // row starts on a line of its own (the reader ignores it too).
        let text = std::fs::read(path)?;
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |end| end + 1);
        if complete < text.len() {
            std::fs::OpenOptions::new().write(true).open(path)?.set_len(complete as u64)?;
        }
        if complete == 0 {
            return SampleLog::create(path);
        }
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(SampleLog { file })
    }

    /// Appends one sample and hands it to the OS.
    pub fn push(&mut self, sample: &Sample) -> std::io::Result<()> {
        self.write_row(&record(sample))
    }

    fn write_row(&mut self, fields: &[String; 6]) -> std::io::Result<()> {
        let mut writer = ::csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        writer.write_record(fields)?;
        let bytes = writer.into_inner().map_err(|error| error.into_error())?;
        // One write per row, so concurrent readers never see half a row from us.
        std::io::Write::write_all(&mut self.file, &bytes)?;
        std::io::Write::flush(&mut self.file)
    }
}

/// Reads the samples of `experiment` from a `samples.csv`, for `--resume`.
///
/// Every row must name this experiment and one of its cells, repetitions
/// must run `0, 1, ...` per cell without gaps or repeats, and no cell may
/// have more than the planned repetitions; otherwise the error names the
/// line. A last row cut short (a killed run) is dropped.
pub fn read_samples_csv(path: &Path, experiment: &Experiment) -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.last().is_some_and(|line| !line.ends_with('\n')) {
        lines.pop();
    }
    let header = lines.first().map(|line| line.trim_end()).unwrap_or_default();
    anyhow::ensure!(
        header == HEADER.join(","),
        "{}: not a samples.csv of this harness (header {header:?})",
        path.display()
    );
    let cells = crate::measure::cells(experiment);
    let mut counts = std::collections::BTreeMap::new();
    let mut samples = Vec::new();
    for (index, line) in lines.iter().enumerate().skip(1) {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), index + 1);
        let fields: Vec<&str> = line.split(',').collect();
        let [name, backend, workers, chunk, repetition, seconds] = fields[..] else {
            anyhow::bail!("{}: expected 6 fields, got {:?}", at(), line);
        };
        anyhow::ensure!(
            name == experiment.name.as_str(),
            "{}: a sample of experiment {name:?}, not {:?}",
            at(),
            experiment.name.as_str()
        );
        // A backend of your own (`Named`) is written under its bare name.
        let backend = BackendKind::from_name(backend)
            .or_else(|| BackendName::try_from(backend).ok().map(BackendKind::Named))
            .with_context(|| format!("{}: unknown backend {backend:?}", at()))?;
        let workers: usize = workers.parse().with_context(|| format!("{}: workers {workers:?}", at()))?;
        let chunk = match chunk {
            "" => None,
            "auto" => Some(ChunkSize::Auto),
            n => Some(ChunkSize::Fixed(n.parse().with_context(|| format!("{}: chunk {n:?}", at()))?)),
        };
        let repetition: u32 = repetition.parse().with_context(|| format!("{}: repetition {repetition:?}", at()))?;
        let seconds: f64 = seconds.parse().with_context(|| format!("{}: seconds {seconds:?}", at()))?;
        let cell = Cell { backend, workers, chunk };
        anyhow::ensure!(cells.contains(&cell), "{}: {cell} is not a cell of this experiment (was it changed?)", at());
        let count = counts.entry(cell).or_insert(0u32);
        anyhow::ensure!(
            repetition == *count && repetition < experiment.repetitions.get(),
            "{}: repetition {repetition} of {cell} out of order (expected {})",
            at(),
            *count
        );
        *count += 1;
        let sample = Sample { experiment: name.to_owned(), cell, repetition, seconds };
        sample.check().with_context(at)?;
        samples.push(sample);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::experiment;

    const TEXT: &str = "(experiments: [(name: \"t\", workload: Square, inputs: Count(4), workers: [1, 2], \
                        chunk_sizes: [Fixed(2), Auto], repetitions: 2, backends: [Sequential, Pool, StdScope])])";

    #[test]
    fn the_log_reads_back_what_was_pushed_and_survives_a_cut_row() {
        let experiment = experiment(TEXT);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let samples: Vec<Sample> = crate::measure::cells(&experiment)
            .into_iter()
            .flat_map(|cell| {
                (0..2).map(move |repetition| Sample { experiment: "t".into(), cell, repetition, seconds: 0.1 / 3.0 })
            })
            .collect();
        let mut log = SampleLog::create(&path).unwrap();
        for sample in &samples[..5] {
            log.push(sample).unwrap();
        }
        drop(log);
        assert_eq!(read_samples_csv(&path, &experiment).unwrap(), samples[..5]);

        // A killed writer left half a row; appending continues cleanly.
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap() + "t,pool,2,au").unwrap();
        assert_eq!(read_samples_csv(&path, &experiment).unwrap(), samples[..5]);
        let mut log = SampleLog::append(&path).unwrap();
        for sample in &samples[5..] {
            log.push(sample).unwrap();
        }
        let mut read = read_samples_csv(&path, &experiment).unwrap();
        read.sort_by_key(|s| (s.cell, s.repetition));
        let mut expected = samples.clone();
        expected.sort_by_key(|s| (s.cell, s.repetition));
        assert_eq!(read, expected);
        // The whole file is also what the final export writes.
        write_samples_csv(&dir.path().join("again.csv"), &samples).unwrap();
        assert_eq!(read_samples_csv(&dir.path().join("again.csv"), &experiment).unwrap(), samples);
    }

    #[test]
    fn foreign_or_inconsistent_rows_are_refused_naming_the_line() {
        let experiment = experiment(TEXT);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let header = HEADER.join(",");
        for (row, expected) in [
            ("u,sequential,1,,0,0.5", "a sample of experiment \"u\""),
            ("t,rayon,1,,0,0.5", "rayon ×1 is not a cell"),
            ("t,sequential,1,,1,0.5", "repetition 1 of sequential out of order (expected 0)"),
            ("t,sequential,1,,0,fast", "seconds \"fast\""),
            ("t,mine,2,,0,0.5", "mine ×2 is not a cell"),
        ] {
            std::fs::write(&path, format!("{header}\n{row}\n")).unwrap();
            let error = format!("{:#}", read_samples_csv(&path, &experiment).unwrap_err());
            assert!(error.contains(":2: ") && error.contains(expected), "{error}");
        }
    }

    #[test]
    fn samples_of_a_backend_of_your_own_read_back_for_resume() {
        let experiment = experiment(
            "(experiments: [(name: \"t\", workload: Square, inputs: Count(4), workers: [1, 2], \
             repetitions: 2, backends: [Sequential, Named(\"mine\")])])",
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let samples: Vec<Sample> = crate::measure::cells(&experiment)
            .into_iter()
            .map(|cell| Sample { experiment: "t".into(), cell, repetition: 0, seconds: 0.25 })
            .collect();
        assert!(samples.iter().any(|s| s.cell.backend.name() == "mine"));
        let mut log = SampleLog::create(&path).unwrap();
        samples.iter().for_each(|sample| log.push(sample).unwrap());
        drop(log);
        assert_eq!(read_samples_csv(&path, &experiment).unwrap(), samples);
    }
}
