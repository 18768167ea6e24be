//! Exit statuses a pipeline acts on, the same for every subcommand: 0 done,
//! 1 could not be carried out, 2 bad input, 3 some points have no value,
//! 128 + N stopped by signal N.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

fn code(output: &std::process::Output) -> Option<i32> {
    output.status.code()
}

#[test]
fn a_run_with_failed_points_is_not_a_success() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "half.ron",
        r#"(space: Range(name: "k", start: 0, end: 4),
            command: ["sh", "-c", "[ $(({k} % 2)) -eq 0 ] || exit 5; echo {k}"], workers: 2)"#,
    );
    let first = sandbox.sweep(&["run", "--no-progress", "half.ron"]);
    assert_eq!(code(&first), Some(3), "{}", stderr(&first));
    assert!(stderr(&first).contains("2 of the 4 points of this run have no value"), "{}", stderr(&first));
    // Resuming computes nothing, and the failed points still have no value.
    let again = sandbox.sweep(&["run", "--no-progress", "half.ron"]);
    assert_eq!(code(&again), Some(3), "{}", stderr(&again));
    // Shard 0/2 holds only the points that succeed.
    let shard = sandbox.sweep(&["run", "--no-progress", "half.ron", "--shard", "0/2"]);
    assert_eq!(code(&shard), Some(0), "{}", stderr(&shard));
}

#[test]
fn a_complete_run_exits_zero() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"], workers: 2)"#);
    let output = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
}

#[test]
fn bad_input_exits_two_in_every_subcommand() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    sandbox.spec("typo.ron", r#"(space: Range(name: "k", start: 0, end: 3), comand: ["echo", "{k}"])"#);
    std::fs::write(sandbox.path("notes.txt"), "not results\n").unwrap_or_else(|e| panic!("{e}"));
    for args in [
        &["run", "typo.ron"][..],
        &["run", "ok.ron", "--workers", "0"],
        &["run", "ok.ron", "--no-such-flag"],
        &["run", "ok.ron", "--shard", "4/2"],
        &["status", "notes.txt"],
        &["export", "notes.txt"],
        &["collect", "typo.ron"],
        &["collect", "ok.ron", "--tasks", "0"],
        &["slurm", "ok.ron", "--tasks", "0"],
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
    }
    let help = sandbox.sweep(&["run", "--help"]);
    assert_eq!(code(&help), Some(0), "--help is an answer, not an error");
}

/// `--retry-delay inf` and `--grace inf` were taken: a failing point with
/// `--retries 1` then waited for ever. Every duration flag is now read as
/// `--timeout` is: a finite, non-negative number of seconds (positive for
/// `--timeout`), else status 2 before anything runs.
#[test]
fn infinite_or_negative_durations_are_refused_like_an_infinite_timeout() {
    let sandbox = Sandbox::new();
    sandbox.spec("fails.ron", r#"(space: Range(name: "k", start: 0, end: 2), command: ["false"])"#);
    for (flag, value) in [
        ("--retry-delay", "inf"),
        ("--grace", "inf"),
        ("--timeout", "inf"),
        ("--timeout", "0"),
        ("--retry-delay", "-1"),
        ("--retry-delay", "NaN"),
        ("--grace", "-inf"),
        ("--progress-every", "inf"),
    ] {
        let mut child = sandbox
            .command(&["run", "--no-progress", "--retries", "1", "fails.ron", &format!("{flag}={value}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        while child.try_wait().ok().flatten().is_none() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&output), Some(2), "{flag} {value}: {}", stderr(&output));
        let said = format!("{flag} must be a finite, ");
        assert!(stderr(&output).contains(&said), "{flag} {value}: {}", stderr(&output));
        assert!(!sandbox.path("fails.jsonl").exists(), "{flag} {value}: refused before anything runs");
    }
    // A huge finite one still means practically never.
    let output = sandbox.sweep(&["run", "--no-progress", "fails.ron", "--retry-delay", "1e300", "--grace", "1e300"]);
    assert_eq!(code(&output), Some(3), "{}", stderr(&output));
}

#[test]
fn unusable_spec_files_and_paths_exit_two_with_the_reason() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    sandbox.spec("nowhere.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"], output: "")"#);
    sandbox.spec(
        "labels.ron",
        r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"], labels: (axes: {"j": "j (m)"}))"#,
    );
    for (args, reason) in [
        (&["run", "/dev/zero"][..], "larger than 8 MiB"),
        (&["run", "nowhere.ron"], "output is empty"),
        (&["run", "ok.ron", "-o", ""], "a value is required for '--output"),
        (&["run", "labels.ron"], r#"labels.axes names "j", which is no axis of the space (its axes: k)"#),
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(reason), "{args:?}: {}", stderr(&output));
    }
    std::fs::write(
        sandbox.path("bom.ron"),
        "\u{feff}(space: Range(name: \"k\", start: 0, end: 3), command: [\"echo\", \"{k}\"])",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bom = sandbox.sweep(&["run", "--no-progress", "bom.ron"]);
    assert_eq!(code(&bom), Some(0), "{}", stderr(&bom));
}

#[test]
fn a_results_file_held_by_another_run_exits_one() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "slow.ron",
        r#"(space: Range(name: "k", start: 0, end: 4), command: ["sh", "-c", "sleep 5; echo {k}"], workers: 1)"#,
    );
    let mut holder = sandbox.start(&["run", "--no-progress", "slow.ron", "--grace", "0"]);
    let results = sandbox.path("slow.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !results.exists() {
        assert!(Instant::now() < deadline, "the first run never created its file");
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = sandbox.sweep(&["run", "--no-progress", "slow.ron"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code(&second), Some(1), "{}", stderr(&second));
}

#[test]
fn collect_with_points_missing_exits_three() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "{k}"])"#);
    let shard = sandbox.sweep(&["run", "--no-progress", "ok.ron", "--shard", "0/2"]);
    assert_eq!(code(&shard), Some(0), "{}", stderr(&shard));
    let collected = sandbox.sweep(&["collect", "ok.ron", "--tasks", "2"]);
    assert_eq!(code(&collected), Some(3), "{}", stderr(&collected));
    assert!(stderr(&collected).contains("2 of 4 points have no value"), "{}", stderr(&collected));
}

fn records_on_disk(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// A stop that arrives while a failed point waits out its retry back-off
/// is a stop: 128 + the signal, and the "stopped by" line, not 0.
#[test]
fn a_signal_during_a_retry_back_off_exits_with_128_plus_the_signal() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "flaky.ron",
        r#"(space: Range(name: "k", start: 0, end: 1), command: ["sh", "-c", "exit 4"], workers: 1)"#,
    );
    let child = sandbox.start(&["run", "--no-progress", "flaky.ron", "--retries", "2", "--retry-delay", "20"]);
    let results = sandbox.path("flaky.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_on_disk(&results) < 1 {
        assert!(Instant::now() < deadline, "the first attempt was never recorded");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&output), Some(128 + libc::SIGTERM), "{}", stderr(&output));
    assert!(stderr(&output).contains("stopped by SIGTERM"), "{}", stderr(&output));
}

/// Bad input to the commands that read results is bad input (2), as it is
/// for `run`: not a failure to carry them out (1).
#[test]
fn bad_arguments_to_status_and_plot_exit_two() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let run = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    for args in [&["status", "ok.jsonl", "--max-attempts", "0"][..], &["plot", "ok.jsonl", "-o", "chart.txt"]] {
        let output = sandbox.sweep(args);
        assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
    }
}

/// A results file named on the command line that does not exist is a
/// wrong argument (2), as a spec that does not exist is; so is `collect`
/// with nothing to collect, with or without `--tasks`.
#[test]
fn a_results_file_that_does_not_exist_exits_two_in_every_reader() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    for args in [
        &["status", "missing.jsonl"][..],
        &["export", "missing.jsonl"],
        &["plot", "missing.jsonl"],
        &["repair", "missing.jsonl", "--spec", "ok.ron"],
        &["collect", "ok.ron"],
        &["collect", "ok.ron", "--tasks", "2"],
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
    }
}

/// A results path that is a device (`/dev/zero`, never ending) or a FIFO is
/// refused unread as bad input (2) by every reader, instead of being read
/// whole until memory runs out.
#[test]
fn a_results_path_that_is_no_regular_file_exits_two_unread_in_every_reader() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    for device in ["/dev/zero", "/dev/urandom"] {
        if !Path::new(device).exists() {
            continue;
        }
        for args in [
            &["status", device][..],
            &["status", "--json", device],
            &["export", device],
            &["plot", device],
            &["repair", device],
        ] {
            let mut command = sandbox.command(args);
            command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            // SAFETY: setrlimit(2) is async-signal-safe; the limit only
            // keeps a reader that does read the device from eating the
            // machine's memory before it is killed.
            unsafe {
                command.pre_exec(|| {
                    let limit = libc::rlimit { rlim_cur: 1 << 30, rlim_max: 1 << 30 };
                    if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = command.spawn().unwrap_or_else(|e| panic!("{e}"));
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{args:?} still reading after 20 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
            assert!(
                stderr(&output).contains(&format!("cannot use {device} as a results file: it is ")),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
}

/// Results read from a stream whose first line is a header are read whole:
/// `zcat r.jsonl.gz | sweep export /dev/stdin` (only a stream with no line
/// end, or no header, is refused unread, above).
#[test]
fn results_piped_into_a_reader_are_read() {
    use std::io::Write as _;
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let run = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    let results = std::fs::read(sandbox.path("ok.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    for args in [&["export", "/dev/stdin"][..], &["status", "/dev/stdin"]] {
        let mut child = sandbox
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        child.stdin.take().map(|mut stdin| stdin.write_all(&results)).transpose().unwrap_or_else(|e| panic!("{e}"));
        let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&output), Some(0), "{args:?}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("done:        3") || text.lines().count() == 4, "{args:?}: {text}");
    }
}

/// A FIFO named as results is read when a process writes into it, and
/// refused (2) when none does, instead of waiting in `open` for a writer
/// forever: by `status`, `export` and `plot` alike.
#[test]
fn a_fifo_without_a_writer_exits_two_and_one_with_a_writer_is_read() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let run = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    let results = std::fs::read(sandbox.path("ok.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    let fifo = sandbox.path("ok.fifo");
    let name = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap_or_default();
    // SAFETY: `name` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
    let finish = |args: &[&str]| {
        let mut child = sandbox
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?} still waiting for a writer after 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
    };
    for args in [&["status", "ok.fifo"][..], &["export", "ok.fifo"], &["plot", "ok.fifo", "-o", "ok.svg"]] {
        let output = finish(args);
        assert_eq!(code(&output), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("nothing to read"), "{args:?}: {}", stderr(&output));
    }
    // A writer that starts a moment after the reader, as in a script.
    let writer = {
        let (fifo, results) = (fifo.clone(), results.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            std::fs::write(fifo, results)
        })
    };
    let output = finish(&["export", "ok.fifo"]);
    assert!(writer.join().is_ok_and(|written| written.is_ok()), "the writer wrote");
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert_eq!(common::stdout(&output).lines().count(), 4, "{}", common::stdout(&output));
}

/// `plot` classifies its refusals as the other subcommands do: values it
/// cannot draw as asked (strings, a missing `--value-key`) are bad input
/// (2), and a sweep none of whose points has a value yet is incomplete (3).
#[test]
fn plot_refusals_exit_two_and_a_sweep_with_no_value_exits_three() {
    let sandbox = Sandbox::new();
    sandbox.spec("words.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "\"abc\""])"#);
    sandbox.spec("fail.ron", r#"(space: Range(name: "k", start: 0, end: 2), command: ["sh", "-c", "exit 4"])"#);
    let words = sandbox.sweep(&["run", "--no-progress", "words.ron"]);
    assert_eq!(code(&words), Some(0), "{}", stderr(&words));
    let failed = sandbox.sweep(&["run", "--no-progress", "fail.ron"]);
    assert_eq!(code(&failed), Some(3), "{}", stderr(&failed));
    for (args, expected) in [
        (&["plot", "words.jsonl"][..], 2),
        (&["plot", "words.jsonl", "--value-key", "y"], 2),
        (&["plot", "fail.jsonl"], 3),
    ] {
        let output = sandbox.sweep(args);
        assert_eq!(code(&output), Some(expected), "{args:?}: {}", stderr(&output));
    }
    assert!(stderr(&sandbox.sweep(&["plot", "fail.jsonl"])).contains("no successful points"));
}

/// `collect` refuses shard or results files of another sweep as `run`
/// does, with the same status: 2, a file that is not this sweep's.
#[test]
fn collect_over_another_sweeps_results_exits_two() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "{k}"])"#);
    sandbox.spec(
        "other.ron",
        r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "x{k}"], output: "ok.jsonl")"#,
    );
    let shard = sandbox.sweep(&["run", "--no-progress", "ok.ron", "--shard", "0/2"]);
    assert_eq!(code(&shard), Some(0), "{}", stderr(&shard));
    let before = std::fs::read(sandbox.path("ok.shard-0-of-2.jsonl")).unwrap_or_default();
    let run = sandbox.sweep(&["run", "--no-progress", "other.ron", "--shard", "0/2"]);
    assert_eq!(code(&run), Some(2), "{}", stderr(&run));
    let collected = sandbox.sweep(&["collect", "other.ron", "--tasks", "2"]);
    assert_eq!(code(&collected), Some(2), "{}", stderr(&collected));
    assert!(stderr(&collected).contains("different sweep"), "{}", stderr(&collected));
    assert_eq!(std::fs::read(sandbox.path("ok.shard-0-of-2.jsonl")).unwrap_or_default(), before);
}

/// A report that cannot be written (a full disk) is a failure, status 1,
/// with a message: not a panic (101).
#[cfg(target_os = "linux")]
#[test]
fn a_full_standard_output_exits_one() {
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let run = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    for args in [&["status", "ok.jsonl"][..], &["status", "ok.jsonl", "--json"], &["plot", "ok.jsonl"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap_or_else(|e| panic!("{e}"));
        let output = sandbox.command(args).stdout(full).output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&output), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("cannot write to standard output"), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{args:?}: {}", stderr(&output));
    }
}

/// A standard output closed when the command starts (`sweep export F >&-`)
/// is a failure too, status 1, naming the cause; Rust's runtime reopens it
/// on /dev/null before `main`, and the answer was lost with status 0. A
/// command that writes nothing there (`run`) is not affected.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_standard_output_exits_one() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let closed = |args: &[&str]| {
        let mut command = sandbox.command(args);
        // SAFETY: `close` is async-signal-safe, as `pre_exec` requires.
        unsafe {
            command.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        command.stderr(std::process::Stdio::piped()).output().unwrap_or_else(|e| panic!("{e}"))
    };
    let run = closed(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    for args in [&["status", "ok.jsonl"][..], &["export", "ok.jsonl"], &["completions", "bash"], &["--help"]] {
        let output = closed(args);
        assert_eq!(code(&output), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("closed when the command started"), "{args:?}: {}", stderr(&output));
    }
}

/// `sweep plot F >&-` draws its charts, then cannot print their list:
/// status 1 (the list, the command's answer, was lost), with a message
/// that names the charts written, so nobody draws them again or takes
/// them for missing. The same for a full disk (`>/dev/full`).
#[cfg(target_os = "linux")]
#[test]
fn a_plot_whose_list_cannot_be_printed_names_the_charts_it_wrote() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::new();
    sandbox.spec("ok.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["echo", "{k}"])"#);
    let run = sandbox.sweep(&["run", "--no-progress", "ok.ron"]);
    assert_eq!(code(&run), Some(0), "{}", stderr(&run));
    let plot = ["plot", "ok.jsonl", "--format", "png,svg"];
    let mut closed = sandbox.command(&plot);
    // SAFETY: `close` is async-signal-safe, as `pre_exec` requires.
    unsafe {
        closed.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap_or_else(|e| panic!("{e}"));
    let mut full_disk = sandbox.command(&plot);
    full_disk.stdout(full);
    for (mut command, cause) in [(closed, "closed when the command started"), (full_disk, "No space left")] {
        for chart in ["ok.png", "ok.svg"] {
            let _ = std::fs::remove_file(sandbox.path(chart));
        }
        let output = command.stderr(std::process::Stdio::piped()).output().unwrap_or_else(|e| panic!("{e}"));
        let message = stderr(&output);
        assert_eq!(code(&output), Some(1), "{message}");
        assert!(message.contains(cause), "{message}");
        for chart in ["ok.png", "ok.svg"] {
            assert!(sandbox.path(chart).is_file(), "{chart} not written: {message}");
            assert!(message.contains(chart), "{chart} not named: {message}");
        }
        assert!(message.contains("only their list could not be printed"), "{message}");
    }
}

/// A black box that leaves a descendant outside its process group (`setsid
/// sleep &`) holding its stdout must not hang the run: `--timeout` still
/// fails the point (3), and SIGTERM still stops the run (143), each in
/// about its own time; the descendant is killed when the run ends. Both
/// used to wait forever on the pipe the descendant held.
#[cfg(target_os = "linux")]
#[test]
fn an_escaped_descendant_holding_stdout_neither_defeats_timeout_nor_signals() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "escape.ron",
        r#"(space: Range(name: "k", start: 0, end: 1),
            command: ["sh", "-c", "setsid sleep 60 & sleep 0.2; echo {k}"], workers: 1)"#,
    );
    let ended_within = |child: &mut std::process::Child, limit: Duration| {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        false
    };
    let mut timed = sandbox.start(&["run", "--no-progress", "escape.ron", "--timeout", "1"]);
    assert!(ended_within(&mut timed, Duration::from_secs(20)), "--timeout 1 did not end the point");
    let output = timed.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&output), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("the 1 point of this run has no value (it failed)"), "{}", stderr(&output));

    let results = sandbox.path("other.jsonl");
    let mut stopped = sandbox.start(&["run", "--no-progress", "escape.ron", "-o", "other.jsonl", "--grace", "0.5"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !results.exists() {
        assert!(Instant::now() < deadline, "the run never created its file");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(600));
    let pid = libc::pid_t::try_from(stopped.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(ended_within(&mut stopped, Duration::from_secs(20)), "SIGTERM did not stop the run");
    let output = stopped.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&output), Some(128 + libc::SIGTERM), "{}", stderr(&output));
    assert_eq!(records_on_disk(&results), 0, "the abandoned point is not recorded");
}

/// `--help` and `--version` are answers: 0 when written, but 1 when
/// standard output cannot take them; a wrong option stays a usage error.
#[cfg(target_os = "linux")]
#[test]
fn help_that_cannot_be_written_is_a_failure() {
    let sandbox = Sandbox::new();
    for flag in ["--help", "--version"] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap_or_else(|e| panic!("{e}"));
        let output = sandbox.command(&[flag]).stdout(full).output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(code(&output), Some(1), "{flag}: {}", stderr(&output));
        assert!(stderr(&output).contains("cannot write to standard output"), "{}", stderr(&output));
        assert_eq!(code(&sandbox.sweep(&[flag])), Some(0), "{flag}");
    }
    assert_eq!(code(&sandbox.sweep(&["--no-such-option"])), Some(2));
}

/// A mistyped program would fail every point and spend their attempts: it
/// is refused as bad input before anything is run or written.
#[test]
fn a_program_that_does_not_exist_is_refused_before_any_point() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "typo.ron",
        r#"(space: Range(name: "k", start: 0, end: 3), command: ["parsweep-no-such-program", "{k}"])"#,
    );
    sandbox.spec("local.ron", r#"(space: Range(name: "k", start: 0, end: 3), command: ["./sim", "{k}"])"#);
    for (spec, needle) in [("typo.ron", "no executable of that name on PATH"), ("local.ron", "\"./sim\" cannot be run")]
    {
        let output = sandbox.sweep(&["run", spec]);
        assert_eq!(code(&output), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(needle), "{}", stderr(&output));
        assert!(!sandbox.path(spec).with_extension("jsonl").exists(), "{spec}: nothing may be written");
    }
    // Made executable, the same spec runs.
    let sim = sandbox.path("sim");
    std::fs::write(&sim, "#!/bin/sh\necho $1\n").unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sim, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
    let output = sandbox.sweep(&["run", "--no-progress", "local.ron"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
}

/// A name whose derived files (a results file's lock, temporaries and
/// repair's side file; a chart's `-heatmap`/`-surface` siblings) would be
/// longer than a file name may be is the name's fault: status 2 up front,
/// naming the derived file, not "File name too long" with status 1 mid-way.
#[test]
fn names_whose_derived_files_would_be_too_long_exit_two() {
    let sandbox = Sandbox::new();
    let spec = r#"(space: Grid([Range(name: "x", start: 0, end: 2), Range(name: "y", start: 0, end: 2)]),
                   command: ["echo", "{x}"])"#;
    sandbox.spec("g.ron", spec);
    let long = format!("{}.jsonl", "r".repeat(244));
    let run: &[&str] = &["run", "--no-progress", "g.ron", "-o", &long];
    let slurm: &[&str] = &["slurm", "g.ron", "-o", &long, "--tasks", "2"];
    for subcommand in [run, &["repair", &long], &["collect", "g.ron", "-o", &long], slurm] {
        let refused = sandbox.sweep(subcommand);
        assert_eq!(code(&refused), Some(2), "{subcommand:?}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("would have a name of"), "{}", stderr(&refused));
    }
    assert!(!sandbox.path(&long).exists(), "nothing written");
    // The widest name whose every derived file fits.
    let widest = format!("{}.jsonl", "r".repeat(255 - 28 - 6));
    let done = sandbox.sweep(&["run", "--no-progress", "g.ron", "-o", &widest]);
    assert_eq!(code(&done), Some(0), "{}", stderr(&done));
    // Its shard files' names are longer: `slurm` refuses it, naming one.
    let sharded = sandbox.sweep(&["slurm", "g.ron", "-o", &widest, "--tasks", "2"]);
    assert_eq!(code(&sharded), Some(2), "{}", stderr(&sharded));
    assert!(stderr(&sharded).contains(".shard-1-of-2.jsonl"), "{}", stderr(&sharded));

    let chart = format!("{}.png", "c".repeat(238));
    let plotted = sandbox.sweep(&["plot", &widest, "-o", &chart]);
    assert_eq!(code(&plotted), Some(2), "{}", stderr(&plotted));
    assert!(stderr(&plotted).contains(&format!("{}-heatmap.png", "c".repeat(238))), "{}", stderr(&plotted));
    let short = sandbox.sweep(&["plot", &widest, "-o", "c.png"]);
    assert_eq!(code(&short), Some(0), "{}", stderr(&short));
}
