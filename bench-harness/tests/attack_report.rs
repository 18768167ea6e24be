//! Outside referees' attacks on `report` and `compare` with saved runs
//! that were copied or edited: a copy passed off as another machine, a
//! definition edited after the run, a machine of no cores, runs of
//! different problems drawn as one.

mod common;

use std::path::Path;

use common::{harness, stderr, with_config};

const SMALL: &str = r#"(experiments: [(name: "small", workload: Square, inputs: Count(40), workers: [1, 2],
    repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;

/// Edits the JSON file at `path` with `edit`.
/// A directory holding `SMALL`'s experiment file and its run in `o1/`.
fn small_run_in_o1() -> tempfile::TempDir {
    let dir = with_config(SMALL);
    let output = harness(&["experiments.ron", "--out", "o1"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    dir
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// `dir/from/small` copied to `dir/to/small`.
fn copy_run(dir: &Path, from: &str, to: &str) {
    let (from, to) = (dir.join(from).join("small"), dir.join(to).join("small"));
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The referee copied a run and edited only "hostname" and "date_utc" in
/// its results.json: `compare o1 o1d` printed "no significant difference"
/// in every row, and `report o1 o1d --out x` overlaid the two as machines.
/// Identical nanosecond times in every sample are one run: refused (2).
#[test]
fn a_copy_with_another_host_and_date_is_the_same_run() {
    let dir = small_run_in_o1();
    copy_run(dir.path(), "o1", "o1d");
    edit_json(&dir.path().join("o1d/small/results.json"), |v| {
        v["machine"]["hostname"] = "elsewhere".into();
        v["machine"]["date_utc"] = "2020-01-01T00:00:00Z".into();
    });
    for args in [&["compare", "o1", "o1d", "--out", "x"][..], &["report", "o1", "o1d", "--out", "x"]] {
        let output = harness(args, dir.path());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("hold the same run"), "{args:?}: {}", stderr(&output));
        assert!(!dir.path().join("x").exists(), "{args:?} wrote a report");
    }
}

/// Count 40 edited to 4000 in results.json: `report` printed the summary
/// of a problem 100 times the size measured in the same times. The run's
/// started.json records what it measured: the two disagree, refused (2).
#[test]
fn a_definition_edited_after_the_run_is_refused() {
    let dir = small_run_in_o1();
    let results = dir.path().join("o1/small/results.json");
    assert!(dir.path().join("o1/small/started.json").is_file(), "the run keeps its start record");
    let output = harness(&["report", "o1", "--format", "svg"], dir.path());
    assert!(output.status.success(), "unedited: {}", stderr(&output));
    let text = std::fs::read_to_string(&results).unwrap();
    assert!(text.contains("\"Count\": 40"), "{text}");
    std::fs::write(&results, text.replace("\"Count\": 40", "\"Count\": 4000")).unwrap();
    let output = harness(&["report", "o1", "--format", "svg"], dir.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("results.json") && message.contains("started.json"), "{message}");
    assert!(message.contains("different definitions"), "{message}");
}

/// An edited `"logical_cores": 0` was accepted and judged every speedup
/// against no cores.
#[test]
fn a_machine_of_no_cores_is_refused() {
    let dir = small_run_in_o1();
    edit_json(&dir.path().join("o1/small/results.json"), |v| v["machine"]["logical_cores"] = 0.into());
    let output = harness(&["report", "o1", "--format", "svg"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains("0 logical"), "{message}");
}

/// `report A B --out C` overlaid two runs of experiment "small", one of
/// Square and one of Spin, in one "machines" chart, where `compare`
/// refuses them ("the runs measured different problems"). The same check
/// refuses them in `report` now (2), nothing written.
#[test]
fn report_refuses_to_overlay_runs_of_different_problems() {
    let dir = small_run_in_o1();
    std::fs::write(dir.path().join("spin.ron"), SMALL.replace("Square", "Spin(duration_us: 5)")).unwrap();
    let output = harness(&["spin.ron", "--out", "o2"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let output = harness(&["report", "o1", "o2", "--out", "x", "--format", "svg"], dir.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("the runs measured different problems") && message.contains("\"small\""), "{message}");
    assert!(!dir.path().join("x").exists(), "a refused report wrote {}", dir.path().join("x").display());
}

/// Samples deleted from both results.json and samples.csv (the last
/// repetition of every cell): the two files agreed, and `report` called the
/// run "Complete … all samples kept". A complete run has every repetition.
#[test]
fn a_complete_run_with_repetitions_missing_is_refused() {
    let dir = small_run_in_o1();
    let report = dir.path().join("o1/small");
    edit_json(&report.join("results.json"), |v| {
        let samples = v["samples"].as_array_mut().unwrap();
        samples.retain(|s| s["repetition"] != 2);
    });
    let csv = std::fs::read_to_string(report.join("samples.csv")).unwrap();
    let kept: Vec<&str> = csv.lines().filter(|l| l.split(',').nth(4) != Some("2")).collect();
    assert!(kept.len() < csv.lines().count(), "{csv}");
    std::fs::write(report.join("samples.csv"), kept.join("\n") + "\n").unwrap();
    let output = harness(&["report", "o1", "--format", "svg"], dir.path());
    let message = stderr(&output);
    assert!(!output.status.success(), "{message}");
    assert!(message.contains("says its run is complete") && message.contains("2 of its 3 repetitions"), "{message}");
}
