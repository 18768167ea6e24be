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

#[test]
fn status_uses_the_specs_max_attempts_like_run() {
    let sandbox = four_failed_attempts();
    let report = status_json(&sandbox, &[]);
    assert_eq!((report["failed"].as_u64(), report["given_up"].as_u64()), (Some(2), Some(0)), "{report}");
    assert_eq!(report["max_attempts"], 5);
    let text = stdout(&sandbox.sweep(&["status", "flaky.jsonl"]));
    assert!(text.contains("failed:      2 (0 given up: failed at least 5 times, max_attempts of flaky.ron)"), "{text}");
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
    assert_eq!(report["spec"], "flaky.ron");
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
