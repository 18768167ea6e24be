//! `bench-harness completions SHELL`: the completion script a shell
//! sources, on standard output, generated from the same definition that
//! parses the command line.

mod common;

use common::{harness, harness_command};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn completions(shell: &str) -> String {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let output = harness(&["completions", shell], dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "a script to redirect into a file says nothing else: {}", text(&output.stderr));
    text(&output.stdout)
}

#[test]
fn the_bash_script_completes_the_subcommands_and_options() {
    let script = completions("bash");
    assert!(script.contains("complete -F"), "not a bash completion script:\n{script}");
    for subcommand in ["report", "compare", "completions"] {
        assert!(script.contains(subcommand), "bash completion lacks the {subcommand:?} subcommand");
    }
    for option in ["--list", "--only", "--out", "--resume", "--yes", "--no-small-print", "--font-scale", "--threshold"]
    {
        assert!(script.contains(option), "bash completion lacks {option:?}");
    }
}

#[test]
fn every_listed_shell_gets_a_script_for_bench_harness() {
    assert!(completions("zsh").starts_with("#compdef bench-harness"));
    let fish = completions("fish");
    assert!(fish.contains("complete -c bench-harness"), "not a fish script for bench-harness:\n{fish}");
    // fish spells a long option `-l NAME`.
    assert!(fish.contains("compare") && fish.contains("-l resume"), "{fish}");
    for shell in ["elvish", "powershell"] {
        assert!(completions(shell).contains("bench-harness"), "{shell} script does not name bench-harness");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let output = harness(&["completions", "tcsh"], dir.path());
    // 2: clap's status for a bad command line, as for any other.
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "no partial script on stdout");
    let message = text(&output.stderr);
    assert!(message.contains("tcsh") && message.contains("bash"), "names the value and the choices: {message}");
}

#[test]
fn an_experiment_file_named_completions_still_runs_by_its_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let experiment = r#"(experiments: [(name: "tiny", workload: Square, inputs: Count(4), workers: [1],
        repetitions: 1, warmup: 0, backends: [Sequential])])"#;
    std::fs::write(dir.path().join("completions"), experiment).unwrap_or_else(|e| panic!("writing: {e}"));
    for args in [&["./completions", "--list"][..], &["--list", "completions"]] {
        let output = harness(args, dir.path());
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
        assert!(
            text(&output.stdout).starts_with("tiny\t"),
            "{args:?} did not list the file:\n{}",
            text(&output.stdout)
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_script_that_cannot_be_written_is_a_failure() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let full = std::fs::File::create("/dev/full").unwrap_or_else(|e| panic!("/dev/full: {e}"));
    let output = harness_command(&["completions", "bash"], dir.path())
        .stdout(full)
        .output()
        .unwrap_or_else(|e| panic!("running bench-harness: {e}"));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("cannot write the completion script"), "{}", text(&output.stderr));
}
