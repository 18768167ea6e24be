//! Reading a results file: header, records, tolerated problems.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use super::header::{Header, HeaderLine};
use super::record::Record;
use super::StoreError;
use crate::point::PointId;

/// Everything read from a results file.
#[derive(Debug, Clone)]
pub struct Results {
    /// The sweep the records belong to.
    pub header: Header,
    /// Every record in file order (repeats included).
    pub records: Vec<Record>,
    /// Problems that were tolerated, e.g. a torn last line.
    pub warnings: Vec<String>,
}

/// Counts of a sweep's points by state, from the latest record of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Points in the space.
    pub total: usize,
    /// Points whose latest record holds a value.
    pub done: usize,
    /// Points whose latest record holds an error.
    pub failed: usize,
    /// Points with no record.
    pub missing: usize,
}

/// A parsed file plus where its last complete line ends.
pub(super) struct Parsed {
    pub(super) results: Option<Results>,
    /// Bytes worth keeping: everything up to the last good line's newline.
    pub(super) keep_bytes: u64,
    /// Whether the kept part ends without a newline (a complete record that
    /// lost only its `\n`), so the writer must add one first.
    pub(super) needs_newline: bool,
}

impl Results {
    /// Reads a results file; a torn last line is ignored with a warning.
    pub fn load(path: &Path) -> Result<Results, StoreError> {
        let bytes =
            std::fs::read(path).map_err(|reason| StoreError::Io { path: path.to_owned(), doing: "read", reason })?;
        parse(path, &bytes)?.results.ok_or_else(|| StoreError::MissingHeader { path: path.to_owned() })
    }

    /// The latest record of each point, ordered by point index.
    pub fn latest(&self) -> Vec<&Record> {
        let mut latest: HashMap<PointId, &Record> = HashMap::new();
        for record in &self.records {
            latest.insert(record.id, record);
        }
        let mut records: Vec<&Record> = latest.into_values().collect();
        records.sort_by_key(|r| r.index);
        records
    }

    /// Identities of points to skip on resume: those with a value, plus
    /// failed ones unless `retry_failed`.
    pub fn finished_ids(&self, retry_failed: bool) -> HashSet<PointId> {
        self.latest().into_iter().filter(|r| r.is_ok() || !retry_failed).map(|r| r.id).collect()
    }

    /// How many points of the header's space are done, failed and missing.
    pub fn status(&self) -> Status {
        let total = self.header.space.len();
        let latest = self.latest();
        let done = latest.iter().filter(|r| r.is_ok()).count();
        let failed = latest.len() - done;
        Status { total, done, failed, missing: total.saturating_sub(latest.len()) }
    }

    /// Writes the latest records as CSV: `index`, `id`, one column per
    /// coordinate, the value (one column per key when values are JSON
    /// objects), `error` and `duration_ms`.
    pub fn write_csv(&self, out: impl Write) -> Result<(), csv::Error> {
        let latest = self.latest();
        let names = self.header.space.names();
        let mut keys: Vec<String> = latest
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok()?.as_object())
            .flat_map(|object| object.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        let value_columns = if keys.is_empty() { vec!["value".to_owned()] } else { keys.clone() };
        let mut writer = csv::Writer::from_writer(out);
        let mut heading = vec!["index".to_owned(), "id".to_owned()];
        heading.extend(names.iter().cloned());
        heading.extend(value_columns);
        heading.extend(["error".to_owned(), "duration_ms".to_owned()]);
        writer.write_record(&heading)?;
        for record in latest {
            let mut row = vec![record.index.to_string(), record.id.to_string()];
            row.extend(names.iter().map(|n| record.point.get(n).map(ToString::to_string).unwrap_or_default()));
            match &record.outcome {
                Ok(serde_json::Value::Object(object)) => {
                    row.extend(keys.iter().map(|k| object.get(k).map(cell).unwrap_or_default()))
                }
                Ok(value) if keys.is_empty() => row.push(cell(value)),
                Ok(value) => {
                    // Mixed scalar and object values: the scalar goes in the first column.
                    row.push(cell(value));
                    row.extend(std::iter::repeat(String::new()).take(keys.len() - 1));
                }
                Err(_) => row.extend(std::iter::repeat(String::new()).take(keys.len().max(1))),
            }
            row.push(record.outcome.as_ref().err().cloned().unwrap_or_default());
            row.push(format!("{:.3}", record.duration_ms));
            writer.write_record(&row)?;
        }
        writer.flush()?;
        Ok(())
    }
}

/// A CSV cell for a JSON value: strings bare, everything else as JSON.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, StoreError> {
    let corrupt = |line: usize, message: String| StoreError::Corrupt { path: path.to_owned(), line, message };
    let mut header: Option<Header> = None;
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut keep_bytes = 0u64;
    let mut needs_newline = false;
    let mut offset = 0usize;
    for (number, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let line_number = number + 1;
        let complete = raw.ends_with(b"\n");
        offset += raw.len();
        let text = String::from_utf8_lossy(raw);
        let text = text.trim();
        if text.is_empty() {
            if complete {
                keep_bytes = offset as u64;
            }
            continue;
        }
        let parsed = if header.is_none() {
            serde_json::from_str::<HeaderLine>(text).map(|h| {
                header = Some(h.sweep);
            })
        } else {
            serde_json::from_str::<Record>(text).map(|r| records.push(r))
        };
        match parsed {
            Ok(()) => {
                keep_bytes = offset as u64;
                needs_newline = !complete;
            }
            // Only the very last line can be torn by a crash mid-write.
            Err(e) if !complete => warnings.push(format!(
                "{}:{line_number}: ignoring a torn last line ({} bytes, {e}); its point will be recomputed",
                path.display(),
                raw.len()
            )),
            Err(e) => return Err(corrupt(line_number, e.to_string())),
        }
    }
    Ok(Parsed { results: header.map(|header| Results { header, records, warnings }), keep_bytes, needs_newline })
}

/// Whether a file without a complete header is empty or starts like a
/// header cut short by a crash, i.e. may be overwritten.
pub(super) fn existing_bytes_look_like_ours(path: &Path) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start();
    Ok(text.is_empty() || "{\"sweep\"".starts_with(text) || text.starts_with("{\"sweep\""))
}
