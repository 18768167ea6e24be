//! What `sweep collect` keeps when the results file and the shard files
//! both hold records of a point: every record stays, and the current one
//! is the newest evaluation (a value never replaced by a failure), as
//! `status`, `export` and `run` read it.

mod common;

use std::process::Output;

use common::{stderr, stdout, Sandbox};

/// `x` = 0..4; the value is the digit in `tag` followed by `x`, so each
/// run's values say which run computed them.
const TAGGED: &str = r#"(space: Range(name: "x", start: 0, end: 4),
    command: ["sh", "-c", "echo $(cat tag){x}"], output: "n.jsonl")"#;

fn succeeded(output: Output, what: &str) -> String {
    assert_eq!(output.status.code(), Some(0), "{what}: {}", stderr(&output));
    stdout(&output)
}

/// Runs `sweep run n.ron ARGS` with `tag` holding `tag`.
fn run_tagged(sandbox: &Sandbox, tag: u8, args: &[&str]) {
    std::fs::write(sandbox.path("tag"), tag.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let mut all = vec!["run", "--no-progress", "n.ron"];
    all.extend_from_slice(args);
    succeeded(sandbox.sweep(&all), &all.join(" "));
}

/// The current value of each point, by the rule every reader uses.
fn current(sandbox: &Sandbox) -> Vec<i64> {
    let results = sandbox.load("n.jsonl");
    results.latest().iter().map(|r| r.outcome.as_ref().ok().and_then(serde_json::Value::as_i64).unwrap_or(-1)).collect()
}

/// The referee's reproduction: the shard ran first, then a local run
/// computed every point again into the results file. `collect` replaced
/// the newer local values with the older shard ones and wrote one record
/// per point, deleting the file's own measurements. Now the newer values
/// stay current and every record of both runs is kept; collecting again
/// changes nothing.
#[test]
fn collect_keeps_the_newer_values_of_the_results_file_and_every_record() {
    let sandbox = Sandbox::new();
    sandbox.spec("n.ron", TAGGED);
    run_tagged(&sandbox, 1, &["--shard", "0/1"]);
    run_tagged(&sandbox, 2, &[]);
    assert_eq!(current(&sandbox), [20, 21, 22, 23]);

    succeeded(sandbox.sweep(&["collect", "n.ron"]), "collect");
    assert_eq!(current(&sandbox), [20, 21, 22, 23], "the newer local values stay current");
    let results = sandbox.load("n.jsonl");
    let mut all: Vec<i64> = results
        .records
        .iter()
        .map(|r| r.outcome.as_ref().ok().and_then(serde_json::Value::as_i64).unwrap_or(-1))
        .collect();
    all.sort_unstable();
    assert_eq!(all, [10, 11, 12, 13, 20, 21, 22, 23], "every record of both runs is kept");
    let export = succeeded(sandbox.sweep(&["export", "n.jsonl"]), "export");
    assert!(export.contains(",20,") && !export.contains(",10,"), "{export}");
    let history = succeeded(sandbox.sweep(&["status", "n.jsonl", "--records"]), "status --records");
    assert!(history.contains("\t10\n") && history.contains("\t20\n"), "{history}");

    let before = std::fs::read(sandbox.path("n.jsonl")).unwrap_or_default();
    succeeded(sandbox.sweep(&["collect", "n.ron"]), "collect again");
    assert_eq!(std::fs::read(sandbox.path("n.jsonl")).unwrap_or_default(), before, "nothing new to merge");
}

/// The other way round: values computed by a shard after those of the
/// results file are newer, and become current; the file's older values
/// are kept as history.
#[test]
fn newer_shard_values_become_current_and_the_older_ones_stay() {
    let sandbox = Sandbox::new();
    sandbox.spec("n.ron", TAGGED);
    run_tagged(&sandbox, 1, &[]);
    run_tagged(&sandbox, 2, &["--shard", "1/2"]);
    succeeded(sandbox.sweep(&["collect", "n.ron", "--tasks", "2"]), "collect");
    assert_eq!(current(&sandbox), [10, 21, 12, 23]);
    assert_eq!(sandbox.load("n.jsonl").records.len(), 6);
}

/// A shard that did not know a point was done elsewhere may fail it
/// later: the value stays current, and the failure is kept as history.
#[test]
fn a_later_failure_in_a_shard_never_replaces_a_value() {
    let sandbox = Sandbox::new();
    sandbox.spec("n.ron", TAGGED);
    run_tagged(&sandbox, 1, &[]);
    // The tag is no number: every point of the shard fails.
    std::fs::write(sandbox.path("tag"), "oops").unwrap_or_else(|e| panic!("{e}"));
    let failed = sandbox.sweep(&["run", "--no-progress", "n.ron", "--shard", "0/2"]);
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    succeeded(sandbox.sweep(&["collect", "n.ron", "--tasks", "2"]), "collect");
    assert_eq!(current(&sandbox), [10, 11, 12, 13]);
    let results = sandbox.load("n.jsonl");
    assert_eq!(results.records.iter().filter(|r| !r.is_ok()).count(), 2, "the failures are kept");
    assert_eq!(results.status().done, 4);
}
