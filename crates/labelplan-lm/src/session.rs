//! A conversation with the model on either pass: tokens fed so far, their cache, and the
//! next token's logits. The CLI and the page's worker both drive it, a few tokens at a
//! time, so the caller decides when to pause (the browser's event loop) or stop.

use std::sync::Arc;

use labelplan_gpu::GpuContext;

use crate::gpu::{GpuModel, GpuModelError};
use crate::model::{argmax, Cache, Model};

/// Where the forward pass runs.
#[derive(Debug)]
enum Pass {
    Cpu { model: Arc<Model>, cache: Cache },
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
        Session { pass: Pass::Cpu { model, cache }, fed: Vec::new(), positions }
    }

    /// A session on the GPU `ctx` (the model is uploaded).
    pub async fn gpu(ctx: &GpuContext, model: &Model, positions: usize) -> Result<Session, GpuModelError> {
        let gpu = GpuModel::upload(ctx, model, positions).await?;
        Ok(Session { pass: Pass::Gpu(Box::new(gpu)), fed: Vec::new(), positions })
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
            Pass::Cpu { cache, .. } => cache.len = keep,
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
            Pass::Cpu { model, cache } => {
                let mut last = Vec::new();
                for &t in tokens {
                    last = model.forward(t, cache);
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
}
