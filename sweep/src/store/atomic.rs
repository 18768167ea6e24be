//! Replacing a file all at once: write a temporary file beside it, fsync,
//! rename over the original, fsync the directory. Readers and crashes see
//! the old file or the new one, never a mixture or a truncated file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::header::{Header, HeaderLine, FORMAT_VERSION};
use super::record::{encode, Record};
use super::StoreError;

/// Writes `path` through `fill`, atomically: the content goes to a
/// temporary file in the same directory, which is flushed to disk and then
/// renamed over `path` (keeping its permissions); the directory entry is
/// flushed too, so the new file survives a power cut once this returns.
///
/// On any error the temporary file is removed and `path` is untouched. Hold
/// the file's [`ResultsLock`](super::ResultsLock) when `path` is a results
/// file, so that no writer appends to the file being replaced.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("notes.txt");
/// sweep::store::write_atomically(&path, |out| {
///     use std::io::Write;
///     writeln!(out, "complete or absent, never half written")
/// })?;
/// assert_eq!(std::fs::read_to_string(&path)?, "complete or absent, never half written\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    // A symbolic link is followed: the file it names is replaced, the link
    // stays. Something that is not a regular file (`/dev/stdout`, a FIFO)
    // cannot be replaced by a rename and is written in place.
    let resolved;
    let path = match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => return write_in_place(path, fill),
        _ if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            // Also for a dangling link (a results file to be created on
            // scratch space through a link in the home directory): the
            // file goes where the link points, never over the link.
            resolved = link_target(path).map_err(|reason| StoreError::Io {
                path: path.to_owned(),
                doing: "resolve the link",
                reason,
            })?;
            resolved.as_path()
        }
        _ => path,
    };
    let temporary = temporary_path(path);
    // Errors name the file the user asked for, not the temporary one.
    let io = |doing, reason| StoreError::Io { path: path.to_owned(), doing, reason };
    // Missing directories are created, for every file sweep writes, as
    // `run` creates those of its results file (and lock).
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)
        .map_err(|e| io("create a temporary file beside", e))?;
    let result = (|| {
        let mut out = BufWriter::new(file);
        fill(&mut out).map_err(|e| io("write", e))?;
        let file = out.into_inner().map_err(|e| io("write", e.into_error()))?;
        if let Ok(metadata) = std::fs::metadata(path) {
            // Best effort: a replaced file keeps its mode.
            let _ = file.set_permissions(metadata.permissions());
        }
        file.sync_all().map_err(|e| io("flush to disk", e))?;
        std::fs::rename(&temporary, path).map_err(|reason| StoreError::Io {
            path: path.to_owned(),
            doing: "replace",
            reason,
        })?;
        sync_directory(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Where the symbolic link `path` finally points, following chains of
/// links, whether or not the final target exists.
pub(super) fn link_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_owned();
    // As many hops as the kernel follows before ELOOP.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Writes into a special file (a device, a FIFO) directly.
fn write_in_place(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let io = |reason| StoreError::Io { path: path.to_owned(), doing: "write", reason };
    let file = OpenOptions::new().write(true).open(path).map_err(io)?;
    let mut out = BufWriter::new(file);
    fill(&mut out).map_err(io)?;
    out.flush().map_err(io)
}

/// Refuses a results path that exists but is not a regular file
/// ([`StoreError::NotRegularFile`]): reading a FIFO would block until
/// someone writes to it (a hang that no signal ends), reading `/dev/zero`
/// whole never ends and grows without bound, and a directory or device
/// cannot hold results.
pub(super) fn require_regular_file(path: &Path) -> Result<(), StoreError> {
    let Ok(metadata) = std::fs::metadata(path) else { return Ok(()) };
    let kind = metadata.file_type();
    #[cfg(unix)]
    let special = {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            Some("a FIFO")
        } else if kind.is_socket() {
            Some("a socket")
        } else if kind.is_block_device() || kind.is_char_device() {
            Some("a device")
        } else {
            None
        }
    };
    #[cfg(not(unix))]
    let special = None;
    let what = if kind.is_dir() { Some("a directory") } else { special.filter(|_| !kind.is_file()) };
    match what {
        Some(what) => Err(StoreError::NotRegularFile { path: path.to_owned(), what }),
        None => Ok(()),
    }
}

/// Refuses to change a results file whose mode allows no writing: the
/// user protected it (`chmod a-w`). A rename would replace it regardless,
/// and root may write to it regardless, so the mode is checked here.
pub(super) fn refuse_read_only(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() && metadata.permissions().readonly() => Err(StoreError::Io {
            path: path.to_owned(),
            doing: "change",
            reason: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the file is read-only; make it writable (chmod u+w) to let sweep add to it",
            ),
        }),
        _ => Ok(()),
    }
}

/// Writes a complete results file — header, then `records` in order — over
/// whatever is at `path`, atomically (see [`write_atomically`]), in
/// today's format: every record is marked as `header`'s sweep's, so pass
/// only records a reader accepted as that sweep's. A read-only file is
/// refused, not replaced.
pub fn write_results_atomically(path: &Path, header: &Header, records: &[Record]) -> Result<(), StoreError> {
    require_regular_file(path)?;
    refuse_read_only(path)?;
    let identity = header.record_identity();
    let mut header = header.clone();
    header.format = FORMAT_VERSION;
    write_atomically(path, |out| {
        serde_json::to_writer(&mut *out, &HeaderLine { sweep: header })?;
        out.write_all(b"\n")?;
        for record in records {
            out.write_all(&encode(record, identity)?)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// `dir/.name.<pid>.tmp`: hidden, per process, in the same directory (a
/// rename is only atomic within one file system).
fn temporary_path(path: &Path) -> PathBuf {
    temporary_path_of(path, std::process::id())
}

/// [`temporary_path`] for process `pid` ([`super::names`] checks the name
/// with the widest pid).
pub(super) fn temporary_path_of(path: &Path, pid: u32) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "results".into());
    path.with_file_name(format!(".{name}.{pid}.tmp"))
}

/// Removes `.<name>.<pid>.tmp` files beside `results` (and beside the file
/// it links to): temporaries of replacements killed before their rename.
/// Only for holders of the results file's lock, the only writers of such
/// files. Failures are ignored: a leftover costs disk space, nothing else.
pub(crate) fn remove_leftover_temporaries(results: &Path) {
    let mut places = vec![results.to_owned()];
    if let Ok(target) = std::fs::canonicalize(results) {
        if target != results {
            places.push(target);
        }
    }
    for place in places {
        let Some(name) = place.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        let prefix = format!(".{name}.");
        let directory = match place.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let Ok(entries) = std::fs::read_dir(&directory) else { continue };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(middle) =
                file_name.to_str().and_then(|n| n.strip_prefix(&prefix)).and_then(|n| n.strip_suffix(".tmp"))
            else {
                continue;
            };
            if !middle.is_empty() && middle.bytes().all(|b| b.is_ascii_digit()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Flushes the directory holding `path`, so a rename into it is durable.
/// Not every platform can open a directory; errors are ignored.
pub(crate) fn sync_directory(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_original_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "original\n").unwrap_or_else(|e| panic!("{e}"));
        let result = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("disk full"), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), "original\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["r.jsonl"], "the temporary file must be removed");
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_and_special_files_written_in_place() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let target = dir.path().join("target.csv");
        let link = dir.path().join("link.csv");
        std::fs::write(&target, "old").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        write_atomically(&link, |out| out.write_all(b"new")).unwrap_or_else(|e| panic!("{e}"));
        assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()), "the link stays");
        assert_eq!(std::fs::read_to_string(&target).unwrap_or_default(), "new");
        write_atomically(Path::new("/dev/null"), |out| out.write_all(b"discarded")).unwrap_or_else(|e| panic!("{e}"));
        // A dangling link, relative: the file is created where it points.
        std::fs::create_dir(dir.path().join("scratch")).unwrap_or_else(|e| panic!("{e}"));
        let dangling = dir.path().join("dangling.jsonl");
        std::os::unix::fs::symlink("scratch/r.jsonl", &dangling).unwrap_or_else(|e| panic!("{e}"));
        write_atomically(&dangling, |out| out.write_all(b"first")).unwrap_or_else(|e| panic!("{e}"));
        assert!(std::fs::symlink_metadata(&dangling).is_ok_and(|m| m.file_type().is_symlink()), "the link stays");
        assert_eq!(std::fs::read_to_string(dir.path().join("scratch/r.jsonl")).unwrap_or_default(), "first");
        assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()), "/dev/null is still a device");
    }
}
