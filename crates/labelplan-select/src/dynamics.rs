//! Training dynamics of a proxy head on the pseudo-labels (ELFS step 3, CCS's scores):
//! per item AUM, forgetting, EL2N, entropy and loss.
//!
//! A head on frozen embeddings fits cluster-derived labels fast, so dynamics are made to
//! exist: few epochs, Gaussian input noise, and with `folds` > 1 each item is tracked by
//! the head that does not train on it. The linear head's step size (5) was chosen on the
//! digits fixture: at 0.5 the head underfits in 20 epochs and AUM only ranks clusters
//! (ELFS at 10%: 76 vs 88 points, docs/quality.md).

use labelplan_core::backend::{Backend, Dense, Head, HeadStep};
use labelplan_core::plan::{HeadKind, ScoreKind};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::context::Context;
use crate::error::Result;
use crate::rng::stream;

/// Per-item scores from proxy training.
#[derive(Debug, Clone, PartialEq)]
pub struct Dynamics {
    /// Σ over epochs of p_y − max_{c≠y} p_c (low = hard).
    pub aum: Vec<f32>,
    /// Σ over the first 10 epochs of ‖p − onehot(y)‖₂ (high = hard).
    pub el2n: Vec<f32>,
    /// Correct → incorrect flips between consecutive epochs (high = hard).
    pub forgetting: Vec<f32>,
    /// Entropy of the final prediction (high = hard).
    pub entropy: Vec<f32>,
    /// Cross-entropy of the final prediction against the pseudo-label (high = hard).
    pub loss: Vec<f32>,
}

impl Dynamics {
    /// The score as a difficulty: higher = harder. `None` for scores not from training.
    pub fn difficulty(&self, kind: ScoreKind) -> Option<Vec<f32>> {
        Some(match kind {
            ScoreKind::Aum => self.aum.iter().map(|v| -v).collect(),
            ScoreKind::El2n => self.el2n.clone(),
            ScoreKind::Forgetting => self.forgetting.clone(),
            ScoreKind::Entropy => self.entropy.clone(),
            ScoreKind::CentroidDistance => return None,
        })
    }
}

const BATCH: usize = 128;
const EL2N_EPOCHS: usize = 10;
const HIDDEN: usize = 128;

fn layer(inputs: usize, outputs: usize, rng: &mut impl Rng) -> Dense {
    let limit = (6.0 / (inputs + outputs) as f32).sqrt();
    Dense {
        inputs,
        outputs,
        weights: (0..inputs * outputs).map(|_| rng.random_range(-limit..limit)).collect(),
        bias: vec![0.0; outputs],
    }
}

fn new_head(kind: HeadKind, dim: usize, classes: usize, rng: &mut impl Rng) -> Head {
    match kind {
        HeadKind::Linear => Head {
            layers: vec![Dense {
                inputs: dim,
                outputs: classes,
                weights: vec![0.0; dim * classes],
                bias: vec![0.0; classes],
            }],
        },
        HeadKind::Mlp => Head { layers: vec![layer(dim, HIDDEN, rng), layer(HIDDEN, classes, rng)] },
    }
}

/// Running per-item statistics.
struct Tracker {
    dyn_: Dynamics,
    correct: Vec<Option<bool>>,
}

impl Tracker {
    fn record(&mut self, item: usize, p: &[f32], y: usize, epoch: usize) {
        let other = p.iter().enumerate().filter(|(c, _)| *c != y).map(|(_, &v)| v).fold(0.0f32, f32::max);
        self.dyn_.aum[item] += p[y] - other;
        let argmax = p.iter().enumerate().fold(0, |b, (c, &v)| if v > p[b] { c } else { b });
        let correct = argmax == y;
        if self.correct[item] == Some(true) && !correct {
            self.dyn_.forgetting[item] += 1.0;
        }
        self.correct[item] = Some(correct);
        if epoch < EL2N_EPOCHS {
            let err: f32 =
                p.iter().enumerate().map(|(c, &v)| (v - if c == y { 1.0 } else { 0.0 }).powi(2)).sum();
            self.dyn_.el2n[item] += err.sqrt();
        }
    }

    fn finish(&mut self, item: usize, p: &[f32], y: usize) {
        self.dyn_.entropy[item] = -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f32>();
        self.dyn_.loss[item] = -p[y].max(1e-12).ln();
    }
}

/// Trains the proxy head(s) on the run's pseudo-labels and returns every item's scores.
pub fn train<B: Backend>(ctx: &mut Context<'_, B>) -> Result<Dynamics> {
    let labels = ctx.clusters()?.kmeans.assign.clone();
    let classes = ctx.clusters()?.k;
    let s = ctx.settings;
    let (n, dim) = ctx.backend.shape(&ctx.points);
    let folds = s.folds.clamp(1, n.max(1));
    let zeros = vec![0.0f32; n];
    let mut t = Tracker {
        dyn_: Dynamics {
            aum: zeros.clone(),
            el2n: zeros.clone(),
            forgetting: zeros.clone(),
            entropy: zeros.clone(),
            loss: zeros,
        },
        correct: vec![None; n],
    };
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut stream(s.seed, "folds"));
    let fold_of: Vec<usize> = {
        let mut f = vec![0; n];
        for (pos, &i) in order.iter().enumerate() {
            f[i as usize] = pos % folds;
        }
        f
    };
    let learning_rate = s.learning_rate.unwrap_or(match s.head {
        HeadKind::Linear => 5.0,
        HeadKind::Mlp => 0.1,
    });
    let total = (folds * s.epochs) as u64;
    for fold in 0..folds {
        let mut rng = stream(s.seed ^ fold as u64, "proxy head");
        let mut head = new_head(s.head, dim, classes, &mut rng);
        let mut train: Vec<u32> =
            (0..n as u32).filter(|&i| folds == 1 || fold_of[i as usize] != fold).collect();
        for epoch in 0..s.epochs {
            ctx.tick("training dynamics", (fold * s.epochs + epoch) as u64, total)?;
            train.shuffle(&mut rng);
            let step = HeadStep {
                learning_rate,
                noise_std: s.noise_std / (dim as f32).sqrt(),
                noise_seed: s.seed.wrapping_mul(1_000_003) ^ ((fold * s.epochs + epoch) as u64),
            };
            for batch in train.chunks(BATCH) {
                let y: Vec<u32> = batch.iter().map(|&i| labels[i as usize]).collect();
                let probs = ctx.backend.head_step(&ctx.points, batch, &y, &mut head, step)?;
                if folds == 1 {
                    for (b, &i) in batch.iter().enumerate() {
                        t.record(i as usize, &probs[b * classes..(b + 1) * classes], y[b] as usize, epoch);
                    }
                }
            }
            if folds > 1 {
                let probs = ctx.backend.head_predict(&ctx.points, &head)?;
                for i in (0..n).filter(|&i| fold_of[i] == fold) {
                    t.record(i, &probs[i * classes..(i + 1) * classes], labels[i] as usize, epoch);
                }
            }
        }
        let probs = ctx.backend.head_predict(&ctx.points, &head)?;
        for i in (0..n).filter(|&i| folds == 1 || fold_of[i] == fold) {
            t.finish(i, &probs[i * classes..(i + 1) * classes], labels[i] as usize);
        }
    }
    Ok(t.dyn_)
}
