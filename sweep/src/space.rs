//! Parameter spaces: named axes (linspace, logspace, lists, integer ranges)
//! combined by cartesian product ([`Space::Grid`]) or in lockstep
//! ([`Space::Zip`]).
//!
//! Spaces are lazy: [`Space::len`] is computed from the axis sizes and
//! [`Space::point`] builds the `i`-th point on demand, so a grid with 10^8
//! points costs no more memory than one with 10.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::point::{Point, Value};

/// A set of named points, described by how to generate them.
///
/// In a spec file (RON) a space reads, for example:
/// `Grid([Linspace(name: "x", start: -1.0, stop: 1.0, num: 20), List(name: "a", values: [1, 2])])`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Space {
    /// `num` evenly spaced floats from `start` to `stop`, both included
    /// (NumPy's `linspace`).
    Linspace {
        /// Coordinate name.
        name: String,
        /// First value.
        start: f64,
        /// Last value (included when `num >= 2`).
        stop: f64,
        /// Number of values.
        num: usize,
    },
    /// `num` values `base^e` with exponents `e` evenly spaced from `start` to
    /// `stop` (NumPy's `logspace`).
    Logspace {
        /// Coordinate name.
        name: String,
        /// First exponent.
        start: f64,
        /// Last exponent.
        stop: f64,
        /// Number of values.
        num: usize,
        /// Base of the exponent (10 when omitted).
        #[serde(default = "default_base")]
        base: f64,
    },
    /// An explicit list of values (numbers or strings).
    List {
        /// Coordinate name.
        name: String,
        /// The values, in order.
        values: Vec<Value>,
    },
    /// Integers `start, start + step, ...` strictly below `end` (or above it
    /// for a negative step), like Rust's `(start..end).step_by(step)`.
    Range {
        /// Coordinate name.
        name: String,
        /// First value.
        start: i64,
        /// Exclusive bound.
        end: i64,
        /// Increment (1 when omitted; must not be 0).
        #[serde(default = "default_step")]
        step: i64,
    },
    /// Cartesian product; the first sub-space is the outermost loop.
    Grid(Vec<Space>),
    /// Lockstep combination: point `i` joins point `i` of every sub-space,
    /// which must all have the same length.
    Zip(Vec<Space>),
}

fn default_base() -> f64 {
    10.0
}

fn default_step() -> i64 {
    1
}

/// Why a space cannot be enumerated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpaceError {
    /// The space has no points at all.
    #[error("the parameter space is empty: {0}")]
    Empty(String),
    /// Two axes share a coordinate name.
    #[error("coordinate name {0:?} is used by more than one axis")]
    DuplicateName(String),
    /// An axis has no name.
    #[error("an axis has an empty name")]
    EmptyName,
    /// Sub-spaces of a zip have different lengths.
    #[error("zip combines spaces of different lengths: {0:?}")]
    ZipLengthMismatch(Vec<usize>),
    /// The number of points does not fit in `usize`.
    #[error("the parameter space has more than {} points", usize::MAX)]
    TooLarge,
    /// A bound or value is NaN or infinite, or a step is zero.
    #[error("axis {name:?}: {problem}")]
    InvalidAxis {
        /// Coordinate name of the axis.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

impl Space {
    /// `num` evenly spaced values from `start` to `stop` inclusive.
    pub fn linspace(name: impl Into<String>, start: f64, stop: f64, num: usize) -> Self {
        Space::Linspace { name: name.into(), start, stop, num }
    }

    /// `num` values `10^e`, `e` evenly spaced from `start` to `stop`.
    pub fn logspace(name: impl Into<String>, start: f64, stop: f64, num: usize) -> Self {
        Space::Logspace { name: name.into(), start, stop, num, base: default_base() }
    }

    /// An explicit list of values.
    pub fn list<V: Into<Value>>(name: impl Into<String>, values: impl IntoIterator<Item = V>) -> Self {
        Space::List { name: name.into(), values: values.into_iter().map(Into::into).collect() }
    }

    /// The integers `start..end`.
    pub fn range(name: impl Into<String>, start: i64, end: i64) -> Self {
        Space::Range { name: name.into(), start, end, step: 1 }
    }

    /// Cartesian product, first space outermost.
    pub fn grid(spaces: impl IntoIterator<Item = Space>) -> Self {
        Space::Grid(spaces.into_iter().collect())
    }

    /// Lockstep combination of equally long spaces.
    pub fn zip(spaces: impl IntoIterator<Item = Space>) -> Self {
        Space::Zip(spaces.into_iter().collect())
    }

    /// Checks the space can be enumerated and returns its number of points.
    ///
    /// Rejects empty spaces, duplicate or empty names, zips of unequal
    /// lengths, non-finite bounds, zero steps and sizes beyond `usize`.
    pub fn validate(&self) -> Result<usize, SpaceError> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(SpaceError::EmptyName);
            }
            if names[..i].contains(name) {
                return Err(SpaceError::DuplicateName(name.clone()));
            }
        }
        let len = self.checked_len()?;
        if len == 0 {
            return Err(SpaceError::Empty(self.describe_emptiness()));
        }
        Ok(len)
    }

    fn checked_len(&self) -> Result<usize, SpaceError> {
        let invalid = |name: &str, problem: String| SpaceError::InvalidAxis { name: name.to_owned(), problem };
        match self {
            Space::Linspace { name, start, stop, num, .. } | Space::Logspace { name, start, stop, num, .. } => {
                if !start.is_finite() || !stop.is_finite() {
                    return Err(invalid(name, format!("bounds {start}..{stop} must be finite")));
                }
                if let Space::Logspace { base, .. } = self {
                    if !(base.is_finite() && *base > 0.0) {
                        return Err(invalid(name, format!("base {base} must be positive")));
                    }
                }
                Ok(*num)
            }
            Space::List { name, values } => {
                if let Some(bad) = values.iter().find(|v| matches!(v, Value::Float(f) if !f.is_finite())) {
                    return Err(invalid(name, format!("value {bad} is not finite")));
                }
                Ok(values.len())
            }
            Space::Range { name, start, end, step } => {
                if *step == 0 {
                    return Err(invalid(name, "step must not be 0".to_owned()));
                }
                Ok(range_len(*start, *end, *step))
            }
            Space::Grid(spaces) => {
                spaces.iter().try_fold(1usize, |acc, s| acc.checked_mul(s.checked_len()?).ok_or(SpaceError::TooLarge))
            }
            Space::Zip(spaces) => {
                let lens = spaces.iter().map(Space::checked_len).collect::<Result<Vec<_>, _>>()?;
                match lens.first() {
                    None => Ok(0),
                    Some(first) if lens.iter().all(|l| l == first) => Ok(*first),
                    Some(_) => Err(SpaceError::ZipLengthMismatch(lens)),
                }
            }
        }
    }

    /// Names the first axis that makes the space empty, for error messages.
    fn describe_emptiness(&self) -> String {
        match self {
            Space::Grid(spaces) | Space::Zip(spaces) if spaces.is_empty() => "a Grid or Zip with no axes".to_owned(),
            Space::Grid(spaces) | Space::Zip(spaces) => {
                spaces.iter().find(|s| s.is_empty()).map_or_else(|| "no points".to_owned(), Space::describe_emptiness)
            }
            Space::Linspace { name, .. } | Space::Logspace { name, .. } => {
                format!("axis {name:?} has num = 0")
            }
            Space::List { name, .. } => format!("axis {name:?} has an empty list of values"),
            Space::Range { name, start, end, step } => {
                format!("axis {name:?} is the empty range {start}..{end} (step {step})")
            }
        }
    }

    /// Number of points (saturating at `usize::MAX`; call [`Space::validate`]
    /// first to detect overflow and other problems).
    pub fn len(&self) -> usize {
        match self {
            Space::Linspace { num, .. } | Space::Logspace { num, .. } => *num,
            Space::List { values, .. } => values.len(),
            Space::Range { start, end, step, .. } if *step != 0 => range_len(*start, *end, *step),
            Space::Range { .. } => 0,
            Space::Grid(spaces) => spaces.iter().fold(1usize, |acc, s| acc.saturating_mul(s.len())),
            Space::Zip(spaces) => spaces.iter().map(Space::len).min().unwrap_or(0),
        }
    }

    /// Whether the space has no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Coordinate names, in the order they appear in every point.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        names
    }

    fn collect_names(&self, out: &mut Vec<String>) {
        match self {
            Space::Linspace { name, .. }
            | Space::Logspace { name, .. }
            | Space::List { name, .. }
            | Space::Range { name, .. } => out.push(name.clone()),
            Space::Grid(spaces) | Space::Zip(spaces) => spaces.iter().for_each(|s| s.collect_names(out)),
        }
    }

    /// Whether coordinate `name` comes from a [`Space::Logspace`], so charts
    /// should put it on a logarithmic axis.
    pub fn is_logarithmic(&self, name: &str) -> bool {
        match self {
            Space::Logspace { name: n, .. } => n == name,
            Space::Grid(spaces) | Space::Zip(spaces) => spaces.iter().any(|s| s.is_logarithmic(name)),
            _ => false,
        }
    }

    /// The `index`-th point, or `None` past the end.
    pub fn point(&self, index: usize) -> Option<Point> {
        if index >= self.len() {
            return None;
        }
        let mut coordinates = Vec::new();
        self.push_coordinates(index, &mut coordinates);
        Some(Point::new(coordinates))
    }

    /// Appends the coordinates of point `index` (known to be in range).
    fn push_coordinates(&self, index: usize, out: &mut Vec<(String, Value)>) {
        match self {
            Space::Linspace { name, start, stop, num } => {
                out.push((name.clone(), Value::Float(linspace_value(*start, *stop, *num, index))))
            }
            Space::Logspace { name, start, stop, num, base } => {
                let exponent = linspace_value(*start, *stop, *num, index);
                out.push((name.clone(), Value::Float(base.powf(exponent))))
            }
            Space::List { name, values } => out.push((name.clone(), values[index].clone())),
            Space::Range { name, start, step, .. } => {
                // In range by construction: index < len, so the value lies
                // between start and end, both i64.
                let value = i128::from(*start) + index as i128 * i128::from(*step);
                out.push((name.clone(), Value::Int(value as i64)))
            }
            Space::Grid(spaces) => {
                // Mixed-radix decomposition with the last axis varying fastest,
                // so the first axis is the outermost loop.
                let mut digits = vec![0; spaces.len()];
                let mut rest = index;
                for (digit, space) in digits.iter_mut().zip(spaces).rev() {
                    let len = space.len();
                    *digit = rest % len;
                    rest /= len;
                }
                for (space, digit) in spaces.iter().zip(digits) {
                    space.push_coordinates(digit, out);
                }
            }
            Space::Zip(spaces) => spaces.iter().for_each(|s| s.push_coordinates(index, out)),
        }
    }

    /// All points in order, generated lazily.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Point> + '_ {
        (0..self.len())
            .map(move |i| self.point(i).unwrap_or_else(|| unreachable!("index {i} below len() always has a point")))
    }
}

impl fmt::Display for Space {
    /// A one-line summary such as `grid(x[20] × y[20]) = 400 points`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn shape(space: &Space) -> String {
            match space {
                Space::Linspace { name, .. }
                | Space::Logspace { name, .. }
                | Space::List { name, .. }
                | Space::Range { name, .. } => format!("{name}[{}]", space.len()),
                Space::Grid(s) => format!("grid({})", s.iter().map(shape).collect::<Vec<_>>().join(" × ")),
                Space::Zip(s) => format!("zip({})", s.iter().map(shape).collect::<Vec<_>>().join(", ")),
            }
        }
        write!(f, "{} = {} points", shape(self), self.len())
    }
}

/// Number of values in `(start..end).step_by(step)` for either sign of step.
fn range_len(start: i64, end: i64, step: i64) -> usize {
    let (span, step) = if step > 0 {
        (i128::from(end) - i128::from(start), i128::from(step))
    } else {
        (i128::from(start) - i128::from(end), -i128::from(step))
    };
    if span <= 0 {
        return 0;
    }
    usize::try_from((span + step - 1) / step).unwrap_or(usize::MAX)
}

/// Value `index` of `linspace(start, stop, num)`, computed the way NumPy does
/// (`start + index * step`) with the last value pinned to `stop` exactly.
fn linspace_value(start: f64, stop: f64, num: usize, index: usize) -> f64 {
    if num <= 1 {
        return start;
    }
    if index == num - 1 {
        return stop;
    }
    let step = (stop - start) / (num - 1) as f64;
    start + index as f64 * step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(space: &Space, name: &str) -> Vec<f64> {
        space.iter().map(|p| p.get(name).and_then(Value::as_f64).unwrap_or(f64::NAN)).collect()
    }

    #[test]
    fn linspace_matches_numpy_and_pins_end_points() {
        let space = Space::linspace("x", -1.0, 1.0, 5);
        assert_eq!(floats(&space, "x"), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(floats(&Space::linspace("x", 2.0, 3.0, 1), "x"), vec![2.0]);
    }

    #[test]
    fn logspace_uses_exponents() {
        let space = Space::logspace("n", 0.0, 3.0, 4);
        let values = floats(&space, "n");
        for (got, want) in values.iter().zip([1.0, 10.0, 100.0, 1000.0]) {
            assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
        }
    }

    #[test]
    fn ranges_count_both_directions() {
        assert_eq!(range_len(0, 10, 3), 4);
        assert_eq!(range_len(10, 0, -3), 4);
        assert_eq!(range_len(5, 5, 1), 0);
        assert_eq!(range_len(5, 0, 1), 0);
        let values: Vec<_> = Space::Range { name: "k".into(), start: 10, end: 0, step: -4 }
            .iter()
            .map(|p| p.get("k").cloned())
            .collect();
        assert_eq!(values, vec![Some(Value::Int(10)), Some(Value::Int(6)), Some(Value::Int(2))]);
    }

    #[test]
    fn grid_puts_first_axis_outermost() {
        let space = Space::grid([Space::list("a", ["p", "q"]), Space::range("b", 0, 3)]);
        assert_eq!(space.validate(), Ok(6));
        let order: Vec<String> = space.iter().map(|p| p.to_string()).collect();
        assert_eq!(order, ["a=p b=0", "a=p b=1", "a=p b=2", "a=q b=0", "a=q b=1", "a=q b=2"]);
    }

    #[test]
    fn zip_walks_in_lockstep_and_checks_lengths() {
        let space = Space::zip([Space::range("i", 0, 3), Space::list("s", ["u", "v", "w"])]);
        assert_eq!(space.point(2).map(|p| p.to_string()), Some("i=2 s=w".to_owned()));
        let bad = Space::zip([Space::range("i", 0, 3), Space::range("j", 0, 2)]);
        assert_eq!(bad.validate(), Err(SpaceError::ZipLengthMismatch(vec![3, 2])));
    }

    #[test]
    fn huge_grids_are_not_materialised() {
        let axis = |n: &str| Space::range(n, 0, 10_000);
        let space = Space::grid([axis("a"), axis("b")]);
        assert_eq!(space.validate(), Ok(100_000_000));
        let last = space.point(99_999_999).map(|p| p.to_string());
        assert_eq!(last, Some("a=9999 b=9999".to_owned()));
        assert!(space.point(100_000_000).is_none());
        let overflow = Space::grid((0..6).map(|i| Space::range(format!("d{i}"), 0, 100_000)));
        assert_eq!(overflow.validate(), Err(SpaceError::TooLarge));
    }

    #[test]
    fn validation_names_the_problem() {
        let empty = Space::grid([Space::linspace("x", 0.0, 1.0, 3), Space::list::<i64>("a", [])]);
        let message = empty.validate().map_err(|e| e.to_string());
        assert_eq!(message, Err("the parameter space is empty: axis \"a\" has an empty list of values".to_owned()));
        let duplicate = Space::grid([Space::range("x", 0, 2), Space::range("x", 0, 2)]);
        assert_eq!(duplicate.validate(), Err(SpaceError::DuplicateName("x".into())));
        let zero_step = Space::Range { name: "k".into(), start: 0, end: 3, step: 0 };
        assert!(matches!(zero_step.validate(), Err(SpaceError::InvalidAxis { .. })));
        let infinite = Space::linspace("x", 0.0, f64::INFINITY, 3);
        assert!(matches!(infinite.validate(), Err(SpaceError::InvalidAxis { .. })));
    }
}
