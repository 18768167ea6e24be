//! The `bench-harness` command as a user runs it: arguments, errors, exit codes.

use std::path::Path;
use std::process::{Command, Output};

const TWO_EXPERIMENTS: &str = r#"(
    experiments: [
        (
            name: "first",
            description: Some("The first one."),
            workload: Square,
            inputs: Count(8),
            workers: [1, 2],
            repetitions: 2,
            warmup: 0,
            backends: [Sequential, Pool],
        ),
        (
            name: "second",
            workload: Sleep(duration_us: 10),
            inputs: Count(4),
            workers: [2],
            repetitions: 1,
            warmup: 0,
            backends: [Sequential, StdScope],
        ),
    ],
)"#;

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

#[test]
fn help_explains_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["--help"], dir.path());
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in ["--list", "--only", "--out", "configs/quick.ron", "summary.md", "samples.csv"] {
        assert!(help.contains(expected), "help lacks {expected:?}:\n{help}");
    }
}

#[test]
fn the_example_in_help_is_a_valid_experiment_file() {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(harness(&["--help"], dir.path()).stdout).unwrap();
    let start = help.find("(experiments: [(").expect("help shows an example file");
    let end = start + help[start..].find(")])").expect("the example is closed") + ")])".len();
    let plan = bench_harness::config::Plan::parse(&help[start..end], Path::new("help.ron"))
        .unwrap_or_else(|e| panic!("{e}\n{}", &help[start..end]));
    assert_eq!(plan.experiments[0].name.as_str(), "spin");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["nowhere.ron"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.starts_with("error: cannot read nowhere.ron"), "{message}");
}

#[test]
fn the_default_config_is_configs_quick_ron() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness(&["--list"], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("configs/quick.ron"), "{}", stderr(&output));
}

#[test]
fn bad_ron_is_reported_with_line_and_column() {
    let dir = with_config(&TWO_EXPERIMENTS.replace("inputs: Count(4),", "inputs: Count(4), speed: 3,"));
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.starts_with("error: experiments.ron:16:36: "), "{message}");
    assert!(message.contains("speed"), "{message}");
}

#[test]
fn list_shows_every_experiment_and_only_filters() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--list"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> =
        listing.lines().filter(|l| !l.starts_with('\t')).map(|l| l.split('\t').next().unwrap_or("")).collect();
    assert_eq!(names, ["first", "second"]);
    assert!(listing.contains("\tThe first one."), "{listing}");

    let output = harness(&["experiments.ron", "--list", "--only", "second"], dir.path());
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.starts_with("second\t") && !listing.contains("first"), "{listing}");
}

#[test]
fn an_unknown_only_name_lists_the_known_ones() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--only", "third"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("\"third\"") && message.contains("first, second"), "{message}");
}

#[test]
fn a_run_writes_reports_under_out_for_the_selected_experiment() {
    let dir = with_config(TWO_EXPERIMENTS);
    let output = harness(&["experiments.ron", "--only", "second", "--out", "results"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let report = dir.path().join("results/second");
    for file in ["samples.csv", "results.json", "summary.md"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    assert!(!dir.path().join("results/first").exists(), "--only skips the others");
    assert!(stderr(&output).contains("wrote results/second/"), "{}", stderr(&output));
}

#[test]
fn a_failing_command_stops_the_run_naming_command_and_status() {
    let config = r#"(experiments: [(name: "cmd", workload: Command(program: "sh", args: ["-c", "exit 4"]),
        inputs: Count(2), workers: [1], repetitions: 1, warmup: 0, backends: [Sequential])])"#;
    let dir = with_config(config);
    let output = harness(&["experiments.ron"], dir.path());
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("command `sh -c exit 4` failed with exit status: 4"), "{message}");
    assert!(message.contains("experiment \"cmd\""), "{message}");
}
