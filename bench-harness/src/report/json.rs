//! `results.json`: the whole [`ExperimentReport`] (machine, plan, samples
//! and statistics), exact enough to read back to the same values.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{ExperimentReport, Exporter};
use anyhow::Context;

/// The file name in a report directory.
pub const FILE_NAME: &str = "results.json";

/// Writes `results.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultsJson;

impl Exporter for ResultsJson {
    fn export(&self, report: &ExperimentReport, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let path = dir.join(FILE_NAME);
        write_results_json(&path, report)?;
        Ok(vec![path])
    }
}

/// Writes `report` as pretty-printed JSON.
pub fn write_results_json(path: &Path, report: &ExperimentReport) -> anyhow::Result<()> {
    super::replace_file(path, |file| {
        let mut writer = BufWriter::new(file);
        serde_json::to_writer_pretty(&mut writer, report)?;
        writer.write_all(b"\n")?;
        writer.flush()?;
        Ok(())
    })
}

/// Reads a `results.json` written by [`write_results_json`].
pub fn read_results_json(path: &Path) -> anyhow::Result<ExperimentReport> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
