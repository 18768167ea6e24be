//! Helpers shared by the tests that drive the `bench-harness` binary as a
//! user does (`cli.rs`, `pipeline.rs`, `attack_cli.rs`, `completions.rs`): the command, an
//! experiment file in a scratch directory, and what the run printed.
//!
//! Each test file is its own crate and uses its own subset of these, so the
//! rest would be dead code there.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `bench-harness ARGS` in `dir`, not yet started, with the stop signals'
/// default actions, as from a terminal: the harness leaves a signal ignored
/// at its start ignored, and these tests may run with some ignored (under
/// `nohup`), which would make a test that signals it test nothing. A test
/// that wants one ignored sets it in a `pre_exec` of its own, run after.
pub fn harness_command(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bench-harness"));
    command.args(args).current_dir(dir);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure only calls signal(2), which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                for signal in sweep::signals::STOP_SIGNALS {
                    libc::signal(signal, libc::SIG_DFL);
                }
                Ok(())
            });
        }
    }
    command
}

/// Runs `bench-harness ARGS` in `dir` to the end.
pub fn harness(args: &[&str], dir: &Path) -> Output {
    harness_command(args, dir).output().unwrap()
}

/// What the run printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch directory holding `text` as `experiments.ron`.
pub fn with_config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("experiments.ron"), text).unwrap();
    dir
}
