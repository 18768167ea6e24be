//! The run pipeline as a user meets it: what it refuses to overwrite, what
//! it reads back, and what it leaves behind.

use std::path::Path;
use std::process::{Command, Output};

const SMALL: &str = r#"(experiments: [(name: "small", workload: Square, inputs: Count(8), workers: [1, 2],
    repetitions: 3, warmup: 0, backends: [Sequential, Pool])])"#;

fn harness(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench-harness")).args(args).current_dir(dir).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn with_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("experiments.ron"), text).unwrap();
    dir
}

/// What a run of [`SMALL`] killed after its first samples leaves in `dir/out`.
fn killed(dir: &Path) -> String {
    let report = dir.join("out/small");
    std::fs::create_dir_all(&report).unwrap();
    let samples = "experiment,backend,workers,chunk,repetition,seconds\n\
                   small,sequential,1,,0,0.001\nsmall,pool,1,auto,0,0.002\nsmall,pool,2,auto,0,0.0015\n";
    std::fs::write(report.join("samples.csv"), samples).unwrap();
    samples.to_owned()
}

#[test]
fn a_fresh_run_into_an_interrupted_out_keeps_its_samples_and_says_how_to_go_on() {
    let dir = with_config(SMALL);
    let samples = killed(dir.path());
    let report = dir.path().join("out/small");
    // Killed (no results.json), then interrupted (its status says so).
    for results in [None, Some(r#"{"status": "Interrupted"}"#)] {
        if let Some(results) = results {
            std::fs::write(report.join("results.json"), results).unwrap();
        }
        let output = harness(&["experiments.ron", "--out", "out"], dir.path());
        let message = stderr(&output);
        assert!(!output.status.success(), "{message}");
        assert!(message.contains("holds 3 sample(s) of an interrupted run of \"small\""), "{message}");
        assert!(message.contains("--resume out") && message.contains("another --out"), "{message}");
        assert_eq!(std::fs::read_to_string(report.join("samples.csv")).unwrap(), samples, "samples deleted");
    }
}
