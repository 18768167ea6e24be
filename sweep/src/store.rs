//! Results on disk: an append-only JSON Lines file, one record per evaluated
//! point, written as results arrive so a crash loses at most the points in
//! flight.
//!
//! Line 1 is `{"sweep": <Header>}`; every following line is a [`Record`].
//! A point may appear several times (a retried failure, merged shards): the
//! latest line for a point identity wins.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fnv1a64;
use crate::plot::Labels;
use crate::point::{Point, PointId};
use crate::space::Space;

/// Version of the file layout, written in every header.
pub const FORMAT_VERSION: u32 = 1;

/// What is evaluated at each point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Task {
    /// An external command (argv template).
    Command(Vec<String>),
    /// A Rust closure, identified by a label chosen by the caller.
    Closure(String),
}

/// Identity of a sweep: FNV-1a over the canonical JSON of its space and task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u64);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        u64::from_str_radix(&text, 16)
            .map(Fingerprint)
            .map_err(|e| serde::de::Error::custom(format!("fingerprint {text:?}: {e}")))
    }
}

/// First line of a results file: which sweep the records belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// Hash of `space` and `task`; a rerun must match it.
    pub fingerprint: Fingerprint,
    /// The whole space, so `status` can count missing points.
    pub space: Space,
    /// What is evaluated.
    pub task: Task,
    /// The spec file the sweep came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_path: Option<PathBuf>,
    /// Plot title and axis labels.
    #[serde(default)]
    pub labels: Labels,
}

impl Header {
    /// A header for `task` over `space`, fingerprint included.
    pub fn new(space: Space, task: Task) -> Self {
        let fingerprint = fingerprint(&space, &task);
        Header { format: FORMAT_VERSION, fingerprint, space, task, spec_path: None, labels: Labels::default() }
    }
}

/// The fingerprint of a sweep: what is computed where, not how (worker
/// count, chunking and timeouts may change between runs).
pub fn fingerprint(space: &Space, task: &Task) -> Fingerprint {
    let mut hash = Fnv1a64::new();
    // serde_json's output for these types is deterministic: struct fields in
    // declaration order, floats in shortest round-trip form.
    hash.write_str(&serde_json::to_string(space).unwrap_or_default());
    hash.write_str(&serde_json::to_string(task).unwrap_or_default());
    Fingerprint(hash.finish())
}

/// The result of evaluating one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RecordLine", from = "RecordLine")]
pub struct Record {
    /// Position of the point in the space.
    pub index: usize,
    /// Stable identity of the point (what resume matches on).
    pub id: PointId,
    /// The coordinates.
    pub point: Point,
    /// The value, or why there is none.
    pub outcome: Result<serde_json::Value, String>,
    /// Wall-clock time spent on the point, in milliseconds.
    pub duration_ms: f64,
}

impl Record {
    /// Whether the point was evaluated successfully.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// On-disk shape of a record: `value` or `error`, never both.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine {
    index: usize,
    id: PointId,
    point: Point,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: f64,
}

impl From<Record> for RecordLine {
    fn from(r: Record) -> Self {
        let (value, error) = match r.outcome {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        RecordLine { index: r.index, id: r.id, point: r.point, value, error, duration_ms: r.duration_ms }
    }
}

impl From<RecordLine> for Record {
    fn from(line: RecordLine) -> Self {
        let outcome = match line.error {
            Some(error) => Err(error),
            // A command may legitimately print `null`, which reads back as None.
            None => Ok(line.value.unwrap_or(serde_json::Value::Null)),
        };
        Record { index: line.index, id: line.id, point: line.point, outcome, duration_ms: line.duration_ms }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    sweep: Header,
}

/// Why a results file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {reason}")]
    Io {
        /// The results file.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// The file has no header line.
    #[error("{path}: not a sweep results file (no header line)")]
    MissingHeader {
        /// The results file.
        path: PathBuf,
    },
    /// A complete line does not parse.
    #[error("{path}:{line}: corrupt line: {message}")]
    Corrupt {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        message: String,
    },
    /// The file belongs to another sweep.
    #[error(
        "{path} holds results of a different sweep (fingerprint {found}, this sweep is {expected}); \
         the space or the command changed. Choose another --output, or delete the file to start over"
    )]
    DifferentSweep {
        /// The results file.
        path: PathBuf,
        /// Fingerprint in the file.
        found: Fingerprint,
        /// Fingerprint of the sweep being run.
        expected: Fingerprint,
    },
}

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
struct Parsed {
    results: Option<Results>,
    /// Bytes worth keeping: everything up to the last good line's newline.
    keep_bytes: u64,
    /// Whether the kept part ends without a newline (a complete record that
    /// lost only its `\n`), so the writer must add one first.
    needs_newline: bool,
}

impl Results {
    /// Reads a results file; a torn last line is ignored with a warning.
    pub fn load(path: &Path) -> Result<Results, StoreError> {
        let bytes = std::fs::read(path).map_err(|reason| StoreError::Io { path: path.to_owned(), reason })?;
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

fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, StoreError> {
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
fn existing_bytes_look_like_ours(path: &Path) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start();
    Ok(text.is_empty() || "{\"sweep\"".starts_with(text) || text.starts_with("{\"sweep\""))
}

/// Appends records to a results file, one `write` per record.
#[derive(Debug)]
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

impl ResultsWriter {
    /// Opens `path` for the sweep described by `header`.
    ///
    /// A new (or empty) file gets the header. An existing file must carry the
    /// same fingerprint, else [`StoreError::DifferentSweep`]; its records are
    /// returned so the caller can skip finished points, and a torn last line
    /// is cut off so new records start on a line of their own.
    pub fn open(path: &Path, header: &Header) -> Result<(ResultsWriter, Results), StoreError> {
        let io = |reason| StoreError::Io { path: path.to_owned(), reason };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let existing = match std::fs::read(path) {
            Ok(bytes) => Some(parse(path, &bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let results = match existing {
            Some(Parsed { results: Some(results), keep_bytes, needs_newline }) => {
                if results.header.fingerprint != header.fingerprint {
                    return Err(StoreError::DifferentSweep {
                        path: path.to_owned(),
                        found: results.header.fingerprint,
                        expected: header.fingerprint,
                    });
                }
                file.set_len(keep_bytes).map_err(io)?;
                if needs_newline {
                    file.write_all(b"\n").map_err(io)?;
                }
                results
            }
            // Never overwrite a file that is not ours (a mistyped --output).
            Some(Parsed { results: None, .. }) if !existing_bytes_look_like_ours(path).map_err(io)? => {
                return Err(StoreError::MissingHeader { path: path.to_owned() });
            }
            // No header yet (new, empty, or torn while writing the header).
            _ => {
                file.set_len(0).map_err(io)?;
                let line = serde_json::to_string(&HeaderLine { sweep: header.clone() }).map_err(|e| io(e.into()))?;
                file.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
                Results { header: header.clone(), records: Vec::new(), warnings: Vec::new() }
            }
        };
        Ok((ResultsWriter { file, path: path.to_owned() }, results))
    }

    /// Appends one record and hands it to the OS before returning, so it
    /// survives the process being killed (not a power cut: no fsync).
    pub fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        let io = |reason| StoreError::Io { path: self.path.clone(), reason };
        let mut line = serde_json::to_string(record).map_err(|e| io(e.into()))?;
        line.push('\n');
        // One write of the whole line keeps records whole in the common case;
        // a torn line can only be the last one and is handled on reading.
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::Value;

    fn header() -> Header {
        Header::new(Space::range("k", 0, 4), Task::Closure("k squared".into()))
    }

    fn record(k: i64, outcome: Result<serde_json::Value, String>) -> Record {
        let point = Point::new(vec![("k".into(), Value::Int(k))]);
        Record { index: k as usize, id: point.id(), point, outcome, duration_ms: 1.5 }
    }

    #[test]
    fn records_round_trip_and_latest_wins() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.jsonl");
        let (mut writer, existing) = ResultsWriter::open(&path, &header()).unwrap_or_else(|e| panic!("{e}"));
        assert!(existing.records.is_empty());
        for r in [record(2, Err("boom".into())), record(0, Ok(0.into())), record(2, Ok(4.into()))] {
            writer.append(&r).unwrap_or_else(|e| panic!("{e}"));
        }
        let results = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(results.records.len(), 3);
        let latest: Vec<_> = results.latest().into_iter().map(|r| (r.index, r.outcome.clone())).collect();
        assert_eq!(latest, vec![(0, Ok(0.into())), (2, Ok(4.into()))]);
        assert_eq!(results.status(), Status { total: 4, done: 2, failed: 0, missing: 2 });
    }

    #[test]
    fn torn_last_line_is_ignored_then_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.jsonl");
        let (mut writer, _) = ResultsWriter::open(&path, &header()).unwrap_or_else(|e| panic!("{e}"));
        writer.append(&record(1, Ok(1.into()))).unwrap_or_else(|e| panic!("{e}"));
        drop(writer);
        let intact = std::fs::read(&path).unwrap_or_default();
        let torn_line = serde_json::to_string(&record(3, Ok(9.into()))).unwrap_or_default();
        let mut bytes = intact.clone();
        bytes.extend_from_slice(&torn_line.as_bytes()[..torn_line.len() / 2]);
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));

        let loaded = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.records.len(), 1);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);

        let (mut writer, existing) = ResultsWriter::open(&path, &header()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(existing.records.len(), 1);
        writer.append(&record(3, Ok(9.into()))).unwrap_or_else(|e| panic!("{e}"));
        let after = std::fs::read(&path).unwrap_or_default();
        assert!(after.starts_with(&intact), "earlier lines must stay unchanged");
        let reloaded = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(reloaded.warnings.is_empty());
        assert_eq!(reloaded.latest().len(), 2);
    }

    #[test]
    fn corrupt_middle_lines_and_other_sweeps_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.jsonl");
        drop(ResultsWriter::open(&path, &header()).unwrap_or_else(|e| panic!("{e}")));
        let other = Header::new(Space::range("k", 0, 5), Task::Closure("k squared".into()));
        let refused = ResultsWriter::open(&path, &other).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("different sweep"), "{refused}");

        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("{not json}\n{\"also\": 1}\n");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Results::load(&path), Err(StoreError::Corrupt { line: 2, .. })));
    }

    #[test]
    fn foreign_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "my precious notes").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(ResultsWriter::open(&path, &header()), Err(StoreError::MissingHeader { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "my precious notes");

        let torn_header = dir.path().join("torn.jsonl");
        std::fs::write(&torn_header, "{\"sweep\":{\"form").unwrap_or_else(|e| panic!("{e}"));
        let (_, existing) = ResultsWriter::open(&torn_header, &header()).unwrap_or_else(|e| panic!("{e}"));
        assert!(existing.records.is_empty());
        assert!(Results::load(&torn_header).is_ok(), "the header is rewritten");
    }

    #[test]
    fn fingerprint_ignores_nothing_that_changes_results() {
        let a = fingerprint(&Space::range("k", 0, 4), &Task::Command(vec!["echo".into(), "{k}".into()]));
        let b = fingerprint(&Space::range("k", 0, 4), &Task::Command(vec!["echo".into(), "{k}!".into()]));
        let c = fingerprint(&Space::range("k", 0, 5), &Task::Command(vec!["echo".into(), "{k}".into()]));
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn csv_has_one_row_per_point_and_object_keys_as_columns() {
        let results = Results {
            header: header(),
            records: vec![
                record(1, Ok(serde_json::json!({"f": 1.0, "g": "a"}))),
                record(0, Err("bad, \"quoted\"".into())),
            ],
            warnings: Vec::new(),
        };
        let mut out = Vec::new();
        results.write_csv(&mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "index,id,k,f,g,error,duration_ms");
        assert!(lines[1].starts_with("0,") && lines[1].contains("\"bad, \"\"quoted\"\"\""), "{}", lines[1]);
        assert!(lines[2].starts_with("1,") && lines[2].ends_with(",1,1.0,a,,1.500"), "{}", lines[2]);
    }
}
