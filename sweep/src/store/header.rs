//! The first line of a results file: which sweep its records belong to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::fingerprint::Fingerprint;
use crate::space::Space;
use crate::spec::{Labels, Spec, Task};

/// Version of the file layout, written in every header. Version 2 added a
/// record's `attempt` and `provenance`; version 3 its `task`, the identity
/// of the sweep that computed it; version 4 [`Task::Persistent`], where
/// older files wrote `Command` for a persistent command too (so an older
/// sweep refuses a version-4 file as newer instead of misreading it).
/// Files of versions 1 and 2 read as is, their records (which carry no
/// `task`) taken as the header's sweep's; a `Command` of versions 3 and
/// older is taken as one-shot, as it is written today.
pub const FORMAT_VERSION: u32 = 4;

/// Advice of [`StoreError::DifferentSweep`] for `run`, the writer of
/// results files.
const START_OVER: &str = "Choose another --output, or move the file away to start over";

/// First line of a results file: which sweep the records belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    /// Hash of `space` and `task`; a rerun must match it.
    pub fingerprint: Fingerprint,
    /// The whole space, so `status` can count missing points.
    pub space: Space,
    /// What is evaluated.
    pub task: Task,
    /// The spec file the sweep came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_path: Option<PathBuf>,
    /// Plot title and axis labels.
    #[serde(default)]
    pub labels: Labels,
}

impl Header {
    /// A header for `task` over `space`, fingerprint included.
    pub fn new(space: Space, task: Task) -> Self {
        let fingerprint = Fingerprint::of_sweep(&space, &task);
        Header { format: FORMAT_VERSION, fingerprint, space, task, spec_path: None, labels: Labels::default() }
    }
}

impl Header {
    /// The identity every record of this sweep carries: the fingerprint of
    /// its task. Not of the space too: a record stays valid when the space
    /// is refined around its point (see [`crate::fingerprint`]).
    pub fn record_identity(&self) -> Fingerprint {
        Fingerprint::of_task(&self.task)
    }

    /// Refuses the results file at `path`, whose header is `found`, unless
    /// it holds this sweep's records: the same command
    /// ([`Header::record_identity`]). The space may differ (a refined grid,
    /// a narrowed range): the records of points in both are reused.
    pub fn check_same_command(&self, path: &Path, found: &Header) -> Result<(), StoreError> {
        if found.record_identity() == self.record_identity() {
            return Ok(());
        }
        const ONE_SHOT: &str = "one-shot (a process per point, the point in its arguments)";
        const PERSISTENT: &str = "persistent (a process per worker, each point on its stdin)";
        let mut advice = START_OVER.to_owned();
        let why = match (&found.task, &self.task) {
            (Task::Command(old), Task::Persistent(new)) if old == new => {
                if found.format < 4 {
                    advice = format!(
                        "The file was written by an older sweep (file format {}), which recorded a command \
                         alike whether it ran one-shot or persistent; such a file is now taken as one-shot. If \
                         its records came from one-shot runs, drop `persistent` from the spec to go on with it; \
                         if they came from persistent runs, they cannot be told apart: choose another --output, \
                         or move the file away, to compute them again",
                        found.format
                    );
                }
                format!("its command ran {ONE_SHOT} and this sweep runs it {PERSISTENT}, which computes something else")
            }
            (Task::Persistent(old), Task::Command(new)) if old == new => {
                format!("its command ran {PERSISTENT} and this sweep runs it {ONE_SHOT}, which computes something else")
            }
            _ => "the command changed".to_owned(),
        };
        Err(StoreError::DifferentSweep {
            path: path.to_owned(),
            found: found.fingerprint,
            expected: self.fingerprint,
            why,
            advice,
        })
    }

    /// Whether this file's records may lack an identity: those of files
    /// written before records carried one (format 2 and older), which are
    /// taken as the header's sweep's, as they always were.
    pub fn accepts_untagged(&self) -> bool {
        self.format < 3
    }

    /// The header of a spec's results files (whole sweep and shards alike).
    /// The spec's path is kept as given, so that a study directory moved or
    /// copied whole still finds its own spec; `status` takes a spec only
    /// when it is this sweep's (its fingerprint), wherever it looks.
    pub fn for_spec(spec: &Spec, spec_path: &Path) -> Header {
        let mut header = Header::new(spec.space.clone(), spec.task());
        header.spec_path = Some(spec_path.to_owned());
        header.labels = spec.labels.clone();
        header
    }

    /// Where the spec this header names may be, for the results file at
    /// `results`, in the order to look: its `spec_path` (as `run` was given
    /// it) taken from the results file's directory, a spec of that name
    /// beside the results file, then the path as written, from the current
    /// directory (`configs/x.ron` for `target/sweep/x.jsonl`, run from the
    /// root). Empty when the header names no spec.
    pub fn spec_candidates(&self, results: &Path) -> Vec<PathBuf> {
        let Some(written) = self.spec_path.as_deref() else { return Vec::new() };
        let directory = results.parent().unwrap_or(Path::new(""));
        let mut candidates = vec![directory.join(written)];
        if let Some(name) = written.file_name() {
            candidates.push(directory.join(name));
        }
        candidates.push(written.to_owned());
        candidates
    }
}

/// How every results file starts (its header line's first bytes): what tells
/// a sweep's file from anything else before it is parsed.
pub(crate) const HEADER_START: &str = "{\"sweep\"";

/// On-disk shape of the header: `{"sweep": {...}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderLine {
    pub(crate) sweep: Header,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(task: Task, format: u32) -> Header {
        Header { format, ..Header::new(Space::range("k", 0, 4), task) }
    }

    fn refusal(expected: &Header, found: &Header) -> String {
        expected.check_same_command(Path::new("r.jsonl"), found).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_same_argv_in_the_other_mode_is_refused_saying_so() {
        let argv = || vec!["./bb".to_owned()];
        let (one_shot, persistent) = (header(Task::Command(argv()), 4), header(Task::Persistent(argv()), 4));
        assert!(one_shot.check_same_command(Path::new("r.jsonl"), &one_shot).is_ok());
        let message = refusal(&persistent, &one_shot);
        assert!(message.contains("ran one-shot") && message.contains("runs it persistent"), "{message}");
        assert!(message.ends_with("Choose another --output, or move the file away to start over"), "{message}");
        let message = refusal(&one_shot, &persistent);
        assert!(message.contains("ran persistent") && message.contains("runs it one-shot"), "{message}");
        let other = header(Task::Command(vec!["./other".to_owned()]), 4);
        assert!(refusal(&one_shot, &other).contains("the command changed"));
    }

    #[test]
    fn a_file_older_than_the_mode_is_one_shot_and_a_persistent_run_says_why_it_is_refused() {
        let argv = || vec!["./bb".to_owned()];
        let old = header(Task::Command(argv()), 3);
        // Its identity is unchanged: a one-shot run goes on with it.
        assert!(header(Task::Command(argv()), FORMAT_VERSION).check_same_command(Path::new("r.jsonl"), &old).is_ok());
        let message = refusal(&header(Task::Persistent(argv()), FORMAT_VERSION), &old);
        assert!(message.contains("older sweep (file format 3)"), "{message}");
        assert!(message.contains("drop `persistent` from the spec"), "{message}");
        assert!(message.contains("move the file away, to compute them again"), "{message}");
    }
}
