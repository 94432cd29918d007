//! The label-free quality estimate: the fixed probe (see [`crate::probe`]) trained on a
//! set of picks with their pseudo-labels, scored against the pseudo-labels of a seeded
//! sample of the pool. The planner reports it per budget; ELFS and CCS use it (with the
//! sample held out of training) to choose their cutoff β.

use labelplan_core::backend::Backend;
use ndarray::Array2;

use crate::context::Context;
use crate::error::Result;
use crate::methods::random;
use crate::probe::train_and_score;

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

/// Scores sets of picks against pseudo-labels.
pub struct Estimator {
    labels: Vec<u32>,
    classes: usize,
    eval_x: Array2<f32>,
    eval_y: Vec<u32>,
    in_holdout: Vec<bool>,
    holdout_x: Array2<f32>,
    holdout_y: Vec<u32>,
}

impl Estimator {
    /// An estimator for the run's pool with pseudo-labels `labels` (< `classes`).
    pub async fn new<B: Backend>(
        ctx: &Context<'_, B>,
        labels: Vec<u32>,
        classes: usize,
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
        let ys = |rows: &[u32]| rows.iter().map(|&i| labels[i as usize]).collect();
        Ok(Estimator {
            eval_x: standardizer.apply_block(&ctx.raw_rows(&eval).await?, dim),
            eval_y: ys(&eval),
            holdout_x: standardizer.apply_block(&ctx.raw_rows(&holdout).await?, dim),
            holdout_y: ys(&holdout),
            in_holdout,
            labels,
            classes,
        })
    }

    /// Trains on (at most [`TRAIN_MAX`] of) `picks` and scores on `(x, y)`.
    async fn score<B: Backend>(
        &self,
        ctx: &Context<'_, B>,
        picks: impl Iterator<Item = u32>,
        (x, y): (&Array2<f32>, &[u32]),
        iterations: usize,
    ) -> Result<f64> {
        let train: Vec<u32> = picks.take(TRAIN_MAX).collect();
        let tx = ctx.standardizer.apply_block(&ctx.raw_rows(&train).await?, ctx.data.dim);
        let ty: Vec<u32> = train.iter().map(|&i| self.labels[i as usize]).collect();
        Ok(train_and_score(&tx, &ty, x, y, self.classes, iterations))
    }

    /// Accuracy (%) against pseudo-labels of the probe trained on `picks`.
    pub async fn quality<B: Backend>(&self, ctx: &Context<'_, B>, picks: &[u32]) -> Result<f64> {
        self.score(ctx, picks.iter().copied(), (&self.eval_x, &self.eval_y), ITERATIONS).await
    }

    /// The same with the scoring sample left out of training (for choosing β).
    pub async fn held_out_quality<B: Backend>(&self, ctx: &Context<'_, B>, picks: &[u32]) -> Result<f64> {
        let train = picks.iter().copied().filter(|&i| !self.in_holdout[i as usize]);
        self.score(ctx, train, (&self.holdout_x, &self.holdout_y), BETA_ITERATIONS).await
    }
}
