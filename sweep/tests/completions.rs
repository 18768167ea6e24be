//! `sweep completions SHELL`: the completion script a shell sources, on
//! standard output, generated from the same definition that parses the
//! command line.

mod common;

use common::{stderr, stdout, Sandbox};

fn completions(shell: &str) -> String {
    let output = Sandbox::new().sweep(&["completions", shell]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "a script to redirect into a file says nothing else: {}", stderr(&output));
    stdout(&output)
}

#[test]
fn the_bash_script_completes_every_subcommand_and_their_options() {
    let script = completions("bash");
    assert!(script.contains("complete -F"), "not a bash completion script:\n{script}");
    for subcommand in ["run", "plot", "status", "repair", "export", "slurm", "collect", "completions"] {
        assert!(script.contains(subcommand), "bash completion lacks the {subcommand:?} subcommand");
    }
    for option in ["--retry-failed", "--max-attempts", "--shard", "--value-key", "--records", "--resubmit"] {
        assert!(script.contains(option), "bash completion lacks {option:?}");
    }
    // The shells it can complete are themselves completed.
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(script.contains(shell), "bash completion lacks the shell {shell:?}");
    }
}

#[test]
fn every_listed_shell_gets_a_script_for_sweep() {
    assert!(completions("zsh").starts_with("#compdef sweep"));
    let fish = completions("fish");
    assert!(fish.contains("complete -c sweep"), "not a fish script for sweep:\n{fish}");
    // fish spells a long option `-l NAME`.
    assert!(fish.contains("status") && fish.contains("-l retry-failed"), "{fish}");
    for shell in ["elvish", "powershell"] {
        assert!(completions(shell).contains("sweep"), "{shell} script does not name sweep");
    }
}

#[test]
fn an_unknown_shell_is_bad_input() {
    let sandbox = Sandbox::new();
    let output = sandbox.sweep(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "no partial script on stdout");
    let message = stderr(&output);
    assert!(message.contains("tcsh") && message.contains("bash"), "names the value and the choices: {message}");
    // No shell at all is the same usage error.
    let missing = sandbox.sweep(&["completions"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
}

#[cfg(target_os = "linux")]
#[test]
fn a_script_that_cannot_be_written_is_a_failure() {
    let full = std::fs::File::create("/dev/full").unwrap_or_else(|e| panic!("/dev/full: {e}"));
    let output = Sandbox::new()
        .command(&["completions", "bash"])
        .stdout(full)
        .output()
        .unwrap_or_else(|e| panic!("running sweep: {e}"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot write the completion script"), "{}", stderr(&output));
}
