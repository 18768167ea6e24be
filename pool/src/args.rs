//! Partial application and argument streams for multi-argument functions:
//! what `functools.partial`, `itertools.repeat` and `zip` do for Python's
//! `Executor.map(f, *iterables)`.
//!
//! [`ThreadPool::starmap`](crate::ThreadPool::starmap) maps a function of
//! several arguments over a stream of argument tuples. Build that stream with
//! [`zip`] (several streams side by side; use [`std::iter::repeat`] for a
//! constant) or [`grid`] (every combination), and fix leading arguments with
//! [`partial`].
//!
//! The seed's paraboloid `f(a, x, y) = a (x² + y²)` with `a = -1` over a
//! 20×20 grid is one call:
//!
//! ```
//! use pool::args::{grid, partial};
//! fn f(a: f64, x: f64, y: f64) -> f64 { a * (x * x + y * y) }
//!
//! let pool = pool::ThreadPool::new(2).unwrap();
//! let axis: Vec<f64> = (0..20).map(|i| -1.0 + 2.0 * i as f64 / 19.0).collect();
//! let z: Vec<f64> = pool.starmap(partial(f, -1.0), grid((axis.clone(), axis))).collect();
//! assert_eq!(z.len(), 400);
//! assert_eq!(z[0], -2.0); // (x, y) = (-1, -1)
//! ```

/// A function that can be called with its arguments packed in a tuple.
///
/// Implemented for every `Fn` of one to six arguments and for [`Partial`].
///
/// ```
/// use pool::args::Apply;
/// let add = |a: i32, b: i32| a + b;
/// assert_eq!(add.apply((2, 3)), 5);
/// ```
pub trait Apply<Args> {
    /// The function's result.
    type Output;
    /// Calls the function with the tuple's fields as arguments.
    fn apply(&self, args: Args) -> Self::Output;
}

macro_rules! apply_fn {
    ($($arg:ident),+) => {
        impl<Func, Out, $($arg),+> Apply<($($arg,)+)> for Func
        where
            Func: Fn($($arg),+) -> Out,
        {
            type Output = Out;
            #[allow(non_snake_case)]
            #[inline]
            fn apply(&self, ($($arg,)+): ($($arg,)+)) -> Out {
                self($($arg),+)
            }
        }
    };
}
apply_fn!(A);
apply_fn!(A, B);
apply_fn!(A, B, C);
apply_fn!(A, B, C, D);
apply_fn!(A, B, C, D, E);
apply_fn!(A, B, C, D, E, G);

/// `f` with its first argument fixed; see [`partial`].
///
/// ```
/// use pool::args::{partial, Apply};
/// let p: pool::args::Partial<_, i32> = partial(|a: i32, b: i32| a * b, 6);
/// assert_eq!(p.apply((7,)), 42);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Partial<F, A> {
    f: F,
    first: A,
}

/// Fixes the first argument of `f` to `first` (cloned for every call), like
/// `functools.partial(f, first)`. Nest it to fix more than one.
///
/// ```
/// use pool::args::{partial, Apply};
/// let add3 = |a: i32, b: i32, c: i32| a + b + c;
/// assert_eq!(partial(add3, 100).apply((20, 3)), 123);
/// assert_eq!(partial(partial(add3, 100), 20).apply((3,)), 123);
/// ```
pub fn partial<F, A>(f: F, first: A) -> Partial<F, A> {
    Partial { f, first }
}

macro_rules! apply_partial {
    ($($arg:ident),*) => {
        impl<F, First, $($arg),*> Apply<($($arg,)*)> for Partial<F, First>
        where
            F: Apply<(First, $($arg,)*)>,
            First: Clone,
        {
            type Output = F::Output;
            #[allow(non_snake_case)]
            #[inline]
            fn apply(&self, ($($arg,)*): ($($arg,)*)) -> F::Output {
                self.f.apply((self.first.clone(), $($arg,)*))
            }
        }
    };
}
apply_partial!();
apply_partial!(B);
apply_partial!(B, C);
apply_partial!(B, C, D);
apply_partial!(B, C, D, E);

/// Several argument streams walked side by side; see [`zip`].
///
/// ```
/// let z: pool::args::Zip<_> = pool::args::zip(([1, 2], ['a', 'b']));
/// assert_eq!(z.size_hint(), (2, Some(2)));
/// ```
#[derive(Debug, Clone)]
pub struct Zip<T> {
    streams: T,
}

/// Zips two to six argument streams into one stream of tuples, stopping at
/// the shortest, like Python's `map(f, xs, ys, zs)`. Pass
/// `std::iter::repeat(c)` for an argument that stays constant
/// (`itertools.repeat`).
///
/// ```
/// use std::iter::repeat;
/// let args: Vec<(i32, char, &str)> = pool::args::zip((1..4, "abc".chars(), repeat("k"))).collect();
/// assert_eq!(args, [(1, 'a', "k"), (2, 'b', "k"), (3, 'c', "k")]);
/// ```
pub fn zip<T: IntoZip>(streams: T) -> Zip<T::Iters> {
    Zip { streams: streams.into_zip() }
}

/// Tuples of `IntoIterator`s that [`zip`] accepts.
///
/// ```
/// use pool::args::IntoZip;
/// let (mut a, mut b) = ([1], [2]).into_zip();
/// assert_eq!((a.next(), b.next()), (Some(1), Some(2)));
/// ```
pub trait IntoZip {
    /// The tuple of iterators.
    type Iters;
    /// Turns each field into its iterator.
    fn into_zip(self) -> Self::Iters;
}

macro_rules! zip_impl {
    ($($it:ident),+) => {
        impl<$($it: IntoIterator),+> IntoZip for ($($it,)+) {
            type Iters = ($($it::IntoIter,)+);
            #[allow(non_snake_case)]
            fn into_zip(self) -> Self::Iters {
                let ($($it,)+) = self;
                ($($it.into_iter(),)+)
            }
        }

        impl<$($it: Iterator),+> Iterator for Zip<($($it,)+)> {
            type Item = ($($it::Item,)+);
            #[allow(non_snake_case)]
            #[inline]
            fn next(&mut self) -> Option<Self::Item> {
                let ($($it,)+) = &mut self.streams;
                Some(($($it.next()?,)+))
            }

            #[allow(non_snake_case)]
            fn size_hint(&self) -> (usize, Option<usize>) {
                let ($($it,)+) = &self.streams;
                let mut low = usize::MAX;
                let mut high: Option<usize> = None;
                $(
                    let (l, h) = $it.size_hint();
                    low = low.min(l);
                    high = match (high, h) {
                        (None, h) => h,
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (Some(a), None) => Some(a),
                    };
                )+
                (low, high)
            }
        }
    };
}
zip_impl!(A, B);
zip_impl!(A, B, C);
zip_impl!(A, B, C, D);
zip_impl!(A, B, C, D, E);
zip_impl!(A, B, C, D, E, G);

/// Every combination of two to six axes; see [`grid`].
///
/// ```
/// let g = pool::args::grid((0..3, 0..4));
/// assert_eq!(g.len(), 12);
/// ```
#[derive(Debug, Clone)]
pub struct Grid<T> {
    axes: T,
    next: usize,
    len: usize,
}

/// The cartesian product of two to six axes, as tuples, first axis
/// outermost (`itertools.product` order). Each axis is collected once; the
/// grid itself is generated lazily, point by point, and knows its length.
///
/// ```
/// let points: Vec<(i32, char)> = pool::args::grid((1..=2, ['a', 'b', 'c'])).collect();
/// assert_eq!(points, [(1, 'a'), (1, 'b'), (1, 'c'), (2, 'a'), (2, 'b'), (2, 'c')]);
/// ```
pub fn grid<T: IntoGrid>(axes: T) -> Grid<T::Axes> {
    let (axes, len) = axes.into_grid();
    Grid { axes, next: 0, len }
}

/// Tuples of `IntoIterator`s that [`grid`] accepts.
///
/// ```
/// use pool::args::IntoGrid;
/// let (axes, len) = (0..2, ['x', 'y', 'z']).into_grid();
/// assert_eq!((axes.0.len(), axes.1.len(), len), (2, 3, 6));
/// ```
pub trait IntoGrid {
    /// The tuple of collected axes.
    type Axes;
    /// Collects each axis; also returns the number of grid points.
    fn into_grid(self) -> (Self::Axes, usize);
}

macro_rules! grid_impl {
    ($($axis:ident),+) => {
        impl<$($axis: IntoIterator),+> IntoGrid for ($($axis,)+)
        where
            $($axis::Item: Clone),+
        {
            type Axes = ($(Vec<$axis::Item>,)+);
            #[allow(non_snake_case)]
            fn into_grid(self) -> (Self::Axes, usize) {
                let ($($axis,)+) = self;
                let axes = ($($axis.into_iter().collect::<Vec<_>>(),)+);
                let len = {
                    let ($($axis,)+) = &axes;
                    1usize $(.saturating_mul($axis.len()))+
                };
                (axes, len)
            }
        }

        impl<$($axis: Clone),+> Iterator for Grid<($(Vec<$axis>,)+)> {
            type Item = ($($axis,)+);
            #[allow(non_snake_case)]
            fn next(&mut self) -> Option<Self::Item> {
                if self.next >= self.len {
                    return None;
                }
                // Mixed-radix digits of the point's index, last axis fastest.
                let mut rest = self.next;
                self.next += 1;
                let ($($axis,)+) = &self.axes;
                let mut digits = [$({ let _ = &$axis; 0usize }),+];
                let radices = [$($axis.len()),+];
                for (digit, radix) in digits.iter_mut().zip(radices).rev() {
                    *digit = rest % radix;
                    rest /= radix;
                }
                let mut digit = digits.into_iter();
                Some(($($axis[digit.next().unwrap_or(0)].clone(),)+))
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                let left = self.len - self.next;
                (left, Some(left))
            }
        }

        impl<$($axis: Clone),+> ExactSizeIterator for Grid<($(Vec<$axis>,)+)> {}
    };
}
grid_impl!(A, B);
grid_impl!(A, B, C);
grid_impl!(A, B, C, D);
grid_impl!(A, B, C, D, E);
grid_impl!(A, B, C, D, E, G);
