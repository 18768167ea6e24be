//! Bakes the project's own git revision and the compiler into the binary,
//! so a report says what code produced it wherever the harness is run from.
//!
//! Never fails the build: without git or a repository (a source tarball,
//! a vendored copy) the revision is `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let revision = git_revision(&manifest_dir).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PARSWEEP_GIT_REVISION={revision}");

    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = run(Command::new(rustc).arg("--version")).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PARSWEEP_RUSTC_VERSION={version}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=PARSWEEP_TARGET={target}");
    println!("cargo:rustc-env=PARSWEEP_TARGET_CPU={}", target_cpu());
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
}

/// The `-C target-cpu` the crate is compiled for, from the flags cargo
/// passes on; `generic` (the target's baseline) when none is given.
fn target_cpu() -> String {
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    let mut cpu = None;
    for (index, flag) in flags.iter().enumerate() {
        let value = match flag.strip_prefix("-C") {
            Some("") => flags.get(index + 1).copied(),
            Some(rest) => Some(rest),
            None => None,
        };
        if let Some(name) = value.and_then(|v| v.trim().strip_prefix("target-cpu=")) {
            cpu = Some(name.to_owned());
        }
    }
    cpu.unwrap_or_else(|| "generic".to_owned())
}

/// `git` run in `dir`, its trimmed standard output on success.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    run(Command::new("git").arg("-C").arg(dir).args(args))
}

fn run(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The short revision of the repository holding this crate, `-dirty` when
/// tracked files differ from it. Asks cargo to run this script again when
/// HEAD moves, the branch it names moves, or the index changes (a commit or
/// `git add`), and when any source of the workspace changes (an edit makes
/// the tree dirty).
fn git_revision(manifest_dir: &Path) -> Option<String> {
    // Only this project's own repository counts: a copy of the crate inside
    // some other repository (vendored, unpacked from a tarball) is `unknown`.
    let top = PathBuf::from(git(manifest_dir, &["rev-parse", "--show-toplevel"])?);
    let ours = top.join("bench-harness").canonicalize().ok()? == manifest_dir.canonicalize().ok()?
        && top.join("pool").join("Cargo.toml").is_file();
    if !ours {
        return None;
    }
    let revision = git(manifest_dir, &["rev-parse", "--short", "HEAD"]).filter(|r| !r.is_empty())?;
    let absolute = |path: String| {
        let path = PathBuf::from(path);
        if path.is_absolute() {
            path
        } else {
            manifest_dir.join(path)
        }
    };
    if let Some(git_dir) = git(manifest_dir, &["rev-parse", "--git-dir"]).map(absolute) {
        for file in ["HEAD", "index"] {
            if git_dir.join(file).exists() {
                println!("cargo:rerun-if-changed={}", git_dir.join(file).display());
            }
        }
    }
    if let (Some(common), Some(branch)) = (
        git(manifest_dir, &["rev-parse", "--git-common-dir"]).map(absolute),
        git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]),
    ) {
        // A packed ref has no file of its own; watch the pack instead.
        let loose = common.join(&branch);
        let watched = if loose.exists() { loose } else { common.join("packed-refs") };
        if watched.exists() {
            println!("cargo:rerun-if-changed={}", watched.display());
        }
    }
    for member in ["bench-harness", "pool", "sweep", "Cargo.toml", "Cargo.lock"] {
        let path = top.join(member);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let dirty = git(manifest_dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{revision}-dirty") } else { revision })
}
