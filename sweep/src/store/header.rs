//! The first line of a results file: which sweep its records belong to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::fingerprint::Fingerprint;
use crate::space::Space;
use crate::spec::{Labels, Spec, Task};

/// Version of the file layout, written in every header. Version 2 added a
/// record's `attempt` and `provenance`; version 3 its `task`, the identity
/// of the sweep that computed it. Files of versions 1 and 2 read as is,
/// their records (which carry no `task`) taken as the header's sweep's.
pub const FORMAT_VERSION: u32 = 3;

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
        Err(StoreError::DifferentSweep { path: path.to_owned(), found: found.fingerprint, expected: self.fingerprint })
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
