//! A conversation with the model on either pass: tokens fed so far, their cache, and the
//! next token's logits. The CLI and the page's worker both drive it, a few tokens at a
//! time, so the caller decides when to pause (the browser's event loop) or stop.

use std::sync::Arc;

use labelplan_gpu::GpuContext;

use crate::gpu::{GpuModel, GpuModelError};
use crate::model::{argmax, Cache, Config, Model};
use crate::sparse::{FfnScratch, Sparsity};

/// Where the forward pass runs. The CPU keeps its sparsity and which experts each fed
/// position used (bit e of `used[position][layer]`); the GPU keeps both on the device.
#[derive(Debug)]
enum Pass {
    Cpu { model: Arc<Model>, cache: Cache, sparsity: Sparsity, used: Vec<Vec<u64>> },
    Gpu(Box<GpuModel>),
}

/// What feeding tokens gives: the greedy next token and, when asked for, the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    /// The most likely next token.
    pub greedy: u32,
    /// Every token's logit (asked for by sampling; the GPU reads them back only then).
    pub logits: Option<Vec<f32>>,
}

/// The model with a cache of `positions` tokens on one pass.
#[derive(Debug)]
pub struct Session {
    pass: Pass,
    fed: Vec<u32>,
    positions: usize,
}

impl Session {
    /// A session on the CPU.
    pub fn cpu(model: Arc<Model>, positions: usize) -> Session {
        let cache = model.cache(positions);
        let pass = Pass::Cpu { model, cache, sparsity: Sparsity::Dense, used: Vec::new() };
        Session { pass, fed: Vec::new(), positions }
    }

    /// A session on the GPU `ctx` (the model is uploaded).
    pub async fn gpu(ctx: &GpuContext, model: &Model, positions: usize) -> Result<Session, GpuModelError> {
        let gpu = GpuModel::upload(ctx, model, positions).await?;
        Ok(Session { pass: Pass::Gpu(Box::new(gpu)), fed: Vec::new(), positions })
    }

    /// The model's shape.
    pub fn config(&self) -> &Config {
        match &self.pass {
            Pass::Cpu { model, .. } => &model.config,
            Pass::Gpu(gpu) => gpu.config(),
        }
    }

    /// Whether the pass runs on the GPU.
    pub fn on_gpu(&self) -> bool {
        matches!(self.pass, Pass::Gpu(_))
    }

    /// Positions the cache holds.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// The tokens fed so far.
    pub fn fed(&self) -> &[u32] {
        &self.fed
    }

    /// Keeps the longest prefix of what was fed that `prompt` starts with (at most all of
    /// `prompt` but one token, so feeding the rest gives logits) and returns its length:
    /// a conversation's next turn feeds only what is new.
    pub fn keep_prefix_of(&mut self, prompt: &[u32]) -> usize {
        let same = self.fed.iter().zip(prompt).take_while(|(a, b)| a == b).count();
        let keep = same.min(prompt.len().saturating_sub(1));
        self.fed.truncate(keep);
        match &mut self.pass {
            Pass::Cpu { cache, used, .. } => {
                cache.len = keep;
                used.truncate(keep);
            }
            Pass::Gpu(gpu) => gpu.truncate(keep),
        }
        keep
    }

    /// Feeds `tokens` (at least one) after those fed so far and returns the next token's
    /// greedy choice, with the logits when `logits` is set.
    pub async fn feed(&mut self, tokens: &[u32], logits: bool) -> Result<Next, GpuModelError> {
        let wanted = self.fed.len() + tokens.len();
        if wanted > self.positions {
            return Err(GpuModelError::Full { positions: self.positions, wanted });
        }
        let next = match &mut self.pass {
            Pass::Cpu { model, cache, sparsity, used } => {
                let mut last = Vec::new();
                for &t in tokens {
                    let mut masks = Vec::with_capacity(model.layers.len());
                    last = model.forward_with(t, cache, sparsity, |_, s| masks.push(mask_bits(&s.active)));
                    used.push(masks);
                }
                Next { greedy: argmax(&last), logits: logits.then_some(last) }
            }
            Pass::Gpu(gpu) => {
                let greedy = gpu.feed(tokens).await?;
                let logits = if logits { Some(gpu.logits().await?) } else { None };
                Next { greedy, logits }
            }
        };
        self.fed.extend_from_slice(tokens);
        Ok(next)
    }

    /// Chooses each FFN's experts by `sparsity` from now on, and forgets what was fed
    /// (its cache was made with the experts chosen before). The model must be
    /// [grouped](Model::grouped) for anything but [`Sparsity::Dense`].
    pub async fn set_sparsity(&mut self, sparsity: Sparsity) -> Result<(), GpuModelError> {
        self.keep_prefix_of(&[]);
        match &mut self.pass {
            Pass::Cpu { sparsity: s, .. } => *s = sparsity,
            Pass::Gpu(gpu) => gpu.set_sparsity(&sparsity).await?,
        }
        Ok(())
    }

    /// Runs every layer's FFN `repeats` times on a fixed input with the sparsity set:
    /// what a benchmark times to tell the FFN's share of a token from the rest. Forgets
    /// what was fed (the GPU overwrites its residual stream).
    pub async fn run_ffns(&mut self, repeats: usize) -> Result<(), GpuModelError> {
        self.keep_prefix_of(&[]);
        match &mut self.pass {
            Pass::Cpu { model, sparsity, .. } => {
                let c = &model.config;
                let h: Vec<f32> = (0..c.dim).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 2.0).collect();
                let (mut out, mut scratch) = (vec![0.0; c.dim], FfnScratch::new(c.ff));
                for _ in 0..repeats {
                    for (l, layer) in model.layers.iter().enumerate() {
                        sparsity.ffn(layer, l, &h, &mut out, model.products, &mut scratch);
                    }
                }
                std::hint::black_box(&out);
            }
            Pass::Gpu(gpu) => gpu.run_ffns(repeats).await?,
        }
        Ok(())
    }

    /// Which experts each fed position used, per layer (bit e for expert e); `None` when
    /// the FFNs run dense.
    pub async fn experts_used(&self) -> Result<Option<Vec<Vec<u64>>>, GpuModelError> {
        match &self.pass {
            Pass::Cpu { sparsity: Sparsity::Dense, .. } => Ok(None),
            Pass::Cpu { used, .. } => Ok(Some(used.clone())),
            Pass::Gpu(gpu) => gpu.experts_used().await,
        }
    }
}

/// `active` as bits, expert e at bit e (at most 64 experts).
pub fn mask_bits(active: &[bool]) -> u64 {
    active.iter().enumerate().map(|(e, &on)| u64::from(on) << e).sum()
}
