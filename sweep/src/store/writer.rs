//! Appending records to a results file, one writer at a time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::atomic::write_results_atomically;
use super::header::Header;
use super::lock::ResultsLock;
use super::record::Record;
use super::results::{existing_bytes_look_like_ours, parse, reindex, Parsed, Results};
use super::StoreError;
use crate::fingerprint::Fingerprint;
use crate::space::SpaceIndex;

/// When appended records are flushed from the OS's cache to the disk
/// (`fsync`).
///
/// Every record is handed to the OS as soon as it is complete, so it
/// survives the `sweep` process being killed in any way. Only a power cut
/// or a kernel crash can lose records the OS had not yet written out; this
/// policy bounds how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// After every record: nothing appended is lost to a power cut, at the
    /// cost of one disk flush per point.
    EveryRecord,
    /// At most this long after a record is appended (by a background
    /// thread), and when the writer is closed.
    Interval(Duration),
    /// Only when the writer is closed (or dropped).
    OnClose,
}

impl Default for SyncPolicy {
    /// Once a second: a power cut loses at most the last second of records.
    fn default() -> Self {
        SyncPolicy::Interval(Duration::from_secs(1))
    }
}

impl std::str::FromStr for SyncPolicy {
    type Err = String;

    /// `record`, `exit`, or a number of seconds (e.g. `1` or `0.5`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "record" => Ok(SyncPolicy::EveryRecord),
            "exit" => Ok(SyncPolicy::OnClose),
            seconds => match seconds.parse::<f64>() {
                Ok(s) if s > 0.0 => Ok(SyncPolicy::Interval(practically_never_past(s))),
                _ => Err(format!(
                    "{text:?} is not a sync policy; use `record` (fsync after every record), `exit` (only at \
                     the end) or a positive number of seconds between flushes"
                )),
            },
        }
    }
}

/// The longest wait any setting means: about 31 years. Longer ones
/// (`--timeout 1e300`, `--sync inf`) mean "practically never" and are cut
/// to this, which a clock can still add to the current time.
pub const PRACTICALLY_NEVER: Duration = Duration::from_secs(1_000_000_000);

/// `seconds` as a duration, at most [`PRACTICALLY_NEVER`]; negative or NaN
/// gives zero (callers refuse those first).
pub fn practically_never_past(seconds: f64) -> Duration {
    if seconds >= PRACTICALLY_NEVER.as_secs_f64() {
        PRACTICALLY_NEVER
    } else {
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }
}

/// Appends records to a results file, one `write` per record, holding the
/// file's [`ResultsLock`] for as long as it lives.
#[derive(Debug)]
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
    sync: SyncPolicy,
    /// Set by `append`, cleared by whoever syncs.
    dirty: Arc<AtomicBool>,
    /// Stops the interval syncer (dropping the sender wakes it).
    syncer: Option<(mpsc::Sender<()>, thread::JoinHandle<()>)>,
    /// The identity stamped on every record ([`Header::record_identity`]).
    identity: Fingerprint,
    _lock: ResultsLock,
}

impl ResultsWriter {
    /// Opens `path` for the sweep described by `header`, with the default
    /// [`SyncPolicy`]. See [`ResultsWriter::open_with`].
    pub fn open(path: &Path, header: &Header) -> Result<(ResultsWriter, Results), StoreError> {
        Self::open_with(path, header, SyncPolicy::default())
    }

    /// Opens `path` for the sweep described by `header`.
    ///
    /// Takes the file's lock first: while this writer lives, any other
    /// writer is refused with [`StoreError::Locked`]. A new (or empty) file
    /// gets the header, written atomically. An existing file must carry the
    /// same fingerprint, else [`StoreError::DifferentSweep`]; its records are
    /// returned so the caller can skip finished points, and a torn last line
    /// is cut off so new records start on a line of their own.
    pub fn open_with(path: &Path, header: &Header, sync: SyncPolicy) -> Result<(ResultsWriter, Results), StoreError> {
        super::atomic::require_regular_file(path)?;
        let lock = ResultsLock::acquire(path)?;
        let io = |doing, reason| StoreError::Io { path: path.to_owned(), doing, reason };
        let existing = match std::fs::read(path) {
            Ok(bytes) => Some(parse(path, &bytes, false)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("read", e)),
        };
        if existing.is_some() {
            super::atomic::refuse_read_only(path)?;
        }
        let results = match existing {
            Some(Parsed { results: Some(results), keep_bytes, needs_newline, .. }) => {
                if results.header.fingerprint != header.fingerprint {
                    header.check_same_command(path, &results.header)?;
                    let results = reuse_for_new_space(path, results, header)?;
                    let file = OpenOptions::new().append(true).open(path).map_err(|e| io("open for appending", e))?;
                    return Ok((Self::start(file, path, header, sync, lock), results));
                }
                if results.header.labels != header.labels {
                    let results = relabel(path, results, header)?;
                    let file = OpenOptions::new().append(true).open(path).map_err(|e| io("open for appending", e))?;
                    return Ok((Self::start(file, path, header, sync, lock), results));
                }
                let file = OpenOptions::new().append(true).open(path).map_err(|e| io("open for appending", e))?;
                file.set_len(keep_bytes).map_err(|e| io("cut the torn last line of", e))?;
                let mut writer = Self::start(file, path, header, sync, lock);
                if needs_newline {
                    writer.write_line(b"\n")?;
                }
                return Ok((writer, results));
            }
            // Never overwrite a file that is not ours (a mistyped --output).
            Some(Parsed { results: None, .. })
                if !existing_bytes_look_like_ours(path).map_err(|e| io("read", e))? =>
            {
                return Err(StoreError::MissingHeader { path: path.to_owned() });
            }
            // No header yet (new, empty, or torn while writing the header):
            // the header appears whole or not at all.
            _ => {
                write_results_atomically(path, header, &[])?;
                Results { header: header.clone(), records: Vec::new(), warnings: Vec::new(), untagged: 0 }
            }
        };
        let file = OpenOptions::new().append(true).open(path).map_err(|e| io("open for appending", e))?;
        Ok((Self::start(file, path, header, sync, lock), results))
    }

    fn start(file: File, path: &Path, header: &Header, sync: SyncPolicy, lock: ResultsLock) -> ResultsWriter {
        let dirty = Arc::new(AtomicBool::new(false));
        let syncer = match sync {
            SyncPolicy::Interval(every) => file.try_clone().ok().map(|clone| {
                let (stop, stopped) = mpsc::channel::<()>();
                let dirty = Arc::clone(&dirty);
                let handle = thread::spawn(move || {
                    // Wakes every `every` until the sender is dropped.
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                        if dirty.swap(false, Ordering::AcqRel) {
                            // An error here resurfaces at the final sync in `close`.
                            let _ = clone.sync_data();
                        }
                    }
                });
                (stop, handle)
            }),
            _ => None,
        };
        ResultsWriter {
            file,
            path: path.to_owned(),
            sync,
            dirty,
            syncer,
            identity: header.record_identity(),
            _lock: lock,
        }
    }

    fn write_line(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let io = |reason| StoreError::Io { path: self.path.clone(), doing: "append to", reason };
        // One write of the whole line keeps records whole in the common case;
        // a torn line can only be the last one and is handled on reading.
        self.file.write_all(bytes).map_err(io)?;
        self.file.flush().map_err(io)?;
        self.dirty.store(true, Ordering::Release);
        if self.sync == SyncPolicy::EveryRecord {
            self.sync()?;
        }
        Ok(())
    }

    /// Appends one record, marked as this sweep's, and hands it to the OS
    /// before returning, so it survives the process being killed; it
    /// reaches the disk according to the [`SyncPolicy`].
    pub fn append(&mut self, record: &Record) -> Result<(), StoreError> {
        let mut line = super::record::encode(record, self.identity).map_err(|e| StoreError::Io {
            path: self.path.clone(),
            doing: "encode a record for",
            reason: e.into(),
        })?;
        line.push(b'\n');
        self.write_line(&line)
    }

    /// Flushes everything appended so far to the disk.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.dirty.store(false, Ordering::Release);
        self.file.sync_data().map_err(|reason| StoreError::Io {
            path: self.path.clone(),
            doing: "flush to disk",
            reason,
        })
    }

    /// Flushes to the disk and releases the lock, reporting a failed flush
    /// (dropping the writer does the same but cannot report).
    pub fn close(mut self) -> Result<(), StoreError> {
        self.stop_syncer();
        self.sync()
    }

    fn stop_syncer(&mut self) {
        if let Some((stop, handle)) = self.syncer.take() {
            drop(stop);
            let _ = handle.join();
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The same command over a changed space (a refined grid, a new axis
/// value): keeps every record, gives the header the new space, and
/// re-indexes the records whose points are in it so they count as done.
/// Records of points no longer in the space stay in the file, unused. The
/// file is replaced atomically; the caller holds its lock.
fn reuse_for_new_space(path: &Path, old: Results, header: &Header) -> Result<Results, StoreError> {
    let index = SpaceIndex::new(&header.space);
    let total = old.records.len();
    let mut reused = 0;
    let records: Vec<Record> = old
        .records
        .into_iter()
        .map(|mut record| {
            if reindex(&index, &mut record) {
                reused += 1;
            }
            record
        })
        .collect();
    write_results_atomically(path, header, &records)?;
    let mut warnings = old.warnings;
    warnings.push(format!(
        "the space changed since {} was written (was {}, now {}); the command did not, so {reused} of its {total} \
         records, whose points are in the new space, are reused{}",
        path.display(),
        old.header.space,
        header.space,
        if reused < total { "; the others stay in the file, unused" } else { "" }
    ));
    Ok(Results { header: header.clone(), records, warnings, untagged: 0 })
}

/// The same sweep with other chart labels (a title or axis name edited in
/// the spec): labels are presentation, not identity, so the header takes
/// the new ones, which `plot` draws; the records stay as they are. The
/// file is replaced atomically; the caller holds its lock.
fn relabel(path: &Path, old: Results, header: &Header) -> Result<Results, StoreError> {
    write_results_atomically(path, header, &old.records)?;
    Ok(Results { header: header.clone(), records: old.records, warnings: old.warnings, untagged: 0 })
}

impl Drop for ResultsWriter {
    fn drop(&mut self) {
        self.stop_syncer();
        if self.dirty.load(Ordering::Acquire) {
            let _ = self.file.sync_data();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;
    use crate::spec::Task;

    #[test]
    fn sync_policies_parse_and_every_one_closes_cleanly() {
        assert_eq!("record".parse(), Ok(SyncPolicy::EveryRecord));
        assert_eq!("exit".parse(), Ok(SyncPolicy::OnClose));
        assert_eq!("0.5".parse(), Ok(SyncPolicy::Interval(Duration::from_millis(500))));
        for bad in ["0", "-1", "nan", "always"] {
            assert!(bad.parse::<SyncPolicy>().is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let header = Header::new(Space::range("k", 0, 3), Task::Closure("k".into()));
        for (n, policy) in [SyncPolicy::EveryRecord, SyncPolicy::OnClose, SyncPolicy::Interval(Duration::from_secs(60))]
            .into_iter()
            .enumerate()
        {
            let path = dir.path().join(format!("r{n}.jsonl"));
            let (mut writer, _) = ResultsWriter::open_with(&path, &header, policy).unwrap_or_else(|e| panic!("{e}"));
            let point = crate::point::Point::new(vec![("k".into(), crate::point::Value::Int(1))]);
            let record = Record::new(1, point, Ok(1.into()), 0.0);
            writer.append(&record).unwrap_or_else(|e| panic!("{e}"));
            let started = std::time::Instant::now();
            writer.close().unwrap_or_else(|e| panic!("{e}"));
            // The interval syncer wakes on close, not after its minute.
            assert!(started.elapsed() < Duration::from_secs(10));
            assert_eq!(Results::load(&path).map(|r| r.records.len()).ok(), Some(1));
            assert!(ResultsLock::acquire(&path).is_ok(), "close releases the lock");
        }
    }

    /// The referee's edited `labels`: the header kept the labels of the
    /// first run, so `plot` never drew the new ones.
    #[test]
    fn a_rerun_with_other_labels_relabels_the_file_and_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.jsonl");
        let mut header = Header::new(Space::range("k", 0, 3), Task::Closure("k".into()));
        header.labels.title = Some("first".into());
        let (mut writer, _) = ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
        let point = crate::point::Point::new(vec![("k".into(), crate::point::Value::Int(1))]);
        writer.append(&Record::new(1, point, Ok(1.into()), 0.0)).unwrap_or_else(|e| panic!("{e}"));
        writer.close().unwrap_or_else(|e| panic!("{e}"));

        header.labels.title = Some("edited".into());
        header.labels.axes.insert("k".into(), "k (items)".into());
        let (writer, existing) = ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((existing.header.labels.title.as_deref(), existing.records.len()), (Some("edited"), 1));
        writer.close().unwrap_or_else(|e| panic!("{e}"));
        let reread = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reread.header.labels, header.labels);
        assert_eq!(reread.header.fingerprint, header.fingerprint);
        assert_eq!(reread.records.len(), 1);
    }

    #[test]
    fn the_interval_syncer_flushes_appended_records_in_the_background() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let header = Header::new(Space::range("k", 0, 3), Task::Closure("k".into()));
        let path = dir.path().join("r.jsonl");
        let policy = SyncPolicy::Interval(Duration::from_millis(10));
        let (mut writer, _) = ResultsWriter::open_with(&path, &header, policy).unwrap_or_else(|e| panic!("{e}"));
        let point = crate::point::Point::new(vec![("k".into(), crate::point::Value::Int(2))]);
        writer.append(&Record::new(2, point, Ok(4.into()), 0.0)).unwrap_or_else(|e| panic!("{e}"));
        assert!(writer.dirty.load(Ordering::Acquire), "an append leaves unsynced data");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // The syncer, not `close`, clears the flag: it called fsync.
        while writer.dirty.load(Ordering::Acquire) {
            assert!(std::time::Instant::now() < deadline, "the background syncer never ran");
            thread::sleep(Duration::from_millis(5));
        }
        writer.close().unwrap_or_else(|e| panic!("{e}"));
    }
}
