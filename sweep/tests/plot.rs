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

/// The pixels of the PNG at `path` whose colour is saturated (a viridis
/// value or a red mark), as opposed to the white, grey and black of the
/// frame, grid and text.
fn coloured_pixels(path: &std::path::Path) -> usize {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap_or_else(|e| panic!("{e}"));
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap_or_else(|e| panic!("{e}"));
    let channels = info.color_type.samples();
    pixels[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| {
            let (lo, hi) = (p[..3].iter().min().copied().unwrap_or(0), p[..3].iter().max().copied().unwrap_or(0));
            hi - lo > 60
        })
        .count()
}

/// A zip, a sample of a grid and a sweep with a failed row have no cell
/// with four computed corners (or few): the surface was an empty 3-D box,
/// written with exit 0. Their points are drawn now.
#[test]
fn a_surface_without_complete_cells_shows_its_points() {
    let sandbox = Sandbox::new();
    sandbox.spec(
        "z.ron",
        r#"(space: Zip([Linspace(name: "u", start: 0, stop: 1, num: 8), Logspace(name: "v", start: 0, stop: 3, num: 8)]),
            command: ["awk", "BEGIN{print {u}*{v}}"])"#,
    );
    sandbox.spec(
        "rows.ron",
        r#"(space: Grid([Range(name: "x", start: 0, end: 6), List(name: "mode", values: [1, 2, 3])]),
            command: ["sh", "-c", "case {mode} in 2) exit 1;; esac; echo {x}"])"#,
    );
    sandbox.spec(
        "sampled.ron",
        r#"(space: Grid([Linspace(name: "a", start: 0, stop: 1, num: 100), Linspace(name: "b", start: -5, stop: 5, num: 100)]),
            command: ["awk", "BEGIN{print {a}+{b}}"])"#,
    );
    ok(sandbox.sweep(&["run", "--no-progress", "z.ron"]));
    let _ = sandbox.sweep(&["run", "--no-progress", "rows.ron"]);
    ok(sandbox.sweep(&["run", "--no-progress", "sampled.ron", "--sample", "20", "--seed", "3"]));
    for (results, points) in [("z.jsonl", 8), ("rows.jsonl", 12), ("sampled.jsonl", 20)] {
        ok(sandbox.sweep(&["plot", results]));
        let surface = sandbox.path(&results.replace(".jsonl", "-surface.png"));
        // Each dot is a disc of radius 7 (about 150 pixels).
        let coloured = coloured_pixels(&surface);
        assert!(coloured > points * 100, "{}: {coloured} coloured pixels", surface.display());
    }
}

/// `-o /dev/stdout --format svg` wrote a file `/dev/stdout.svg`, and any
/// `-o` got the format's extension in place of its own. Now the path is
/// used as given, and an extension that contradicts --format is refused.
#[test]
fn an_output_path_is_used_as_given() {
    let sandbox = Sandbox::new();
    sandbox.spec("line.ron", r#"(space: Range(name: "x", start: 0, end: 4), command: ["echo", "{x}"])"#);
    ok(sandbox.sweep(&["run", "--no-progress", "line.ron"]));
    let streamed = ok(sandbox.sweep(&["plot", "line.jsonl", "-o", "/dev/stdout", "--format", "svg"]));
    let text = String::from_utf8_lossy(&streamed.stdout);
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", &text[..text.len().min(200)]);

    ok(sandbox.sweep(&["plot", "line.jsonl", "-o", "chart.v2", "--format", "svg"]));
    let written = std::fs::read_to_string(sandbox.path("chart.v2")).unwrap_or_default();
    assert!(written.starts_with("<svg"), "chart.v2 holds the SVG");
    assert!(!sandbox.path("chart.svg").exists() && !sandbox.path("chart.v2.svg").exists());

    let refused = sandbox.sweep(&["plot", "line.jsonl", "-o", "c.png", "--format", "svg"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("names a png chart"), "{}", stderr(&refused));
    assert!(!sandbox.path("c.png").exists() && !sandbox.path("c.svg").exists());
}

/// `-o` naming a FIFO gets the one chart written into it, as a device does
/// (the check that `-o` is no results file used to open it to read, which
/// waits for a writer: a hang); two charts (two varying axes, or several
/// formats) cannot go into one stream and are refused (2), where sibling
/// names made from the stream's path were created as files.
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_takes_one_chart_and_refuses_two() {
    let sandbox = Sandbox::new();
    sandbox.spec("line.ron", r#"(space: Range(name: "k", start: 0, end: 4), command: ["echo", "{k}"])"#);
    sandbox.spec(
        "grid.ron",
        r#"(space: Grid([Range(name: "a", start: 0, end: 3), Range(name: "b", start: 0, end: 3)]),
            command: ["sh", "-c", "echo $(( {a} + {b} ))"])"#,
    );
    for spec in ["line.ron", "grid.ron"] {
        ok(sandbox.sweep(&["run", "--no-progress", spec]));
    }
    let fifo = sandbox.path("chart.fifo");
    let name = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).unwrap_or_default();
    // SAFETY: a NUL-terminated path and a mode; no memory is shared.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap_or_default())
    };
    let drawn = sandbox.sweep(&["plot", "line.jsonl", "-o", "chart.fifo", "--format", "svg"]);
    assert!(drawn.status.success(), "{}", stderr(&drawn));
    assert!(reader.join().unwrap_or_default().starts_with(b"<svg"), "the chart went into the FIFO");
    for args in [
        &["plot", "grid.jsonl", "-o", "chart.fifo", "--format", "svg"][..],
        &["plot", "line.jsonl", "-o", "chart.fifo", "--format", "svg,png"],
    ] {
        let refused = sandbox.sweep(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", stderr(&refused));
        assert!(stderr(&refused).contains("device or pipe, which takes one chart"), "{}", stderr(&refused));
    }
    let made: Vec<_> = std::fs::read_dir(sandbox.root())
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(made.iter().all(|name| name == "chart.fifo" || !name.starts_with("chart.fifo")), "{made:?}");
}
