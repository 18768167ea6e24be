//! `sweep repair`: make a damaged results file usable again without losing
//! a byte of it. Lines that do not parse and records of another sweep move
//! to a side file; the results file is rewritten atomically with every
//! valid record, in order. Records of this sweep's command at points not in
//! its space (left by a narrowed rerun) are this sweep's data, kept as
//! `run` and `collect` keep them: widening the space again reuses them.
//! Records are never relabelled: a spec given for a damaged header must be
//! the file's own.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::atomic::{remove_leftover_temporaries, write_atomically, write_results_atomically};
use super::header::Header;
use super::lock::ResultsLock;
use super::record::encode;
use super::results::{parse_with, read_results};
use super::StoreError;

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Records kept in the results file ([`Repair::kept_outside`] included).
    pub kept: usize,
    /// Of those, records of this sweep's command at points outside the
    /// space: kept, as `run` keeps them.
    pub kept_outside: usize,
    /// Lines that did not parse (a torn last line included), moved aside.
    pub unparsable: usize,
    /// Records of points outside the space moved aside: only records
    /// without a sweep identity under a header rebuilt from `--spec`, which
    /// nothing shows to be this sweep's.
    pub outside: usize,
    /// Records of another sweep (another command), or without the sweep
    /// identity the file's format requires, moved aside as they were.
    pub foreign: usize,
    /// Why each unparsable line was moved: `7: expected value` (line number first).
    pub problems: Vec<String>,
    /// Where they went: `<results>.rejected.jsonl` (added to, so earlier
    /// repairs' lines stay).
    pub side_file: PathBuf,
}

impl Repair {
    /// Whether the file needed no change.
    pub fn was_clean(&self) -> bool {
        self.unparsable == 0 && self.outside == 0 && self.foreign == 0
    }
}

/// The side file of `results`: `<results>.rejected.jsonl`.
pub fn rejected_path(results: &Path) -> PathBuf {
    let mut name = results.as_os_str().to_owned();
    name.push(".rejected.jsonl");
    PathBuf::from(name)
}

/// Repairs the results file at `path` (holding its lock). `spec` (the
/// header of the sweep the user says the file belongs to, and the spec
/// file it came from) stands in for a header line that is itself damaged;
/// without it such a file is refused. It never overrides an intact header:
/// a spec of another sweep than the header's is refused
/// ([`StoreError::NotThisSpec`]), and so is one for a damaged header when
/// the file's records carry the identity of another sweep and none of the
/// spec's. Records without an identity under a damaged header are taken as
/// the spec's (the file may predate identities), checked against its space.
///
/// Lines moved aside are written to the side file (replaced atomically)
/// before the results file is replaced, so a crash at any moment loses
/// nothing; a rerun after one adds no line to the side file twice.
pub fn repair(path: &Path, spec: Option<(&Header, &Path)>) -> Result<Repair, StoreError> {
    super::atomic::require_regular_file(path)?;
    let _lock = ResultsLock::acquire(path)?;
    // The side file's temporaries are this lock holder's to clean, as the
    // results file's are (the lock cleans those).
    remove_leftover_temporaries(&rejected_path(path));
    // A regular file by now (checked above): read whole.
    let bytes = read_results(path)?;
    let not_this_spec = |spec_path: &Path, why: String| StoreError::NotThisSpec {
        path: path.to_owned(),
        spec: spec_path.to_owned(),
        why,
    };
    let mut rebuilt = false;
    let parsed = match (parse_with(path, &bytes, true, None), spec) {
        (
            first @ (Err(StoreError::DamagedHeader { .. } | StoreError::NotResults { .. })
            | Ok(super::results::Parsed { results: None, .. })),
            Some((header, spec_path)),
        ) => {
            rebuilt = true;
            // The file's format is unknown: take records without an
            // identity as the spec's, as a file of format 2 would.
            let mut legacy = header.clone();
            legacy.format = legacy.format.min(2);
            let parsed = parse_with(path, &bytes, true, Some(legacy))?;
            // Without a sweep header, only records show the file was ever
            // results: a spec, a CSV or a paper is refused, not rebuilt.
            let damaged_header = matches!(first, Err(StoreError::DamagedHeader { .. }));
            let records = parsed.results.as_ref().map_or(0, |r| r.records.len());
            // An empty file holds nothing to lose: it gets the spec's header.
            let empty = bytes.iter().all(u8::is_ascii_whitespace);
            if !damaged_header && !empty && records == 0 && parsed.foreign.is_empty() {
                return Err(StoreError::NoRecords { path: path.to_owned() });
            }
            let kept = parsed.results.as_ref().map_or(0, |r| r.records.len() - r.untagged);
            if let Some(found) = parsed.foreign.iter().find_map(|(_, found)| *found).filter(|_| kept == 0) {
                return Err(not_this_spec(
                    spec_path,
                    format!(
                        "its records were computed by the command with fingerprint {found}, the spec's is {}",
                        header.record_identity()
                    ),
                ));
            }
            parsed
        }
        (Err(StoreError::DamagedHeader { .. }), None) => {
            return Err(StoreError::DamagedHeader { path: path.to_owned() })
        }
        (Ok(parsed), Some((header, spec_path))) => match &parsed.results {
            Some(results) if results.header.fingerprint != header.fingerprint => {
                return Err(not_this_spec(
                    spec_path,
                    format!(
                        "its header has sweep fingerprint {}, the spec's is {}",
                        results.header.fingerprint, header.fingerprint
                    ),
                ))
            }
            _ => parsed,
        },
        (other, _) => other?,
    };
    let results = parsed.results.ok_or_else(|| StoreError::MissingHeader { path: path.to_owned() })?;
    // Under a header rebuilt from `--spec`, records without an identity are
    // only presumed the spec's; those of points outside its space are the
    // doubtful ones, and go aside. Everywhere else a record outside the
    // space carries this sweep's command (or the file's intact header vouches
    // for it, format 2): it stays.
    let doubtful = rebuilt && results.untagged > 0;
    let (header, kept, outside, kept_outside) = if doubtful {
        let (header, kept, outside) = results.into_partition();
        (header, kept, outside, 0)
    } else {
        let kept_outside = results.outside().len();
        (results.header, results.records, Vec::new(), kept_outside)
    };
    let side_file = rejected_path(path);
    let problems = parsed
        .bad_lines
        .iter()
        .chain(parsed.foreign.iter().map(|(line, _)| line))
        .map(|bad| format!("{}: {}", bad.number, bad.message))
        .collect();
    let report = Repair {
        kept: kept.len(),
        kept_outside,
        unparsable: parsed.bad_lines.len(),
        outside: outside.len(),
        foreign: parsed.foreign.len(),
        problems,
        side_file,
    };
    if report.was_clean() {
        return Ok(report);
    }
    let io = |doing, reason| StoreError::Io { path: report.side_file.clone(), doing, reason };
    let mut text = Vec::new();
    // Foreign records go aside byte for byte, with the identity they carry.
    for bad in parsed.bad_lines.iter().chain(parsed.foreign.iter().map(|(line, _)| line)) {
        text.extend_from_slice(&bad.text);
        if !bad.text.ends_with(b"\n") {
            text.push(b'\n');
        }
    }
    // Doubtful records outside the space are marked as the spec's in the
    // side file, the sweep they were presumed to belong to.
    let identity = header.record_identity();
    for record in &outside {
        text.extend(encode(record, identity).map_err(|e| io("encode a record for", e.into()))?);
        text.push(b'\n');
    }
    // The side file is replaced whole, as the results file is: a repair
    // stopped at any moment leaves it as it was or complete, and a stop
    // between the two replacements leaves the moved lines in both files. A
    // rerun then moves them again, so a line already in the side file is not
    // added twice (identical lines are one: nothing is lost).
    let previous = match std::fs::read(&report.side_file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io("read", e)),
    };
    let known: HashSet<&[u8]> = previous.split(|b| *b == b'\n').collect();
    let mut side = previous.clone();
    if !side.is_empty() && !side.ends_with(b"\n") {
        side.push(b'\n');
    }
    for line in text.split_inclusive(|b| *b == b'\n') {
        if !known.contains(line.strip_suffix(b"\n").unwrap_or(line)) {
            side.extend_from_slice(line);
        }
    }
    write_atomically(&report.side_file, |out| out.write_all(&side))?;
    write_results_atomically(path, &header, &kept)?;
    Ok(report)
}
