//! The label-free quality estimate: the fixed probe (see [`crate::probe`]) trained on a
//! set of picks with pseudo-labels, scored against the pseudo-labels of a seeded sample
//! of the pool. The planner reports it per budget; ELFS and CCS use it (with the sample
//! held out of training) to choose their cutoff β.
//!
//! The two uses label differently. β is chosen, as ELFS does, against the pseudo-label
//! clusters. The budget estimate stands for the team's task, so its pseudo-task has as
//! many classes as the task ([`Settings::task_classes`], else the clusters' K), made by
//! k-means in the probe's own standardized space, and it is the mean over
//! [`TASK_LABELINGS`] such labelings: on the quality suite this put the knee of the
//! estimate within ×1.2 of the true curve's knee where one spherical labeling of the
//! silhouette's K was off by up to ×2.8 (docs/selection.md).
//!
//! [`Settings::task_classes`]: labelplan_core::plan::Settings::task_classes

use labelplan_core::backend::Backend;
use labelplan_core::det;
use ndarray::{Array2, Axis};
use rand::Rng;

use crate::context::Context;
use crate::error::Result;
use crate::methods::random;
use crate::probe::train_and_score;
use crate::rng::stream;

/// Rows the estimate is scored on, at most (and at most held out for β).
const EVAL_MAX: usize = 5000;
/// Picks the probe trains on, at most (a prefix of the picks in rank order).
const TRAIN_MAX: usize = 5000;
/// Steps of the estimating probe: its objective is then within about 3e-4 of the optimum
/// on digits and 1e-5 on the 100k benchmark blobs (`Probe::fit` converges in ~300).
const ITERATIONS: usize = 100;
/// Steps of the probe that compares cutoffs β: it ranks 10–20 of them per budget, and at
/// 50 steps its objective is within about 1e-3 of the optimum.
const BETA_ITERATIONS: usize = 50;
/// Pseudo-tasks the budget estimate averages over: one k-means labeling can split a
/// class its own way, and a single one moved the knee by up to 25% on digits.
pub const TASK_LABELINGS: usize = 3;
/// Lloyd steps of a pseudo-task's k-means, at most (it stops when no label changes).
const TASK_STEPS: usize = 50;

/// A pseudo-task: k-means centroids in the standardized space; a row's label is its
/// nearest centroid (so the classes are what a linear probe can learn).
struct Task {
    centroids: Array2<f32>,
}

impl Task {
    /// k-means++ seeds, then Lloyd steps, on the standardized rows `x`; with the labels
    /// of `x` under the final centroids.
    fn fit(x: &Array2<f32>, classes: usize, rng: &mut impl Rng) -> (Task, Vec<u32>) {
        let n = x.nrows();
        let k = classes.clamp(1, n.max(1));
        let mut chosen = vec![rng.random_range(0..n)];
        let mut nearest = vec![f64::INFINITY; n];
        while chosen.len() < k {
            let last = x.row(*chosen.last().expect("one seed"));
            for (d, row) in nearest.iter_mut().zip(x.rows()) {
                let s: f64 = row.iter().zip(last).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
                *d = d.min(s);
            }
            let total: f64 = nearest.iter().sum();
            if total <= 0.0 {
                break; // fewer distinct rows than classes
            }
            let mut target = rng.random::<f64>() * total;
            let pick = nearest.iter().position(|&w| {
                target -= w;
                target < 0.0
            });
            chosen.push(pick.unwrap_or(n - 1));
        }
        let mut task = Task { centroids: x.select(Axis(0), &chosen) };
        let mut labels = task.label(x);
        for _ in 0..TASK_STEPS {
            task.centroids = means(x, &labels, &task.centroids);
            let next = task.label(x);
            if next == labels {
                break;
            }
            labels = next;
        }
        (task, labels)
    }

    /// Each row's nearest centroid: the largest `x·c − |c|²/2`.
    fn label(&self, x: &Array2<f32>) -> Vec<u32> {
        let half_norms: Vec<f32> = self
            .centroids
            .rows()
            .into_iter()
            .map(|c| (0.5 * c.iter().map(|&v| (v as f64).powi(2)).sum::<f64>()) as f32)
            .collect();
        let scores = det::matmul(x.view(), self.centroids.t());
        scores
            .rows()
            .into_iter()
            .map(|row| {
                let mut best = 0;
                for c in 1..row.len() {
                    if row[c] - half_norms[c] > row[best] - half_norms[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect()
    }
}

/// The mean of each label's rows; a label with no rows keeps its centroid.
fn means(x: &Array2<f32>, labels: &[u32], old: &Array2<f32>) -> Array2<f32> {
    let (k, dim) = old.dim();
    let mut sums = Array2::<f64>::zeros((k, dim));
    let mut counts = vec![0usize; k];
    for (row, &l) in x.rows().into_iter().zip(labels) {
        let l = l as usize;
        counts[l] += 1;
        sums.row_mut(l).iter_mut().zip(row).for_each(|(s, &v)| *s += v as f64);
    }
    let mut centroids = old.clone();
    for (c, &count) in counts.iter().enumerate() {
        if count > 0 {
            let mean = sums.row(c).mapv(|s| (s / count as f64) as f32);
            centroids.row_mut(c).assign(&mean);
        }
    }
    centroids
}

/// Scores sets of picks against pseudo-labels.
pub struct Estimator {
    /// The pseudo-label clusters of the pool (for β) and their number.
    clusters: Vec<u32>,
    k: usize,
    /// The pseudo-tasks of the budget estimate, their classes, and each one's labels of
    /// the scoring sample.
    tasks: Vec<Task>,
    task_classes: usize,
    eval_x: Array2<f32>,
    eval_y: Vec<Vec<u32>>,
    in_holdout: Vec<bool>,
    holdout_x: Array2<f32>,
    holdout_y: Vec<u32>,
}

impl Estimator {
    /// An estimator for the run's pool with pseudo-label clusters `clusters` (< `k`),
    /// whose budget estimate learns tasks of `task_classes` classes.
    pub async fn new<B: Backend>(
        ctx: &Context<'_, B>,
        clusters: Vec<u32>,
        k: usize,
        task_classes: usize,
        seed: u64,
    ) -> Result<Self> {
        let (n, dim) = (ctx.n, ctx.data.dim);
        let standardizer = &ctx.standardizer;
        let order = random::order(&vec![false; n], seed, "estimate sample");
        // The scoring sample, and its first fifth as the split held out when choosing β.
        let sample = |len: usize| {
            let mut rows = order[..len].to_vec();
            rows.sort_unstable();
            rows
        };
        let eval = sample(n.min(EVAL_MAX));
        let holdout = sample((n / 5).clamp(1, EVAL_MAX));
        let mut in_holdout = vec![false; n];
        holdout.iter().for_each(|&i| in_holdout[i as usize] = true);
        let eval_x = standardizer.apply_block(&ctx.raw_rows(&eval).await?, dim);
        let mut rng = stream(seed, "estimate tasks");
        let (tasks, eval_y) = (0..TASK_LABELINGS).map(|_| Task::fit(&eval_x, task_classes, &mut rng)).unzip();
        Ok(Estimator {
            eval_y,
            eval_x,
            holdout_x: standardizer.apply_block(&ctx.raw_rows(&holdout).await?, dim),
            holdout_y: holdout.iter().map(|&i| clusters[i as usize]).collect(),
            in_holdout,
            clusters,
            k,
            tasks,
            task_classes,
        })
    }

    /// The standardized rows of (at most [`TRAIN_MAX`] of) `picks`, with the picks.
    async fn train_rows<B: Backend>(
        ctx: &Context<'_, B>,
        picks: impl Iterator<Item = u32>,
    ) -> Result<(Array2<f32>, Vec<u32>)> {
        let train: Vec<u32> = picks.take(TRAIN_MAX).collect();
        Ok((ctx.standardizer.apply_block(&ctx.raw_rows(&train).await?, ctx.data.dim), train))
    }

    /// The budget estimate (%): the mean accuracy, over the pseudo-tasks, of the probe
    /// trained on `picks` with a task's labels against that task's labels of the sample.
    pub async fn quality<B: Backend>(&self, ctx: &Context<'_, B>, picks: &[u32]) -> Result<f64> {
        let (tx, _) = Self::train_rows(ctx, picks.iter().copied()).await?;
        let total: f64 = self
            .tasks
            .iter()
            .zip(&self.eval_y)
            .map(|(task, ey)| {
                train_and_score(&tx, &task.label(&tx), &self.eval_x, ey, self.task_classes, ITERATIONS)
            })
            .sum();
        Ok(total / self.tasks.len() as f64)
    }

    /// Accuracy (%) against the pseudo-label clusters of the probe trained on `picks` less
    /// the held-out split, scored on that split (for choosing β).
    pub async fn held_out_quality<B: Backend>(&self, ctx: &Context<'_, B>, picks: &[u32]) -> Result<f64> {
        let train = picks.iter().copied().filter(|&i| !self.in_holdout[i as usize]);
        let (tx, rows) = Self::train_rows(ctx, train).await?;
        let ty: Vec<u32> = rows.iter().map(|&i| self.clusters[i as usize]).collect();
        Ok(train_and_score(&tx, &ty, &self.holdout_x, &self.holdout_y, self.k, BETA_ITERATIONS))
    }
}
