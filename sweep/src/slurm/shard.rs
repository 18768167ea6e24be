//! Shards: the deterministic partition of a sweep's points.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::SlurmError;

/// One shard `index` of `count`: the points whose index is `index` modulo
/// `count`. Written and parsed as `K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Shard `index` of `count`, checking `count >= 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self, SlurmError> {
        if count == 0 {
            return Err(SlurmError::ZeroShards(format!("{index}/{count}")));
        }
        if index >= count {
            return Err(SlurmError::ShardOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// The shard, among `count`, that owns the point at `point_index`.
    ///
    /// # Panics
    /// If `count` is zero (there is no such shard).
    pub fn of_point(point_index: usize, count: usize) -> Shard {
        assert!(count > 0, "a sweep cannot have zero shards");
        Shard { index: point_index % count, count }
    }

    /// The shard's index `K`, in `0..count`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of shards `N`.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether this shard owns the point at `point_index`.
    pub fn contains(&self, point_index: usize) -> bool {
        point_index % self.count == self.index
    }

    /// How many of `total` points this shard owns, by arithmetic.
    pub fn len(&self, total: usize) -> usize {
        total.saturating_sub(self.index).div_ceil(self.count)
    }

    /// The indices, among `total` points, that this shard owns.
    pub fn point_indices(&self, total: usize) -> impl Iterator<Item = usize> {
        (self.index..total).step_by(self.count)
    }

    /// The results file of this shard, next to the sweep's `output`:
    /// `results.jsonl` becomes `results.shard-K-of-N.jsonl` (a missing or
    /// different extension is kept and `.shard-K-of-N.jsonl` appended).
    pub fn results_path(&self, output: &Path) -> PathBuf {
        let stem = match output.extension() {
            Some(ext) if ext == "jsonl" => output.with_extension(""),
            _ => output.to_path_buf(),
        };
        let mut name = stem.into_os_string();
        name.push(format!(".shard-{}-of-{}.jsonl", self.index, self.count));
        PathBuf::from(name)
    }
}

/// The shards whose files (`<stem>.shard-K-of-N.jsonl`) lie beside
/// `output`, of every count `N`, ordered by count and then index; empty
/// when none do. Found by listing the directory once, so a count far above
/// the number of shard files costs nothing.
pub fn shards_on_disk(output: &Path) -> std::io::Result<Vec<Shard>> {
    let directory = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let probe = Shard { index: 0, count: 1 }.results_path(output);
    let Some(probe_name) = probe.file_name().and_then(|name| name.to_str()) else {
        return Ok(Vec::new());
    };
    // `<prefix>.shard-0-of-1.jsonl`: everything before `0-of-1.jsonl`.
    let prefix = &probe_name[..probe_name.len() - "0-of-1.jsonl".len()];
    let mut shards = Vec::new();
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let name = entry?.file_name();
        let Some(shard) = name.to_str().and_then(|name| name.strip_prefix(prefix)) else {
            continue;
        };
        let parsed = shard
            .strip_suffix(".jsonl")
            .and_then(|k_of_n| k_of_n.split_once("-of-"))
            .and_then(|(index, count)| Shard::new(index.parse().ok()?, count.parse().ok()?).ok());
        // The name must be the one `results_path` gives (no leading zeros),
        // or the file is not this shard's.
        if let Some(shard) = parsed.filter(|shard| shard.results_path(output).file_name() == Some(name.as_os_str())) {
            shards.push(shard);
        }
    }
    shards.sort_unstable_by_key(|shard| (shard.count, shard.index));
    Ok(shards)
}

/// The shard counts `N` for which shard files of `output` exist in its
/// directory, ascending; empty when none do. Lets `sweep collect` find the
/// shards without being told `N`.
pub fn shard_counts_on_disk(output: &Path) -> std::io::Result<Vec<usize>> {
    let mut counts: Vec<usize> = shards_on_disk(output)?.iter().map(|shard| shard.count).collect();
    counts.dedup();
    Ok(counts)
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = SlurmError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || SlurmError::MalformedShard(text.to_string());
        let (index, count) = text.trim().split_once('/').ok_or_else(malformed)?;
        let index: usize = index.trim().parse().map_err(|_| malformed())?;
        let count: usize = count.trim().parse().map_err(|_| malformed())?;
        if count == 0 {
            return Err(SlurmError::ZeroShards(text.to_string()));
        }
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_parses_k_of_n() {
        let shard: Shard = "2/5".parse().unwrap();
        assert_eq!((shard.index(), shard.count()), (2, 5));
        assert_eq!(shard.to_string(), "2/5");
        let spaced: Shard = " 0 / 1 ".parse().unwrap();
        assert_eq!((spaced.index(), spaced.count()), (0, 1));
    }

    #[test]
    fn shard_rejects_bad_input_with_a_reason() {
        for text in ["", "3", "a/4", "1/b", "-1/4", "1/2/3", "1.0/2"] {
            let err = text.parse::<Shard>().unwrap_err();
            assert!(matches!(err, SlurmError::MalformedShard(_)), "{text:?}: {err}");
            assert!(err.to_string().contains("expected K/N"));
        }
        let zero = "0/0".parse::<Shard>().unwrap_err();
        assert!(matches!(zero, SlurmError::ZeroShards(_)), "{zero}");
        let high = "4/4".parse::<Shard>().unwrap_err();
        assert!(matches!(high, SlurmError::ShardOutOfRange { index: 4, count: 4 }), "{high}");
        assert!(high.to_string().contains("K must be less than N"));
    }

    #[test]
    fn shards_partition_points_exactly_once_and_balanced() {
        let total = 23;
        let count = 4;
        let mut owners = vec![Vec::new(); total];
        let mut sizes = Vec::new();
        for shard in (0..count).map(|index| Shard { index, count }) {
            let indices: Vec<usize> = shard.point_indices(total).collect();
            for &i in &indices {
                assert!(shard.contains(i));
                assert_eq!(Shard::of_point(i, count), shard);
                owners[i].push(shard.index());
            }
            assert_eq!(shard.len(total), indices.len(), "{shard} counted by arithmetic");
            sizes.push(indices.len());
        }
        assert!(owners.iter().all(|owner| owner.len() == 1), "{owners:?}");
        assert_eq!(sizes.iter().sum::<usize>(), total);
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "unbalanced shard sizes {sizes:?}");
    }

    #[test]
    fn more_shards_than_points_leaves_some_empty() {
        let shard = Shard::new(5, 8).unwrap();
        assert_eq!(shard.point_indices(3).count(), 0);
        assert_eq!(Shard::new(2, 8).unwrap().point_indices(3).count(), 1);
        assert_eq!((shard.len(3), Shard::new(2, 8).unwrap().len(3)), (0, 1));
        assert_eq!(Shard::new(1, 2).unwrap().len(1_000_000_000_000), 500_000_000_000);
    }

    #[test]
    fn shard_counts_are_found_from_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("sq.jsonl");
        assert!(shard_counts_on_disk(&output).unwrap().is_empty());
        for name in [
            "sq.shard-0-of-4.jsonl",
            "sq.shard-3-of-4.jsonl",
            "sq.shard-1-of-2.jsonl",
            "sq.shard-5-of-4.jsonl", // K >= N: not a shard file
            "other.shard-0-of-8.jsonl",
            "sq.shard-x-of-9.jsonl",
            "sq.jsonl",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(shard_counts_on_disk(&output).unwrap(), vec![2, 4]);
        assert!(shard_counts_on_disk(&dir.path().join("nowhere/sq.jsonl")).unwrap().is_empty());
    }

    #[test]
    fn shard_results_path_sits_next_to_the_output() {
        let shard = Shard::new(1, 4).unwrap();
        assert_eq!(shard.results_path(Path::new("out/results.jsonl")), Path::new("out/results.shard-1-of-4.jsonl"));
        assert_eq!(shard.results_path(Path::new("results.json")), Path::new("results.json.shard-1-of-4.jsonl"));
        assert_eq!(shard.results_path(Path::new("results")), Path::new("results.shard-1-of-4.jsonl"));
    }
}
