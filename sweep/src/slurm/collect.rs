//! Merging the results files of a sharded sweep, and finding what is
//! missing: `sweep collect`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::point::Point;
use crate::slurm::{Shard, SlurmError};
use crate::store::{write_results_atomically, Header, Record, Results, ResultsLock, StoreError};

/// Why the shard files cannot be merged at all (as opposed to merely
/// being incomplete, which [`Collection::gaps`] reports).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A shard file cannot be read or belongs to another sweep.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The shard count is zero.
    #[error(transparent)]
    Shard(#[from] SlurmError),
    /// A shard file holds a point of another shard: the files were renamed,
    /// or written with a different shard count.
    #[error(
        "{path} holds point #{index}, which belongs to shard {owner}, not {shard}; \
         was the sweep sharded with a different N?"
    )]
    WrongShard {
        /// The shard file.
        path: PathBuf,
        /// The misplaced point's index.
        index: usize,
        /// The shard the file is named for.
        shard: Shard,
        /// The shard that owns the point.
        owner: Shard,
    },
    /// Not one of the `count` shard files exists: most likely a wrong
    /// shard count or output path. Refused rather than reported as all
    /// points missing, so that an existing results file is not replaced by
    /// an empty merge.
    #[error("none of the {count} shard files of {output} exists (e.g. {example}); wrong --tasks or --output?")]
    NoShardFiles {
        /// The merged results file.
        output: PathBuf,
        /// The shard count looked for.
        count: usize,
        /// The first shard file's path.
        example: PathBuf,
    },
}

/// Why a point has no value after collecting.
#[derive(Debug, Clone, PartialEq)]
pub enum GapReason {
    /// No shard file holds a record of the point.
    Missing,
    /// The latest record of the point is a failure, with this message.
    Failed(String),
}

/// A point of the sweep without a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// The point's index in the space.
    pub index: usize,
    /// The shard responsible for it.
    pub shard: Shard,
    /// Its coordinates.
    pub point: Point,
    /// Missing or failed.
    pub reason: GapReason,
}

impl fmt::Display for Gap {
    /// One line: `shard 1/4  missing  #5 x=0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            GapReason::Missing => write!(f, "shard {}  missing  #{} {}", self.shard, self.index, self.point),
            GapReason::Failed(error) => {
                write!(f, "shard {}  failed   #{} {}: {error}", self.shard, self.index, self.point)
            }
        }
    }
}

/// The merged view of a sharded sweep.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The latest record of every point found, in index order (each point
    /// once, however often its shard was resumed).
    pub records: Vec<Record>,
    /// Points without a value, in index order.
    pub gaps: Vec<Gap>,
    /// Shards whose results file does not exist.
    pub absent_files: Vec<Shard>,
    /// Tolerated problems in the shard files, e.g. a torn last line.
    pub warnings: Vec<String>,
}

impl Collection {
    /// Whether every point of the sweep has a value.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    /// Indices of the shards with at least one gap, ascending: the array
    /// tasks to resubmit.
    pub fn incomplete_shards(&self) -> Vec<usize> {
        let shards: BTreeSet<usize> = self.gaps.iter().map(|gap| gap.shard.index()).collect();
        shards.into_iter().collect()
    }
}

/// Reads the `count` shard files of the sweep whose merged results go to
/// `output` (see [`Shard::results_path`]) and checks them against `header`:
/// every file must belong to the same sweep and hold only its own shard's
/// points. A shard file that does not exist counts as all its points
/// missing, but at least one must exist.
pub fn collect(output: &Path, count: usize, header: &Header) -> Result<Collection, CollectError> {
    // Validates the count, so that `Shard::of_point` below cannot panic.
    Shard::new(0, count)?;
    let total = header.space.len();
    let mut latest: HashMap<usize, Record> = HashMap::new();
    let mut absent_files = Vec::new();
    let mut warnings = Vec::new();
    for shard in Shard::all(count) {
        let path = shard.results_path(output);
        if !path.exists() {
            absent_files.push(shard);
            continue;
        }
        let results = Results::load(&path)?;
        if results.header.fingerprint != header.fingerprint {
            return Err(StoreError::DifferentSweep {
                path,
                found: results.header.fingerprint,
                expected: header.fingerprint,
            }
            .into());
        }
        warnings.extend(results.warnings);
        for record in results.records {
            if !shard.contains(record.index) {
                let owner = Shard::of_point(record.index, count);
                return Err(CollectError::WrongShard { path, index: record.index, shard, owner });
            }
            // Later lines supersede earlier ones (a resumed or retried point).
            latest.insert(record.index, record);
        }
    }

    let mut records = Vec::with_capacity(latest.len());
    let mut gaps = Vec::new();
    for (index, point) in header.space.iter().enumerate().take(total) {
        let shard = Shard::of_point(index, count);
        match latest.remove(&index) {
            Some(record) => {
                if let Err(error) = &record.outcome {
                    gaps.push(Gap { index, shard, point, reason: GapReason::Failed(error.clone()) });
                }
                records.push(record);
            }
            None => gaps.push(Gap { index, shard, point, reason: GapReason::Missing }),
        }
    }
    if absent_files.len() == count {
        let example = Shard::of_point(0, count).results_path(output);
        return Err(CollectError::NoShardFiles { output: output.to_owned(), count, example });
    }
    Ok(Collection { records, gaps, absent_files, warnings })
}

/// Writes `records` as a fresh results file at `path` for the sweep
/// `header`, holding the file's lock and replacing any file there only once
/// the new one is complete and on disk (written beside it, fsynced, then
/// renamed), so an interrupted collect never leaves a half-merged file.
pub fn write_merged(path: &Path, header: &Header, records: &[Record]) -> Result<(), StoreError> {
    let _lock = ResultsLock::acquire(path)?;
    write_results_atomically(path, header, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;
    use crate::spec::Task;
    use crate::store::ResultsWriter;

    fn header() -> Header {
        Header::new(Space::range("k", 0, 10), Task::Command(vec!["echo".into(), "{k}".into()]))
    }

    fn record(header: &Header, index: usize, outcome: Result<serde_json::Value, String>) -> Record {
        let point = header.space.point(index).unwrap_or_else(|| panic!("no point {index}"));
        Record::new(index, point, outcome, 1.0)
    }

    /// Writes shard `shard` of 3 with the given (index, outcome) records.
    fn write_shard(
        output: &Path,
        header: &Header,
        shard: usize,
        records: &[(usize, Result<serde_json::Value, String>)],
    ) {
        let path = Shard::new(shard, 3).unwrap_or_else(|e| panic!("{e}")).results_path(output);
        let (mut writer, _) = ResultsWriter::open(&path, header).unwrap_or_else(|e| panic!("{e}"));
        for (index, outcome) in records {
            writer.append(&record(header, *index, outcome.clone())).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn ok(index: usize) -> (usize, Result<serde_json::Value, String>) {
        (index, Ok(serde_json::json!(index * index)))
    }

    #[test]
    fn complete_shards_merge_into_every_point_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        write_shard(&output, &header, 0, &[ok(0), ok(3), ok(6), ok(9)]);
        // Shard 1 failed point 4 first, then a retry succeeded: latest wins.
        write_shard(&output, &header, 1, &[ok(1), (4, Err("boom".into())), ok(7), ok(4)]);
        write_shard(&output, &header, 2, &[ok(8), ok(5), ok(2)]);
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        assert!(collection.is_complete(), "{:?}", collection.gaps);
        let indices: Vec<usize> = collection.records.iter().map(|r| r.index).collect();
        assert_eq!(indices, (0..10).collect::<Vec<_>>());
        assert!(collection.records.iter().all(|r| r.outcome == Ok(serde_json::json!(r.index * r.index))));

        write_merged(&output, &header, &collection.records).unwrap_or_else(|e| panic!("{e}"));
        let merged = Results::load(&output).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merged.header.fingerprint, header.fingerprint);
        assert_eq!(merged.records, collection.records);
    }

    #[test]
    fn gaps_name_their_shard_and_reason() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        write_shard(&output, &header, 0, &[ok(0), ok(3), ok(6), ok(9)]);
        write_shard(&output, &header, 1, &[ok(1), (7, Err("exit status 3".into()))]);
        // Shard 2 never ran: no file.
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        assert!(!collection.is_complete());
        assert_eq!(collection.absent_files, vec![Shard::new(2, 3).unwrap_or_else(|e| panic!("{e}"))]);
        let gaps: Vec<(usize, usize, &GapReason)> =
            collection.gaps.iter().map(|g| (g.index, g.shard.index(), &g.reason)).collect();
        assert_eq!(
            gaps,
            vec![
                (2, 2, &GapReason::Missing),
                (4, 1, &GapReason::Missing),
                (5, 2, &GapReason::Missing),
                (7, 1, &GapReason::Failed("exit status 3".into())),
                (8, 2, &GapReason::Missing),
            ]
        );
        assert_eq!(collection.incomplete_shards(), vec![1, 2]);
        assert_eq!(collection.gaps[1].to_string(), "shard 1/3  missing  #4 k=4");
        assert_eq!(collection.gaps[3].to_string(), "shard 1/3  failed   #7 k=7: exit status 3");
    }

    #[test]
    fn misplaced_points_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        write_shard(&output, &header, 0, &[ok(0), ok(4)]);
        let err = collect(&output, 3, &header).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("point #4, which belongs to shard 1/3, not 0/3"), "{err}");

        let err = collect(&output, 4, &header).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("none of the 4 shard files"), "{err}");
        let err = collect(&output, 0, &header).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("N must be at least 1"), "{err}");

        let other = Header::new(Space::range("k", 0, 11), Task::Command(vec!["echo".into(), "{k}".into()]));
        let err = collect(&output, 3, &other).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("different sweep"), "{err}");
    }
}
