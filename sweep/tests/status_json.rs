//! `sweep status`: one definition of "given up" (the spec's `max_attempts`,
//! as `run` uses it), and `--json` for scripts.

mod common;

use common::{stderr, stdout, Sandbox};
use serde_json::Value;

/// k = 0..4 where k ≥ 2 fails with exit 3, after 4 attempts each (1 + 3
/// retries), under a spec that allows 5.
fn four_failed_attempts() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "flaky.ron",
        r#"(
            space: Range(name: "k", start: 0, end: 4),
            command: ["sh", "-c", "test {k} -lt 2 || { echo 'no luck' >&2; exit 3; }; echo {k}"],
            workers: 2,
            max_attempts: 5,
            retries: 3,
            output: "flaky.jsonl",
        )"#,
    );
    // Its exit status says points failed; what matters here is the file.
    let run = sandbox.sweep(&["run", "--no-progress", "--retry-delay", "0", "flaky.ron"]);
    let results = sandbox.load("flaky.jsonl");
    assert_eq!(results.records.len(), 2 + 2 * 4, "{}", stderr(&run));
    sandbox
}

fn status_json(sandbox: &Sandbox, extra: &[&str]) -> Value {
    let mut args = vec!["status", "--json", "flaky.jsonl"];
    args.extend_from_slice(extra);
    let output = sandbox.sweep(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)))
}

/// The spec's path as `run` records it in the header: as it was given.
fn spec_path(_sandbox: &Sandbox) -> String {
    "flaky.ron".to_owned()
}

/// `sweep status --json RESULTS` run in `directory`.
fn status_json_in(sandbox: &Sandbox, directory: &std::path::Path, results: &str) -> Value {
    let output = sandbox.command(&["status", "--json", results]).current_dir(directory).output();
    let output = output.unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&output)))
}

#[test]
fn status_finds_the_sweeps_own_spec_from_any_directory() {
    let sandbox = four_failed_attempts();
    // Another study beside it: a spec of the same name and command, with a
    // lower cap, which must not be taken for this sweep's.
    let elsewhere = sandbox.path("other");
    std::fs::create_dir(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    let spec = std::fs::read_to_string(sandbox.path("flaky.ron")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(elsewhere.join("flaky.ron"), spec.replace("max_attempts: 5", "max_attempts: 2"))
        .unwrap_or_else(|e| panic!("{e}"));
    let results = sandbox.path("flaky.jsonl").display().to_string();
    for directory in [elsewhere.clone(), std::path::PathBuf::from("/")] {
        let report = status_json_in(&sandbox, &directory, &results);
        assert_eq!((report["max_attempts"].as_u64(), report["given_up"].as_u64()), (Some(5), Some(0)), "{report}");
    }
    let report = status_json_in(&sandbox, &elsewhere, "../flaky.jsonl");
    assert_eq!(report["max_attempts"], 5, "{report}");
}

#[test]
fn a_header_spec_path_written_relative_is_taken_beside_the_results_file() {
    let sandbox = four_failed_attempts();
    let path = sandbox.path("flaky.jsonl");
    let elsewhere = sandbox.path("other");
    std::fs::create_dir(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(elsewhere.join("flaky.ron"), "not even a spec").unwrap_or_else(|e| panic!("{e}"));
    let report = status_json_in(&sandbox, &elsewhere, &path.display().to_string());
    assert_eq!((report["max_attempts"].as_u64(), report["given_up"].as_u64()), (Some(5), Some(0)), "{report}");
}

#[test]
fn a_spec_that_is_no_longer_the_sweeps_lends_it_no_settings_and_status_says_so() {
    let sandbox = four_failed_attempts();
    // The spec was edited after the run: another space, and a cap of 2.
    let spec = std::fs::read_to_string(sandbox.path("flaky.ron")).unwrap_or_else(|e| panic!("{e}"));
    let edited = spec.replace("end: 4", "end: 6").replace("max_attempts: 5", "max_attempts: 2");
    std::fs::write(sandbox.path("flaky.ron"), edited).unwrap_or_else(|e| panic!("{e}"));
    let report = status_json(&sandbox, &[]);
    assert_eq!((report["max_attempts"].as_u64(), report["given_up"].as_u64()), (Some(3), Some(2)), "{report}");
    assert!(report["max_attempts_from"].as_str().is_some_and(|from| from.starts_with("the default")), "{report}");
    let text = stdout(&sandbox.sweep(&["status", "flaky.jsonl"]));
    assert!(text.contains("is not this sweep's spec now"), "{text}");
}

#[test]
fn status_uses_the_specs_max_attempts_like_run() {
    let sandbox = four_failed_attempts();
    let report = status_json(&sandbox, &[]);
    assert_eq!((report["failed"].as_u64(), report["given_up"].as_u64()), (Some(2), Some(0)), "{report}");
    assert_eq!(report["max_attempts"], 5);
    let text = stdout(&sandbox.sweep(&["status", "flaky.jsonl"]));
    let cap = format!("failed:      2 (0 given up: failed at least 5 times, max_attempts of {})", spec_path(&sandbox));
    assert!(text.contains(&cap), "{text}");
    // And `run` agrees: both points are retried, not skipped as given up.
    let results = sandbox.load("flaky.jsonl");
    let resume = results.resume(true, 5);
    assert_eq!((resume.skip.len(), resume.given_up), (2, 0));
}

#[test]
fn a_lower_cap_gives_points_up_and_says_how_often_they_failed() {
    let sandbox = four_failed_attempts();
    let report = status_json(&sandbox, &["--max-attempts", "2"]);
    assert_eq!(report["given_up"], 2, "{report}");
    let text = stdout(&sandbox.sweep(&["status", "--max-attempts", "2", "flaky.jsonl"]));
    assert!(text.contains("failed k=2 (attempt 4, given up, on "), "{text}");
    assert!(!text.contains("failed 2 times"), "{text}");
}

#[test]
fn json_status_has_counts_and_failures_with_provenance() {
    let sandbox = four_failed_attempts();
    let report = status_json(&sandbox, &[]);
    for (key, value) in [("total", 4), ("done", 2), ("failed", 2), ("missing", 0), ("outside", 0), ("untagged", 0)] {
        assert_eq!(report[key], value, "{key} in {report}");
    }
    assert_eq!(report["results"], "flaky.jsonl");
    assert_eq!(report["spec"], spec_path(&sandbox), "the header keeps the spec's path as given");
    assert_eq!(report["fingerprint"].as_str().map(str::len), Some(16));
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    assert_eq!(failures.len(), 2, "{report}");
    for (failure, k) in failures.iter().zip([2, 3]) {
        assert_eq!(failure["point"]["k"], k);
        assert_eq!(failure["index"], k);
        assert_eq!(failure["attempts"], 4);
        assert_eq!(failure["given_up"], false);
        let error = failure["error"].as_str().unwrap_or_default();
        assert!(error.contains("no luck"), "{error}");
        assert_eq!(failure["provenance"]["exit"]["code"], 3, "{failure}");
        assert!(failure["provenance"]["host"].as_str().is_some_and(|h| !h.is_empty()), "{failure}");
        assert!(failure["provenance"]["started"].as_str().is_some_and(|t| t.ends_with('Z')), "{failure}");
    }
}

/// The README's layout: the spec in `configs/`, its results under
/// `target/sweep/`, `run` and `status` both run from the study's root.
/// The header holds `configs/layout.ron` as given; `status` finds it there
/// (it once looked only beside the results file, and fell back to the
/// default cap of 3, disagreeing with `run`), and so does a study moved
/// whole.
#[test]
fn status_finds_a_spec_in_another_directory_of_the_study() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("configs")).unwrap_or_else(|e| panic!("{e}"));
    sandbox.spec(
        "configs/layout.ron",
        r#"(
            space: Range(name: "k", start: 0, end: 2),
            command: ["sh", "-c", "exit 3"],
            max_attempts: 2,
            output: "target/sweep/layout.jsonl",
        )"#,
    );
    let run = sandbox.sweep(&["run", "--no-progress", "configs/layout.ron"]);
    assert_eq!(run.status.code(), Some(3), "{}", stderr(&run));
    for study in [sandbox.root().to_owned(), sandbox.path("moved")] {
        if study != sandbox.root() {
            std::fs::create_dir(&study).unwrap_or_else(|e| panic!("{e}"));
            for part in ["configs", "target"] {
                std::fs::rename(sandbox.path(part), study.join(part)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let report = status_json_in(&sandbox, &study, "target/sweep/layout.jsonl");
        assert_eq!(report["max_attempts"], 2, "{}: {report}", study.display());
        assert_eq!(report["max_attempts_from"], "max_attempts of configs/layout.ron", "{report}");
    }
}
