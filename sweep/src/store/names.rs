//! File names sweep derives from a name it is given (a results file's
//! lock, temporaries and side file; a chart's siblings) are checked against
//! the file system's limit up front: one too long would otherwise fail
//! mid-way ("File name too long") as a failure to carry out, though the
//! fault is the name given.

use std::path::{Path, PathBuf};

use super::atomic::temporary_path_of;
use super::{rejected_path, ResultsLock, StoreError};

/// Most bytes in one file name: NAME_MAX of Linux, and the limit of most
/// file systems elsewhere.
pub const NAME_MAX: usize = 255;

/// Refuses the files sweep would write for the name `given` (each with
/// what it is) when a name is longer than [`NAME_MAX`] bytes, naming the
/// longest: shortening `given` by what it exceeds makes every one fit.
fn check_names(given: &Path, what: &str, derived: Vec<(PathBuf, String)>) -> Result<(), StoreError> {
    refuse_directory_name(given, what)?;
    let bytes = |path: &Path| path.file_name().map_or(0, |name| name.as_encoded_bytes().len());
    let Some((longest, what)) = derived.into_iter().max_by_key(|(path, _)| bytes(path)) else { return Ok(()) };
    match bytes(&longest) {
        fits if fits <= NAME_MAX => Ok(()),
        bytes => Err(StoreError::NameTooLong { given: given.to_owned(), derived: longest, what, bytes }),
    }
}

/// Refuses a path that can only name a directory: one ending in `/`, `/.`
/// or `/..` (`-o x.jsonl/`), or `.` or `..`. A name derived from it by
/// appending (`x.jsonl/` + `.lock`) would be a file inside that directory,
/// which would be created for it.
pub(super) fn refuse_directory_name(path: &Path, what: &str) -> Result<(), StoreError> {
    let bytes = path.as_os_str().as_encoded_bytes();
    let last = bytes.rsplit(|&b| std::path::is_separator(char::from(b))).next().unwrap_or_default();
    if matches!(last, b"" | b"." | b"..") {
        return Err(StoreError::NotAFile { path: path.to_owned(), what: what.to_owned(), is: "names a directory" });
    }
    Ok(())
}

/// The widest process id: Linux's PID_MAX_LIMIT (2^22), above every other
/// system's. A temporary's name is checked with it, so that a name is
/// refused or not whatever the pid of the process that writes it.
const WIDEST_PID: u32 = 1 << 22;

/// `path`, a file written whole (see [`super::write_atomically`]), and
/// its temporary.
fn written(path: &Path, what: &str) -> [(PathBuf, String); 2] {
    let temporary = temporary_path_of(path, WIDEST_PID);
    [
        (path.to_owned(), what.to_owned()),
        (temporary, format!("the temporary file {what} is first written to (pid {WIDEST_PID} at most)")),
    ]
}

/// Checks the names of `path`, a file written whole for the name `given`:
/// its own, and its temporary's.
pub fn check_written_names(given: &Path, path: &Path, what: &str) -> Result<(), StoreError> {
    check_names(given, what, written(path, what).into())
}

/// Checks every name sweep derives from the results file `results`: its
/// own and its temporary's, its lock's, and `repair`'s side file's (and
/// that one's temporary): a results file sweep could create but not lock
/// or repair is refused before anything is computed.
pub fn check_results_names(results: &Path) -> Result<(), StoreError> {
    let mut derived = Vec::from(written(results, "the results file"));
    derived.push((ResultsLock::lock_path(results), "its lock file".to_owned()));
    derived.extend(written(&rejected_path(results), "the side file `sweep repair` writes"));
    check_names(results, "the results file", derived)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_limit_are_refused_naming_the_derived_file() {
        let name = |bytes: usize| format!("dir/{}", "r".repeat(bytes - ".jsonl".len())) + ".jsonl";
        // The widest derived name: `.<name>.rejected.jsonl.<pid>.tmp`.
        let widest = ".".len() + ".rejected.jsonl".len() + ".4194304.tmp".len();
        assert!(check_results_names(Path::new(&name(NAME_MAX - widest))).is_ok());
        let message = check_results_names(Path::new(&name(NAME_MAX - widest + 1)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(".rejected.jsonl.4194304.tmp") && message.contains("256 bytes"), "{message}");
        // The longest derived name is named, and shortening by what it
        // exceeds is enough.
        let long = check_results_names(Path::new(&name(251))).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(long.contains("more than the 255") && long.contains("at least 24 bytes shorter"), "{long}");
        assert!(check_results_names(Path::new(&name(251 - 24))).is_ok());
        // `-o x.jsonl/` made a directory x.jsonl for the lock x.jsonl/.lock.
        for directory in ["x.jsonl/", "d/x.jsonl/.", "d/..", ".", "", "/"] {
            let refused = check_results_names(Path::new(directory)).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains("names a directory, not a file"), "{directory:?}: {refused}");
            assert!(check_written_names(Path::new(directory), Path::new(directory), "the CSV").is_err());
        }
        assert!(check_results_names(Path::new("d/.x.jsonl")).is_ok());
        // Multi-byte characters count by their bytes.
        let snowmen = format!("{}.png", "☃".repeat(84));
        assert!(check_written_names(Path::new(&snowmen), Path::new(&snowmen), "the chart").is_err());
    }
}
