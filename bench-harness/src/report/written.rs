//! Which files in a directory of the user's choosing the harness wrote:
//! `report --out` and `compare --out` never replace a file there that they
//! did not write (a user's `notes/summary.md`), as a run never writes over
//! an `--out/<name>/` of files that are not a report
//! ([`crate::run::foreign_files`]). An experiment's report directory is its
//! run's, every file there the harness's: callers use these elsewhere only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The record, in each such directory, of the files the harness wrote
/// there: one name a line.
pub const FILE_NAME: &str = ".bench-harness-written";

/// The names recorded in `dir`'s [`FILE_NAME`] (none without one).
fn recorded(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join(FILE_NAME))
        .map(|text| text.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Refuses to write the files `names` into `dir` (bad input: the user
/// named it) where one of them is there and the harness did not write it,
/// naming them; `what` is what would replace them.
pub fn check(dir: &Path, names: &[String], what: &str) -> anyhow::Result<()> {
    let ours = recorded(dir);
    let mut theirs: Vec<&str> = names
        .iter()
        .filter(|name| !ours.contains(*name) && dir.join(name).symlink_metadata().is_ok())
        .map(String::as_str)
        .collect();
    theirs.sort_unstable();
    theirs.dedup();
    if theirs.is_empty() {
        return Ok(());
    }
    Err(sweep::exit::Usage(format!(
        "{} holds {} that bench-harness did not write ({}); {what} would replace {}: move {}, or give another \
         --out (nothing was changed)",
        dir.display(),
        sweep::output::counted(theirs.len(), "file"),
        theirs.join(", "),
        if theirs.len() == 1 { "it" } else { "them" },
        if theirs.len() == 1 { "it" } else { "them" },
    ))
    .into())
}

/// Records `written`, files the harness has just written into `dir`, as
/// its own, beside those recorded before.
pub fn record(dir: &Path, written: &[PathBuf]) -> anyhow::Result<()> {
    let mut names = recorded(dir);
    names.extend(
        written
            .iter()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned()),
    );
    super::replace_file(&dir.join(FILE_NAME), |out| {
        use std::io::Write;
        for name in &names {
            writeln!(out, "{name}")?;
        }
        Ok(())
    })
}
