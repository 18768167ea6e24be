//! Amdahl, Gustafson and Universal Scalability Law models, fitted to measured
//! speedups by bounded nonlinear least squares (projected
//! Levenberg–Marquardt) with asymptotic standard errors.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A model of speedup `S` as a function of the number of workers `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Model {
    /// Amdahl's law `S(p) = 1 / (s + (1 − s)/p)`, serial fraction `s ∈ [0, 1]`.
    Amdahl,
    /// Gustafson's law for scaled (weak-scaling) speedup
    /// `S(p) = p − s·(p − 1)`, serial fraction `s ∈ [0, 1]` of the parallel run.
    Gustafson,
    /// Gunther's Universal Scalability Law
    /// `S(p) = p / (1 + a(p − 1) + b·p(p − 1))`, contention `a ≥ 0`,
    /// coherency `b ≥ 0`.
    Usl,
}

impl Model {
    /// Parameter names, in the order of [`Fit::params`].
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            Model::Amdahl | Model::Gustafson => &["s"],
            Model::Usl => &["a", "b"],
        }
    }

    /// Speedup predicted at `workers` for the given parameter values
    /// (in [`Model::param_names`] order); NaN when values are missing.
    pub fn speedup(self, params: &[f64], workers: f64) -> f64 {
        let p = workers;
        match (self, params) {
            (Model::Amdahl, [s, ..]) => 1.0 / (s + (1.0 - s) / p),
            (Model::Gustafson, [s, ..]) => p - s * (p - 1.0),
            (Model::Usl, [a, b, ..]) => p / (1.0 + a * (p - 1.0) + b * p * (p - 1.0)),
            _ => f64::NAN,
        }
    }

    /// Partial derivatives of the speedup with respect to each parameter.
    fn gradient(self, params: &[f64], p: f64) -> Vec<f64> {
        match (self, params) {
            (Model::Amdahl, [s, ..]) => {
                let denominator = s + (1.0 - s) / p;
                vec![-(1.0 - 1.0 / p) / denominator.powi(2)]
            }
            (Model::Gustafson, _) => vec![-(p - 1.0)],
            (Model::Usl, [a, b, ..]) => {
                let denominator = 1.0 + a * (p - 1.0) + b * p * (p - 1.0);
                let squared = denominator.powi(2);
                vec![-p * (p - 1.0) / squared, -p * p * (p - 1.0) / squared]
            }
            _ => vec![f64::NAN; self.param_names().len()],
        }
    }

    /// Second partial derivatives of the speedup, `∂²S/∂θᵢ∂θⱼ`.
    fn hessian(self, params: &[f64], p: f64) -> Vec<Vec<f64>> {
        match (self, params) {
            (Model::Amdahl, [s, ..]) => {
                let slope = 1.0 - 1.0 / p;
                let denominator = s + (1.0 - s) / p;
                vec![vec![2.0 * slope * slope / denominator.powi(3)]]
            }
            (Model::Gustafson, _) => vec![vec![0.0]],
            (Model::Usl, [a, b, ..]) => {
                let (u, v) = (p - 1.0, p * (p - 1.0));
                let cubed = (1.0 + a * u + b * v).powi(3);
                vec![
                    vec![2.0 * p * u * u / cubed, 2.0 * p * u * v / cubed],
                    vec![2.0 * p * u * v / cubed, 2.0 * p * v * v / cubed],
                ]
            }
            _ => vec![vec![f64::NAN; self.param_names().len()]; self.param_names().len()],
        }
    }

    /// Keeps parameters inside the model's domain (projected LM step).
    fn project(self, params: &mut [f64]) {
        match self {
            Model::Amdahl | Model::Gustafson => params[0] = params[0].clamp(0.0, 1.0),
            Model::Usl => params.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }

    /// Lower and upper bound of each parameter: the active set and at-bound warnings.
    fn bounds(self) -> &'static [(f64, f64)] {
        match self {
            Model::Amdahl | Model::Gustafson => &[(0.0, 1.0)],
            Model::Usl => &[(0.0, f64::INFINITY), (0.0, f64::INFINITY)],
        }
    }

    /// Starting points for the optimiser. The first comes from the model's
    /// linearisation (a closed-form least-squares fit of a transformed
    /// equation), which is already close; the others guard against it
    /// being thrown off by noise.
    fn starting_points(self, points: &[(f64, f64)]) -> Vec<Vec<f64>> {
        let mut starts = match self {
            // 1/S − 1/p = s·(1 − 1/p): least squares through the origin.
            Model::Amdahl => {
                let (xy, xx) = points.iter().fold((0.0, 0.0), |(xy, xx), &(p, s)| {
                    let x = 1.0 - 1.0 / p;
                    (xy + x * (1.0 / s - 1.0 / p), xx + x * x)
                });
                let linear = if xx > 0.0 { xy / xx } else { 0.5 };
                vec![vec![linear], vec![0.0], vec![0.01], vec![0.5], vec![1.0]]
            }
            // p − S = s·(p − 1): least squares through the origin (exact: the model is linear).
            Model::Gustafson => {
                let (xy, xx) = points
                    .iter()
                    .fold((0.0, 0.0), |(xy, xx), &(p, s)| (xy + (p - 1.0) * (p - s), xx + (p - 1.0).powi(2)));
                vec![vec![if xx > 0.0 { xy / xx } else { 0.5 }], vec![0.5]]
            }
            // p/S − 1 = a·(p − 1) + b·p(p − 1): two-variable least squares.
            Model::Usl => {
                let rows: Vec<([f64; 2], f64)> =
                    points.iter().map(|&(p, s)| ([p - 1.0, p * (p - 1.0)], p / s - 1.0)).collect();
                let mut normal = [[0.0; 2]; 2];
                let mut rhs = [0.0; 2];
                for (x, y) in &rows {
                    for i in 0..2 {
                        rhs[i] += x[i] * y;
                        for j in 0..2 {
                            normal[i][j] += x[i] * x[j];
                        }
                    }
                }
                let matrix = vec![normal[0].to_vec(), normal[1].to_vec()];
                let linear = solve(&matrix, &rhs).unwrap_or_else(|| vec![0.01, 0.0001]);
                // The same fit on each face of the bounds (the other
                // parameter held at 0): on noisy, non-monotone speedups the
                // cost has a minimum in a's direction and one in b's, and a
                // start between them can settle in the worse.
                let on_face = |i: usize| if normal[i][i] > 0.0 { rhs[i] / normal[i][i] } else { 0.0 };
                vec![linear, vec![0.0, on_face(1)], vec![on_face(0), 0.0], vec![0.01, 0.0001], vec![0.1, 0.0]]
            }
        };
        for start in &mut starts {
            start.iter_mut().for_each(|x| {
                if !x.is_finite() {
                    *x = 0.0;
                }
            });
            self.project(start);
        }
        starts
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Model::Amdahl => "Amdahl",
            Model::Gustafson => "Gustafson",
            Model::Usl => "USL",
        })
    }
}

/// One fitted parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Name as in the model's formula (`"s"`, `"a"`, `"b"`).
    pub name: String,
    /// Least-squares estimate.
    pub value: f64,
    /// Asymptotic standard error from `σ²(JᵀJ)⁻¹`; `None` when it cannot be
    /// estimated (no residual degrees of freedom, or a singular Jacobian).
    /// `None` rather than NaN so the value survives a JSON round trip.
    pub std_error: Option<f64>,
}

/// A scaling model fitted to `(workers, speedup)` points: what the analysis
/// stores, the reports print and the charts draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// The fitted model.
    pub model: Model,
    /// Parameters in [`Model::param_names`] order.
    pub params: Vec<Parameter>,
    /// Coefficient of determination; `None` when all speedups are equal.
    pub r_squared: Option<f64>,
    /// Root-mean-square residual, in speedup units.
    pub rmse: f64,
    /// The USL's predicted maximum, if the fitted curve has one.
    pub peak: Option<Peak>,
    /// Caveats: few points, parameters at a bound, no convergence, ...
    pub warnings: Vec<String>,
}

/// Where a fitted USL curve peaks, `p* = √((1 − a)/b)`, and its speedup
/// there, each with a standard error propagated from the parameters'
/// covariance (first order); `None` where the covariance is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    /// Worker count at the maximum.
    pub workers: f64,
    /// Its standard error.
    pub workers_error: Option<f64>,
    /// Predicted speedup at the maximum.
    pub speedup: f64,
    /// Its standard error.
    pub speedup_error: Option<f64>,
    /// Whether the parameters' errors leave the peak determined: `b` more
    /// than one standard error above 0 and `a` more than one below 1.
    /// Otherwise a curve within the errors has no peak at p > 1 (at `b = 0`
    /// the USL rises for ever), and the peak is no finding.
    pub determined: bool,
}

impl fmt::Display for Peak {
    /// `S = 1.31 ± 0.05 at p = 3.9 ± 0.4`, rounded by the report's one rule;
    /// `undetermined` when the errors allow a curve without a peak.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::stats::precision::plus_minus;
        if !self.determined {
            return f.write_str("undetermined: b ± its error reaches 0 or a ± its error reaches 1 (no peak)");
        }
        write!(
            f,
            "S = {} at p = {}",
            plus_minus(self.speedup, self.speedup_error),
            plus_minus(self.workers, self.workers_error)
        )
    }
}

impl Fit {
    /// Predicted speedup at `workers`.
    pub fn predict(&self, workers: f64) -> f64 {
        let values: Vec<f64> = self.params.iter().map(|param| param.value).collect();
        self.model.speedup(&values, workers)
    }

    /// `count` points of the fitted curve, geometrically spaced over
    /// `[from, to]` workers (both positive) so they are even on a log axis,
    /// as [`crate::report::charts::Curve`] wants them.
    pub fn curve(&self, from: f64, to: f64, count: usize) -> Vec<(f64, f64)> {
        let steps = count.saturating_sub(1).max(1) as f64;
        (0..count).map(|i| from * (to / from).powf(i as f64 / steps)).map(|p| (p, self.predict(p))).collect()
    }

    /// The parameters as `s = 0.100 ± 0.002`, comma-separated.
    pub fn parameters_text(&self) -> String {
        self.params.iter().map(Parameter::to_string).collect::<Vec<_>>().join(", ")
    }

    /// A compact legend label such as `"Amdahl fit: s = 0.1003 ± 0.0061"`.
    pub fn label(&self) -> String {
        format!("{} fit: {}", self.model, self.parameters_text())
    }
}

impl fmt::Display for Parameter {
    /// `name = value ± error`, rounded by the report's one rule
    /// ([`crate::stats::precision::plus_minus`]): the error decides the
    /// digits; without a usable error, three significant digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.name, crate::stats::precision::plus_minus(self.value, self.std_error))
    }
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Fewer distinct worker counts away from `p = 1` than the model has parameters.
    #[error(
        "fitting {model} needs speedups at {needed} or more distinct worker counts p ≠ 1 (every model has S(1) = 1), \
         got {got}"
    )]
    TooFewPoints {
        /// The model being fitted.
        model: Model,
        /// Minimum number of points (its parameter count).
        needed: usize,
        /// Number of distinct worker counts `p ≠ 1` given.
        got: usize,
    },
    /// A point has a NaN or infinite coordinate.
    #[error("point {index} (workers = {workers}, speedup = {speedup}) is not finite")]
    NonFinite {
        /// Position of the point in the input.
        index: usize,
        /// Its worker count.
        workers: f64,
        /// Its speedup.
        speedup: f64,
    },
    /// A worker count or speedup is zero or negative, outside both models.
    #[error("point {index} (workers = {workers}, speedup = {speedup}) must have positive workers and speedup")]
    NotPositive {
        /// Position of the point in the input.
        index: usize,
        /// Its worker count.
        workers: f64,
        /// Its speedup.
        speedup: f64,
    },
}

/// Fits `model` to `(workers, speedup)` points by bounded nonlinear least
/// squares (projected Levenberg–Marquardt, several starting points).
///
/// Only distinct worker counts `p ≠ 1` count as evidence: every model passes
/// through `S(1) = 1` whatever its parameters, so a point there constrains
/// none of them, and repeated measurements at one `p` pin the curve at that
/// `p` alone, which no two-parameter curve is determined by (all points
/// still enter the residuals). Errors when there are fewer such worker
/// counts than parameters or a point is not finite or not positive; fewer
/// than `parameters + 2` only warns, since the fit is exact-ish and its
/// errors are barely estimable.
pub fn fit(model: Model, points: &[(f64, f64)]) -> Result<Fit, FitError> {
    let names = model.param_names();
    let informative = informative_points(points);
    if informative < names.len() {
        return Err(FitError::TooFewPoints { model, needed: names.len(), got: informative });
    }
    for (index, &(workers, speedup)) in points.iter().enumerate() {
        if !workers.is_finite() || !speedup.is_finite() {
            return Err(FitError::NonFinite { index, workers, speedup });
        }
        if workers <= 0.0 || speedup <= 0.0 {
            return Err(FitError::NotPositive { index, workers, speedup });
        }
    }

    let mut warnings = Vec::new();
    if informative < names.len() + 2 {
        warnings.push(format!(
            "only {informative} distinct worker count(s) p ≠ 1 for {} parameter(s) of {model}: the fit is barely \
             constrained",
            names.len()
        ));
    }

    let (values, converged) = model
        .starting_points(points)
        .into_iter()
        .flat_map(|start| descents(model, points, start))
        .min_by(|x, y| sum_of_squares(model, points, &x.0).total_cmp(&sum_of_squares(model, points, &y.0)))
        .unwrap_or_else(|| (vec![f64::NAN; names.len()], false));
    if !converged {
        warnings.push(format!("{model} fit did not converge; parameters may be inaccurate"));
    }

    let residual_sum = sum_of_squares(model, points, &values);
    let n = points.len() as f64;
    let mean = points.iter().map(|point| point.1).sum::<f64>() / n;
    let total_sum: f64 = points.iter().map(|point| (point.1 - mean).powi(2)).sum();
    let r_squared = (total_sum > 0.0).then(|| 1.0 - residual_sum / total_sum).filter(|r| r.is_finite());

    let covariance = covariance(model, points, &values, residual_sum);
    let std_errors: Vec<f64> =
        (0..names.len()).map(|i| covariance.as_ref().map_or(f64::NAN, |c| c[i][i].max(0.0).sqrt())).collect();
    if std_errors.iter().any(|e| e.is_nan()) && points.len() > names.len() {
        warnings
            .push(format!("{model} parameters are not identifiable from these worker counts; standard errors unknown"));
    }
    for ((name, value), (low, high)) in names.iter().zip(&values).zip(model.bounds()) {
        if value == low || value == high {
            warnings.push(format!("{model} parameter {name} sits at its bound {value}"));
        }
    }

    let params = names
        .iter()
        .zip(&values)
        .zip(&std_errors)
        .map(|((&name, &value), &std_error)| Parameter {
            name: name.to_owned(),
            value,
            std_error: std_error.is_finite().then_some(std_error),
        })
        .collect();
    let peak = match (model, values.as_slice()) {
        (Model::Usl, &[a, b]) if b > 0.0 && a < 1.0 => Some(usl_peak(a, b, covariance.as_ref())),
        _ => None,
    };
    Ok(Fit { model, params, r_squared, rmse: (residual_sum / n).sqrt(), peak, warnings })
}

/// The number of distinct worker counts `p ≠ 1` among `points`: what says
/// anything about a model's parameters (see [`fit`]).
pub fn informative_points(points: &[(f64, f64)]) -> usize {
    let mut workers: Vec<f64> = points.iter().map(|&(p, _)| p).filter(|&p| p != 1.0).collect();
    workers.sort_by(f64::total_cmp);
    workers.dedup();
    workers.len()
}

fn sum_of_squares(model: Model, points: &[(f64, f64)], params: &[f64]) -> f64 {
    let sum: f64 = points.iter().map(|&(p, s)| (s - model.speedup(params, p)).powi(2)).sum();
    // NaN would win no comparison; treat it as the worst possible fit.
    if sum.is_nan() {
        f64::INFINITY
    } else {
        sum
    }
}

/// `JᵀJ` and `Jᵀr` of the residuals `r = S − model(p)` at `params`.
fn normal_equations(model: Model, points: &[(f64, f64)], params: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let k = params.len();
    let mut jtj = vec![vec![0.0; k]; k];
    let mut jtr = vec![0.0; k];
    for &(p, s) in points {
        let gradient = model.gradient(params, p);
        let residual = s - model.speedup(params, p);
        for i in 0..k {
            jtr[i] += gradient[i] * residual;
            for j in 0..k {
                jtj[i][j] += gradient[i] * gradient[j];
            }
        }
    }
    (jtj, jtr)
}

/// Half the Hessian of the sum of squares at `params`: `JᵀJ − Σ rᵢ ∇²Sᵢ`.
/// Gauss–Newton's `JᵀJ` alone drops the second term, which is small only
/// when the residuals are: on noisy, non-monotone speedups they are not, and
/// its steps then fall short of the minimum by a constant factor each time
/// (500 iterations left the projected gradient at 1e-5 and the fit reported
/// no convergence at its minimum).
fn cost_hessian(model: Model, points: &[(f64, f64)], params: &[f64], jtj: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut hessian = jtj.to_vec();
    for &(p, s) in points {
        let residual = s - model.speedup(params, p);
        for (row, second) in hessian.iter_mut().zip(model.hessian(params, p)) {
            for (h, d2) in row.iter_mut().zip(second) {
                *h -= residual * d2;
            }
        }
    }
    hessian
}

/// Whether a symmetric matrix is positive definite (its Cholesky
/// factorisation exists).
fn positive_definite(matrix: &[Vec<f64>]) -> bool {
    let n = matrix.len();
    let mut lower = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let sum = matrix[i][j] - (0..j).map(|k| lower[i][k] * lower[j][k]).sum::<f64>();
            if i == j {
                // NaN fails too.
                if sum.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return false;
                }
                lower[i][i] = sum.sqrt();
            } else {
                lower[i][j] = sum / lower[j][j];
            }
        }
    }
    true
}

/// Which parameters are held fixed this iteration: those sitting on a bound
/// while the cost's descent direction (`Jᵀr`) points out of the domain.
/// Solving for them too and clipping afterwards would spoil the step of the
/// others (the system couples them), which is how an unconstrained solve
/// stalls short of the bounded minimum. Those marked in `held` are fixed
/// anyway (a descent within a face of the bounds).
fn active_set(model: Model, params: &[f64], jtr: &[f64], held: &[bool]) -> Vec<bool> {
    params
        .iter()
        .zip(jtr)
        .zip(model.bounds())
        .zip(held)
        .map(|(((&x, &descent), &(low, high)), &held)| {
            held || (x <= low && descent <= 0.0) || (x >= high && descent >= 0.0)
        })
        .collect()
}

/// The scale-free projected gradient: for each free parameter the cosine
/// between its Jacobian column and the residual vector, `|Jᵢ·r| / (‖Jᵢ‖ ‖r‖)`
/// (MINPACK's orthogonality test); 0 for a held one. It is 0 exactly at a
/// bounded least-squares minimum, whatever the parameters' scales.
fn projected_gradient(jtj: &[Vec<f64>], jtr: &[f64], active: &[bool], cost: f64) -> f64 {
    (0..jtr.len())
        .filter(|&i| !active[i])
        .map(|i| {
            let norm = (jtj[i][i] * cost).sqrt();
            if norm > 0.0 {
                jtr[i].abs() / norm
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Converged when no free parameter's column has more than this cosine with
/// the residuals: far above rounding (≈ 1e-15 · √n) and far below any
/// change a reader could see in the parameters.
const GRADIENT_TOLERANCE: f64 = 1e-9;

/// The sum of squares below which the model reproduces every speedup to
/// the rounding of evaluating it (a few dozen ulps each): the data are
/// fitted exactly, a global minimum whatever the gradient says. There the
/// residuals are rounding noise, so their cosine with a Jacobian column
/// (the gradient test) is noise too, and no step can lower the cost.
fn exact_fit_cost(points: &[(f64, f64)]) -> f64 {
    const ULPS: f64 = 64.0 * f64::EPSILON;
    points.iter().map(|&(_, s)| (ULPS * s).powi(2)).sum()
}

/// The minima reached from `start`: by a free descent and, where `start`
/// lies on a face of the bounds (a parameter at its bound), by a descent
/// within that face first. The face's minimum is a minimum of the whole
/// box when the cost rises out of the face there, and a free descent from
/// a point on the face rarely finds it: the cost pulls the other parameters
/// off the face first, often into another valley.
fn descents(model: Model, points: &[(f64, f64)], start: Vec<f64>) -> Vec<(Vec<f64>, bool)> {
    let free = vec![false; start.len()];
    let mut reached = Vec::new();
    if start.len() > 1 {
        for (i, (&x, &(low, high))) in start.iter().zip(model.bounds()).enumerate() {
            if x == low || x == high {
                let mut held = free.clone();
                held[i] = true;
                let (on_face, _) = levenberg_marquardt(model, points, start.clone(), &held);
                reached.push(levenberg_marquardt(model, points, on_face, &free));
            }
        }
    }
    reached.push(levenberg_marquardt(model, points, start, &free));
    reached
}

/// Bounded Levenberg–Marquardt from `start`, the parameters marked in
/// `held` kept where they start: each step solves the damped
/// normal equations for the free parameters only (see [`active_set`]) and is
/// projected into the domain. Returns the parameters and whether they are a
/// minimum: they fit the data to rounding ([`exact_fit_cost`]) or satisfy
/// the projected-gradient test (rather than the iteration having run out of
/// steps or iterations somewhere else).
fn levenberg_marquardt(model: Model, points: &[(f64, f64)], start: Vec<f64>, held: &[bool]) -> (Vec<f64>, bool) {
    const MAX_ITERATIONS: usize = 500;
    const MAX_DAMPING: f64 = 1e12;
    let exact = exact_fit_cost(points);
    let mut params = start;
    let mut cost = sum_of_squares(model, points, &params);
    let mut damping = 1e-3;
    for _ in 0..MAX_ITERATIONS {
        if cost == 0.0 {
            return (params, true);
        }
        let (jtj, jtr) = normal_equations(model, points, &params);
        let active = active_set(model, &params, &jtr, held);
        if projected_gradient(&jtj, &jtr, &active, cost) <= GRADIENT_TOLERANCE {
            return (params, true);
        }
        let free: Vec<usize> = (0..params.len()).filter(|&i| !active[i]).collect();
        // Newton's matrix where it is positive definite on the free
        // parameters (near a minimum: fast convergence whatever the size of
        // the residuals); Gauss–Newton's elsewhere, where Newton's may point
        // uphill and JᵀJ always gives a descent direction.
        let hessian = cost_hessian(model, points, &params, &jtj);
        let block = |matrix: &[Vec<f64>]| -> Vec<Vec<f64>> {
            free.iter().map(|&i| free.iter().map(|&j| matrix[i][j]).collect()).collect()
        };
        let curvature = Some(block(&hessian)).filter(|h| positive_definite(h)).unwrap_or_else(|| block(&jtj));
        // Marquardt's scaling by diag(JᵀJ) makes the step invariant to the
        // very different scales of a and b; the floor keeps a flat direction
        // from making the system singular.
        let mut improved = false;
        while damping <= MAX_DAMPING {
            let damped: Vec<Vec<f64>> = free
                .iter()
                .enumerate()
                .map(|(row, &i)| {
                    free.iter()
                        .enumerate()
                        .map(|(column, &j)| {
                            curvature[row][column] + if i == j { damping * jtj[i][i].max(1e-12) } else { 0.0 }
                        })
                        .collect()
                })
                .collect();
            let rhs: Vec<f64> = free.iter().map(|&i| jtr[i]).collect();
            let Some(step) = solve(&damped, &rhs) else {
                damping *= 10.0;
                continue;
            };
            let mut candidate = params.clone();
            for (&i, dx) in free.iter().zip(&step) {
                candidate[i] += dx;
            }
            model.project(&mut candidate);
            let candidate_cost = sum_of_squares(model, points, &candidate);
            if candidate_cost < cost {
                params = candidate;
                cost = candidate_cost;
                damping = (damping / 10.0).max(1e-12);
                improved = true;
                break;
            }
            damping *= 10.0;
        }
        if !improved {
            // Not even the shortest step lowers the cost: rounding, not the
            // optimiser, limits it here. A minimum if the data are fitted to
            // rounding, or if the gradient agrees to the precision rounding
            // allows.
            let (jtj, jtr) = normal_equations(model, points, &params);
            let active = active_set(model, &params, &jtr, held);
            let converged = cost <= exact || projected_gradient(&jtj, &jtr, &active, cost) <= 1e-6;
            return (params, converged);
        }
    }
    let converged = cost <= exact;
    (params, converged)
}

/// The parameters' asymptotic covariance `σ²(JᵀJ)⁻¹` with
/// `σ² = SSR / (n − k)`; `None` without residual degrees of freedom or with
/// a singular `JᵀJ`.
fn covariance(model: Model, points: &[(f64, f64)], params: &[f64], residual_sum: f64) -> Option<Vec<Vec<f64>>> {
    let k = params.len();
    let dof = points.len().checked_sub(k).filter(|&dof| dof > 0)?;
    let variance = residual_sum / dof as f64;
    let (jtj, _) = normal_equations(model, points, params);
    let columns = (0..k)
        .map(|i| {
            let mut unit = vec![0.0; k];
            unit[i] = 1.0;
            solve(&jtj, &unit).map(|column| column.iter().map(|x| variance * x).collect::<Vec<f64>>())
        })
        .collect::<Option<Vec<_>>>()?;
    Some(columns)
}

/// The USL's maximum for `a < 1`, `b > 0`, with first-order (delta-method)
/// errors from the covariance of `(a, b)`. The speedup's derivative in `p`
/// vanishes at `p*`, so the error of `S(p*)` needs only its partial
/// derivatives in `a` and `b` there.
fn usl_peak(a: f64, b: f64, covariance: Option<&Vec<Vec<f64>>>) -> Peak {
    let workers = ((1.0 - a) / b).sqrt();
    let speedup = Model::Usl.speedup(&[a, b], workers);
    // p*² = (1 − a)/b: ∂p*/∂a = −1/(2 b p*), ∂p*/∂b = −p*/(2b).
    let workers_gradient = [-1.0 / (2.0 * b * workers), -workers / (2.0 * b)];
    let speedup_gradient = Model::Usl.gradient(&[a, b], workers);
    let propagate = |gradient: &[f64]| {
        let c = covariance?;
        let variance: f64 =
            (0..2).flat_map(|i| (0..2).map(move |j| (i, j))).map(|(i, j)| gradient[i] * c[i][j] * gradient[j]).sum();
        (variance.is_finite() && variance >= 0.0).then(|| variance.sqrt())
    };
    let errors = covariance.map(|c| (c[0][0].max(0.0).sqrt(), c[1][1].max(0.0).sqrt()));
    let determined = errors.is_some_and(|(a_error, b_error)| b - b_error > 0.0 && a + a_error < 1.0);
    Peak {
        workers,
        workers_error: propagate(&workers_gradient),
        speedup,
        speedup_error: propagate(&speedup_gradient),
        determined,
    }
}

/// Solves the small dense system `matrix · x = rhs` by Gaussian elimination
/// with partial pivoting; `None` when the matrix is (numerically) singular.
fn solve(matrix: &[Vec<f64>], rhs: &[f64]) -> Option<Vec<f64>> {
    let n = rhs.len();
    let scale = matrix.iter().flatten().fold(0.0f64, |largest, x| largest.max(x.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let mut a: Vec<Vec<f64>> = matrix.to_vec();
    let mut b = rhs.to_vec();
    for column in 0..n {
        let pivot = (column..n).max_by(|&i, &j| a[i][column].abs().total_cmp(&a[j][column].abs()))?;
        if a[pivot][column].abs() <= scale * 1e-14 {
            return None;
        }
        a.swap(column, pivot);
        b.swap(column, pivot);
        let (done, remaining) = a.split_at_mut(column + 1);
        let pivot_row = &done[column];
        for (offset, row) in remaining.iter_mut().enumerate() {
            let factor = row[column] / pivot_row[column];
            for (target, source) in row[column..].iter_mut().zip(&pivot_row[column..]) {
                *target -= factor * source;
            }
            b[column + 1 + offset] -= factor * b[column];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bootstrap::{noise, SplitMix64};
    use crate::stats::close;

    fn amdahl_points(s: f64, noise_scale: f64) -> Vec<(f64, f64)> {
        let mut rng = SplitMix64::new(11);
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
            .iter()
            .map(|&p| (p, Model::Amdahl.speedup(&[s], p) * (1.0 + noise(&mut rng, noise_scale))))
            .collect()
    }

    #[test]
    fn amdahl_fit_recovers_serial_fraction() {
        let exact = fit(Model::Amdahl, &amdahl_points(0.1, 0.0)).unwrap();
        assert!(close(exact.params[0].value, 0.1, 1e-8), "{exact:?}");
        assert!(exact.r_squared.unwrap() > 0.999_999 && exact.rmse < 1e-8);
        assert!(exact.warnings.is_empty(), "{:?}", exact.warnings);
        assert!(exact.peak.is_none());
        assert!(close(exact.predict(8.0), Model::Amdahl.speedup(&[0.1], 8.0), 1e-8));

        let noisy = fit(Model::Amdahl, &amdahl_points(0.1, 0.01)).unwrap();
        let s = &noisy.params[0];
        assert!(close(s.value, 0.1, 0.01), "{noisy:?}");
        assert!(s.std_error.is_some_and(|e| e > 0.0 && e < 0.01));
        assert!(noisy.r_squared.unwrap() > 0.99);
    }

    #[test]
    fn gustafson_fit_recovers_the_serial_fraction_of_scaled_speedups() {
        let points: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0].iter().map(|&p| (p, p - 0.2 * (p - 1.0))).collect();
        let exact = fit(Model::Gustafson, &points).unwrap();
        assert!(close(exact.params[0].value, 0.2, 1e-9), "{exact:?}");
        assert!(close(exact.predict(32.0), 32.0 - 0.2 * 31.0, 1e-6));
        let mut rng = SplitMix64::new(9);
        let noisy: Vec<(f64, f64)> = points.iter().map(|&(p, s)| (p, s * (1.0 + noise(&mut rng, 0.01)))).collect();
        let noisy = fit(Model::Gustafson, &noisy).unwrap();
        assert!(close(noisy.params[0].value, 0.2, 0.05), "{noisy:?}");
        assert!(noisy.r_squared.is_some_and(|r| r > 0.99));
    }

    #[test]
    fn usl_fit_recovers_contention_coherency_and_peak() {
        let truth = [0.05, 0.002];
        let points: Vec<(f64, f64)> =
            (1..=32).map(|p| (f64::from(p), Model::Usl.speedup(&truth, f64::from(p)))).collect();
        let usl = fit(Model::Usl, &points).unwrap();
        assert!(close(usl.params[0].value, 0.05, 1e-6), "{usl:?}");
        assert!(close(usl.params[1].value, 0.002, 1e-7), "{usl:?}");
        let peak = usl.peak.unwrap();
        let (peak_p, peak_s) = (peak.workers, peak.speedup);
        let expected_p = (0.95f64 / 0.002).sqrt();
        assert!(close(peak_p, expected_p, 1e-3));
        assert!(close(peak_s, Model::Usl.speedup(&truth, expected_p), 1e-4));
        // The peak really is the curve's maximum.
        assert!(usl.predict(peak_p) > usl.predict(peak_p - 1.0));
        assert!(usl.predict(peak_p) > usl.predict(peak_p + 1.0));
    }

    /// The referee's case: `S = 1.31 at p = 3.9` from `b = 0.027 ± 0.026`,
    /// although at `b = 0` the USL has no peak at all. The peak now comes
    /// with its errors, or as undetermined.
    #[test]
    fn the_usl_peak_is_given_to_the_precision_its_errors_support() {
        use crate::stats::precision::plus_minus;
        // Peaks at p* = √(0.95/0.002) ≈ 21.8; 2 % noise over p = 1..32.
        let truth = [0.05, 0.002];
        let mut rng = SplitMix64::new(5);
        let points: Vec<(f64, f64)> = (1..=32)
            .map(f64::from)
            .map(|p| (p, Model::Usl.speedup(&truth, p) * (1.0 + noise(&mut rng, 0.02))))
            .collect();
        let peak = fit(Model::Usl, &points).unwrap().peak.unwrap();
        let (workers_error, speedup_error) = (peak.workers_error.unwrap(), peak.speedup_error.unwrap());
        assert!(peak.determined && workers_error > 0.0 && speedup_error > 0.0, "{peak:?}");
        let expected = (0.95f64 / 0.002).sqrt();
        assert!((peak.workers - expected).abs() < 3.0 * workers_error, "{peak:?}");
        let expected_speedup = Model::Usl.speedup(&truth, expected);
        assert!((peak.speedup - expected_speedup).abs() < 3.0 * speedup_error, "{peak:?}");
        assert_eq!(
            peak.to_string(),
            format!(
                "S = {} at p = {}",
                plus_minus(peak.speedup, Some(speedup_error)),
                plus_minus(peak.workers, Some(workers_error))
            )
        );

        // No coherency cost (b = 0) and 5 % noise over p = 1..8: a fitted b > 0
        // is noise, and its interval reaches 0.
        let mut undetermined = 0;
        for seed in 1..40 {
            let mut rng = SplitMix64::new(seed);
            let points: Vec<(f64, f64)> = (1..=8)
                .map(f64::from)
                .map(|p| (p, Model::Usl.speedup(&[0.3, 0.0], p) * (1.0 + noise(&mut rng, 0.05))))
                .collect();
            let usl = fit(Model::Usl, &points).unwrap();
            let Some(peak) = usl.peak else { continue };
            let (a, b) = (&usl.params[0], &usl.params[1]);
            let within = |param: &Parameter, bound: f64| (param.value - bound).abs() <= param.std_error.unwrap();
            assert_eq!(peak.determined, !within(b, 0.0) && !within(a, 1.0), "{usl:?}");
            if !peak.determined {
                undetermined += 1;
                assert!(peak.to_string().starts_with("undetermined: b ± its error reaches 0"), "{peak}");
            }
        }
        assert!(undetermined >= 3, "the data must exercise an undetermined peak: {undetermined}");
    }

    #[test]
    fn parameters_print_to_the_precision_of_their_error() {
        let param = |value, std_error| Parameter { name: "s".to_owned(), value, std_error };
        assert_eq!(param(0.100_34, Some(0.003_12)).to_string(), "s = 0.1003 ± 0.0031");
        assert_eq!(param(0.003_12, Some(0.000_41)).to_string(), "s = 0.0031 ± 0.0004");
        assert_eq!(param(12.345, Some(1.5)).to_string(), "s = 12.3 ± 1.5");
        // The referee's case: an error of hundreds rounds the value to tens.
        assert_eq!(param(1475.0, Some(337.0)).to_string(), "s = 1480 ± 340");
        assert_eq!(param(0.1, Some(1e-15)).to_string(), "s = 0.100");
        assert_eq!(param(0.1, None).to_string(), "s = 0.100");
        assert_eq!(param(0.0, Some(0.0)).to_string(), "s = 0.00");
        // A value at its bound of 0, a hair below it, is not "-0.0".
        assert_eq!(param(-1e-17, Some(0.3251)).to_string(), "s = 0.00 ± 0.33");
    }

    /// The referee's case: Amdahl s = 0.000994 on p = 1, 2, 4, 8, 16, fitted
    /// to a sum of squares of 8e-31, was reported as not converged: at that
    /// cost rounding stops both the step and the gradient test.
    #[test]
    fn an_exact_fit_to_exact_data_is_converged() {
        let s = 0.000_993_963_216_092_05;
        let points: Vec<(f64, f64)> =
            [1.0, 2.0, 4.0, 8.0, 16.0].iter().map(|&p| (p, Model::Amdahl.speedup(&[s], p))).collect();
        let amdahl = fit(Model::Amdahl, &points).unwrap();
        assert!(close(amdahl.params[0].value, s, 1e-12), "{amdahl:?}");
        assert!(amdahl.warnings.is_empty(), "{:?}", amdahl.warnings);
        // USL on exact data with both parameters inside the domain (another of the referee's cases).
        let truth = [0.006_205_455_585_576_421, 0.000_655_621_095_864_219_6];
        let points: Vec<(f64, f64)> =
            [1.0, 2.0, 4.0, 8.0, 16.0].iter().map(|&p| (p, Model::Usl.speedup(&truth, p))).collect();
        let usl = fit(Model::Usl, &points).unwrap();
        assert!(usl.warnings.iter().all(|w| !w.contains("did not converge")), "{:?}", usl.warnings);
        // Data with any real noise, even a relative 1e-9, are not fitted "to
        // rounding": the gradient test still decides their convergence.
        let mut rng = SplitMix64::new(3);
        let noisy: Vec<(f64, f64)> = points.iter().map(|&(p, s)| (p, s * (1.0 + noise(&mut rng, 1e-9)))).collect();
        let best = fit(Model::Usl, &noisy).unwrap();
        let values: Vec<f64> = best.params.iter().map(|param| param.value).collect();
        assert!(sum_of_squares(Model::Usl, &noisy, &values) > 1e3 * exact_fit_cost(&noisy), "{best:?}");
        // An iteration stopped far from the minimum is not excused by it either.
        assert!(sum_of_squares(Model::Usl, &points, &[0.1, 0.01]) > 1e20 * exact_fit_cost(&points));
    }

    #[test]
    fn usl_fit_respects_bounds_on_linear_data() {
        let points: Vec<(f64, f64)> = (1..=8).map(|p| (f64::from(p), f64::from(p))).collect();
        let usl = fit(Model::Usl, &points).unwrap();
        assert!(usl.params.iter().all(|param| param.value >= 0.0 && param.value < 1e-9));
        assert!(usl.peak.is_none());
    }

    #[test]
    fn fit_with_two_points_warns_and_too_few_errors() {
        let two = [(1.0, 1.0), (4.0, 3.0)];
        let amdahl = fit(Model::Amdahl, &two).unwrap();
        assert!(!amdahl.warnings.is_empty());
        assert!(amdahl.warnings[0].contains("only 1 distinct worker count(s) p ≠ 1"), "{:?}", amdahl.warnings);
        let three = [(1.0, 1.0), (2.0, 1.8), (4.0, 3.0)];
        let usl = fit(Model::Usl, &three).unwrap();
        assert!(usl.warnings.iter().any(|w| w.contains("only 2 distinct worker count(s) p ≠ 1")));

        // S(1) = 1 for every model: a point at p = 1 is no evidence for either parameter.
        assert_eq!(fit(Model::Usl, &two), Err(FitError::TooFewPoints { model: Model::Usl, needed: 2, got: 1 }));
        assert_eq!(
            fit(Model::Usl, &[(2.0, 1.8)]),
            Err(FitError::TooFewPoints { model: Model::Usl, needed: 2, got: 1 })
        );
        assert!(matches!(
            fit(Model::Amdahl, &[(1.0, 1.0), (2.0, f64::NAN)]),
            Err(FitError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(fit(Model::Amdahl, &[(0.0, 1.0), (2.0, 1.5)]), Err(FitError::NotPositive { index: 0, .. })));
    }

    /// The referee's case: three speedups at p = 2 passed the "enough points"
    /// check and gave `a = 0.03122, b = 0.01071` and a peak at p = 9.5 from
    /// data at one worker count.
    #[test]
    fn repeated_worker_counts_are_one_piece_of_evidence() {
        let repeated = [(1.0, 1.0), (2.0, 1.9), (2.0, 1.95), (2.0, 1.85)];
        assert_eq!(informative_points(&repeated), 1);
        assert_eq!(fit(Model::Usl, &repeated), Err(FitError::TooFewPoints { model: Model::Usl, needed: 2, got: 1 }));
        // Amdahl has one parameter: one worker count determines it, and the warning counts it once.
        let amdahl = fit(Model::Amdahl, &repeated).unwrap();
        assert!(amdahl.warnings[0].contains("only 1 distinct worker count(s)"), "{:?}", amdahl.warnings);
        // Two distinct worker counts, one of them repeated: enough for the USL.
        let two = [(1.0, 1.0), (2.0, 1.9), (2.0, 1.95), (4.0, 3.1)];
        assert_eq!(informative_points(&two), 2);
        assert!(fit(Model::Usl, &two).is_ok());
    }
}
