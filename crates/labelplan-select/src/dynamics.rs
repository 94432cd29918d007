//! Training dynamics of a proxy head on the pseudo-labels (ELFS step 3, CCS's scores):
//! per item AUM, forgetting, EL2N, entropy and loss.
//!
//! A head on frozen embeddings fits cluster-derived labels fast, so dynamics are made to
//! exist: few epochs, Gaussian input noise, and with `folds` > 1 each item is tracked by
//! the head that does not train on it. The linear head's step size (5) was chosen on the
//! digits fixture: at 0.5 the head underfits in 20 epochs and AUM only ranks clusters
//! (ELFS at 10%: 76 vs 88 points, docs/quality.md).

use labelplan_core::backend::{Backend, Dense, Head, HeadStep, ItemStats, Record};
use labelplan_core::plan::{HeadKind, ScoreKind};
use labelplan_core::progress::Unit;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::context::Context;
use crate::error::Result;
use crate::rng::stream;

/// The score as a difficulty: higher = harder. `None` for scores not from training.
pub fn difficulty(stats: &ItemStats, kind: ScoreKind) -> Option<Vec<f32>> {
    Some(match kind {
        ScoreKind::Aum => stats.aum.iter().map(|v| -v).collect(),
        ScoreKind::El2n => stats.el2n.clone(),
        ScoreKind::Forgetting => stats.forgetting.clone(),
        ScoreKind::Entropy => stats.entropy.clone(),
        ScoreKind::CentroidDistance => return None,
    })
}

const BATCH: usize = 128;
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

/// Trains the proxy head(s) on the run's pseudo-labels and returns every item's scores.
pub async fn train<B: Backend>(ctx: &mut Context<'_, B>) -> Result<ItemStats> {
    let labels = ctx.clusters().await?.kmeans.assign.clone();
    let classes = ctx.clusters().await?.k;
    let s = ctx.settings;
    let (n, dim) = ctx.backend.shape(&ctx.points);
    let folds = s.folds.clamp(1, n.max(1));
    let mut training = ctx.backend.start_training(&ctx.points, &labels, classes).await?;
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
            ctx.tick("training dynamics", Unit::Epochs, (fold * s.epochs + epoch) as u64, total).await?;
            train.shuffle(&mut rng);
            let step = HeadStep {
                learning_rate,
                noise_std: s.noise_std / (dim as f32).sqrt(),
                noise_seed: s.seed.wrapping_mul(1_000_003) ^ ((fold * s.epochs + epoch) as u64),
            };
            let record = (folds == 1).then_some(epoch);
            ctx.backend
                .train_epoch(&mut training, &ctx.points, &mut head, &train, BATCH, step, record)
                .await?;
            if folds > 1 {
                let held_out: Vec<u32> = (0..n as u32).filter(|&i| fold_of[i as usize] == fold).collect();
                ctx.backend
                    .record_predictions(&mut training, &ctx.points, &head, &held_out, Record::Epoch(epoch))
                    .await?;
            }
        }
        let tracked: Vec<u32> =
            (0..n as u32).filter(|&i| folds == 1 || fold_of[i as usize] == fold).collect();
        ctx.backend.record_predictions(&mut training, &ctx.points, &head, &tracked, Record::Final).await?;
    }
    Ok(ctx.backend.training_stats(&training).await?)
}
