//! Points of a parameter space: named coordinates and their stable identity.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Fnv1a64;

/// One coordinate value.
///
/// Untagged in RON/JSON: `3` is an integer, `3.0` a float, `"abc"` a string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A whole number (from a `Range` or an integer in a `List`).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A label, e.g. the name of a method.
    Str(String),
}

impl Value {
    /// The value as a float, when it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Integers past `i64` are read as floats only where a float holds them
    /// exactly (`2^63`): a value the user wrote is never silently rounded
    /// into another (`2^64 - 1` would run as `2^64`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                self.visit_i128(i128::from(v))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Value, E> {
                if let Ok(i) = i64::try_from(v) {
                    return Ok(Value::Int(i));
                }
                // 2^127 bounds every i128 and u128 below it, so the casts
                // back are exact whenever the float is the integer.
                let x = v as f64;
                if x.abs() < 2f64.powi(127) && x as i128 == v {
                    Ok(Value::Float(x))
                } else {
                    Err(E::custom(format!(
                        "the integer {v} does not fit in 64 bits and no float equals it; write the float you mean \
                         (e.g. {x:e})"
                    )))
                }
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Value, E> {
                match i128::try_from(v) {
                    Ok(v) => self.visit_i128(v),
                    Err(_) => Err(E::custom(format!("the integer {v} is too large; write it as a float"))),
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl fmt::Display for Value {
    /// The text substituted into command templates: integers and strings as
    /// is, floats in Rust's shortest round-trip form (never an exponent).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            // -0.0 is the point 0 (see `Point::id`), so it runs the same command.
            Value::Float(x) if *x == 0.0 => f.write_str("0"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

/// The stable identity of a point: FNV-1a (64 bit) over a canonical byte
/// encoding of its names and values.
///
/// Unlike `std`'s `DefaultHasher`, this does not depend on the Rust release,
/// the process or a random seed, so results written by one run can be matched
/// by another. Written as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PointId(pub u64);

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        u64::from_str_radix(&text, 16)
            .map(PointId)
            .map_err(|e| serde::de::Error::custom(format!("point id {text:?}: {e}")))
    }
}

/// A point: coordinate names and values in the space's axis order.
///
/// Serialised as a map (`{"x": 0.5, "a": -1}`) whose key order is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    coordinates: Vec<(String, Value)>,
}

impl Point {
    /// A point from `(name, value)` pairs, in axis order.
    pub fn new(coordinates: Vec<(String, Value)>) -> Self {
        Point { coordinates }
    }

    /// The `(name, value)` pairs in axis order.
    pub fn coordinates(&self) -> &[(String, Value)] {
        &self.coordinates
    }

    /// The value of coordinate `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.coordinates.iter().find_map(|(n, v)| (n == name).then_some(v))
    }

    /// The value of coordinate `name` as a float, if present and numeric.
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }

    /// The stable identity of this point.
    ///
    /// Canonical encoding, per coordinate in order: name length (u64 LE),
    /// name bytes, a type tag (`i`, `f`, `s`), then the value (i64 LE,
    /// f64 bits LE, or string length u64 LE + bytes). Length prefixes keep
    /// `("ab", "c")` and `("a", "bc")` apart. Numbers are identified by
    /// their value, not their spelling: a float equal to an integer (`1.0`,
    /// `-0.0`) is encoded as that integer, so `x = 1` and `x = 1.0` are one
    /// point (they also render the same in a command, `1`).
    pub fn id(&self) -> PointId {
        self.hash(ValueKey::of)
    }

    /// The identity older releases gave this point, which told `1` and
    /// `1.0` apart (floats always by their bits). It differs from
    /// [`Point::id`] only for points with an integral float coordinate;
    /// readers of results files accept it for the point and use
    /// [`Point::id`] from then on.
    pub fn legacy_id(&self) -> PointId {
        self.hash(|value| match value {
            Value::Int(i) => ValueKey::Int(*i),
            Value::Float(x) => ValueKey::Float(x.to_bits()),
            Value::Str(s) => ValueKey::Str(s),
        })
    }

    fn hash<'a>(&'a self, key: impl Fn(&'a Value) -> ValueKey<'a>) -> PointId {
        let mut hash = Fnv1a64::new();
        for (name, value) in &self.coordinates {
            hash.write_str(name);
            match key(value) {
                ValueKey::Int(i) => {
                    hash.write(b"i");
                    hash.write(&i.to_le_bytes());
                }
                ValueKey::Float(bits) => {
                    hash.write(b"f");
                    hash.write(&bits.to_le_bytes());
                }
                ValueKey::Str(s) => {
                    hash.write(b"s");
                    hash.write_str(s);
                }
            }
        }
        PointId(hash.finish())
    }
}

/// A coordinate value as point identities see it: numbers by their value
/// (an integral float as its integer, other floats by their bits), strings
/// as they are. Equal keys, same point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ValueKey<'a> {
    Int(i64),
    Float(u64),
    Str(&'a str),
}

impl<'a> ValueKey<'a> {
    pub(crate) fn of(value: &'a Value) -> Self {
        // 2^63: the first float past i64::MAX (which itself is no float).
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        match value {
            Value::Int(i) => ValueKey::Int(*i),
            Value::Float(x) if x.fract() == 0.0 && (-LIMIT..LIMIT).contains(x) => ValueKey::Int(*x as i64),
            Value::Float(x) => ValueKey::Float(x.to_bits()),
            Value::Str(s) => ValueKey::Str(s),
        }
    }
}

impl fmt::Display for Point {
    /// `name=value` pairs separated by spaces, e.g. `x=0.5 a=-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.coordinates.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.coordinates.len()))?;
        for (name, value) in &self.coordinates {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Reads a map into a `Vec`, keeping the order the keys were written in.
        struct OrderedMap;
        impl<'de> Visitor<'de> for OrderedMap {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from coordinate names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Point, A::Error> {
                let mut coordinates = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    coordinates.push(entry);
                }
                Ok(Point { coordinates })
            }
        }
        deserializer.deserialize_map(OrderedMap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(pairs: &[(&str, Value)]) -> Point {
        Point::new(pairs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect())
    }

    #[test]
    fn identity_separates_names_types_and_values() {
        let a = point(&[("ab", "c".into())]).id();
        let b = point(&[("a", "bc".into())]).id();
        let int = point(&[("x", Value::Int(1))]).id();
        let float = point(&[("x", Value::Float(1.0))]).id();
        assert_ne!(a, b);
        assert_eq!(int, float, "1 and 1.0 are one point");
        assert_eq!(point(&[("x", Value::Float(-0.0))]).id(), point(&[("x", Value::Int(0))]).id());
        assert_ne!(point(&[("x", Value::Float(1.5))]).id(), int);
        assert_ne!(point(&[("x", "1".into())]).id(), int, "a label is not a number");
        // Past 2^63 a float has no integer twin, and is hashed by its bits.
        let huge = point(&[("x", Value::Float(9.3e18))]);
        assert_eq!(huge.id(), huge.legacy_id());
        assert_ne!(point(&[("x", Value::Int(i64::MAX))]).id(), point(&[("x", Value::Float(i64::MAX as f64))]).id());
    }

    #[test]
    fn legacy_identities_are_kept_for_ints_and_non_integral_floats() {
        // Files written before numbers were identified by value hold these
        // ids; only integral floats changed.
        for unchanged in [Value::Int(3), Value::Float(0.5), Value::Float(1e300), "rk4".into()] {
            let p = point(&[("x", unchanged.clone())]);
            assert_eq!(p.id(), p.legacy_id(), "{unchanged:?}");
        }
        let p = point(&[("x", Value::Float(2.0))]);
        assert_ne!(p.id(), p.legacy_id());
        assert_eq!(p.legacy_id(), PointId(0x77e9_25e7_d144_8276), "the old encoding, pinned");
    }

    #[test]
    fn point_json_round_trip_keeps_order_and_types() {
        let p = point(&[("z", Value::Float(2.0)), ("a", Value::Int(-3)), ("m", "rk4".into())]);
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(json, r#"{"z":2.0,"a":-3,"m":"rk4"}"#);
        let back: Point = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, p);
        assert_eq!(back.id(), p.id());
    }

    #[test]
    fn id_text_round_trips() {
        let id = PointId(0x00ab_cdef_0123_4567);
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, "\"00abcdef01234567\"");
        assert_eq!(serde_json::from_str::<PointId>(&json).ok(), Some(id));
    }
}
