//! Appending records to a results file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::header::{Header, HeaderLine};
use super::record::Record;
use super::results::{existing_bytes_look_like_ours, parse, Parsed, Results};
use super::StoreError;

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
