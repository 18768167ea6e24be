//! The seed tutorial's second demo in Rust: the paraboloid
//! f(a, x, y) = a (x² + y²) with a = -1 fixed by partial application
//! (Python's `functools.partial`), over a 20 × 20 grid of linspace(-1, 1),
//! drawn as a 3D surface (and a heatmap).
//!
//! ```text
//! cargo run -p sweep --example paraboloid [-- OUTPUT_DIR]   # default: target/sweep/examples
//! ```
//!
//! The default directory keeps these charts apart from the ones `sweep plot`
//! draws for `configs/paraboloid.ron` (`target/sweep/paraboloid-*.png`).

use std::path::PathBuf;

use pool::args::{grid, partial};
use pool::ThreadPool;
use sweep::plot::{heatmap, surface, Grid2, Labels};

fn f(a: f64, x: f64, y: f64) -> f64 {
    a * (x * x + y * y)
}

/// `n` evenly spaced values from `start` to `stop` inclusive (n ≥ 2).
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + (stop - start) * i as f64 / (n - 1) as f64).collect()
}

fn main() -> anyhow::Result<()> {
    let output_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/sweep/examples".to_owned()));
    let xs = linspace(-1.0, 1.0, 20);
    let ys = linspace(-1.0, 1.0, 20);

    let pool = ThreadPool::new(std::thread::available_parallelism().map_or(2, usize::from))?;
    // grid() walks x outermost, matching Grid2's layout values[i * ys.len() + j].
    let zs: Vec<f64> = pool.starmap(partial(f, -1.0), grid((xs.clone(), ys.clone()))).collect();
    println!("evaluated {} grid points on {} workers", zs.len(), pool.num_workers());

    let data = Grid2 {
        x_axis: "x".into(),
        y_axis: "y".into(),
        value: "f(x, y)".into(),
        xs,
        ys,
        values: zs.into_iter().map(Some).collect(),
        failed: Vec::new(),
        outside: Vec::new(),
        x_log: false,
        y_log: false,
    };
    let labels = Labels { title: Some("Paraboloid f(x, y) = a (x² + y²), a = −1".into()), ..Labels::default() };
    std::fs::create_dir_all(&output_dir)?;
    let surface_path = output_dir.join("paraboloid-surface.png");
    let heatmap_path = output_dir.join("paraboloid-heatmap.png");
    surface(&data, &labels, &surface_path)?;
    heatmap(&data, &labels, &heatmap_path)?;
    println!("wrote {} and {}", surface_path.display(), heatmap_path.display());
    Ok(())
}
