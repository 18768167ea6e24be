//! `sweep plot` on values a chart's arithmetic trips over: spans that
//! overflow a double, and sweeps whose values are no numbers.

mod common;

use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use common::{stderr, Sandbox};

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", stderr(&output));
    output
}

/// Runs `sweep ARGS` and waits at most 20 s (a hung plot is killed, so the
/// test fails instead of hanging); `None` when it had to be killed.
fn finished(sandbox: &Sandbox, args: &[&str]) -> Option<ExitStatus> {
    let mut child = sandbox.start(args);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("waiting for sweep: {e}")) {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// plotters found no ticks for an axis spanning more than DBL_MAX and
/// looped forever at 100 % CPU: DBL_MAX beside 1, and 1e308 beside
/// -1.7e308, on the line plot, the heatmap and the surface (each killed
/// after 20 s, so the old code fails this test instead of hanging it).
#[test]
fn values_whose_range_overflows_a_double_are_plotted_in_finite_time() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "max.ron",
        r#"(space: Range(name: "x", start: 0, end: 3),
            command: ["sh", "-c", "case {x} in 1) echo 1.7976931348623157e308;; *) echo 1;; esac"])"#,
    );
    sandbox.spec(
        "opposite.ron",
        r#"(space: Range(name: "x", start: 0, end: 2),
            command: ["sh", "-c", "case {x} in 1) echo 1e308;; *) echo -1.7e308;; esac"])"#,
    );
    sandbox.spec(
        "grid.ron",
        r#"(space: Grid([Range(name: "x", start: 0, end: 3), Range(name: "y", start: 0, end: 2)]),
            command: ["sh", "-c", "case {x}{y} in 11) echo 1.7976931348623157e308;; 21) echo -1.7e308;; *) echo {x};; esac"])"#,
    );
    // The same on the axes: coordinates near ±DBL_MAX.
    sandbox.spec("axis.ron", r#"(space: List(name: "x", values: [-1.7e308, 0.0, 1e308]), command: ["echo", "1"])"#);
    let specs = [
        ("max.ron", "max.jsonl"),
        ("opposite.ron", "opposite.jsonl"),
        ("grid.ron", "grid.jsonl"),
        ("axis.ron", "axis.jsonl"),
    ];
    for (spec, results) in specs {
        ok(sandbox.sweep(&["run", "--no-progress", spec]));
        for format in ["png", "svg"] {
            let status = finished(&sandbox, &["plot", results, "--format", format]);
            assert!(status.is_some(), "sweep plot {results} --format {format} still ran after 20 s");
            assert!(status.is_some_and(|s| s.success()), "{results} {format}: {status:?}");
        }
    }
    for chart in ["max.png", "opposite.svg", "grid-heatmap.png", "grid-surface.png", "axis.png"] {
        assert!(sandbox.path(chart).is_file(), "{chart}");
    }
}

/// Values that are all strings: every point succeeded, so "no successful
/// points" was wrong; the message names the values and the way out.
#[test]
fn values_that_are_no_numbers_are_named_as_such() {
    let sandbox = Sandbox::new();
    sandbox.spec("words.ron", r#"(space: Range(name: "x", start: 0, end: 3), command: ["echo", "\"abc\""])"#);
    ok(sandbox.sweep(&["run", "--no-progress", "words.ron"]));
    let refused = sandbox.sweep(&["plot", "words.jsonl"]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(!message.contains("no successful points"), "{message}");
    assert!(message.contains("3 successful points") && message.contains("\"abc\""), "{message}");
    assert!(message.contains("--value-key"), "{message}");
    assert!(!sandbox.path("words.png").exists());
}
