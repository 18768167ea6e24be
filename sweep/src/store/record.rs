//! One line per evaluated point.

use serde::{Deserialize, Serialize};

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
}

impl Record {
    /// Whether the point was evaluated successfully.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// On-disk shape of a record: `value` or `error`, never both.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine {
    index: usize,
    id: PointId,
    point: Point,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: f64,
}

impl From<Record> for RecordLine {
    fn from(r: Record) -> Self {
        let (value, error) = match r.outcome {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(e)),
        };
        RecordLine { index: r.index, id: r.id, point: r.point, value, error, duration_ms: r.duration_ms }
    }
}

impl From<RecordLine> for Record {
    fn from(line: RecordLine) -> Self {
        let outcome = match line.error {
            Some(error) => Err(error),
            // A command may legitimately print `null`, which reads back as None.
            None => Ok(line.value.unwrap_or(serde_json::Value::Null)),
        };
        Record { index: line.index, id: line.id, point: line.point, outcome, duration_ms: line.duration_ms }
    }
}
