//! The fixed probe: multinomial logistic regression on standardised features, objective
//! mean cross-entropy + 0.01·‖W‖² (bias not penalised), i.e. scikit-learn's
//! `LogisticRegression(C = 1/(0.02·n))`. Fitted by Nesterov's accelerated gradient with
//! adaptive restart; the objective is strongly convex, so any converged fit is the same
//! model. The planner trains it on pseudo-labels; `cargo xtask quality` on true labels.

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// L2 penalty weight on the weights.
const L2: f64 = 0.01;

/// Per-column mean and standard deviation of a pool (label-free standardisation).
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Array1<f64>,
    std: Array1<f64>,
}

impl Standardizer {
    /// Fits to every row of a row-major `rows × dim` matrix.
    pub fn fit(values: &[f32], rows: usize, dim: usize) -> Self {
        let x = ArrayView2::from_shape((rows, dim), values).expect("rows × dim").mapv(f64::from);
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(dim));
        let std = x.std_axis(Axis(0), 0.0).mapv(|s| if s > 0.0 { s } else { 1.0 });
        Standardizer { mean, std }
    }

    /// The standardised rows `rows` of `values`.
    pub fn apply(&self, values: &[f32], dim: usize, rows: &[u32]) -> Array2<f64> {
        let mut x = Array2::zeros((rows.len(), dim));
        for (mut out, &r) in x.rows_mut().into_iter().zip(rows) {
            let r = r as usize;
            for (c, o) in out.iter_mut().enumerate() {
                *o = (values[r * dim + c] as f64 - self.mean[c]) / self.std[c];
            }
        }
        x
    }
}

/// A fitted probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    weights: Array2<f64>,
    bias: Array1<f64>,
}

fn softmax_rows(z: &mut Array2<f64>) {
    for mut row in z.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
}

/// Largest eigenvalue of `zᵀz / n`, `z` = `x` with a bias column, by power iteration.
fn curvature(x: &Array2<f64>) -> f64 {
    let n = x.nrows() as f64;
    let (mut v, mut vb) = (Array1::from_elem(x.ncols(), 1.0), 1.0);
    let mut lambda = 1.0;
    for _ in 0..50 {
        let zv = x.dot(&v) + vb;
        let (w, wb) = (x.t().dot(&zv) / n, zv.sum() / n);
        lambda = (w.dot(&w) + wb * wb).sqrt();
        if lambda == 0.0 {
            return 1.0;
        }
        (v, vb) = (w / lambda, wb / lambda);
    }
    lambda
}

impl Probe {
    /// Fits on standardised rows `x` with classes `y` (< `classes`), at most `iterations`
    /// gradient steps.
    pub fn fit(x: &Array2<f64>, y: &[u32], classes: usize, iterations: usize) -> Probe {
        let (n, d) = x.dim();
        let mut onehot = Array2::<f64>::zeros((n, classes));
        for (i, &c) in y.iter().enumerate() {
            onehot[[i, c as usize]] = 1.0;
        }
        // Softmax cross-entropy has Hessian ≤ ½·I in the logits.
        let step = 1.0 / (0.5 * curvature(x) + 2.0 * L2);
        let gradient = |w: &Array2<f64>, b: &Array1<f64>| {
            let mut p = x.dot(w) + b;
            softmax_rows(&mut p);
            let g = (p - &onehot) / n as f64;
            (x.t().dot(&g) + w * (2.0 * L2), g.sum_axis(Axis(0)))
        };
        let (mut w, mut b) = (Array2::<f64>::zeros((d, classes)), Array1::<f64>::zeros(classes));
        let (mut yw, mut yb) = (w.clone(), b.clone());
        let mut t = 1.0f64;
        for _ in 0..iterations {
            let (gw, gb) = gradient(&yw, &yb);
            let largest = gw.iter().chain(gb.iter()).fold(0.0f64, |m, v| m.max(v.abs()));
            if largest < 1e-6 {
                (w, b) = (yw, yb);
                break;
            }
            let nw = &yw - &(gw.clone() * step);
            let nb = &yb - &(gb.clone() * step);
            // Restart the momentum when it points uphill.
            let uphill = (&gw * &(&nw - &w)).sum() + (&gb * &(&nb - &b)).sum() > 0.0;
            let next_t = if uphill { 1.0 } else { (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0 };
            let momentum = if uphill { 0.0 } else { (t - 1.0) / next_t };
            yw = &nw + &((&nw - &w) * momentum);
            yb = &nb + &((&nb - &b) * momentum);
            (w, b, t) = (nw, nb, next_t);
        }
        Probe { weights: w, bias: b }
    }

    /// Predicted class of each row.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<u32> {
        let z = x.dot(&self.weights) + &self.bias;
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
    pub fn accuracy(&self, x: &Array2<f64>, y: &[u32]) -> f64 {
        let hits = self.predict(x).iter().zip(y).filter(|(a, b)| a == b).count();
        100.0 * hits as f64 / y.len().max(1) as f64
    }
}

/// Accuracy (%) on (`test_x`, `test_y`) of the probe trained on (`train_x`, `train_y`);
/// 0 when there is nothing to train on.
pub fn train_and_score(
    train_x: &Array2<f64>,
    train_y: &[u32],
    test_x: &Array2<f64>,
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
