//! The one check every output of sweep (a chart, a CSV, an sbatch script)
//! passes before it is written: it never replaces data that the project's
//! tools keep, measured or written by hand.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::header::HEADER_START;
use super::StoreError;
use crate::spec::{Spec, SpecError, MAX_SPEC_BYTES};

/// Refuses to let a `what` (a chart, a CSV export, an sbatch script) be
/// written at `path` when that would replace one of the project's data files:
///
/// - a sweep results file, a shard's included ([`StoreError::WouldReplaceResults`]):
///   it starts like a header line, `{"sweep"`, as
///   [`ResultsWriter::open`](crate::ResultsWriter::open) recognises its own
///   files, e.g. `sweep export r.jsonl -o r.jsonl`;
/// - the files sweep keeps beside one ([`StoreError::WouldReplaceSweepFile`],
///   as are all the kinds below): the `<results>.rejected.jsonl` (whose
///   records `repair` promises to keep) and the `<results>.lock`, known by
///   their names beside a file that starts like results
///   (`notes.rejected.jsonl` beside no results file `notes` is any file's name);
/// - a file of sweep records without a header, a side file whose results
///   file was moved away included: its first line starts like a record
///   (`{"task":"<fingerprint>","index":<n>,"id":"`, or without the task as
///   older sweeps wrote them), or, for a name ending in `.rejected.jsonl`,
///   any line in its first 64 KiB does (see `starts_like_record`);
/// - one of `specs`, the spec files the output's sweep came from (the
///   spec a `slurm` script runs, those a results header names, see
///   [`Header::spec_candidates`](crate::store::Header::spec_candidates)), by file
///   identity: `-o ./x/../sq.ron` or a link to it is `sq.ron` too, and an
///   edited spec that no longer parses is still protected;
/// - any sweep spec: a file that parses as one (a spec that fails only its
///   checks, e.g. an empty range, still counts);
/// - bench-harness's files, known by how each starts (bench-harness
///   writes them; sweep cannot depend on it, which depends on sweep): a
///   report's `samples.csv` by its header row, its `results.json` and
///   `started.json` by their first keys (see `BENCH_SAMPLES_HEADER`,
///   `starts_like_bench_report` and `starts_like_bench_started`), and an
///   experiment file by its top level, `(experiments: [` after comments and
///   whitespace (see `starts_like_experiment_file`).
///
/// A directory is refused ([`StoreError::NotAFile`]): no file is written
/// there. Anything else, absent, unreadable or not a regular file (a device,
/// a pipe), may be written: older charts and CSVs are replaced by newer ones.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("r.jsonl");
/// assert!(sweep::store::refuse_to_replace_results(&path, "chart", &[]).is_ok());
/// std::fs::write(&path, "{\"sweep\":{\"format\":3}}\n")?;
/// assert!(sweep::store::refuse_to_replace_results(&path, "chart", &[]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn refuse_to_replace_results(path: &Path, what: &'static str, specs: &[PathBuf]) -> Result<(), StoreError> {
    // The names `repair::rejected_path` and `ResultsLock::lock_path` give.
    const SIDE_FILES: [(&str, &str); 2] = [
        (".rejected.jsonl", "is where `sweep repair` keeps the lines and records it moved aside from results file"),
        (".lock", "is the lock of results file"),
    ];
    super::names::check_written_names(path, path, &format!("the {what}"))?;
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(StoreError::NotAFile { path: path.to_owned(), what: format!("the {what}"), is: "is a directory" });
    }
    let refuse = |holds: String| Err(StoreError::WouldReplaceSweepFile { path: path.to_owned(), holds, what });
    let name = path.as_os_str().to_string_lossy();
    for (suffix, holds) in SIDE_FILES {
        let Some(results) = name.strip_suffix(suffix) else { continue };
        if starts_like_results(Path::new(results)) {
            return refuse(format!("{holds} {results}"));
        }
    }
    // Looked at before opening: opening a FIFO to read waits for a writer,
    // and a device or pipe is written into, never replaced.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    if starts_like_results(path) {
        return Err(StoreError::WouldReplaceResults { path: path.to_owned(), what });
    }
    // A side file outlives its results file's name (moved, renamed), so it
    // is also known by what it holds: records, whole or torn. Its first line
    // may be any damaged line, so under its name every line read counts.
    let side_named = name.ends_with(SIDE_FILES[0].0);
    let records = first_bytes(path, if side_named { 64 * 1024 } else { 512 });
    let mut lines = records.split(|&b| b == b'\n');
    if side_named && lines.any(starts_like_record) || !side_named && lines.next().is_some_and(starts_like_record) {
        return refuse("holds sweep records (as the lines `sweep repair` moves aside do)".into());
    }
    if let Some(spec) = specs.iter().find(|spec| same_file(path, spec)) {
        let spelt = if spec.as_path() == path { String::new() } else { format!(" ({})", spec.display()) };
        return refuse(format!("is the spec of this sweep{spelt}"));
    }
    let start = first_bytes(path, 512);
    if start.split(|&b| b == b'\n').next().is_some_and(|line| line.trim_ascii_end() == BENCH_SAMPLES_HEADER.as_bytes())
    {
        return refuse("is a bench-harness report's samples.csv (its measured samples)".into());
    }
    if starts_like_bench_report(&start) {
        return refuse("is a bench-harness report's results.json (its measurements and statistics)".into());
    }
    if starts_like_bench_started(&start) {
        return refuse("is a bench-harness report's started.json (what its run measures, to resume it)".into());
    }
    // Comments may come first: read further than for the others.
    if starts_like_experiment_file(&first_bytes(path, 16 * 1024)) {
        return refuse("is a bench-harness experiment file".into());
    }
    if is_a_spec(path) {
        return refuse("holds a sweep spec".into());
    }
    Ok(())
}

/// The header row of a bench-harness `samples.csv` (its
/// `report::csv::HEADER`), which `bench-harness` itself checks before it
/// reads one back.
const BENCH_SAMPLES_HEADER: &str = "experiment,backend,workers,chunk,repetition,seconds";

/// Whether `start`, a file's first bytes, is how a bench-harness
/// `results.json` starts: a JSON object whose first key is `"machine"`
/// holding an object, or `"status"` with a plain string and then
/// `"machine"` (the order of the fields of its `ExperimentReport`;
/// whitespace ignored, as its pretty printing puts some everywhere).
fn starts_like_bench_report(start: &[u8]) -> bool {
    let compact: Vec<u8> = start.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let Some(rest) = compact.strip_prefix(b"{") else { return false };
    let rest = match rest.strip_prefix(b"\"status\":\"") {
        Some(status) => match status.iter().position(|&b| b == b'"') {
            Some(end) if status[..end].iter().all(u8::is_ascii_alphabetic) => &status[end + 1..],
            _ => return false,
        },
        None => rest,
    };
    let rest = rest.strip_prefix(b",").unwrap_or(rest);
    rest.starts_with(b"\"machine\":{")
}

/// Whether `start`, a file's first bytes, is how a bench-harness
/// `started.json` starts: a JSON object whose first key is `"experiment"`,
/// an object whose first key is `"name"` holding a string (the order of the
/// fields of its `Started` record and of the `Experiment` in it; whitespace
/// ignored, as its pretty printing puts some everywhere).
fn starts_like_bench_started(start: &[u8]) -> bool {
    let compact: Vec<u8> = start.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    compact.starts_with(b"{\"experiment\":{\"name\":\"")
}

/// Whether `start`, a file's first bytes, is how a bench-harness experiment
/// file starts: RON whose top level is `(experiments: [` (optionally
/// named, `Plan(experiments: [`), after any whitespace, `//` and `/* */`
/// comments. A file whose comments fill `start` is not recognised.
fn starts_like_experiment_file(start: &[u8]) -> bool {
    let Some(token) = skip_ron_blanks(start) else { return false };
    let mut rest = &token[token.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()..];
    for expected in [&b"("[..], b"experiments", b":", b"["] {
        let Some(token) = skip_ron_blanks(rest).and_then(|t| t.strip_prefix(expected)) else { return false };
        rest = token;
    }
    true
}

/// `rest` from its next RON token on, past whitespace and comments; `None`
/// when a comment runs past its end.
fn skip_ron_blanks(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        let trimmed = rest.trim_ascii_start();
        if let Some(line) = trimmed.strip_prefix(b"//") {
            rest = &line[line.iter().position(|&b| b == b'\n')?..];
        } else if trimmed.starts_with(b"/*") {
            // RON's block comments nest.
            let (mut depth, mut at) = (0usize, 0);
            loop {
                match trimmed.get(at..at + 2)? {
                    b"/*" => (depth, at) = (depth + 1, at + 2),
                    b"*/" => (depth, at) = (depth - 1, at + 2),
                    _ => at += 1,
                }
                if depth == 0 {
                    break;
                }
            }
            rest = &trimmed[at..];
        } else {
            return Some(trimmed);
        }
    }
}

/// Whether `line` starts as sweep writes a record line (its `RecordLine`,
/// serialised in field order): `{"task":"<hex>","index":<digits>,"id":"`,
/// the task absent in files older than format 3. A line torn after that
/// still counts: `repair` moves torn lines aside too.
fn starts_like_record(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"{") else { return false };
    let rest = match rest.strip_prefix(b"\"task\":\"") {
        Some(task) => {
            let hex = task.iter().take_while(|b| b.is_ascii_hexdigit()).count();
            match task[hex..].strip_prefix(b"\",") {
                Some(rest) if hex > 0 => rest,
                _ => return false,
            }
        }
        None => rest,
    };
    let Some(index) = rest.strip_prefix(b"\"index\":") else { return false };
    let digits = index.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && index[digits..].starts_with(b",\"id\":\"")
}

/// Whether `path` is a regular file that starts like a sweep header line.
fn starts_like_results(path: &Path) -> bool {
    // Looked at before opening: opening a FIFO to read waits for a writer.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    String::from_utf8_lossy(&first_bytes(path, 64)).trim_start().starts_with(HEADER_START)
}

/// Up to `limit` bytes from the start of the regular file at `path`.
fn first_bytes(path: &Path, limit: u64) -> Vec<u8> {
    let mut start = Vec::new();
    if let Ok(file) = File::open(path) {
        let _ = file.take(limit).read_to_end(&mut start);
    }
    start
}

/// Whether the regular file at `path` parses as a sweep spec, read as
/// [`Spec::load`] reads one (at most [`MAX_SPEC_BYTES`], UTF-8 text).
fn is_a_spec(path: &Path) -> bool {
    if std::fs::metadata(path).map_or(true, |m| m.len() > MAX_SPEC_BYTES) {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    !matches!(Spec::parse(&text, path), Err(SpecError::Syntax { .. }))
}

/// Whether `a` and `b` name the same file (device and inode), however
/// spelt; false when either cannot be looked at.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(a), Ok(b)) => {
            use std::os::unix::fs::MetadataExt as _;
            (a.dev(), a.ino()) == (b.dev(), b.ino())
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bench_report_is_known_by_its_first_keys() {
        for text in [
            "{\n  \"status\": \"Complete\",\n  \"machine\": {\n    \"logical_cores\": 2,",
            "{\"status\":\"Interrupted\",\"machine\":{}}",
            "{\n  \"machine\": {\n",
        ] {
            assert!(starts_like_bench_report(text.as_bytes()), "{text}");
        }
        for text in ["", "{}", "{\"status\": 3, \"machine\": {}}", "{\"sweep\":{}}", "[{\"machine\":{}}]", "machine"] {
            assert!(!starts_like_bench_report(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn a_record_line_is_known_by_its_first_keys() {
        for line in [
            "{\"task\":\"7ca50716e8526302\",\"index\":1,\"id\":\"292e819947a345dd\",\"point\":{\"k\":1},\"value\":1}",
            "{\"task\":\"7ca50716e8526302\",\"index\":12,\"id\":\"29",
            "{\"index\":0,\"id\":\"0a33ba903cb3fbbc\",\"point\":{\"k\":0}",
        ] {
            assert!(starts_like_record(line.as_bytes()), "{line}");
        }
        for line in [
            "",
            "k,value",
            "{\"sweep\":{}}",
            "{\"index\":\"a\",\"id\":\"x\"}",
            "{\"index\":1}",
            "{\"task\":\"\",\"index\":1,\"id\":\"x\"}",
            "{\"task\":\"zz\",\"index\":1,\"id\":\"x\"}",
            " {\"index\":1,\"id\":\"x\"}",
        ] {
            assert!(!starts_like_record(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn a_bench_started_record_is_known_by_its_first_keys() {
        assert!(starts_like_bench_started(b"{\n  \"experiment\": {\n    \"name\": \"backends\",\n"));
        assert!(starts_like_bench_started(b"{\"experiment\":{\"name\":\"x\"}}"));
        for text in ["", "{\"experiment\": 1}", "{\"experiment\":{\"id\":\"x\"}}", "{\"name\":\"x\"}", "experiment"] {
            assert!(!starts_like_bench_started(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn an_experiment_file_is_known_by_its_top_level_after_comments() {
        for text in [
            "(experiments: [",
            "// Quick tour\n// Run: ...\n(\n    experiments: [\n        (",
            "/* a /* nested */ note */ ( experiments : [ ] )",
            "Plan(experiments: [])",
            "\n\n  //\n(experiments:[",
        ] {
            assert!(starts_like_experiment_file(text.as_bytes()), "{text}");
        }
        for text in [
            "",
            "(space: Range(name: \"k\", start: 0, end: 3), command: [\"true\"])",
            "(experiments: Some([",
            "// (experiments: [",
            "/* (experiments: [ */",
            "/* unclosed (experiments: [",
            "experiments: [",
            "[(experiments: [",
        ] {
            assert!(!starts_like_experiment_file(text.as_bytes()), "{text}");
        }
    }
}
