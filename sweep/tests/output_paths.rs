//! Paths given for files sweep writes (results, CSV exports, charts) that
//! can only be directories are bad input (status 2), refused before
//! anything is created.

#![cfg(unix)]

mod common;

use common::{stderr, Sandbox};

const SPEC: &str = r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"], workers: 2)"#;

/// The referee's `run spec.ron -o x.jsonl/`: a directory `x.jsonl` was
/// created for the lock `x.jsonl/.lock`, and the run failed with 1.
#[test]
fn a_results_path_ending_in_a_slash_is_refused_and_nothing_is_created() {
    let sandbox = Sandbox::new();
    sandbox.spec("s.ron", SPEC);
    for output in ["x.jsonl/", "d/x.jsonl/.", "."] {
        let refused = sandbox.sweep(&["run", "--no-progress", "s.ron", "-o", output]);
        assert_eq!(refused.status.code(), Some(2), "{output}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("names a directory"), "{output}: {}", stderr(&refused));
    }
    assert!(!sandbox.path("x.jsonl").exists() && !sandbox.path("d").exists());
    // In the spec too.
    sandbox.spec("o.ron", &SPEC.replace("workers: 2", r#"workers: 2, output: "y.jsonl/""#));
    let refused = sandbox.sweep(&["run", "--no-progress", "o.ron"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(!sandbox.path("y.jsonl").exists());
}
