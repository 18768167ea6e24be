//! The machine-readable outputs: `samples.csv` (one row per timed
//! repetition) and `results.json` (machine, plan, samples and statistics).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::config::Experiment;
use crate::machine::Machine;
use crate::measure::Sample;

/// Everything known about one experiment run: the content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentReport {
    /// Where and with what build it ran.
    pub machine: Machine,
    /// The experiment as configured.
    pub experiment: Experiment,
    /// Every timed repetition.
    pub samples: Vec<Sample>,
    /// Statistics computed from `samples`.
    pub analysis: Analysis,
}

/// Writes one CSV row per sample:
/// `experiment,backend,workers,chunk,repetition,seconds`; `chunk` is a number,
/// `auto`, or empty for backends without chunks.
pub fn write_samples_csv(path: &Path, samples: &[Sample]) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    writer.write_record(["experiment", "backend", "workers", "chunk", "repetition", "seconds"])?;
    for sample in samples {
        writer.write_record([
            sample.experiment.clone(),
            sample.cell.backend.to_string(),
            sample.cell.workers.to_string(),
            sample.cell.chunk.map(|c| c.to_string()).unwrap_or_default(),
            sample.repetition.to_string(),
            // Shortest representation that parses back to the same f64.
            format!("{:?}", sample.seconds),
        ])?;
    }
    writer.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `report` as pretty-printed JSON.
pub fn write_results_json(path: &Path, report: &ExperimentReport) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, report).with_context(|| format!("writing {}", path.display()))?;
    writer.write_all(b"\n")?;
    writer.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads a `results.json` written by [`write_results_json`].
pub fn read_results_json(path: &Path) -> anyhow::Result<ExperimentReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Formats seconds with a unit that keeps three significant digits readable
/// (`1.23 s`, `45.6 ms`, `789 µs`, `12.0 ns`).
pub fn format_seconds(seconds: f64) -> String {
    let magnitude = seconds.abs();
    let (value, unit) = if magnitude >= 1.0 {
        (seconds, "s")
    } else if magnitude >= 1e-3 {
        (seconds * 1e3, "ms")
    } else if magnitude >= 1e-6 {
        (seconds * 1e6, "µs")
    } else {
        (seconds * 1e9, "ns")
    };
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
    fn seconds_get_a_readable_unit() {
        assert_eq!(format_seconds(1.234), "1.23 s");
        assert_eq!(format_seconds(0.0456), "45.6 ms");
        assert_eq!(format_seconds(0.000_789), "789 µs");
        assert_eq!(format_seconds(12e-9), "12.0 ns");
        assert_eq!(format_seconds(-2.5e-6), "-2.50 µs");
    }
}
