//! The seed tutorial's first demo in Rust: f(x) = x² over 20 points of
//! linspace(-1, 1), where each evaluation pretends to be expensive (the
//! tutorial's 2 s sleep, scaled down to 50 ms).
//!
//! Runs the points one after another, then on the pool with a progress bar,
//! prints both times, and draws the scatter plot.
//!
//! ```text
//! cargo run -p sweep --example seed_square [-- OUTPUT.png]  # default: target/sweep/examples/seed_square.png
//! ```
//!
//! The default lies in `target/sweep/examples/`, apart from what `sweep plot`
//! draws for `configs/seed_square.ron` (`target/sweep/seed_square.png`).

use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Context;
use sweep::plot::{line_plot, Curve, Labels};
use sweep::{run_collect, RunOptions, Space};

/// Scaled-down stand-in for the tutorial's `time.sleep(2)`.
const COST: Duration = Duration::from_millis(50);

/// The "extremely hard to compute" black box.
fn f(x: f64) -> f64 {
    sleep(COST);
    x * x
}

fn main() -> anyhow::Result<()> {
    let output = std::env::args().nth(1).unwrap_or_else(|| "target/sweep/examples/seed_square.png".to_owned());
    if let Some(dir) = std::path::Path::new(&output).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let space = Space::linspace("x", -1.0, 1.0, 20);
    let xs: Vec<f64> = space.iter().filter_map(|p| p.f64("x")).collect();

    let started = Instant::now();
    let sequential: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
    let sequential_time = started.elapsed();

    let options = RunOptions {
        workers: std::thread::available_parallelism().map_or(4, usize::from).max(4),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let records = run_collect(
        &space,
        |point| {
            let x = point.f64("x").ok_or("point has no numeric x")?;
            Ok(serde_json::json!(f(x)))
        },
        &options,
    )?;
    let parallel_time = started.elapsed();

    let parallel: Vec<f64> = records
        .iter()
        .map(|r| r.outcome.as_ref().ok().and_then(serde_json::Value::as_f64))
        .collect::<Option<_>>()
        .context("a point failed")?;
    anyhow::ensure!(parallel == sequential, "parallel and sequential results differ");

    println!(
        "20 points × {} ms: sequential {:.2} s, pool with {} workers {:.2} s (speed-up {:.1}×)",
        COST.as_millis(),
        sequential_time.as_secs_f64(),
        options.workers,
        parallel_time.as_secs_f64(),
        sequential_time.as_secs_f64() / parallel_time.as_secs_f64()
    );

    let curve = Curve {
        axis: "x".into(),
        value: "f(x) = x²".into(),
        points: xs.into_iter().zip(parallel).collect(),
        log_axis: false,
        failed: Vec::new(),
        domain: Vec::new(),
    };
    let labels = Labels { title: Some("f(x) = x² on 20 points of linspace(−1, 1)".into()), ..Labels::default() };
    line_plot(&curve, &labels, output.as_ref())?;
    println!("scatter plot written to {output}");
    Ok(())
}
