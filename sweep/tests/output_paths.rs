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
    // A shard's name is derived from the one given, which lost its slash
    // on the way: `x.shard-0-of-2.jsonl` was written.
    let refused = sandbox.sweep(&["run", "--no-progress", "s.ron", "--shard", "0/2", "-o", "x.jsonl/"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(!sandbox.path("x.shard-0-of-2.jsonl").exists() && !sandbox.path("x.jsonl").exists());
    // In the spec too.
    sandbox.spec("o.ron", &SPEC.replace("workers: 2", r#"workers: 2, output: "y.jsonl/""#));
    let refused = sandbox.sweep(&["run", "--no-progress", "o.ron"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(!sandbox.path("y.jsonl").exists());
}

/// The referee's `export -o existing_dir` failed with 1 (an I/O error),
/// where the README's table says 2 for no regular file where one is
/// needed; and `plot` and `export` into a missing directory failed with 1,
/// while `run` creates the directories of its results file.
#[test]
fn exports_and_charts_refuse_a_directory_and_create_missing_ones() {
    let sandbox = Sandbox::new();
    sandbox.spec("s.ron", SPEC);
    let run = sandbox.sweep(&["run", "--no-progress", "s.ron", "-o", "runs/r.jsonl"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    std::fs::create_dir(sandbox.path("existing")).unwrap_or_else(|e| panic!("{e}"));
    let refusals: [&[&str]; 2] =
        [&["export", "runs/r.jsonl", "-o", "existing"], &["plot", "runs/r.jsonl", "--format", "svg", "-o", "existing"]];
    for args in refusals {
        let refused = sandbox.sweep(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("is a directory"), "{args:?}: {}", stderr(&refused));
    }
    assert_eq!(std::fs::read_dir(sandbox.path("existing")).map(|d| d.count()).ok(), Some(0));
    for (args, written) in [
        (["export", "runs/r.jsonl", "-o", "new/csv/r.csv"], "new/csv/r.csv"),
        (["plot", "runs/r.jsonl", "-o", "new/charts/r.png"], "new/charts/r.png"),
    ] {
        let done = sandbox.sweep(&args);
        assert_eq!(done.status.code(), Some(0), "{args:?}: {}", stderr(&done));
        assert!(sandbox.path(written).is_file(), "{written}");
    }
}
