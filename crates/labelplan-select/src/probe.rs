//! The fixed probe: multinomial logistic regression on standardised features, objective
//! mean cross-entropy + 0.01·‖W‖² (bias not penalised), i.e. scikit-learn's
//! `LogisticRegression(C = 1/(0.02·n))`. Fitted by accelerated gradient descent with
//! adaptive restart, each step preconditioned by Böhning's bound on the Hessian
//! (`½·ZᵀZ/n + 2·0.01·I`, `Z` the features with a bias column, inverted once by
//! Cholesky): the step needs no tuning, and correlated features do not slow it. The
//! objective is strongly convex, so any converged fit is the same model. The planner
//! trains it on pseudo-labels; `cargo xtask quality` on true labels.

use labelplan_core::det;
use ndarray::{Array1, Array2, Axis};

/// L2 penalty weight on the weights.
const L2: f64 = 0.01;

/// Per-column mean and standard deviation of a pool (label-free standardisation).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Array1<f64>,
    std: Array1<f64>,
}

impl Standardizer {
    /// Fits to every row of a row-major `rows × dim` matrix (two passes of f64 sums,
    /// no copy of the matrix).
    pub fn fit(values: &[f32], rows: usize, dim: usize) -> Self {
        let values = &values[..rows * dim];
        let mut mean = Array1::<f64>::zeros(dim);
        for row in values.chunks_exact(dim.max(1)) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        }
        mean /= rows.max(1) as f64;
        let mut var = Array1::<f64>::zeros(dim);
        for row in values.chunks_exact(dim.max(1)) {
            var.iter_mut().zip(row).zip(&mean).for_each(|((s, &v), m)| *s += (v as f64 - m).powi(2));
        }
        let std = var.mapv(|s| (s / rows.max(1) as f64).sqrt()).mapv(|s| if s > 0.0 { s } else { 1.0 });
        Standardizer { mean, std }
    }

    /// Every row of a row-major block, standardised.
    pub fn apply_block(&self, block: &[f32], dim: usize) -> Array2<f32> {
        let rows: Vec<u32> = (0..(block.len() / dim.max(1)) as u32).collect();
        self.apply(block, dim, &rows)
    }

    /// The standardised rows `rows` of `values` (f32: the probe's products run in f32).
    pub fn apply(&self, values: &[f32], dim: usize, rows: &[u32]) -> Array2<f32> {
        let mut x = Array2::zeros((rows.len(), dim));
        for (mut out, &r) in x.rows_mut().into_iter().zip(rows) {
            let r = r as usize;
            for (c, o) in out.iter_mut().enumerate() {
                *o = ((values[r * dim + c] as f64 - self.mean[c]) / self.std[c]) as f32;
            }
        }
        x
    }
}

/// A fitted probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    weights: Array2<f32>,
    bias: Array1<f32>,
}

fn softmax_rows(z: &mut Array2<f32>) {
    for mut row in z.rows_mut() {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| det::exp(v - max));
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

impl Probe {
    /// Predicted class of each row.
    pub fn predict(&self, x: &Array2<f32>) -> Vec<u32> {
        let z = det::matmul(x.view(), self.weights.view()) + &self.bias;
        z.rows()
            .into_iter()
            .map(|r| {
                let mut best = 0;
                for (c, &v) in r.iter().enumerate() {
                    if v > r[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect()
    }

    /// Accuracy in percent against `y`.
    pub fn accuracy(&self, x: &Array2<f32>, y: &[u32]) -> f64 {
        let hits = self.predict(x).iter().zip(y).filter(|(a, b)| a == b).count();
        100.0 * hits as f64 / y.len().max(1) as f64
    }
}

/// Inverse of a symmetric positive definite matrix, by its Cholesky factor.
fn spd_inverse(b: &Array2<f64>) -> Array2<f64> {
    let n = b.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut d = b[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        let d = d.max(1e-12).sqrt();
        l[[j, j]] = d;
        for i in j + 1..n {
            let mut v = b[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / d;
        }
    }
    // L⁻¹ by forward substitution, column by column; then B⁻¹ = L⁻ᵀ·L⁻¹.
    let mut inv = Array2::<f64>::zeros((n, n));
    for c in 0..n {
        for i in c..n {
            let mut v = if i == c { 1.0 } else { 0.0 };
            for k in c..i {
                v -= l[[i, k]] * inv[[k, c]];
            }
            inv[[i, c]] = v / l[[i, i]];
        }
    }
    det::matmul_f64(inv.t(), inv.view())
}

impl Probe {
    /// Objective value at this probe.
    pub fn objective(&self, x: &Array2<f32>, y: &[u32]) -> f64 {
        let mut p = det::matmul(x.view(), self.weights.view()) + &self.bias;
        softmax_rows(&mut p);
        let ce: f64 = y.iter().enumerate().map(|(i, &c)| -(p[[i, c as usize]] as f64).max(1e-300).ln()).sum();
        ce / y.len() as f64 + L2 * self.weights.iter().map(|&w| (w as f64).powi(2)).sum::<f64>()
    }

    /// Fits on standardised rows `x` with classes `y` (< `classes`), at most `iterations`
    /// steps of accelerated gradient descent preconditioned by Böhning's bound on the
    /// Hessian (so the step needs no tuning and the features' scaling does not slow it).
    pub fn fit(x: &Array2<f32>, y: &[u32], classes: usize, iterations: usize) -> Probe {
        let (n, d) = x.dim();
        let mut onehot = Array2::<f32>::zeros((n, classes));
        for (i, &c) in y.iter().enumerate() {
            onehot[[i, c as usize]] = 1.0;
        }
        // B = ½·ZᵀZ/n + 2·L2 on the weights, Z = [X, 1]: bounds the Hessian of every
        // class column (softmax cross-entropy has Hessian ≤ ½·I in the logits).
        let mut b = Array2::<f64>::zeros((d + 1, d + 1));
        let xtx = det::matmul(x.t(), x.view());
        let sums = x.sum_axis(Axis(0));
        for i in 0..d {
            for j in 0..d {
                b[[i, j]] = 0.5 * xtx[[i, j]] as f64 / n as f64;
            }
            b[[i, i]] += 2.0 * L2;
            b[[i, d]] = 0.5 * sums[i] as f64 / n as f64;
            b[[d, i]] = b[[i, d]];
        }
        b[[d, d]] = 0.5;
        let inv = spd_inverse(&b).mapv(|v| v as f32);
        let gradient = |w: &Array2<f32>, b: &Array1<f32>| {
            let mut p = det::matmul(x.view(), w.view()) + b;
            softmax_rows(&mut p);
            let g = (p - &onehot) / n as f32;
            (det::matmul(x.t(), g.view()) + w * (2.0 * L2 as f32), g.sum_axis(Axis(0)))
        };
        let (mut w, mut bias) = (Array2::<f32>::zeros((d, classes)), Array1::<f32>::zeros(classes));
        let (mut yw, mut yb) = (w.clone(), bias.clone());
        let mut t = 1.0f32;
        for _ in 0..iterations {
            let (gw, gb) = gradient(&yw, &yb);
            let largest = gw.iter().chain(gb.iter()).fold(0.0f32, |m, v| m.max(v.abs()));
            if largest < 1e-6 {
                (w, bias) = (yw, yb);
                break;
            }
            // Step = B⁻¹·[∇W; ∇b] for every class column at once.
            let g = ndarray::concatenate(Axis(0), &[gw.view(), gb.view().insert_axis(Axis(0))])
                .expect("same widths");
            let step = det::matmul(inv.view(), g.view());
            let nw = &yw - &step.slice_axis(Axis(0), ndarray::Slice::from(..d));
            let nb = &yb - &step.row(d);
            let uphill = (&gw * &(&nw - &w)).sum() + (&gb * &(&nb - &bias)).sum() > 0.0;
            let next_t = if uphill { 1.0 } else { (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0 };
            let momentum = if uphill { 0.0 } else { (t - 1.0) / next_t };
            yw = &nw + &((&nw - &w) * momentum);
            yb = &nb + &((&nb - &bias) * momentum);
            (w, bias, t) = (nw, nb, next_t);
        }
        Probe { weights: w, bias }
    }
}

/// Accuracy (%) on (`test_x`, `test_y`) of the probe trained on (`train_x`, `train_y`);
/// 0 when there is nothing to train on.
pub fn train_and_score(
    train_x: &Array2<f32>,
    train_y: &[u32],
    test_x: &Array2<f32>,
    test_y: &[u32],
    classes: usize,
    iterations: usize,
) -> f64 {
    if train_y.is_empty() {
        return 0.0;
    }
    let probe = Probe::fit(train_x, train_y, classes, iterations);
    probe.accuracy(test_x, test_y)
}
