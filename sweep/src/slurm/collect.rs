//! Merging the results files of a sharded sweep, and finding what is
//! missing: `sweep collect`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::point::{Point, PointId};
use crate::slurm::{shards_on_disk, Shard, SlurmError};
use crate::space::SpaceIndex;
use crate::store::{
    is_of_space, reindex, write_results_atomically, Header, Record, Results, ResultsLock, ResultsWriter, StoreError,
};

/// How many points without a record [`collect`] lists as gaps; the others
/// are counted only: a sweep of 10^12 points run in part has too many to
/// hold, let alone to read.
pub const MISSING_LISTED: usize = 1000;

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
    /// Neither the results file nor any shard file exists: most likely a
    /// wrong output path. Refused rather than reported as all points
    /// missing.
    #[error("neither {output} nor any shard file beside it (e.g. {example}) exists; wrong --output?")]
    NoShardFiles {
        /// The merged results file.
        output: PathBuf,
        /// The shard count looked for.
        count: usize,
        /// The first shard file's path.
        example: PathBuf,
    },
    /// A `sweep run --shard` is still writing a shard file: merged now, its
    /// points still running would be reported missing.
    #[error(
        "shard file {path} is still being written by a running `sweep run --shard` ({holder}); collect once it \
         has finished (nothing was merged)"
    )]
    ShardRunning {
        /// The shard file.
        path: PathBuf,
        /// Who writes it, e.g. "pid 1234 on node7".
        holder: String,
    },
    /// The merge would hold fewer computed points than the file it
    /// replaces; refused, the file is left as it is.
    #[error(
        "merging would leave {after} computed points in {path}, which holds {before}; refused, {path} is unchanged"
    )]
    WouldLoseDone {
        /// The results file.
        path: PathBuf,
        /// Points with a value in it now.
        before: usize,
        /// Points with a value after the merge.
        after: usize,
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
    /// Attempts made at the point so far (0 when missing).
    pub attempts: u32,
}

impl Gap {
    /// Whether the point failed `max_attempts` times or more: given up,
    /// not to be computed again.
    pub fn is_given_up(&self, max_attempts: u32) -> bool {
        matches!(self.reason, GapReason::Failed(_)) && crate::store::is_given_up(self.attempts, max_attempts)
    }
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
    /// The current record of every point of the space found, in index
    /// order (each point once, however often its shard was resumed): its
    /// last in `merged`.
    pub records: Vec<Record>,
    /// Every record found, as the merged results file holds them (see
    /// [`Gathered::merged`]): those of points not in the space (left from
    /// a wider space with the same command) included, carried through the
    /// merge unchanged, so that narrowing a space loses nothing computed.
    pub merged: Results,
    /// Points without a value, in index order: every failed one (there is
    /// a record of each), and the first [`MISSING_LISTED`] missing ones.
    pub gaps: Vec<Gap>,
    /// Points without a record in any file, all of them (only the first
    /// are listed in `gaps`).
    pub missing: usize,
    /// Shards (that own points) whose results file does not exist.
    pub absent_files: Shards,
    /// Tolerated problems in the shard files, e.g. a torn last line.
    pub warnings: Vec<String>,
    /// Points with a value in the results file before the merge.
    pub done_in_output: usize,
    /// The shard count the points are attributed to.
    count: usize,
    /// How many of those shards own a point: `0..owning`.
    owning: usize,
    /// The shards with a record of each of their points: all the others
    /// miss one. Held this way round because it is bounded by the records.
    full: BTreeSet<usize>,
}

impl Collection {
    /// The records of points not in the space, kept unused.
    pub fn outside(&self) -> Vec<&Record> {
        self.merged.outside()
    }

    /// Whether every point of the sweep has a value.
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty() && self.missing == 0
    }

    /// Points whose latest record is a failure.
    pub fn failed(&self) -> usize {
        self.gaps.iter().filter(|gap| gap.reason != GapReason::Missing).count()
    }

    /// Points without a record that `gaps` does not list.
    pub fn missing_unlisted(&self) -> usize {
        let listed = self.gaps.len() - self.failed();
        self.missing - listed
    }

    /// The shards with at least one point without a value.
    pub fn incomplete_shards(&self) -> Shards {
        self.shards_with_a_gap(|_| true)
    }

    /// The shards with a gap that is worth another try: a point missing,
    /// or failed fewer than `max_attempts` times. The array tasks to
    /// resubmit; shards whose only gaps are given-up points are not.
    pub fn shards_to_retry(&self, max_attempts: u32) -> Shards {
        self.shards_with_a_gap(|gap| !gap.is_given_up(max_attempts))
    }

    /// The shards missing a point, or holding a gap that `counts`: every
    /// shard but the full ones without such a gap (every failure is in
    /// `gaps`, so this needs no list of the others).
    fn shards_with_a_gap(&self, counts: impl Fn(&Gap) -> bool) -> Shards {
        let gapped: HashSet<usize> = self.gaps.iter().filter(|gap| counts(gap)).map(|gap| gap.shard.index()).collect();
        let but = self.full.iter().copied().filter(|index| !gapped.contains(index)).collect();
        Shards { count: self.count, owning: self.owning, but }
    }
}

/// A set of the shards of one count that own points, held as the ones it
/// leaves out: with one shard per point of a 10^12-point sweep nearly every
/// shard is absent or incomplete, so the set is counted by arithmetic and
/// listed lazily, and holds no more than the shards that have records.
#[derive(Debug, Clone, PartialEq)]
pub struct Shards {
    count: usize,
    /// Shards `0..owning` own a point each at least.
    owning: usize,
    /// The shards left out, each below `owning`.
    but: BTreeSet<usize>,
}

impl Shards {
    /// How many shards the set holds.
    pub fn len(&self) -> usize {
        self.owning - self.but.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shards in index order; the first `n` cost `n` plus the shards
    /// left out before them.
    pub fn iter(&self) -> impl Iterator<Item = Shard> + '_ {
        (0..self.owning).filter(|index| !self.but.contains(index)).map(|index| Shard::of_point(index, self.count))
    }
}

impl fmt::Display for Shards {
    /// The first [`MISSING_LISTED`] indices, runs of three or more as
    /// ranges (`0, 1, 5-9`: with one shard per point of a huge sweep the
    /// list would be a line of thousands of digits), then how many more
    /// there are: `0-999 and 41 more`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut indices = self.iter().take(MISSING_LISTED).map(|shard| shard.index()).peekable();
        let mut separator = "";
        while let Some(start) = indices.next() {
            let mut end = start;
            while let Some(next) = indices.next_if_eq(&(end + 1)) {
                end = next;
            }
            match end - start {
                0 => write!(f, "{separator}{start}")?,
                1 => write!(f, "{separator}{start}, {end}")?,
                _ => write!(f, "{separator}{start}-{end}")?,
            }
            separator = ", ";
        }
        match self.len().saturating_sub(MISSING_LISTED) {
            0 => Ok(()),
            more => write!(f, " and {more} more"),
        }
    }
}

/// Everything known about a sweep's points: its results file and every
/// shard file beside it, of any shard count. Records written for another
/// space with the same command (the space was refined or narrowed since)
/// count with their index in this one; those of points not in it keep
/// theirs.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// Every record, as the merged results file holds them: the results
    /// file's, then each shard record it lacks (one evaluation found in
    /// several files is kept once). A point that gains a record has its
    /// records reordered into `merge_order` in the places they take, so
    /// that its current record by the rule every reader uses (a point's
    /// last record wins: [`Results::latest`]) is its newest value, else its
    /// newest failure. Nothing is dropped: superseded records stay as the
    /// point's history.
    pub merged: Results,
    /// Points with a value in the results file itself, before merging.
    pub done_in_output: usize,
    /// Shard files read, with their shard.
    pub shard_files: Vec<(Shard, PathBuf)>,
    /// Those of them written for another space (same command): their
    /// records may belong to other shards here.
    pub respaced: Vec<(Shard, PathBuf)>,
    /// Tolerated problems, e.g. a torn last line.
    pub warnings: Vec<String>,
}

/// The order of a point's records from several files, the last current:
/// failures before values (a value is never replaced by a failure, which a
/// shard that did not know the point was done elsewhere may write later),
/// each by when its evaluation started; one without provenance (written
/// before records had it) first. Within one file records are already in
/// this order; across files only their time tells which is newer. A sort
/// by this key is stable: ties keep file order.
fn merge_order(record: &Record) -> (bool, Option<&str>) {
    // `started` is RFC 3339 UTC of fixed width: it sorts as text.
    (record.is_ok(), record.provenance.as_ref().map(|provenance| provenance.started.as_str()))
}

/// Whether `a` and `b` record the same evaluation (a record copied between
/// files: by a former collect, or seeded into a shard file of another
/// count), whatever index either was filed under.
fn same_evaluation(a: &Record, b: &Record) -> bool {
    let Record { index: _, id, point, outcome, duration_ms, attempt, provenance, retrying } = a;
    *id == b.id
        && *attempt == b.attempt
        && *outcome == b.outcome
        && duration_ms.to_bits() == b.duration_ms.to_bits()
        && *provenance == b.provenance
        && *retrying == b.retrying
        && *point == b.point
}

/// Builds [`Gathered::merged`]: the results file's records as they are,
/// then the records it lacks.
struct Merger {
    records: Vec<Record>,
    /// How many of `records` are the results file's own.
    own: usize,
    /// Where each point's records are in `records`.
    places: HashMap<PointId, Vec<usize>>,
}

impl Merger {
    fn new(own: Vec<Record>) -> Self {
        let mut places: HashMap<PointId, Vec<usize>> = HashMap::new();
        for (place, record) in own.iter().enumerate() {
            places.entry(record.id).or_default().push(place);
        }
        Merger { own: own.len(), records: own, places }
    }

    /// Adds `record` unless the same evaluation is there already.
    fn add(&mut self, record: Record) {
        let places = self.places.entry(record.id).or_default();
        if places.iter().any(|&place| same_evaluation(&self.records[place], &record)) {
            return;
        }
        places.push(self.records.len());
        self.records.push(record);
    }

    /// The records: the results file's, then those added in index order;
    /// each point that gained one has its records in [`merge_order`] over
    /// the places they take; the others are exactly as they were.
    fn finish(self) -> Vec<Record> {
        let Merger { mut records, own, .. } = self;
        // Stable: a point's records from one file keep their order.
        records[own..].sort_by_key(|record| record.index);
        let gained: HashSet<PointId> = records[own..].iter().map(|record| record.id).collect();
        let mut places: HashMap<PointId, Vec<usize>> = HashMap::new();
        for (place, record) in records.iter().enumerate() {
            if gained.contains(&record.id) {
                places.entry(record.id).or_default().push(place);
            }
        }
        for places in places.values() {
            let mut history: Vec<Record> = places.iter().map(|&place| records[place].clone()).collect();
            history.sort_by(|a, b| merge_order(a).cmp(&merge_order(b)));
            for (&place, record) in places.iter().zip(history) {
                records[place] = record;
            }
        }
        records
    }
}

/// Reads the sweep's results file `output` (if any) and every shard file
/// beside it (`<stem>.shard-K-of-N.jsonl`, every `N` found), checking each
/// against `header`: all must belong to the same sweep. A shard file
/// holding points of other shards is merged too, with a warning.
pub fn gather(output: &Path, header: &Header) -> Result<Gathered, CollectError> {
    let space = SpaceIndex::new(&header.space);
    let mut warnings = Vec::new();
    let mut own = Vec::new();
    if output.exists() {
        let results = load_checked(output, header, false)?;
        warnings.extend(results.warnings.iter().cloned());
        let refined = results.header.space != header.space;
        own = results.records;
        if refined {
            for record in &mut own {
                reindex(&space, record);
            }
        }
    }
    let own = Results { header: header.clone(), records: own, warnings: Vec::new(), untagged: 0 };
    let done_in_output = own.latest().iter().filter(|record| record.is_ok()).count();
    let mut merger = Merger::new(own.records);
    let mut shard_files = Vec::new();
    let mut respaced = Vec::new();
    let shards = shards_on_disk(output).map_err(|reason| StoreError::Io {
        path: output.to_owned(),
        doing: "list the directory of",
        reason,
    })?;
    for shard in shards {
        let path = shard.results_path(output);
        let Results { header: file_header, records, warnings: file_warnings, .. } = load_checked(&path, header, true)?;
        warnings.extend(file_warnings);
        // Shards are of the file's own space: a record of a point outside
        // it was written for an older space, under another index.
        let own = SpaceIndex::new(&file_header.space);
        let refined = file_header.space != header.space;
        // Points of another shard: the file was renamed, written with
        // another N, or re-indexed by a `run --shard` over a refined space.
        // Records are merged by their point, whatever file holds them, so
        // they count; the file is named, as it is not what its name says.
        let mut misplaced: Option<(usize, usize)> = None;
        for mut record in records {
            if !shard.contains(record.index) && is_of_space(&own, &record) {
                let (count, _) = misplaced.get_or_insert((0, record.index));
                *count += 1;
            }
            if refined {
                reindex(&space, &mut record);
            }
            merger.add(record);
        }
        if let Some((count, index)) = misplaced {
            let owner = Shard::of_point(index, shard.count());
            warnings.push(format!(
                "{} holds {} of other shards (e.g. #{index}, shard {owner}'s), not only shard {shard}'s: renamed, \
                 written with another shard count, or run over a refined space; merged by their points",
                path.display(),
                crate::output::counted(count, "point"),
            ));
        }
        if refined {
            respaced.push((shard, path.clone()));
        }
        shard_files.push((shard, path));
    }
    let merged = Results { header: header.clone(), records: merger.finish(), warnings: Vec::new(), untagged: 0 };
    Ok(Gathered { merged, done_in_output, shard_files, respaced, warnings })
}

/// Takes the lock of every shard file beside `output` (of any shard count),
/// as a writer does: a shard that a `sweep run --shard` is still writing
/// is not merged half-written (with advice to resubmit what it is
/// computing), and no run starts writing one while the merge reads it.
/// Fails at once, naming the holder, when a run holds one. Not for callers
/// that then write the shard files themselves (a second lock taken by this
/// process would be refused).
pub fn lock_shards(output: &Path) -> Result<Vec<ResultsLock>, CollectError> {
    let shards = shards_on_disk(output).map_err(|reason| StoreError::Io {
        path: output.to_owned(),
        doing: "list the directory of",
        reason,
    })?;
    shards
        .into_iter()
        .map(|shard| match ResultsLock::acquire(&shard.results_path(output)) {
            Err(StoreError::Locked { path, holder, .. }) => Err(CollectError::ShardRunning { path, holder }),
            locked => Ok(locked?),
        })
        .collect()
}

/// Reads the results file at `path`, refused unless it holds records of
/// `header`'s command, as `sweep run` refuses it: a file written for
/// another space with the same command is this sweep's. A shard file is refused with advice for `collect` and `slurm`, which
/// read it (`run`'s "choose another --output" would not find the shards).
fn load_checked(path: &Path, header: &Header, shard: bool) -> Result<Results, StoreError> {
    let results = Results::load(path)?;
    header.check_same_command(path, &results.header).map_err(|error| match error {
        StoreError::DifferentSweep { path, found, expected, why, .. } => {
            let advice = if shard {
                "Give the spec its shards were run from; or, if this is it, move the shard file away: its points \
                 then count as missing, and `sweep slurm --resubmit` computes them again"
            } else {
                "Give the spec it was written from; or, if this is it, move the file away: the shard files beside \
                 it are then merged into a new one"
            };
            StoreError::DifferentSweep { path, found, expected, why, advice: advice.to_owned() }
        }
        other => other,
    })?;
    Ok(results)
}

/// Gathers the sweep whose merged results go to `output` (see [`gather`])
/// and finds its gaps, each attributed to its shard among `count`: every
/// failed point, and the first [`MISSING_LISTED`] points without a record,
/// the rest of them counted. It takes time and memory for the records
/// found, not for the space: a huge sweep run in part is collected as fast
/// as a small one. Refused when there is nothing at all to merge: no
/// results file and no shard file.
pub fn collect(output: &Path, count: usize, header: &Header) -> Result<Collection, CollectError> {
    collect_listing(output, count, header, MISSING_LISTED)
}

/// [`collect`], listing at most `listed` points without a record.
fn collect_listing(output: &Path, count: usize, header: &Header, listed: usize) -> Result<Collection, CollectError> {
    // Validates the count, so that `Shard::of_point` below cannot panic.
    Shard::new(0, count)?;
    let gathered = gather(output, header)?;
    if gathered.shard_files.is_empty() && !output.exists() {
        let example = Shard::of_point(0, count).results_path(output);
        return Err(CollectError::NoShardFiles { output: output.to_owned(), count, example });
    }
    let total = header.space.len();
    // Shards past the last point own none (shard K of N holds the points
    // K, K + N, ...): they need no file, and are never missing a point.
    let owning = count.min(total);
    // Only the files listed on disk are looked at: a count as large as the
    // space has too many shards to probe one by one.
    let present = gathered.shard_files.iter().map(|(shard, _)| shard);
    let present = present.filter(|shard| shard.count() == count && shard.index() < owning).map(Shard::index);
    let absent_files = Shards { count, owning, but: present.collect() };
    // Each point's current record by the rule every reader uses; records
    // of points outside the space are left out (and kept in `merged`).
    let records: Vec<Record> = gathered.merged.latest().into_iter().cloned().collect();
    let attempts = gathered.merged.attempts();
    let mut gaps = Vec::new();
    let mut found_in_shard: HashMap<usize, usize> = HashMap::new();
    // The points without a record lie between the records found: listed
    // from the start of the space until `listed` are.
    let mut unlisted = listed;
    let mut list_missing = |gaps: &mut Vec<Gap>, from: usize, to: usize| {
        for index in (from..to).take(unlisted) {
            if let Some(point) = header.space.point(index) {
                let shard = Shard::of_point(index, count);
                gaps.push(Gap { index, shard, point, reason: GapReason::Missing, attempts: 0 });
                unlisted -= 1;
            }
        }
    };
    let mut next = 0;
    for record in &records {
        list_missing(&mut gaps, next, record.index);
        next = record.index + 1;
        *found_in_shard.entry(record.index % count).or_default() += 1;
        if let Err(error) = &record.outcome {
            let (index, shard, point) = (record.index, Shard::of_point(record.index, count), record.point.clone());
            let attempts = attempts.get(&index).copied().unwrap_or(record.attempt);
            gaps.push(Gap { index, shard, point, reason: GapReason::Failed(error.clone()), attempts });
        }
    }
    list_missing(&mut gaps, next, total);
    let full = found_in_shard.into_iter().filter(|&(index, found)| found == Shard::of_point(index, count).len(total));
    Ok(Collection {
        missing: total.saturating_sub(records.len()),
        records,
        merged: gathered.merged,
        gaps,
        absent_files,
        warnings: gathered.warnings,
        done_in_output: gathered.done_in_output,
        count,
        owning,
        full: full.map(|(index, _)| index).collect(),
    })
}

/// Copies every point that has a value somewhere in the sweep (the results
/// file, or a shard file of any count) into the shard file of `count` that
/// owns it, unless that file already has it: run before submitting with a
/// new shard count, so that no task computes a point already done. Failed
/// points are carried over with their attempt count, so that a point given
/// up stays given up. A shard file of `count` written for another space
/// then keeps only the points it owns in this one (see `realign`).
pub fn seed_shards(output: &Path, count: usize, header: &Header) -> Result<Seeded, CollectError> {
    Shard::new(0, count)?;
    let gathered = gather(output, header)?;
    // Only the shards that get a record: `count` may be as large as the
    // space, far more than the records.
    let mut by_shard: BTreeMap<usize, Vec<&Record>> = BTreeMap::new();
    // A point outside the space belongs to no shard; it stays where it is.
    // In index order, as each shard's records are then.
    let latest = gathered.merged.latest();
    for &record in &latest {
        by_shard.entry(record.index % count).or_default().push(record);
    }
    let mut seeded = Seeded::default();
    for (index, records) in by_shard {
        let shard = Shard::of_point(index, count);
        let path = shard.results_path(output);
        let (mut writer, existing) = ResultsWriter::open(&path, header)?;
        let done: HashSet<PointId> = existing.latest().into_iter().filter(|r| r.is_ok()).map(|r| r.id).collect();
        let attempts = existing.attempts();
        for record in records.into_iter().filter(|record| !done.contains(&record.id)) {
            // A failure is carried over with its attempt count, so that
            // `--max-attempts` holds across shard counts.
            if !record.is_ok() && attempts.get(&record.index).copied().unwrap_or(0) >= record.attempt {
                continue;
            }
            writer.append(record)?;
            if record.is_ok() {
                seeded.values += 1;
            } else {
                seeded.failures += 1;
            }
        }
    }
    // Only now that each point is in the file of its owner: a crash
    // before this leaves a point in two files, never in none.
    let known: HashSet<PointId> = latest.iter().map(|record| record.id).collect();
    for (shard, path) in gathered.respaced.iter().filter(|(shard, _)| shard.count() == count) {
        realign(path, *shard, header, &known)?;
    }
    Ok(seeded)
}

/// Rewrites the shard file `path` of `shard`, written for another space,
/// as `header`'s, without the records of points another shard owns in
/// `header`'s space: after a refinement those lie under indices of other
/// shards, which `collect` would take for a misnamed file. Only points
/// in `known` go, the ones [`seed_shards`] copied to their owner (or that
/// have a newer record there); a record appended since is kept.
fn realign(path: &Path, shard: Shard, header: &Header, known: &HashSet<PointId>) -> Result<(), CollectError> {
    let _lock = ResultsLock::acquire(path)?;
    let results = load_checked(path, header, true)?;
    let space = SpaceIndex::new(&header.space);
    let records: Vec<Record> = results
        .records
        .into_iter()
        .filter_map(|mut record| {
            let moved = reindex(&space, &mut record) && !shard.contains(record.index) && known.contains(&record.id);
            (!moved).then_some(record)
        })
        .collect();
    Ok(write_results_atomically(path, header, &records)?)
}

/// What [`seed_shards`] copied into the shard files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Points with a value.
    pub values: usize,
    /// Failed points, carried over with their attempt count.
    pub failures: usize,
}

/// Writes every record of the merged `collection` (see
/// [`Gathered::merged`]) as the results file at `path` for the sweep
/// `header`; see `write_records`.
pub fn write_merged(path: &Path, header: &Header, collection: &Collection) -> Result<(), CollectError> {
    write_records(path, header, &collection.merged, collection.done_in_output)
}

/// Writes `records` as the results file at `path` for the sweep `header`,
/// replacing the file there only once the new one is complete: written to a
/// temporary file beside it, fsynced, renamed over it, and the directory
/// fsynced (see [`write_results_atomically`]). An interrupted collect leaves
/// the old file or the new one. The caller holds the file's
/// [`ResultsLock`](crate::store::ResultsLock) from reading to writing, so
/// that no writer appends to the file being replaced.
///
/// Refused ([`CollectError::WouldLoseDone`]) if the new file would hold
/// fewer points with a value than `done_before`, the count in the file it
/// replaces: a merge never loses computed points.
fn write_records(path: &Path, header: &Header, merged: &Results, done_before: usize) -> Result<(), CollectError> {
    let done_after = merged.latest().iter().filter(|record| record.is_ok()).count();
    if done_after < done_before {
        return Err(CollectError::WouldLoseDone { path: path.to_owned(), before: done_before, after: done_after });
    }
    Ok(write_results_atomically(path, header, &merged.records)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;
    use crate::spec::Task;
    use crate::store::Provenance;

    /// The sweep the shard files belong to: `echo {k}` for k in 0..10.
    fn header() -> Header {
        echo_header(10)
    }

    /// `echo {k}` for k in `0..end`: any `end` but 10 is the same sweep
    /// over another space.
    fn echo_header(end: i64) -> Header {
        Header::new(Space::range("k", 0, end), Task::Command(vec!["echo".into(), "{k}".into()]))
    }

    /// Another command over the same space: another sweep.
    fn other_sweep() -> Header {
        Header::new(Space::range("k", 0, 10), Task::Command(vec!["printf".into(), "{k}".into()]))
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
        write_shard_of(output, header, shard, 3, records);
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

        write_merged(&output, &header, &collection).unwrap_or_else(|e| panic!("{e}"));
        let merged = Results::load(&output).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merged.header.fingerprint, header.fingerprint);
        let latest: Vec<Record> = merged.latest().into_iter().cloned().collect();
        assert_eq!(latest, collection.records);
        // The failed attempt at point 4 is kept, as its history.
        assert_eq!(merged.records.len(), 11);
        assert_eq!(merged.attempts().get(&4), Some(&1));
    }

    /// `record` with provenance: evaluated at `started` (RFC 3339).
    fn at(mut record: Record, started: &str) -> Record {
        record.provenance = Some(Provenance {
            host: "h".into(),
            started: started.into(),
            exit: None,
            slurm_job: None,
            slurm_task: None,
        });
        record
    }

    /// A point's records from several files: every evaluation kept once
    /// (a copy seeded into a shard file of another count is the same one),
    /// the newest value current, whichever file it is in and whatever was
    /// merged last; a later failure elsewhere never replaces a value.
    /// Points no shard adds to keep their records as they were.
    #[test]
    fn every_evaluation_is_kept_once_and_the_newest_value_is_current() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        let value = |index: usize, v: i64, started: &str| at(record(&header, index, Ok(v.into())), started);
        let failure = |index: usize, started: &str| at(record(&header, index, Err("boom".into())), started);
        let own = [
            value(0, 2, "2026-01-02T00:00:00.000Z"),
            value(1, 1, "2026-01-01T00:00:00.000Z"),
            value(2, 1, "2026-01-01T00:00:00.000Z"),
            // Two values of point 5 in the wrong order: no shard has
            // anything new of it, so it is left as it is.
            value(5, 2, "2026-01-02T00:00:00.000Z"),
            value(5, 1, "2026-01-01T00:00:00.000Z"),
        ];
        let (mut main, _) = ResultsWriter::open(&output, &header).unwrap_or_else(|e| panic!("{e}"));
        for record in &own {
            main.append(record).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(main);
        let append = |path: PathBuf, records: &[Record]| {
            let (mut writer, _) = ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
            for record in records {
                writer.append(record).unwrap_or_else(|e| panic!("{e}"));
            }
        };
        let shard = |k, n| Shard::new(k, n).unwrap_or_else(|e| panic!("{e}")).results_path(&output);
        append(
            shard(0, 1),
            &[
                // Older than the file's value of point 0, newer than its 1.
                value(0, 1, "2026-01-01T00:00:00.000Z"),
                value(1, 2, "2026-01-02T00:00:00.000Z"),
                // A failure after the value of point 2.
                failure(2, "2026-01-03T00:00:00.000Z"),
                value(3, 1, "2026-01-01T00:00:00.000Z"),
                own[4].clone(),
            ],
        );
        // Seeded from the other shard file: the same evaluations.
        append(shard(1, 2), &[value(1, 2, "2026-01-02T00:00:00.000Z"), value(3, 1, "2026-01-01T00:00:00.000Z")]);

        let collection = collect(&output, 1, &header).unwrap_or_else(|e| panic!("{e}"));
        let current: Vec<(usize, i64)> = collection
            .records
            .iter()
            .map(|r| (r.index, r.outcome.as_ref().ok().and_then(serde_json::Value::as_i64).unwrap_or(-1)))
            .collect();
        assert_eq!(current, [(0, 2), (1, 2), (2, 1), (3, 1), (5, 1)]);
        assert_eq!(collection.done_in_output, 4);
        // 5 of the file, 4 new of shard 0 (its copy of #5 is the file's),
        // none new of shard 1.
        assert_eq!(collection.merged.records.len(), 9);
        let merged = &collection.merged.records;
        assert_eq!(&merged[3..5], &own[3..5], "point 5 untouched");
        assert_eq!(collection.merged.failures(3).len(), 0);

        write_merged(&output, &header, &collection).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Results::load(&output).unwrap_or_else(|e| panic!("{e}")).records, *merged);
        // Collecting again adds nothing and changes no record's place.
        let again = collect(&output, 1, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.merged.records, *merged);
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
        assert_eq!(shard_indices(&collection.absent_files), [2]);
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
        assert_eq!(shard_indices(&collection.incomplete_shards()), [1, 2]);
        assert_eq!(collection.gaps[1].to_string(), "shard 1/3  missing  #4 k=4");
        assert_eq!(collection.gaps[3].to_string(), "shard 1/3  failed   #7 k=7: exit status 3");
    }

    #[test]
    fn only_the_first_missing_points_are_listed_and_all_are_counted() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        // Shard 0 of 3 did two of its points (6 and 9 left), the others none.
        write_shard(&output, &header, 0, &[ok(0), (3, Err("boom".into()))]);
        let collection = collect_listing(&output, 3, &header, 2).unwrap_or_else(|e| panic!("{e}"));
        let gaps: Vec<(usize, usize, &GapReason)> =
            collection.gaps.iter().map(|g| (g.index, g.shard.index(), &g.reason)).collect();
        // Failures are listed past the end of the missing points' listing.
        assert_eq!(
            gaps,
            [(1, 1, &GapReason::Missing), (2, 2, &GapReason::Missing), (3, 0, &GapReason::Failed("boom".into()))]
        );
        assert_eq!((collection.missing, collection.missing_unlisted(), collection.failed()), (8, 6, 1));
        assert!(!collection.is_complete());
        // Shard 0's missing points are all unlisted, and still count.
        assert_eq!(shard_indices(&collection.incomplete_shards()), [0, 1, 2]);
        assert_eq!(shard_indices(&collection.shards_to_retry(1)), [0, 1, 2]);
        let indices: Vec<usize> = collection.records.iter().map(|r| r.index).collect();
        assert_eq!(indices, [0, 3]);

        let unlisted = collect_listing(&output, 3, &header, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unlisted.gaps.len(), 1, "only the failure: {:?}", unlisted.gaps);
        assert_eq!((unlisted.missing, unlisted.missing_unlisted()), (8, 8));
        assert_eq!(shard_indices(&unlisted.incomplete_shards()), [0, 1, 2]);

        // Listing more than there are lists each once.
        let all = collect_listing(&output, 3, &header, 100).unwrap_or_else(|e| panic!("{e}"));
        let missing: Vec<usize> = all.gaps.iter().filter(|g| g.reason == GapReason::Missing).map(|g| g.index).collect();
        assert_eq!(missing, [1, 2, 4, 5, 6, 7, 8, 9]);
        assert_eq!(all.missing_unlisted(), 0);
    }

    #[test]
    fn misplaced_points_are_merged_and_foreign_files_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        write_shard(&output, &header, 0, &[ok(0), ok(4)]);
        // A point of another shard is merged, and the file named.
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        let indices: Vec<usize> = collection.records.iter().map(|r| r.index).collect();
        assert_eq!(indices, [0, 4]);
        assert!(
            collection.warnings.iter().any(|w| w.contains("holds 1 point of other shards (e.g. #4, shard 1/3's)")),
            "{:?}",
            collection.warnings
        );

        let err = collect(&dir.path().join("elsewhere.jsonl"), 4, &header).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("nor any shard file"));
        let err = collect(&output, 0, &header).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("N must be at least 1"), "{err}");

        let other = other_sweep();
        let err = collect(&output, 3, &other).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("different sweep"), "{err}");
        // Advice that fits collect and slurm, which read the shards from
        // beside their output: another --output would find none.
        assert!(err.contains("move the shard file away") && !err.contains("--output"), "{err}");
    }

    /// Writes shard `shard` of `count`.
    fn write_shard_of(
        output: &Path,
        header: &Header,
        shard: usize,
        count: usize,
        records: &[(usize, Result<serde_json::Value, String>)],
    ) {
        let path = Shard::new(shard, count).unwrap_or_else(|e| panic!("{e}")).results_path(output);
        let (mut writer, _) = ResultsWriter::open(&path, header).unwrap_or_else(|e| panic!("{e}"));
        for (index, outcome) in records {
            writer.append(&record(header, *index, outcome.clone())).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    fn done_indices(path: &Path) -> Vec<usize> {
        let results = Results::load(path).unwrap_or_else(|e| panic!("{e}"));
        results.latest().into_iter().filter(|r| r.is_ok()).map(|r| r.index).collect()
    }

    #[test]
    fn collect_merges_into_what_is_there_and_never_shrinks_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        // A complete merge of 3 shards ...
        write_shard(&output, &header, 0, &[ok(0), ok(3), ok(6), ok(9)]);
        write_shard(&output, &header, 1, &[ok(1), ok(4), ok(7)]);
        write_shard(&output, &header, 2, &[ok(2), ok(5), ok(8)]);
        let full = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        write_merged(&output, &header, &full).unwrap_or_else(|e| panic!("{e}"));
        // ... then the shard files are gone and a partial run with 4 shards
        // has a failure for a point done before: nothing done is lost.
        for k in 0..3 {
            std::fs::remove_file(Shard::new(k, 3).unwrap_or_else(|e| panic!("{e}")).results_path(&output))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        write_shard_of(&output, &header, 1, 4, &[ok(1), (5, Err("boom".into()))]);
        let partial = collect(&output, 4, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(partial.done_in_output, 10);
        assert!(partial.is_complete(), "{:?}", partial.gaps);
        write_merged(&output, &header, &partial).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done_indices(&output), (0..10).collect::<Vec<_>>());

        // A merge that would lose points is refused and leaves the file alone.
        let before = std::fs::read(&output).unwrap_or_default();
        let shrunk = Results { records: partial.records[..4].to_vec(), ..partial.merged.clone() };
        let err = write_records(&output, &header, &shrunk, 10).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("refused"));
        assert_eq!(std::fs::read(&output).unwrap_or_default(), before);
        assert!(!dir.path().join("r.jsonl.collecting").exists());
    }

    #[test]
    fn a_results_file_of_another_sweep_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let other = other_sweep();
        ResultsWriter::open(&output, &other).unwrap_or_else(|e| panic!("{e}"));
        write_shard(&output, &header(), 0, &[ok(0)]);
        let err = collect(&output, 3, &header()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("different sweep"), "{err}");
        assert!(err.contains("move the file away: the shard files beside it") && !err.contains("--output"), "{err}");
    }

    #[test]
    fn seeding_a_new_shard_count_copies_every_done_point_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        // 4 shards, cancelled part-way: 0..=5 done, 6 failed, rest missing.
        write_shard_of(&output, &header, 0, 4, &[ok(0), ok(4)]);
        write_shard_of(&output, &header, 1, 4, &[ok(1), ok(5)]);
        write_shard_of(&output, &header, 2, 4, &[ok(2), (6, Err("x".into()))]);
        write_shard_of(&output, &header, 3, 4, &[ok(3)]);
        // Point 7 was computed by a plain run into the results file itself.
        let (mut main, _) = ResultsWriter::open(&output, &header).unwrap_or_else(|e| panic!("{e}"));
        main.append(&record(&header, 7, Ok(serde_json::json!(49)))).unwrap_or_else(|e| panic!("{e}"));
        drop(main);
        // Seven values, and the failure of point 6 with its attempt count.
        let seeded = seed_shards(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seeded, Seeded { values: 7, failures: 1 });
        // Seeding again copies nothing.
        let again = seed_shards(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, Seeded::default());
        let in_shard = |k| done_indices(&Shard::new(k, 3).unwrap_or_else(|e| panic!("{e}")).results_path(&output));
        assert_eq!(in_shard(0), [0, 3]);
        assert_eq!(in_shard(1), [1, 4, 7]);
        assert_eq!(in_shard(2), [2, 5]);
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        let gaps: Vec<(usize, usize)> = collection.gaps.iter().map(|g| (g.index, g.shard.index())).collect();
        assert_eq!(gaps, [(6, 0), (8, 2), (9, 0)]);
        assert_eq!(collection.gaps[0].attempts, 1);
    }

    #[test]
    fn given_up_points_are_not_retried_but_missing_ones_are() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        let header = header();
        let failure = |index: usize, attempt: u32| {
            let mut record = record(&header, index, Err("always".into()));
            record.attempt = attempt;
            record
        };
        let path = Shard::new(1, 3).unwrap_or_else(|e| panic!("{e}")).results_path(&output);
        let (mut writer, _) = ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
        for record in [failure(1, 1), failure(1, 2), failure(1, 3), record(&header, 4, Ok(4.into())), failure(7, 1)] {
            writer.append(&record).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(writer);
        write_shard(&output, &header, 0, &[ok(0), ok(3), ok(6), ok(9)]);
        write_shard(&output, &header, 2, &[ok(2), ok(5)]);
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        let given_up: Vec<usize> = collection.gaps.iter().filter(|g| g.is_given_up(3)).map(|g| g.index).collect();
        assert_eq!(given_up, [1]);
        // Shard 1 still has point 7 (1 attempt of 3) and shard 2 point 8.
        assert_eq!(shard_indices(&collection.shards_to_retry(3)), [1, 2]);
        assert_eq!(shard_indices(&collection.shards_to_retry(1)), [2]);
        assert_eq!(shard_indices(&collection.incomplete_shards()), [1, 2]);
        assert_eq!(collection.shards_to_retry(1).to_string(), "2");
        assert_eq!(collection.shards_to_retry(3).to_string(), "1, 2");
    }

    fn shard_indices(shards: &Shards) -> Vec<usize> {
        let indices: Vec<usize> = shards.iter().map(|shard| shard.index()).collect();
        assert_eq!(indices.len(), shards.len(), "{shards:?}");
        indices
    }

    /// One shard per point of a 10^12-point sweep: the shards absent,
    /// incomplete or to retry are counted and listed from the few files and
    /// records there are, never walked (this would not end).
    #[test]
    fn shards_of_a_count_as_large_as_a_huge_space_are_counted_not_walked() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        const TOTAL: usize = 1_000_000_000_000;
        let header = Header::new(Space::range("k", 0, TOTAL as i64), Task::Command(vec!["echo".into(), "{k}".into()]));
        // Shard 0 is done, shard 2 failed its one point, shard 5 has a file
        // but no record; every other shard has no file.
        write_shard_of(&output, &header, 0, TOTAL, &[ok(0)]);
        write_shard_of(&output, &header, 2, TOTAL, &[(2, Err("boom".into()))]);
        write_shard_of(&output, &header, 5, TOTAL, &[]);
        let collection = collect(&output, TOTAL, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(collection.absent_files.len(), TOTAL - 3);
        let first = |shards: &Shards| shards.iter().take(5).map(|shard| shard.index()).collect::<Vec<_>>();
        assert_eq!(first(&collection.absent_files), [1, 3, 4, 6, 7]);
        let incomplete = collection.incomplete_shards();
        assert_eq!((incomplete.len(), first(&incomplete)), (TOTAL - 1, vec![1, 2, 3, 4, 5]));
        let given_up_kept_out = collection.shards_to_retry(1);
        assert_eq!((given_up_kept_out.len(), first(&given_up_kept_out)), (TOTAL - 2, vec![1, 3, 4, 5, 6]));
        assert_eq!(collection.shards_to_retry(2), incomplete);
        assert_eq!(incomplete.to_string(), "1-1000 and 999999998999 more");
        assert_eq!(given_up_kept_out.to_string(), "1, 3-1001 and 999999998998 more");
    }

    /// Shard files and a results file of the same command over other
    /// spaces: records of points in this one count, under their index
    /// here; the others are carried through the merge, never checked
    /// against the shard of an index they no longer have, and seeded
    /// nowhere.
    #[test]
    fn records_of_other_spaces_count_where_their_point_is_and_are_kept_where_not() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let output = dir.path().join("r.jsonl");
        // k in 5..15 with the same command: point k=7 is at index 2 there.
        let shifted = Header::new(Space::range("k", 5, 15), Task::Command(vec!["echo".into(), "{k}".into()]));
        let at = |k: i64| (k - 5) as usize;
        let (mut main, _) = ResultsWriter::open(&output, &shifted).unwrap_or_else(|e| panic!("{e}"));
        for k in [7, 14] {
            main.append(&record(&shifted, at(k), Ok(serde_json::json!(k)))).unwrap_or_else(|e| panic!("{e}"));
        }
        drop(main);
        // Shard 1 of 3 of that space holds k=6 (index 1) and k=12 (index 7).
        write_shard_of(&output, &shifted, 1, 3, &[(at(6), Ok(6.into())), (at(12), Ok(12.into()))]);

        let header = header();
        let collection = collect(&output, 3, &header).unwrap_or_else(|e| panic!("{e}"));
        let inside: Vec<(usize, &serde_json::Value)> =
            collection.records.iter().filter_map(|r| Some((r.index, r.outcome.as_ref().ok()?))).collect();
        assert_eq!(inside, [(6, &serde_json::json!(6)), (7, &serde_json::json!(7))]);
        let outside: Vec<&Point> = collection.outside().iter().map(|r| &r.point).collect();
        assert_eq!(outside.len(), 2, "k=12 and k=14: {outside:?}");
        // Left under the index they had; shard 1/3 here does not own 7.
        assert!(collection.outside().iter().any(|r| r.index == 7), "{outside:?}");
        assert_eq!(collection.missing, 8);
        write_merged(&output, &header, &collection).unwrap_or_else(|e| panic!("{e}"));
        let merged = Results::load(&output).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(merged.header.fingerprint, header.fingerprint);
        assert_eq!((merged.status().done, merged.status().outside), (2, 2));

        let seeded = seed_shards(&output, 2, &header).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seeded, Seeded { values: 2, failures: 0 }, "k=6 and k=7 only");
        assert_eq!(done_indices(&Shard::new(0, 2).unwrap_or_else(|e| panic!("{e}")).results_path(&output)), [6]);
    }
}
