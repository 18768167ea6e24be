//! `sweep repair`: make a damaged results file usable again without losing
//! a byte of it. Lines that do not parse, and records of points that are
//! not in the sweep's space, move to a side file; the results file is
//! rewritten atomically with every valid record, in order.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::{sync_directory, write_results_atomically};
use super::header::Header;
use super::lock::ResultsLock;
use super::results::parse_with;
use super::StoreError;

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Records kept in the results file.
    pub kept: usize,
    /// Lines that did not parse (a torn last line included), moved aside.
    pub unparsable: usize,
    /// Records of points outside the space, moved aside.
    pub outside: usize,
    /// Why each unparsable line was moved: `7: expected value` (line number first).
    pub problems: Vec<String>,
    /// Where they went: `<results>.rejected.jsonl` (appended to, so earlier
    /// repairs' lines stay).
    pub side_file: PathBuf,
}

impl Repair {
    /// Whether the file needed no change.
    pub fn was_clean(&self) -> bool {
        self.unparsable == 0 && self.outside == 0
    }
}

/// The side file of `results`: `<results>.rejected.jsonl`.
pub fn rejected_path(results: &Path) -> PathBuf {
    let mut name = results.as_os_str().to_owned();
    name.push(".rejected.jsonl");
    PathBuf::from(name)
}

/// Repairs the results file at `path` (holding its lock). `header` stands
/// in for a header line that is itself damaged; without it such a file is
/// refused. Lines moved aside are written and flushed to the side file
/// before the results file is replaced, so a crash at any moment loses
/// nothing.
pub fn repair(path: &Path, header: Option<&Header>) -> Result<Repair, StoreError> {
    super::atomic::require_regular_file(path)?;
    let _lock = ResultsLock::acquire(path)?;
    let bytes =
        std::fs::read(path).map_err(|reason| StoreError::Io { path: path.to_owned(), doing: "read", reason })?;
    let parsed = match parse_with(path, &bytes, true, None) {
        Err(StoreError::Corrupt { line: 1, .. } | StoreError::NotResults { .. })
        | Ok(super::results::Parsed { results: None, .. })
            if header.is_some() =>
        {
            parse_with(path, &bytes, true, header.cloned())?
        }
        Err(StoreError::Corrupt { line: 1, .. }) => return Err(StoreError::DamagedHeader { path: path.to_owned() }),
        other => other?,
    };
    let results = parsed.results.ok_or_else(|| StoreError::MissingHeader { path: path.to_owned() })?;
    let (header, kept, outside) = results.into_partition();
    let side_file = rejected_path(path);
    let problems = parsed.bad_lines.iter().map(|bad| format!("{}: {}", bad.number, bad.message)).collect();
    let report =
        Repair { kept: kept.len(), unparsable: parsed.bad_lines.len(), outside: outside.len(), problems, side_file };
    if report.was_clean() {
        return Ok(report);
    }
    let io = |doing, reason| StoreError::Io { path: report.side_file.clone(), doing, reason };
    let mut text = Vec::new();
    for bad in &parsed.bad_lines {
        text.extend_from_slice(&bad.text);
        if !bad.text.ends_with(b"\n") {
            text.push(b'\n');
        }
    }
    for record in &outside {
        serde_json::to_writer(&mut text, record).map_err(|e| io("encode a record for", e.into()))?;
        text.push(b'\n');
    }
    let mut side = OpenOptions::new().create(true).append(true).open(&report.side_file).map_err(|e| io("open", e))?;
    side.write_all(&text).map_err(|e| io("append to", e))?;
    side.sync_all().map_err(|e| io("flush to disk", e))?;
    sync_directory(&report.side_file);
    write_results_atomically(path, &header, &kept)?;
    Ok(report)
}
