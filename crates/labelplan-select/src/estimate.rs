//! The label-free quality estimate: the fixed probe (see [`crate::probe`]) trained on a
//! set of picks with their pseudo-labels, scored against the pseudo-labels of a seeded
//! sample of the pool. The planner reports it per budget; ELFS and CCS use it (with the
//! sample held out of training) to choose their cutoff β.

use labelplan_core::Dataset;
use ndarray::Array2;

use crate::methods::random;
use crate::probe::{train_and_score, Standardizer};

/// Rows the estimate is scored on, at most.
const EVAL_MAX: usize = 5000;
/// Picks the probe trains on, at most (a prefix of the picks in rank order).
const TRAIN_MAX: usize = 5000;
/// Gradient steps of the estimating probe.
const ITERATIONS: usize = 300;

/// Scores sets of picks against pseudo-labels.
pub struct Estimator<'d> {
    data: &'d Dataset,
    standardizer: Standardizer,
    labels: Vec<u32>,
    classes: usize,
    in_eval: Vec<bool>,
    eval_x: Array2<f64>,
    eval_y: Vec<u32>,
}

impl<'d> Estimator<'d> {
    /// An estimator for `data` with pseudo-labels `labels` (< `classes`).
    pub fn new(data: &'d Dataset, labels: Vec<u32>, classes: usize, seed: u64) -> Self {
        let standardizer = Standardizer::fit(&data.values, data.rows, data.dim);
        let mut eval = random::order(&vec![false; data.rows], seed, "estimate sample");
        eval.truncate(EVAL_MAX);
        eval.sort_unstable();
        let mut in_eval = vec![false; data.rows];
        eval.iter().for_each(|&i| in_eval[i as usize] = true);
        let eval_x = standardizer.apply(&data.values, data.dim, &eval);
        let eval_y = eval.iter().map(|&i| labels[i as usize]).collect();
        Estimator { data, standardizer, labels, classes, in_eval, eval_x, eval_y }
    }

    fn score(&self, picks: &[u32], held_out: bool) -> f64 {
        let train: Vec<u32> = picks
            .iter()
            .copied()
            .filter(|&i| !(held_out && self.in_eval[i as usize]))
            .take(TRAIN_MAX)
            .collect();
        let x = self.standardizer.apply(&self.data.values, self.data.dim, &train);
        let y: Vec<u32> = train.iter().map(|&i| self.labels[i as usize]).collect();
        train_and_score(&x, &y, &self.eval_x, &self.eval_y, self.classes, ITERATIONS)
    }

    /// Accuracy (%) against pseudo-labels of the probe trained on `picks`.
    pub fn quality(&self, picks: &[u32]) -> f64 {
        self.score(picks, false)
    }

    /// The same with the scoring sample left out of training (for choosing β).
    pub fn held_out_quality(&self, picks: &[u32]) -> f64 {
        self.score(picks, true)
    }
}
