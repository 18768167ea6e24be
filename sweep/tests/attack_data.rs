//! Attacks on the data half of results files: spaces whose parts repeat
//! values, numbers that are equal under different spellings, and the
//! records of such points surviving every reader and `repair`.

use sweep::store::repair;
use sweep::{Header, Point, Record, Results, ResultsWriter, Space, SpaceIndex, Task, Value};

fn zip_with_a_repeating_part() -> Space {
    // `x` repeats 1, but `y` tells every point apart: three distinct points.
    Space::zip([Space::list("x", [1i64, 1, 2]), Space::list("y", ["a", "b", "c"])])
}

#[test]
fn every_point_of_a_zip_whose_part_repeats_is_found_at_its_index() {
    let space = zip_with_a_repeating_part();
    assert_eq!(space.validate().ok(), Some(3));
    let index = SpaceIndex::new(&space);
    for (i, point) in space.iter().enumerate() {
        assert_eq!(index.index_of(&point), Some(i), "{point}");
    }
    // The same with the repeat inside a grid that is a part of the zip.
    let nested = Space::zip([
        Space::grid([Space::list("x", [1i64, 1]), Space::list("z", [0.5, 0.25])]),
        Space::list("y", ["a", "b", "c", "d"]),
    ]);
    assert_eq!(nested.validate().ok(), Some(4));
    let index = SpaceIndex::new(&nested);
    for (i, point) in nested.iter().enumerate() {
        assert_eq!(index.index_of(&point), Some(i), "{point}");
    }
}

#[test]
fn records_of_a_zip_whose_part_repeats_are_counted_and_kept_by_repair() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("zip.jsonl");
    let header = Header::new(zip_with_a_repeating_part(), Task::Command(vec!["echo".into(), "{x}{y}".into()]));
    {
        let (mut writer, _) = ResultsWriter::open(&path, &header).unwrap_or_else(|e| panic!("{e}"));
        for (i, point) in header.space.iter().enumerate() {
            writer.append(&Record::new(i, point, Ok((i as i64).into()), 1.0)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let results = Results::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let status = results.status();
    assert_eq!((status.done, status.missing, status.outside), (3, 0, 0), "{status:?}");
    assert!(results.resume(false, 3).skip.len() == 3, "a resume recomputes nothing");
    let before = std::fs::read(&path).unwrap_or_default();
    let report = repair(&path, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.was_clean(), "{report:?}");
    assert_eq!(std::fs::read(&path).unwrap_or_default(), before, "repair leaves computed records where they are");
}

#[test]
fn a_zip_whose_parts_repeat_at_different_places_is_a_valid_space() {
    // Each part repeats, but never at the same two positions: the points
    // (1,a) (1,b) (2,b) are distinct.
    let space = Space::zip([Space::list("x", [1i64, 1, 2]), Space::list("y", ["a", "b", "b"])]);
    assert_eq!(space.validate().map_err(|e| e.to_string()), Ok(3));
    // While equal positions in every part are one point twice.
    let twice = Space::zip([Space::list("x", [1i64, 1, 2]), Space::list("y", ["a", "a", "b"])]);
    assert!(twice.validate().is_err());
    let spelled = Space::zip([Space::list("x", [Value::Int(1), Value::Float(1.0)]), Space::list("y", ["a", "a"])]);
    assert!(spelled.validate().is_err(), "1 and 1.0 are one number");
}

#[test]
fn negative_zero_renders_like_the_zero_it_is_identified_with() {
    // -0.0 and 0 are one point (one identity, one record), so the command
    // they produce must be the same too.
    let zero = Point::new(vec![("x".into(), Value::Int(0))]);
    let negative = Point::new(vec![("x".into(), Value::Float(-0.0))]);
    assert_eq!(zero.id(), negative.id());
    assert_eq!(negative.to_string(), zero.to_string());
    assert_eq!(Value::Float(-0.0).to_string(), "0");
}

#[test]
fn export_never_gives_two_columns_one_name() {
    // Black boxes often report an `error` estimate, or echo a coordinate.
    let header = Header::new(Space::range("x", 0, 2), Task::Closure("f".into()));
    let records = header
        .space
        .iter()
        .enumerate()
        .map(|(i, point)| {
            let value = serde_json::json!({"error": 0.5, "x": i, "index": 7, "duration_ms": 1, "id": "mine"});
            Record::new(i, point, Ok(value), 1.0)
        })
        .collect();
    let results = Results { header, records, warnings: Vec::new(), untagged: 0 };
    let mut csv = Vec::new();
    results.write_csv(&mut csv).unwrap_or_else(|e| panic!("{e}"));
    let csv = String::from_utf8(csv).unwrap_or_default();
    let heading: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let mut unique = heading.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), heading.len(), "{heading:?}");
    let row: Vec<&str> = csv.lines().nth(1).unwrap_or_default().split(',').collect();
    let cell = |name: &str| heading.iter().position(|h| *h == name).and_then(|i| row.get(i).copied());
    assert_eq!(cell("error"), Some(""), "the record's own error column stays the record's");
    assert_eq!(cell("value.error"), Some("0.5"));
    assert_eq!(cell("value.x"), Some("0"));
    assert_eq!(cell("value.id"), Some("mine"));
}

#[test]
fn coordinates_named_like_export_columns_are_renamed_not_repeated() {
    // Any of these names is a valid axis name, and old files hold them.
    let space = Space::grid([
        Space::range("index", 5, 6),
        Space::list("id", ["a"]),
        Space::list("value", [2i64]),
        Space::list("error", [3i64]),
        Space::list("duration_ms", [4i64]),
        Space::list("point.index", [6i64]),
    ]);
    let header = Header::new(space, Task::Closure("f".into()));
    let records = header.space.iter().enumerate().map(|(i, point)| Record::new(i, point, Ok(42.into()), 1.0)).collect();
    let results = Results { header, records, warnings: Vec::new(), untagged: 0 };
    let mut csv = Vec::new();
    results.write_csv(&mut csv).unwrap_or_else(|e| panic!("{e}"));
    let csv = String::from_utf8(csv).unwrap_or_default();
    let heading: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    assert_eq!(
        heading,
        [
            "index",
            "id",
            "point.point.index",
            "point.id",
            "point.value",
            "point.error",
            "point.duration_ms",
            "point.index",
            "value",
            "error",
            "duration_ms"
        ]
    );
    let row: Vec<&str> = csv.lines().nth(1).unwrap_or_default().split(',').collect();
    let cell = |name: &str| heading.iter().position(|h| *h == name).and_then(|i| row.get(i).copied());
    assert_eq!(cell("index"), Some("0"), "the record's own index column stays the record's");
    assert_eq!(cell("point.point.index"), Some("5"));
    assert_eq!(cell("point.id"), Some("a"));
    assert_eq!(cell("point.index"), Some("6"));
    assert_eq!(cell("value"), Some("42"));
    assert_eq!(cell("point.value"), Some("2"));
    assert_eq!(cell("error"), Some(""));
    assert_eq!(cell("point.error"), Some("3"));
}

#[test]
fn integers_past_64_bits_are_never_silently_rounded() {
    let read = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
    assert_eq!(read("9223372036854775807"), Ok(Value::Int(i64::MAX)));
    assert_eq!(read("-9223372036854775808"), Ok(Value::Int(i64::MIN)));
    // 2^63 and 2^64 are floats exactly.
    assert_eq!(read("9223372036854775808"), Ok(Value::Float(9_223_372_036_854_775_808.0)));
    assert_eq!(read("18446744073709551616").ok(), Some(Value::Float(18_446_744_073_709_551_616.0)));
    // 2^64 - 1 is not: it would run as 18446744073709551616.
    let error = read("18446744073709551615").err().unwrap_or_default();
    assert!(error.contains("18446744073709551615"), "{error}");
    assert_eq!(read("1.5"), Ok(Value::Float(1.5)));
    assert_eq!(read("\"rk4\""), Ok(Value::Str("rk4".into())));
    // The same through a spec's RON.
    let ron: Result<Vec<Value>, _> = ron::from_str("[1, 2.5, \"a\", 18446744073709551615]");
    assert!(ron.is_err(), "{ron:?}");
}

#[test]
fn a_damaged_header_is_named_as_such_with_the_repair_that_works() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("r.jsonl");
    std::fs::write(&path, "{\"sweep\":{\"format\":3,\"fingerp\n").unwrap_or_else(|e| panic!("{e}"));
    let error = Results::load(&path).map(|_| ()).err().map(|e| e.to_string()).unwrap_or_default();
    // `sweep repair FILE` alone refuses a damaged header: the hint must
    // be the one that works.
    assert!(error.contains("--spec"), "{error}");
    assert!(matches!(repair(&path, None), Err(sweep::store::StoreError::DamagedHeader { .. })));
}
