//! One line per evaluated point.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::command::Exit;
use crate::fingerprint::Fingerprint;
use crate::point::{Point, PointId};

/// The result of evaluating one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "RecordLine", from = "RecordLine")]
pub struct Record {
    /// Position of the point in the space.
    pub index: usize,
    /// Stable identity of the point (what resume matches on).
    pub id: PointId,
    /// The coordinates.
    pub point: Point,
    /// The value, or why there is none.
    pub outcome: Result<serde_json::Value, String>,
    /// Wall-clock time spent on the point, in milliseconds.
    pub duration_ms: f64,
    /// Which attempt at the point this was, from 1, counted across runs:
    /// every failed attempt has its own record.
    pub attempt: u32,
    /// Where, when and how the point was evaluated, when known.
    pub provenance: Option<Provenance>,
    /// Set on a failed attempt that its run was about to retry: written as
    /// soon as the attempt ended, before the back-off. Found as a point's
    /// latest record, it means that run was interrupted between attempts,
    /// and a resume retries the point (attempts permitting) even without
    /// `--retry-failed`.
    pub retrying: bool,
}

impl Record {
    /// A first attempt's record without provenance; the identity is the
    /// point's.
    pub fn new(index: usize, point: Point, outcome: Result<serde_json::Value, String>, duration_ms: f64) -> Self {
        Record { index, id: point.id(), point, outcome, duration_ms, attempt: 1, provenance: None, retrying: false }
    }

    /// Whether the point was evaluated successfully.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Where, when and how a point was evaluated (GNU parallel's joblog).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The machine's host name.
    pub host: String,
    /// When the evaluation started, UTC, RFC 3339 (`2026-11-25T13:50:01.123Z`).
    pub started: String,
    /// How the black box's process ended, for commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<Exit>,
    /// `SLURM_ARRAY_JOB_ID` (else `SLURM_JOB_ID`) when run under Slurm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job: Option<String>,
    /// `SLURM_ARRAY_TASK_ID` when run as an array task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_task: Option<String>,
}

impl Provenance {
    /// Provenance of an evaluation that started at `started` on this host,
    /// with the Slurm job from the environment.
    pub fn here(host: &str, started: SystemTime, exit: Option<Exit>) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Provenance {
            host: host.to_owned(),
            started: utc_rfc3339(started),
            exit,
            slurm_job: var("SLURM_ARRAY_JOB_ID").or_else(|| var("SLURM_JOB_ID")),
            slurm_task: var("SLURM_ARRAY_TASK_ID"),
        }
    }
}

/// `2026-11-25T13:50:01.123Z` (UTC, millisecond precision).
pub fn utc_rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rest = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) date in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn first_attempt() -> u32 {
    1
}

fn is_first_attempt(attempt: &u32) -> bool {
    *attempt == 1
}

/// On-disk shape of a record: `value` or `error`, never both.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine {
    /// The task fingerprint of the sweep that wrote the line: what makes a
    /// record this sweep's, whatever file it is found in. Written by every
    /// writer of results files (see [`encode`]); absent only in files of
    /// format 2 and older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<Fingerprint>,
    index: usize,
    id: PointId,
    point: Point,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: f64,
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provenance: Option<Provenance>,
    #[serde(default, skip_serializing_if = "is_false")]
    retrying: bool,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

impl From<Record> for RecordLine {
    fn from(r: Record) -> Self {
        let (value, error) = match r.outcome {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        RecordLine {
            task: None,
            index: r.index,
            id: r.id,
            point: r.point,
            value,
            error,
            duration_ms: r.duration_ms,
            attempt: r.attempt,
            provenance: r.provenance,
            retrying: r.retrying,
        }
    }
}

/// Why a `null` value is no value: JSON has no NaN or infinity, and
/// serde_json (`json!(f64::NAN)`) and JavaScript (`JSON.stringify`) write
/// them as `null`. The runner fails every evaluation that returns it
/// (closures, black boxes, persistent ones), and a record read back with a
/// `null` value (written by an older build) reads as that failure, so it
/// is neither counted done nor exported as a value.
pub const NULL_VALUE: &str = "the value is null, which is no value (JSON has no NaN or infinity: serde_json and \
    JavaScript write them as null); return a number or any other JSON value, or fail the point";

/// `value` as an outcome: the value, unless it is `null`
/// ([`NULL_VALUE`]). The one check for both depths: what an evaluation
/// returns, and what a results file holds.
pub(crate) fn refuse_null(value: serde_json::Value) -> Result<serde_json::Value, String> {
    match value {
        serde_json::Value::Null => Err(NULL_VALUE.to_owned()),
        value => Ok(value),
    }
}

impl From<RecordLine> for Record {
    fn from(line: RecordLine) -> Self {
        let outcome = match line.error {
            Some(error) => Err(error),
            // `"value": null` reads back as None, as does no value at all.
            None => refuse_null(line.value.unwrap_or(serde_json::Value::Null)),
        };
        Record {
            index: line.index,
            id: line.id,
            point: line.point,
            outcome,
            duration_ms: line.duration_ms,
            attempt: line.attempt,
            provenance: line.provenance,
            retrying: line.retrying,
        }
    }
}

/// One line of a results file (without its newline): `record`, marked as
/// computed by the task with fingerprint `task`.
pub(crate) fn encode(record: &Record, task: Fingerprint) -> serde_json::Result<Vec<u8>> {
    let mut line = RecordLine::from(record.clone());
    line.task = Some(task);
    serde_json::to_vec(&line)
}

/// A record read from a line, with the task fingerprint the line carries
/// (`None` in files older than format 3). An identity written by an older
/// `sweep` for a point with an integral float coordinate is brought to
/// today's ([`Point::legacy_id`]), so old files still match their points.
pub(crate) fn decode(text: &str) -> serde_json::Result<(Record, Option<Fingerprint>)> {
    let line: RecordLine = serde_json::from_str(text)?;
    let task = line.task;
    let mut record = Record::from(line);
    let current = record.point.id();
    if record.id != current && record.id == record.point.legacy_id() {
        record.id = current;
    }
    Ok((record, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_timestamps_match_known_dates() {
        let at = |secs: u64, millis: u64| UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
        assert_eq!(utc_rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(utc_rfc3339(at(1_795_613_401, 123)), "2026-11-25T13:30:01.123Z");
    }

    #[test]
    fn old_lines_read_as_first_attempts_without_provenance() {
        let line = r#"{"index":0,"id":"0000000000000001","point":{"k":0},"value":1.5,"duration_ms":2.0}"#;
        let record: Record = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((record.attempt, record.provenance.is_none()), (1, true));
        assert_eq!(serde_json::to_string(&record).unwrap_or_default(), line, "a first attempt is written as before");
    }
}
