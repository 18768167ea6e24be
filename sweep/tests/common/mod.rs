//! Helpers shared by the tests that drive the `sweep` binary as a user does
//! (`cli.rs`, `robustness.rs`, `one_writer.rs`, `bit_exact.rs`): a scratch
//! directory to run it in, and the text of what it printed.
//!
//! Each test file is its own crate and uses its own subset of these, so the
//! rest would be dead code there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sweep::Results;

/// A temporary directory that `sweep` runs in, with the specs and results
/// files of one test; removed when dropped.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")) }
    }

    /// The sandbox directory itself.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `name` inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    /// Writes a spec file and returns its path.
    pub fn spec(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        path
    }

    /// `sweep ARGS` in the sandbox, not yet started, with the stop signals'
    /// default actions (see [`default_signals`]).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sweep"));
        command.args(args).current_dir(self.root());
        default_signals(&mut command);
        command
    }

    /// Runs `sweep ARGS` to the end.
    pub fn sweep(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap_or_else(|e| panic!("running sweep: {e}"))
    }

    /// Starts `sweep ARGS` with stdout discarded and stderr piped.
    pub fn start(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning sweep: {e}"))
    }

    /// The results file `name` in the sandbox.
    pub fn load(&self, name: &str) -> Results {
        Results::load(&self.path(name)).unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `command` with SIGINT, SIGTERM, SIGHUP and SIGUSR1 at their
/// default actions, as from a terminal. sweep leaves a signal ignored at
/// its start ignored, and the tests may themselves run with some ignored
/// (under `nohup`, or as a script's background job), which the binary
/// would inherit: the tests that signal it would then test nothing. A test
/// that wants one ignored sets it in a `pre_exec` of its own, which runs
/// after this one.
pub fn default_signals(command: &mut Command) {
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
}

/// Fake Slurm tools that a one-node cluster's would answer with: limits
/// from `scontrol`, an empty queue from `squeue`, job 101 from `sbatch`.
pub const FAKE_SLURM: [(&str, &str); 3] = [
    ("scontrol", "#!/bin/sh\necho 'MaxArraySize = 1001'\necho 'MaxJobCount = 10000'\n"),
    ("squeue", "#!/bin/sh\nexit 0\n"),
    ("sbatch", "#!/bin/sh\necho 101\n"),
];

/// Writes each `(name, script)` of `tools` as an executable in the
/// sandbox's `fake-bin` (a tool written again is replaced); returns the
/// PATH that finds them first.
pub fn fake_tools(sandbox: &Sandbox, tools: &[(&str, &str)]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = sandbox.path("fake-bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in tools {
        let path = bin.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    }
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}
