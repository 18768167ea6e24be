//! Values and coordinates survive every path bit for bit: run, resume,
//! shards and collect, CSV export. Built as `cargo test -p sweep`, so
//! serde_json gets exactly the features sweep asks for (a workspace build
//! could borrow `float_roundtrip` from another package and hide a loss).

mod common;

use std::path::Path;

use serde_json::json;
use sweep::slurm::{self, Shard};
use sweep::{run_to_file, Header, Point, Results, RunOptions, RunSummary, Selection, Space, Task};

/// Coordinates whose shortest decimal forms are long, tiny or subnormal.
fn awkward_floats() -> Vec<f64> {
    vec![
        1.0 / 3.0,
        2.0 / 7.0,
        -5.0 / 7.0,
        9.800_554_016_620_499,
        1e-300,
        1e-300 / 3.0,
        f64::MIN_POSITIVE / 3.0, // subnormal
        5e-324,                  // the smallest subnormal
        f64::MAX / 3.0,
        0.1 + 0.2,
    ]
}

fn space() -> Space {
    Space::grid([Space::list("x", awkward_floats()), Space::list("k", [1i64, 3, 7])])
}

/// The value stored for a point: a few non-integer results of it.
fn value_of(point: &Point) -> Result<serde_json::Value, String> {
    let x = point.f64("x").ok_or("no x")?;
    let k = point.f64("k").ok_or("no k")?;
    Ok(json!({ "third": x / 3.0, "by_k": x / k, "mix": x / 7.0 + k / 3.0 }))
}

fn options() -> RunOptions {
    RunOptions { workers: 2, progress: false, ..RunOptions::default() }
}

/// The sweep of `value_of` over `space()`.
fn header() -> Header {
    Header::new(space(), Task::Closure("awkward".into()))
}

/// Runs (or resumes) the sweep of `header` into the results file `path`.
fn run(path: &Path, header: &Header, options: &RunOptions) -> RunSummary {
    run_to_file(path, header, value_of, options).unwrap_or_else(|e| panic!("{e:#}")).0
}

fn load(path: &Path) -> Results {
    Results::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts every latest record holds exactly `value_of` its point, and the
/// point exactly one of the space's points.
fn assert_bit_exact(results: &Results, space: &Space) {
    let latest = results.latest();
    assert_eq!(latest.len(), space.len());
    for record in latest {
        let expected_point = space.point(record.index).unwrap_or_else(|| panic!("no point {}", record.index));
        for ((name, got), (_, want)) in record.point.coordinates().iter().zip(expected_point.coordinates()) {
            let (got, want) = (got.as_f64().unwrap_or(f64::NAN), want.as_f64().unwrap_or(f64::NAN));
            assert_eq!(got.to_bits(), want.to_bits(), "coordinate {name}: {got:e} read back, {want:e} written");
        }
        assert_eq!(record.id, expected_point.id(), "point identity changed through the file");
        let want = value_of(&expected_point).unwrap_or_else(|e| panic!("{e}"));
        let got = record.outcome.as_ref().unwrap_or_else(|e| panic!("{e}"));
        for key in ["third", "by_k", "mix"] {
            let (g, w) = (got[key].as_f64().unwrap_or(f64::NAN), want[key].as_f64().unwrap_or(f64::NAN));
            assert_eq!(g.to_bits(), w.to_bits(), "{key} at {}: {g:e} read back, {w:e} written", record.point);
        }
    }
}

#[test]
fn run_resume_and_collect_keep_every_bit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let header = header();

    // Run, reload, resume: the resume must recognise every point (ids are
    // hashes of the exact bits) and compute nothing.
    let path = dir.path().join("r.jsonl");
    run(&path, &header, &options());
    assert_bit_exact(&load(&path), &header.space);
    let again = run(&path, &header, &options());
    assert_eq!(again.computed, 0, "a resume recomputed points it should have recognised");

    // Three shards, merged.
    let merged = dir.path().join("m.jsonl");
    for k in 0..3 {
        let shard = Shard::new(k, 3).unwrap_or_else(|e| panic!("{e}"));
        let selection = Selection::Filter(std::sync::Arc::new(move |i| shard.contains(i)));
        let options = RunOptions { selection, ..options() };
        run(&shard.results_path(&merged), &header, &options);
    }
    let collection = slurm::collect(&merged, 3, &header).unwrap_or_else(|e| panic!("{e}"));
    slurm::write_merged(&merged, &header, &collection).unwrap_or_else(|e| panic!("{e}"));
    assert_bit_exact(&load(&merged), &header.space);
}

#[test]
fn csv_export_keeps_every_bit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let header = header();
    let path = dir.path().join("r.jsonl");
    run(&path, &header, &options());
    let results = load(&path);
    let mut csv = Vec::new();
    results.write_csv(&mut csv).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(csv).unwrap_or_else(|e| panic!("{e}"));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("index,id,x,k,by_k,mix,third,error,duration_ms"));
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let float = |i: usize| cells[i].parse::<f64>().unwrap_or_else(|e| panic!("{:?}: {e}", cells[i]));
        let point = header.space.point(cells[0].parse().unwrap_or(usize::MAX)).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(float(2).to_bits(), point.f64("x").unwrap_or(f64::NAN).to_bits(), "{line}");
        let want = value_of(&point).unwrap_or_else(|e| panic!("{e}"));
        for (column, key) in [(4, "by_k"), (5, "mix"), (6, "third")] {
            assert_eq!(float(column).to_bits(), want[key].as_f64().unwrap_or(f64::NAN).to_bits(), "{key}: {line}");
        }
        rows += 1;
    }
    assert_eq!(rows, header.space.len());
}

/// The README's way: the binary runs a black box printing 17 significant
/// digits; the file and `export` must hold what it printed, exactly.
#[cfg(unix)]
#[test]
fn the_binary_stores_what_the_black_box_printed() {
    use common::{stderr, stdout, Sandbox};
    let sandbox = Sandbox::new();
    sandbox.spec(
        "thirds.ron",
        r#"(
            space: Grid([Linspace(name: "x", start: -1.0, stop: 1.0, num: 11), Linspace(name: "y", start: -1.0, stop: 1.0, num: 13)]),
            command: ["awk", "BEGIN { printf \"%.17g\\n\", {x} * {x} / 3 + {y} / 7 }"],
            workers: 2,
        )"#,
    );
    let sweep = |args: &[&str]| {
        let output = sandbox.sweep(args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    sweep(&["run", "--no-progress", "thirds.ron"]);
    let results = sandbox.load("thirds.jsonl");
    let expected = |p: &Point| {
        let (x, y) = (p.f64("x").unwrap_or(f64::NAN), p.f64("y").unwrap_or(f64::NAN));
        x * x / 3.0 + y / 7.0
    };
    let latest = results.latest();
    assert_eq!(latest.len(), 11 * 13);
    for record in &latest {
        let got = record.outcome.as_ref().ok().and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
        assert_eq!(got.to_bits(), expected(&record.point).to_bits(), "at {}", record.point);
    }
    let csv = sweep(&["export", "thirds.jsonl"]);
    for (line, record) in csv.lines().skip(1).zip(&latest) {
        let value: f64 = line.split(',').nth(4).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        assert_eq!(value.to_bits(), expected(&record.point).to_bits(), "{line}");
    }
    assert_bit_exact_text(&sandbox.path("thirds.jsonl"));
}

/// Every float written in the file is the shortest text that reads back
/// as itself, i.e. the file never holds a value rounded on the way in.
fn assert_bit_exact_text(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for line in text.lines().skip(1) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(v) = value["value"].as_f64().filter(|_| value["value"].is_f64()) {
            let shortest = format!("{v:?}");
            assert!(line.contains(&format!("\"value\":{shortest}")), "{line} should hold {shortest}");
        }
    }
}
