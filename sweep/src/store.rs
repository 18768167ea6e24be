//! Results on disk: an append-only JSON Lines file, one record per evaluated
//! point, written as results arrive so a crash loses at most the points in
//! flight.
//!
//! Line 1 is `{"sweep": <Header>}`; every following line is a [`Record`].
//! A point may appear several times (a retried failure, merged shards): the
//! latest line for a point identity wins.
//!
//! One process writes a file at a time ([`ResultsLock`]). Each record
//! reaches the kernel in one `write` as soon as it is complete, so killing
//! the writer loses only the points in flight; what a power cut can lose is
//! bounded by the [`SyncPolicy`]. Whole-file rewrites (headers, merges,
//! repairs) go through [`write_atomically`]: old file or new, never a mix.

use std::path::PathBuf;

use crate::fingerprint::Fingerprint;
use crate::output::shell_path;

mod atomic;
mod guard;
mod header;
mod lock;
mod names;
mod record;
mod repair;
mod results;
mod writer;

pub use atomic::{write_atomically, write_results_atomically};
pub use guard::refuse_to_replace_results;
pub use header::{Header, FORMAT_VERSION};
pub(crate) use lock::hostname;
pub use lock::ResultsLock;
pub use names::{check_results_names, check_written_names, NAME_MAX};
pub(crate) use record::civil_from_days;
pub(crate) use record::refuse_null;
pub use record::{utc_rfc3339, Provenance, Record, NULL_VALUE};
pub use repair::{rejected_path, repair, Repair};
pub use results::{
    is_given_up, is_of_space, reindex, Failure, Results, Resume, Status, CSV_COLUMNS, DEFAULT_MAX_ATTEMPTS,
};
pub use writer::{practically_never_past, ResultsWriter, SyncPolicy, PRACTICALLY_NEVER};

/// Why a results file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("cannot {doing} {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. "read" or "append to".
        doing: &'static str,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// No file at the path named: a wrong argument, as a missing spec is.
    #[error("cannot read {path}: there is no such file (a mistyped path?)")]
    NoSuchFile {
        /// The path.
        path: PathBuf,
    },
    /// A results file named that is not a regular file (a device such as
    /// `/dev/zero`, a FIFO, a directory): it is never read.
    #[error("cannot use {path} as a results file: it is {what}, not a regular file (a mistyped path?)")]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "a device".
        what: &'static str,
    },
    /// A path given for a file to be written that can only be a directory:
    /// a name ending in `/` (`-o x.jsonl/`), or an existing directory.
    #[error("cannot write {what} to {path}: it {is}, not a file (a mistyped path?)")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What was to be written there, e.g. "the results file".
        what: String,
        /// Why it is no file's name, e.g. "names a directory".
        is: &'static str,
    },
    /// Another process is writing the file.
    #[error(
        "{path} is being written by another sweep ({holder}); only one process may write a results file \
         at a time. Wait for it to finish, or stop it{also}"
    )]
    Locked {
        /// The results file.
        path: PathBuf,
        /// Who holds the lock, e.g. "pid 1234 on node7".
        holder: String,
        /// A further way out for the subcommand that met the lock, e.g.
        /// ", or choose another --output" for `run`; empty if none.
        also: &'static str,
    },
    /// A results path whose name ends in `.lock`: the name of the lock of
    /// results file `owner`, which would delete it on release.
    #[error(
        "cannot use {path} as a results file: a name ending in .lock is kept for the lock file of results file {owner}. \
         Choose another --output (e.g. without the .lock)"
    )]
    LockName {
        /// The results path (or where its link points).
        path: PathBuf,
        /// The results file whose lock it names.
        owner: PathBuf,
    },
    /// The file at a results file's lock path is not a lock: not a regular
    /// file (a symbolic link, a directory), or one holding something else
    /// than a holder's line (a results file some other tool or an older
    /// sweep put there). It is left as it is.
    #[error(
        "cannot lock {results}: its lock file {path} holds something other than a sweep lock (a results file \
         named like a lock?), and is left untouched. Move {path} away (or rename it) and try again"
    )]
    NotALock {
        /// The lock path.
        path: PathBuf,
        /// The results file it is the lock of.
        results: PathBuf,
    },
    /// The file has no header line.
    #[error("{path} is not a sweep results file: it has no header line (a mistyped path?)")]
    MissingHeader {
        /// The results file.
        path: PathBuf,
    },
    /// The first line is not a sweep header, nor anything like one: the
    /// file is someone else's (a mistyped path).
    #[error(
        "{path} is not a sweep results file: its first line is not a sweep header ({message}). A mistyped \
         path?{}",
        if *records_follow {
            format!(
                " (If it is a results file whose header line was destroyed, `sweep repair {} --spec SPEC.ron` \
                 rebuilds it)",
                shell_path(path)
            )
        } else {
            String::new()
        }
    )]
    NotResults {
        /// The file.
        path: PathBuf,
        /// The parser's complaint about the first line.
        message: String,
        /// Whether any line of it is a sweep record: only then can it be
        /// a results file whose header was destroyed, which `repair
        /// --spec` rebuilds.
        records_follow: bool,
    },
    /// `sweep repair` of a file that has no sweep header and not one line
    /// that is a record of the sweep: nothing says it ever was results.
    #[error(
        "{path} is not a sweep results file: it has no sweep header and not one of its lines is a record of \
         this sweep; repair does not turn other files into results files (a mistyped path?)"
    )]
    NoRecords {
        /// The file.
        path: PathBuf,
    },
    /// A complete line does not parse.
    #[error(
        "{path}:{line}: this line is not a sweep record ({message}); `sweep repair {}` moves such lines \
         to a side file and keeps every valid record",
        shell_path(path)
    )]
    Corrupt {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        message: String,
    },
    /// A record of another sweep (another command) in a results file, or a
    /// record without an identity in a file whose format requires one.
    #[error(
        "{path}:{line}: this record is not this sweep's: {}; {path} holds the sweep with command fingerprint \
         {expected}. The file is refused as it is; `sweep repair {}` moves such records to {} and keeps \
         every record of this sweep",
        match found {
            Some(found) => format!("it was computed by another sweep (command fingerprint {found})"),
            None => "it carries no sweep identity (every record of a file of format 3 or later does)".to_owned(),
        },
        shell_path(path),
        repair::rejected_path(path).display()
    )]
    ForeignRecord {
        /// The results file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The identity the record carries, if any.
        found: Option<Fingerprint>,
        /// The identity of the file's sweep ([`Header::record_identity`]).
        expected: Fingerprint,
    },
    /// `sweep repair --spec` with the spec of another sweep than the file's.
    #[error(
        "{path} belongs to another sweep than {spec} ({why}); repair never relabels records. Give the spec the \
         file was written from, or none (--spec is only needed when the header line is damaged)"
    )]
    NotThisSpec {
        /// The results file.
        path: PathBuf,
        /// The spec given.
        spec: PathBuf,
        /// How that is known.
        why: String,
    },
    /// The header line itself does not parse, so repair needs the spec.
    #[error(
        "the header line of {path} is damaged, so the sweep it belongs to is unknown; give the spec it was \
         written from: `sweep repair {} --spec SPEC.ron`",
        shell_path(path)
    )]
    DamagedHeader {
        /// The results file.
        path: PathBuf,
    },
    /// The file was written by a newer `sweep` with a layout this one does
    /// not know.
    #[error(
        "{path} was written by a newer version of sweep (file format {found}; this one reads up to {known}); \
         update sweep to use it"
    )]
    NewerFormat {
        /// The results file.
        path: PathBuf,
        /// Format version in the file.
        found: u32,
        /// Newest format this build reads.
        known: u32,
    },
    /// The file belongs to a sweep with another command, or the same
    /// command run in the other mode (one-shot or persistent).
    #[error(
        "{path} holds results of a different sweep (fingerprint {found}, this sweep is {expected}): {why}, so \
         none of its records can be reused. {advice}"
    )]
    DifferentSweep {
        /// The results file.
        path: PathBuf,
        /// Fingerprint in the file.
        found: Fingerprint,
        /// Fingerprint of the sweep being run.
        expected: Fingerprint,
        /// What differs, e.g. "the command changed".
        why: String,
        /// What to do, for the subcommand that met the file.
        advice: String,
    },
    /// A file sweep would write has a name longer than the file system
    /// allows ([`NAME_MAX`]): the name given, or one derived from it.
    #[error(
        "cannot use {given}: {} {derived} would have a name of {bytes} bytes, more than the {NAME_MAX} a file \
         name may have; choose a name at least {} bytes shorter",
        what,
        bytes - NAME_MAX
    )]
    NameTooLong {
        /// The name given (a results file, a chart, a CSV).
        given: PathBuf,
        /// The file whose name is too long: `given` or one derived from it.
        derived: PathBuf,
        /// What it is, e.g. "its lock file".
        what: String,
        /// Bytes in its name.
        bytes: usize,
    },
    /// A chart, CSV or script would be written over a results file.
    #[error(
        "{path} holds sweep results; refusing to write the {what} over it. Choose another output path, or move \
         the results file away first"
    )]
    WouldReplaceResults {
        /// The results file that would be replaced.
        path: PathBuf,
        /// What was to be written there, e.g. "CSV export".
        what: &'static str,
    },
    /// A chart, CSV or script would be written over data the project's
    /// tools keep: the side file of records `repair` moved aside (by its
    /// name or its records), a results file's lock, a sweep spec or
    /// bench-harness's files (see [`refuse_to_replace_results`]).
    #[error("{path} {holds}; refusing to write the {what} over it. Choose another output path")]
    WouldReplaceSweepFile {
        /// The file that would be replaced.
        path: PathBuf,
        /// What it is, e.g. "is the lock of results file r.jsonl".
        holds: String,
        /// What was to be written there, e.g. "CSV export".
        what: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::{Point, Value};
    use crate::space::Space;
    use crate::spec::Task;

    fn header() -> Header {
        Header::new(Space::range("k", 0, 4), Task::Closure("k squared".into()))
    }

    fn record(k: i64, outcome: Result<serde_json::Value, String>) -> Record {
        let point = Point::new(vec![("k".into(), Value::Int(k))]);
        Record::new(k as usize, point, outcome, 1.5)
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
        assert_eq!(results.status(), Status { total: 4, done: 2, failed: 0, given_up: 0, missing: 2, outside: 0 });
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
        let other = Header::new(Space::range("k", 0, 4), Task::Closure("k cubed".into()));
        let refused = ResultsWriter::open(&path, &other).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("different sweep"), "{refused}");

        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("{not json}\n{\"also\": 1}\n");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Results::load(&path), Err(StoreError::Corrupt { line: 2, .. })));
    }

    #[test]
    fn records_carry_their_sweep_and_old_files_keep_reading() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (ours, theirs) = (dir.path().join("ours.jsonl"), dir.path().join("theirs.jsonl"));
        let cubes = Header::new(Space::range("k", 0, 4), Task::Closure("k cubed".into()));
        for (path, header) in [(&ours, header()), (&theirs, cubes)] {
            let (mut writer, _) = ResultsWriter::open(path, &header).unwrap_or_else(|e| panic!("{e}"));
            writer.append(&record(2, Ok(8.into()))).unwrap_or_else(|e| panic!("{e}"));
        }
        let pasted = std::fs::read_to_string(&theirs).unwrap_or_default().lines().nth(1).unwrap_or_default().to_owned();
        let mut text = std::fs::read_to_string(&ours).unwrap_or_default();
        text.push_str(&pasted);
        text.push('\n');
        std::fs::write(&ours, &text).unwrap_or_else(|e| panic!("{e}"));
        let refused = Results::load(&ours);
        assert!(matches!(refused, Err(StoreError::ForeignRecord { line: 3, found: Some(_), .. })), "{refused:?}");
        assert!(ResultsWriter::open(&ours, &header()).is_err(), "a resume refuses it too");

        // Rewritten atomically, a format-2 file's records get the identity
        // its header gave them, and the file today's format.
        let old_header = Header { format: 2, ..header() };
        let untagged = serde_json::to_string(&record(1, Ok(1.into()))).unwrap_or_default();
        let legacy = format!("{{\"sweep\":{}}}\n{untagged}\n", serde_json::to_string(&old_header).unwrap_or_default());
        std::fs::write(&ours, legacy).unwrap_or_else(|e| panic!("{e}"));
        let loaded = Results::load(&ours).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((loaded.records.len(), loaded.untagged), (1, 1));
        write_results_atomically(&ours, &loaded.header, &loaded.records).unwrap_or_else(|e| panic!("{e}"));
        let upgraded = Results::load(&ours).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((upgraded.header.format, upgraded.records.len(), upgraded.untagged), (FORMAT_VERSION, 1, 0));
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
    fn csv_of_mixed_values_has_a_value_column_and_the_object_keys() {
        let results = Results {
            header: header(),
            records: vec![
                record(0, Ok(serde_json::json!({"f": 1.0, "value": "v"}))),
                record(1, Ok(serde_json::json!(7))),
                record(2, Err("boom".into())),
                record(3, Ok(serde_json::json!({"g": [1, 2]}))),
            ],
            warnings: Vec::new(),
            untagged: 0,
        };
        let mut out = Vec::new();
        results.write_csv(&mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows[0], ["index", "id", "k", "value", "f", "g", "value.value", "error", "duration_ms"]);
        assert_eq!(rows[1][3..8], ["", "1.0", "", "v", ""], "an object fills its keys' columns");
        assert_eq!(rows[2][3..8], ["7", "", "", "", ""], "a plain value stays under `value`");
        assert_eq!(rows[3][3..8], ["", "", "", "", "boom"]);
        assert_eq!(rows[4][5], "\"[1", "{text}");
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
            untagged: 0,
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
