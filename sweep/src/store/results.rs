//! Reading a results file: header, records, tolerated problems.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use super::header::{Header, HeaderLine, FORMAT_VERSION, HEADER_START};
use super::record::{self, Record};
use super::StoreError;
use crate::fingerprint::Fingerprint;
use crate::point::{PointId, Value};
use crate::space::SpaceIndex;

/// How many attempts a point gets, across runs, before it is given up.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Whether a point whose latest attempt failed is given up: it has been
/// attempted `max_attempts` times or more, counted across runs (a cap of 0
/// counts as 1). No run retries it, `--retry-failed` included, until the
/// cap is raised. The one definition every command uses.
///
/// ```
/// use sweep::store::is_given_up;
/// assert!(!is_given_up(2, 3));
/// assert!(is_given_up(3, 3));
/// assert!(is_given_up(4, 2), "a point that failed 4 times is given up under a cap of 2");
/// ```
pub fn is_given_up(attempts: u32, max_attempts: u32) -> bool {
    attempts >= max_attempts.max(1)
}

/// A point of the space whose latest record is a failure.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// Its latest record (the error, and where and when it happened).
    pub record: &'a Record,
    /// Attempts made at the point, across runs.
    pub attempts: u32,
    /// Whether no run retries it ([`is_given_up`]).
    pub given_up: bool,
}

/// Everything read from a results file.
#[derive(Debug, Clone)]
pub struct Results {
    /// The sweep the records belong to.
    pub header: Header,
    /// Every record in file order (repeats included, and records of points
    /// outside the header's space: see [`Results::outside`]).
    pub records: Vec<Record>,
    /// Problems that were tolerated, e.g. a torn last line.
    pub warnings: Vec<String>,
    /// Records without a sweep identity, from a file written before records
    /// carried one (format 2 and older): taken as the header's sweep's,
    /// since nothing tells otherwise. Counted in `records`.
    pub untagged: usize,
}

/// Counts of a sweep's points by state, from the latest record of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Points in the space.
    pub total: usize,
    /// Points whose latest record holds a value.
    pub done: usize,
    /// Points whose latest record holds an error (given up ones included).
    pub failed: usize,
    /// Failed points that used up their attempts: no run retries them.
    pub given_up: usize,
    /// Points with no record.
    pub missing: usize,
    /// Records whose point is not in the space (another sweep's, pasted in,
    /// or left from before the space changed); counted in nothing above.
    pub outside: usize,
}

/// What a resumed run must do, from the records on disk.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// Indices of points not to evaluate: done, given up, or failed and not
    /// retried.
    pub skip: HashSet<usize>,
    /// Attempts already made at each point with a record.
    pub attempts: HashMap<usize, u32>,
    /// Of the skipped points, how many failed `max_attempts` times.
    pub given_up: usize,
    /// The skipped points whose latest record is a failure, each with
    /// whether it is given up: a run's summary counts them apart from the
    /// points already done.
    pub failed: HashMap<usize, bool>,
}

/// A parsed file plus where its last complete line ends.
pub(super) struct Parsed {
    pub(super) results: Option<Results>,
    /// Bytes worth keeping: everything up to the last good line's newline.
    pub(super) keep_bytes: u64,
    /// Whether the kept part ends without a newline (a complete record that
    /// lost only its `\n`), so the writer must add one first.
    pub(super) needs_newline: bool,
    /// Complete lines that do not parse (only when parsed leniently).
    pub(super) bad_lines: Vec<BadLine>,
    /// Records of another sweep, or without an identity where one is
    /// required, each with the identity it carries (only when parsed
    /// leniently; otherwise they are an error).
    pub(super) foreign: Vec<(BadLine, Option<Fingerprint>)>,
}

/// The longest first line a stream may have before it is refused: a
/// header holds its space, whose spec is at most 8 MiB.
const MAX_STREAMED_HEADER: u64 = 2 * crate::spec::MAX_SPEC_BYTES;

/// How long a reader of a FIFO waits for a process to open it for writing
/// (one that started just before, in a script: `cat r > f & sweep export f`).
const WRITER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The bytes of the results file at `path`. A regular file is read whole;
/// so is a stream (`cat r.jsonl | sweep export /dev/stdin`, a FIFO), but
/// only once its first line, read within [`MAX_STREAMED_HEADER`], starts
/// like a header: `/dev/zero` has no line end and `/dev/urandom` no header,
/// and either would be read without end. A FIFO that no process opens for
/// writing within [`WRITER_GRACE`], or a stream that ends before a byte, is
/// refused as holding nothing (the open alone would otherwise wait for a
/// writer forever). A directory is refused, and a path naming nothing is
/// [`StoreError::NoSuchFile`]. Every reader of results files reads through
/// here.
pub(super) fn read_results(path: &Path) -> Result<Vec<u8>, StoreError> {
    use std::io::{BufRead, BufReader, Read};
    let io = |reason: std::io::Error| match reason.kind() {
        std::io::ErrorKind::NotFound => StoreError::NoSuchFile { path: path.to_owned() },
        _ => StoreError::Io { path: path.to_owned(), doing: "read", reason },
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.is_dir() {
        return Err(StoreError::NotRegularFile { path: path.to_owned(), what: "a directory" });
    }
    if metadata.is_file() {
        return std::fs::read(path).map_err(io);
    }
    let (file, first) = open_stream(path, &metadata).map_err(io)?;
    let mut reader = BufReader::new(std::io::Cursor::new(first).chain(file));
    let mut bytes = Vec::new();
    // Blocking now: waits for a writer that has the FIFO open, and ends at
    // once when none has.
    (&mut reader).take(MAX_STREAMED_HEADER).read_until(b'\n', &mut bytes).map_err(io)?;
    if bytes.is_empty() {
        return Err(StoreError::NotRegularFile {
            path: path.to_owned(),
            what: "a stream with nothing to read (a FIFO that no process writes to?)",
        });
    }
    let header_like = String::from_utf8_lossy(&bytes).trim_start().starts_with(super::header::HEADER_START);
    if !(bytes.ends_with(b"\n") && header_like) {
        return Err(StoreError::NotRegularFile { path: path.to_owned(), what: "a stream that starts with no header" });
    }
    reader.read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Opens the stream at `path` without waiting for a writer, as opening a
/// FIFO to read would, and returns it blocking again with the bytes read
/// meanwhile: those of the first read that found any, or none once a
/// writer is there with nothing written yet, or when none came within
/// [`WRITER_GRACE`] (only a FIFO waits for one).
fn open_stream(path: &Path, metadata: &std::fs::Metadata) -> std::io::Result<(std::fs::File, Vec<u8>)> {
    #[cfg(unix)]
    {
        use std::io::Read;
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        use std::os::unix::io::AsRawFd;
        let mut file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
        let deadline = std::time::Instant::now() + WRITER_GRACE;
        let mut first = vec![0u8; 64 * 1024];
        let read = loop {
            match file.read(&mut first) {
                // No writer (yet): a FIFO may get one in a moment.
                Ok(0) if metadata.file_type().is_fifo() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break 0,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        first.truncate(read);
        // SAFETY: fcntl only reads and sets the flags of the descriptor
        // `file` keeps open.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((file, first))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        Ok((std::fs::File::open(path)?, Vec::new()))
    }
}

/// A complete line that is neither the header nor a record.
#[derive(Debug, Clone)]
pub(super) struct BadLine {
    pub(super) number: usize,
    pub(super) text: Vec<u8>,
    pub(super) message: String,
}

impl Results {
    /// Reads a results file; a torn last line is ignored with a warning.
    /// A line that does not parse elsewhere, and a record of another sweep
    /// ([`StoreError::ForeignRecord`]), are errors that name the line and
    /// point to `sweep repair`. A stream (`/dev/stdin`, a pipe) is read
    /// only if its first line starts like a header.
    pub fn load(path: &Path) -> Result<Results, StoreError> {
        let bytes = read_results(path)?;
        parse(path, &bytes, false)?.results.ok_or_else(|| StoreError::MissingHeader { path: path.to_owned() })
    }

    /// The records of the header's points ([`is_of_space`]) and the others.
    fn partition(&self) -> (Vec<&Record>, Vec<&Record>) {
        let index = SpaceIndex::new(&self.header.space);
        self.records.iter().partition(|r| is_of_space(&index, r))
    }

    /// The latest record of each point of the space, ordered by point index.
    /// Records of points outside the space are left out.
    pub fn latest(&self) -> Vec<&Record> {
        latest_of(&self.partition().0)
    }

    /// The header, the records of the space's points and the others, each
    /// in file order.
    pub(super) fn into_partition(self) -> (Header, Vec<Record>, Vec<Record>) {
        let index = SpaceIndex::new(&self.header.space);
        let (inside, outside) = self.records.into_iter().partition(|r| is_of_space(&index, r));
        (self.header, inside, outside)
    }

    /// Records whose point is not in the header's space, in file order.
    pub fn outside(&self) -> Vec<&Record> {
        self.partition().1
    }

    /// Attempts made at each point of the space, counted across runs.
    pub fn attempts(&self) -> HashMap<usize, u32> {
        attempts_of(&self.partition().0)
    }

    /// Which points a resumed run skips: those with a value, those that
    /// failed `max_attempts` times (given up), and the other failed ones
    /// unless `retry_failed` or their run was interrupted while retrying
    /// them ([`Record::retrying`]).
    pub fn resume(&self, retry_failed: bool, max_attempts: u32) -> Resume {
        let inside = self.partition().0;
        let attempts = attempts_of(&inside);
        let mut resume = Resume::default();
        for record in latest_of(&inside) {
            let given_up =
                !record.is_ok() && is_given_up(attempts.get(&record.index).copied().unwrap_or(1), max_attempts);
            // A failed attempt whose run meant to retry it (and was
            // interrupted first) is retried like with `retry_failed`.
            if record.is_ok() || !(retry_failed || record.retrying) || given_up {
                resume.skip.insert(record.index);
                resume.given_up += usize::from(given_up);
                if !record.is_ok() {
                    resume.failed.insert(record.index, given_up);
                }
            }
        }
        resume.attempts = attempts;
        resume
    }

    /// The points of the space whose latest record is a failure, in index
    /// order, each with its attempts and whether it is given up after
    /// `max_attempts`.
    pub fn failures(&self, max_attempts: u32) -> Vec<Failure<'_>> {
        let inside = self.partition().0;
        let attempts = attempts_of(&inside);
        latest_of(&inside)
            .into_iter()
            .filter(|record| !record.is_ok())
            .map(|record| {
                let made = attempts.get(&record.index).copied().unwrap_or(1);
                Failure { record, attempts: made, given_up: is_given_up(made, max_attempts) }
            })
            .collect()
    }

    /// Identities of points to skip on resume: those with a value, plus
    /// failed ones unless `retry_failed`.
    pub fn finished_ids(&self, retry_failed: bool) -> HashSet<PointId> {
        self.latest().into_iter().filter(|r| r.is_ok() || !retry_failed).map(|r| r.id).collect()
    }

    /// How many points of the header's space are done, failed (and given
    /// up, with [`DEFAULT_MAX_ATTEMPTS`]) and missing.
    pub fn status(&self) -> Status {
        self.status_with(DEFAULT_MAX_ATTEMPTS)
    }

    /// [`Results::status`] with a point given up after `max_attempts`
    /// ([`is_given_up`]).
    pub fn status_with(&self, max_attempts: u32) -> Status {
        let total = self.header.space.len();
        let (inside, outside) = self.partition();
        let latest = latest_of(&inside);
        let done = latest.iter().filter(|r| r.is_ok()).count();
        let given_up = self.failures(max_attempts).iter().filter(|f| f.given_up).count();
        Status {
            total,
            done,
            failed: latest.len() - done,
            given_up,
            missing: total.saturating_sub(latest.len()),
            outside: outside.len(),
        }
    }

    /// Writes the latest records as CSV: `index`, `id`, one column per
    /// coordinate, the value, `error` and `duration_ms`. A plain value
    /// (number, string, array, `null`) goes in a `value` column; a JSON
    /// object is spread over one column per key (sorted). Values of both
    /// kinds get both: `value` filled for plain ones, the key columns for
    /// objects. A coordinate named like a column of every export
    /// ([`CSV_COLUMNS`]) becomes `point.NAME`; a key that is also the name of
    /// another column (`value` beside plain values, `error`, a coordinate's)
    /// becomes `value.KEY`, so no two columns share a name.
    pub fn write_csv(&self, out: impl Write) -> Result<(), csv::Error> {
        let latest = self.latest();
        let names = self.header.space.names();
        let values: Vec<&serde_json::Value> = latest.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
        let mut keys: Vec<String> =
            values.iter().filter_map(|v| v.as_object()).flat_map(|object| object.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        // A sweep with no value at all (every point failed) still has the column.
        let plain_column = keys.is_empty() || values.iter().any(|v| !v.is_object());
        let mut writer = csv::Writer::from_writer(out);
        let mut heading = vec!["index".to_owned(), "id".to_owned()];
        // Coordinates are renamed rather than refused in specs: files
        // written with such an axis name must stay exportable.
        let mut taken: HashSet<String> = CSV_COLUMNS.iter().map(|&c| c.to_owned()).collect();
        taken.extend(names.iter().cloned());
        for name in &names {
            let mut column = name.clone();
            if CSV_COLUMNS.contains(&name.as_str()) {
                while taken.contains(&column) {
                    column.insert_str(0, "point.");
                }
                taken.insert(column.clone());
            }
            heading.push(column);
        }
        if plain_column {
            heading.push("value".to_owned());
        }
        // A key that would share its name with another column (`error`,
        // a coordinate, `value` beside plain values) is written `value.KEY`.
        taken.extend(heading.iter().cloned());
        taken.extend(keys.iter().cloned());
        for key in &keys {
            let clashes = heading.iter().any(|h| h == key) || key == "error" || key == "duration_ms";
            let mut name = key.clone();
            while clashes && taken.contains(&name) {
                name.insert_str(0, "value.");
            }
            taken.insert(name.clone());
            heading.push(name);
        }
        heading.extend(["error".to_owned(), "duration_ms".to_owned()]);
        writer.write_record(&heading)?;
        for record in latest {
            let mut row = vec![record.index.to_string(), record.id.to_string()];
            row.extend(names.iter().map(|n| record.point.get(n).map(coordinate_cell).unwrap_or_default()));
            let (plain, object) = match &record.outcome {
                Ok(serde_json::Value::Object(object)) => (None, Some(object)),
                Ok(value) => (Some(value), None),
                Err(_) => (None, None),
            };
            if plain_column {
                row.push(plain.map(cell).unwrap_or_default());
            }
            row.extend(keys.iter().map(|k| object.and_then(|o| o.get(k)).map(cell).unwrap_or_default()));
            row.push(record.outcome.as_ref().err().cloned().unwrap_or_default());
            row.push(format!("{:.3}", record.duration_ms));
            writer.write_record(&row)?;
        }
        writer.flush()?;
        Ok(())
    }
}

/// The columns of every CSV export besides the coordinates (`value` is
/// there whenever a value is not a JSON object).
pub const CSV_COLUMNS: [&str; 5] = ["index", "id", "value", "error", "duration_ms"];

/// Whether `record` is of a point of the space `index` looks up: its
/// coordinates are the space's point at its index, and its id is theirs.
/// Any other record (another sweep's, pasted in, or left from before the
/// space changed) is not counted as the sweep's by any command.
pub fn is_of_space(index: &SpaceIndex<'_>, record: &Record) -> bool {
    index.index_of(&record.point) == Some(record.index) && record.point.id() == record.id
}

/// Gives `record` the index of its point in the space `index` looks up,
/// if the point is in it (and its id is its coordinates'): a record
/// computed for another space with the same command counts for this one.
/// Returns whether it does; a record of no point of the space is left as
/// it is.
pub fn reindex(index: &SpaceIndex<'_>, record: &mut Record) -> bool {
    match index.index_of(&record.point).filter(|_| record.point.id() == record.id) {
        Some(i) => {
            record.index = i;
            true
        }
        None => false,
    }
}

/// The last of `records` for each index, ordered by index.
fn latest_of<'a>(records: &[&'a Record]) -> Vec<&'a Record> {
    let mut latest: HashMap<usize, &Record> = HashMap::new();
    for record in records {
        latest.insert(record.index, record);
    }
    let mut records: Vec<&Record> = latest.into_values().collect();
    records.sort_by_key(|r| r.index);
    records
}

/// The highest attempt number of `records` for each index.
fn attempts_of(records: &[&Record]) -> HashMap<usize, u32> {
    let mut attempts: HashMap<usize, u32> = HashMap::new();
    for record in records {
        let seen = attempts.entry(record.index).or_default();
        *seen = (*seen).max(record.attempt);
    }
    attempts
}

/// A CSV cell for a coordinate: floats in the shortest form that reads back
/// bit for bit (`1e-300`, not three hundred zeros), the rest as is.
fn coordinate_cell(value: &Value) -> String {
    match value {
        Value::Float(x) => format!("{x:?}"),
        other => other.to_string(),
    }
}

/// A CSV cell for a JSON value: strings bare, everything else as JSON.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn parse(path: &Path, bytes: &[u8], lenient: bool) -> Result<Parsed, StoreError> {
    parse_with(path, bytes, lenient, None)
}

/// [`parse`], optionally with the header given instead of read (every line
/// is then taken for a record; a damaged header line becomes a bad line).
pub(super) fn parse_with(
    path: &Path,
    bytes: &[u8],
    lenient: bool,
    given: Option<Header>,
) -> Result<Parsed, StoreError> {
    let mut header: Option<Header> = given;
    // The identity every record must carry, and whether none will do.
    let mut identity = header.as_ref().map(|h| (h.record_identity(), h.accepts_untagged()));
    let mut records = Vec::new();
    let mut untagged = 0;
    let mut warnings = Vec::new();
    let mut bad_lines = Vec::new();
    let mut foreign = Vec::new();
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
        let parsed = match identity {
            None => {
                check_format(path, text)?;
                serde_json::from_str::<HeaderLine>(text).map(|h| {
                    identity = Some((h.sweep.record_identity(), h.sweep.accepts_untagged()));
                    header = Some(h.sweep);
                })
            }
            Some((expected, accepts_untagged)) => record::decode(text).map(|(record, found)| match found {
                Some(found) if found == expected => records.push(record),
                None if accepts_untagged => {
                    untagged += 1;
                    records.push(record);
                }
                found => foreign.push((line_number, raw.to_vec(), found)),
            }),
        };
        match parsed {
            Ok(()) => {
                keep_bytes = offset as u64;
                needs_newline = !complete;
            }
            // Only the very last line can be torn by a crash mid-write.
            Err(e) if !complete && lenient && header.is_some() => {
                bad_lines.push(BadLine { number: line_number, text: raw.to_vec(), message: format!("torn: {e}") })
            }
            Err(e) if !complete => warnings.push(format!(
                "{}:{line_number}: ignoring a torn last line ({} bytes, {e}); its point will be recomputed",
                path.display(),
                raw.len()
            )),
            // A first line that does not even start like a header: not ours.
            Err(e) if header.is_none() && !text.starts_with(HEADER_START) => {
                let records_follow = bytes
                    .split(|b| *b == b'\n')
                    .any(|line| record::decode(String::from_utf8_lossy(line).trim()).is_ok());
                return Err(StoreError::NotResults { path: path.to_owned(), message: e.to_string(), records_follow });
            }
            // A header line garbled past its start: only the spec it was
            // written from can say whose records follow.
            Err(_) if header.is_none() => return Err(StoreError::DamagedHeader { path: path.to_owned() }),
            Err(e) if lenient && header.is_some() => {
                bad_lines.push(BadLine { number: line_number, text: raw.to_vec(), message: e.to_string() })
            }
            Err(e) if lenient && complete => {
                return Err(StoreError::Corrupt { path: path.to_owned(), line: line_number, message: e.to_string() })
            }
            Err(e) => {
                return Err(StoreError::Corrupt { path: path.to_owned(), line: line_number, message: e.to_string() })
            }
        }
    }
    // A foreign record is refused where it is, unless it is to be moved
    // aside (repair): nothing of the file is then used.
    if let (Some((number, _, found)), false, Some((expected, _))) = (foreign.first(), lenient, identity) {
        return Err(StoreError::ForeignRecord { path: path.to_owned(), line: *number, found: *found, expected });
    }
    let foreign = foreign
        .into_iter()
        .map(|(number, text, found)| {
            let message = match found {
                Some(found) => format!("a record of another sweep (command fingerprint {found})"),
                None => "a record without a sweep identity".to_owned(),
            };
            (BadLine { number, text, message }, found)
        })
        .collect();
    let results = header.map(|header| Results { header, records, warnings, untagged });
    Ok(Parsed { results, keep_bytes, needs_newline, bad_lines, foreign })
}

/// Refuses a header line written by a newer `sweep` (it may hold fields
/// this one would drop).
fn check_format(path: &Path, text: &str) -> Result<(), StoreError> {
    let found = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("sweep")?.get("format")?.as_u64())
        .and_then(|f| u32::try_from(f).ok());
    match found {
        Some(found) if found > FORMAT_VERSION => {
            Err(StoreError::NewerFormat { path: path.to_owned(), found, known: FORMAT_VERSION })
        }
        _ => Ok(()),
    }
}

/// Whether a file without a complete header is empty or starts like a
/// header cut short by a crash, i.e. may be overwritten.
pub(super) fn existing_bytes_look_like_ours(path: &Path) -> std::io::Result<bool> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start();
    Ok(text.is_empty() || HEADER_START.starts_with(text) || text.starts_with(HEADER_START))
}
