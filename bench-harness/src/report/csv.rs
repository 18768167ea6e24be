//! `samples.csv`: one row per timed repetition,
//! `experiment,backend,workers,chunk,repetition,seconds`; `chunk` is a
//! number, `auto`, or empty for backends without chunks.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ExperimentReport, Exporter};
use crate::measure::Sample;

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

/// Writes `samples` to `path`, header first.
pub fn write_samples_csv(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    let mut writer = ::csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    writer.write_record(HEADER)?;
    for sample in samples {
        writer.write_record(record(sample))?;
    }
    writer.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
