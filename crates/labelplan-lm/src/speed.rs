//! How fast the FFN and a whole decoded token run against the share of experts switched
//! off, on either pass: `bench_lm`'s table natively and the page's "time it here" in the
//! browser measure the same way, so their figures compare.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::experts::EXPERT_SIZE;
use crate::gpu::GpuModelError;
use crate::model::Config;
use crate::session::Session;
use crate::sparse::{Routers, Sparsity};

/// The rows: a name and the share of each layer's experts off (`None`: the dense FFN).
pub const SHARES: [(&str, Option<f32>); 5] = [
    ("dense", None),
    ("routed, 0% off", Some(0.0)),
    ("30% off", Some(0.3)),
    ("50% off", Some(0.5)),
    ("70% off", Some(0.7)),
];

/// Routers that switch off `share` of each layer's experts for every token (zero weights,
/// a bias of ±1; a different set per layer, scattered so no run of neighbours helps): the
/// router and the sparse kernels run as with trained routers, at an exact sparsity.
pub fn fixed_share(c: &Config, share: f32) -> Sparsity {
    let experts = c.ff / EXPERT_SIZE;
    let off = (share * experts as f32).round() as usize;
    let masks: Vec<Vec<bool>> =
        (0..c.layers).map(|l| (0..experts).map(|e| (7 * e + 5 * l) % experts >= off).collect()).collect();
    Sparsity::Routers(Routers::from_masks(&masks, c.dim))
}

/// How much to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedPlan {
    /// Rounds over every row, taken in turns; each row keeps its best. A machine's
    /// speed drifts from minute to minute, and a turn-about sees the same drift.
    pub rounds: usize,
    /// Passes over every layer's FFN timed per row and round.
    pub ffn_repeats: usize,
    /// Tokens decoded per row and round, after the prompt.
    pub decode_tokens: usize,
}

/// One row's best figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedRow {
    /// What runs, as [`SHARES`] names it.
    pub name: String,
    /// The share of each layer's experts off (`None`: the dense FFN).
    pub off: Option<f32>,
    /// Milliseconds for every layer's FFN once: one token's FFN work.
    pub ffn_ms: f64,
    /// Decoded tokens per second.
    pub tokens_per_second: f64,
}

impl SpeedRow {
    /// This row's FFN time over `dense`'s.
    pub fn ffn_ratio(&self, dense: &SpeedRow) -> f64 {
        self.ffn_ms / dense.ffn_ms
    }

    /// This row's time per decoded token over `dense`'s.
    pub fn token_ratio(&self, dense: &SpeedRow) -> f64 {
        dense.tokens_per_second / self.tokens_per_second
    }
}

/// Times each of [`SHARES`] on `session`, whose model must be
/// [grouped](crate::Model::grouped) and hold `prompt` and `plan.decode_tokens` more
/// positions: the FFN alone ([`Session::run_ffns`]) and decoding after `prompt`.
/// `now_ms` reads a clock in milliseconds. `between(done, total)` (rows done of all
/// rows of all rounds) is awaited before each timed span, never inside one: progress,
/// the browser's event loop. It stops the run by answering false (`Ok(None)`).
pub async fn measure<F: Future<Output = bool>>(
    session: &mut Session,
    plan: SpeedPlan,
    prompt: &[u32],
    now_ms: &dyn Fn() -> f64,
    mut between: impl FnMut(usize, usize) -> F,
) -> Result<Option<Vec<SpeedRow>>, GpuModelError> {
    let c = session.config().clone();
    let mut rows: Vec<SpeedRow> = SHARES
        .iter()
        .map(|&(name, off)| SpeedRow {
            name: name.into(),
            off,
            ffn_ms: f64::INFINITY,
            tokens_per_second: 0.0,
        })
        .collect();
    let total = plan.rounds * rows.len();
    for round in 0..plan.rounds {
        for (i, row) in rows.iter_mut().enumerate() {
            let done = round * SHARES.len() + i;
            if !between(done, total).await {
                return Ok(None);
            }
            session.set_sparsity(row.off.map_or(Sparsity::Dense, |s| fixed_share(&c, s))).await?;
            // Compiles the GPU's pipelines and warms the caches; not counted.
            session.run_ffns(1).await?;
            if !between(done, total).await {
                return Ok(None);
            }
            let start = now_ms();
            session.run_ffns(plan.ffn_repeats).await?;
            row.ffn_ms = row.ffn_ms.min((now_ms() - start) / plan.ffn_repeats as f64);
            let mut next = session.feed(prompt, false).await?.greedy;
            let mut decoding = 0.0;
            for _ in 0..plan.decode_tokens {
                if !between(done, total).await {
                    return Ok(None);
                }
                let start = now_ms();
                next = session.feed(&[next], false).await?.greedy;
                decoding += now_ms() - start;
            }
            row.tokens_per_second = row.tokens_per_second.max(plan.decode_tokens as f64 * 1000.0 / decoding);
        }
    }
    Ok(Some(rows))
}
