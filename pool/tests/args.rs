//! Multi-argument functions: `starmap` over `args::zip`, `args::partial`
//! and `args::grid`, including the seed tutorial's paraboloid.

use std::iter::repeat;

use pool::args::{grid, partial, zip, Apply};
use pool::ThreadPool;

fn paraboloid(a: f64, x: f64, y: f64) -> f64 {
    a * (x * x + y * y)
}

/// `numpy.linspace(-1, 1, n)`.
fn linspace(n: usize) -> Vec<f64> {
    (0..n).map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64).collect()
}

#[test]
fn starmap_over_zip_with_a_repeated_constant() {
    let pool = ThreadPool::new(2).unwrap();
    let xs = linspace(20);
    let ys: Vec<f64> = xs.iter().rev().copied().collect();
    let z: Vec<f64> = pool.starmap(paraboloid, zip((repeat(-1.0), xs.clone(), ys.clone()))).chunk_size(3).collect();
    let expected: Vec<f64> = xs.iter().zip(&ys).map(|(&x, &y)| paraboloid(-1.0, x, y)).collect();
    assert_eq!(z, expected);
}

#[test]
fn zip_stops_at_the_shortest_stream() {
    let pool = ThreadPool::new(2).unwrap();
    let out: Vec<String> =
        pool.starmap(|n: u32, s: &'static str| format!("{s}{n}"), zip((0..10u32, ["a", "b", "c"]))).collect();
    assert_eq!(out, ["a0", "b1", "c2"]);
    assert_eq!(zip((0..10, 0..4, repeat(1))).size_hint(), (4, Some(4)));
}

#[test]
fn starmap_with_partial_fixes_leading_arguments() {
    let pool = ThreadPool::new(2).unwrap();
    let xs = linspace(20);
    let z: Vec<f64> = pool.starmap(partial(paraboloid, -1.0), zip((xs.clone(), xs.clone()))).collect();
    let expected: Vec<f64> = xs.iter().map(|&x| paraboloid(-1.0, x, x)).collect();
    assert_eq!(z, expected);

    // Two arguments fixed: a function of y alone.
    let z: Vec<f64> = pool.starmap(partial(partial(paraboloid, 2.0), 0.5), xs.iter().map(|&y| (y,))).collect();
    let expected: Vec<f64> = xs.iter().map(|&y| paraboloid(2.0, 0.5, y)).collect();
    assert_eq!(z, expected);
}

#[test]
fn partial_clones_its_argument_for_every_call() {
    let pool = ThreadPool::new(2).unwrap();
    let label = String::from("pt");
    let out: Vec<String> =
        pool.starmap(partial(|l: String, i: u8| format!("{l}-{i}"), label), (0..4u8).map(|i| (i,))).collect();
    assert_eq!(out, ["pt-0", "pt-1", "pt-2", "pt-3"]);
}

#[test]
fn seed_paraboloid_over_a_20x20_grid_matches_the_sequential_loop() {
    let pool = ThreadPool::new(2).unwrap();
    let axis = linspace(20);
    let points = grid((axis.clone(), axis.clone()));
    assert_eq!(points.len(), 400);
    let z: Vec<f64> = pool.starmap(partial(paraboloid, -1.0), points).collect();

    // The sequential computation, x outermost (itertools.product order).
    let mut expected = Vec::with_capacity(400);
    for &x in &axis {
        for &y in &axis {
            expected.push(paraboloid(-1.0, x, y));
        }
    }
    assert_eq!(z, expected);
    assert_eq!(z[0], -2.0, "corner (-1, -1)");
    assert!(z.iter().all(|&v| (-2.0..=0.0).contains(&v)));
}

#[test]
fn grid_enumerates_every_combination_in_product_order() {
    let points: Vec<(u8, char, bool)> = grid((0..2u8, ['x', 'y', 'z'], [false, true])).collect();
    assert_eq!(points.len(), 12);
    let mut expected = Vec::new();
    for a in 0..2u8 {
        for b in ['x', 'y', 'z'] {
            for c in [false, true] {
                expected.push((a, b, c));
            }
        }
    }
    assert_eq!(points, expected);

    let mut g = grid((0..3, 0..5));
    assert_eq!(g.size_hint(), (15, Some(15)));
    g.next();
    assert_eq!(g.len(), 14);
}

#[test]
fn grid_with_an_empty_axis_is_empty() {
    let pool = ThreadPool::new(1).unwrap();
    let out: Vec<i32> = pool.starmap(|a: i32, b: i32| a + b, grid((0..4, Vec::<i32>::new()))).collect();
    assert!(out.is_empty());
}

#[test]
fn apply_unpacks_tuples_of_every_supported_arity() {
    assert_eq!((|a: i32| a).apply((1,)), 1);
    assert_eq!((|a: i32, b: i32, c: i32, d: i32, e: i32, g: i32| a + b + c + d + e + g).apply((1, 2, 3, 4, 5, 6)), 21);
    assert_eq!(partial(|a: i32, b: i32, c: i32, d: i32, e: i32| a * b * c * d * e, 2).apply((1, 1, 1, 3)), 6);
}
