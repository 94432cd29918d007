//! The post-hoc router baseline (Deja Vu / MoEfication style): the frozen dense model
//! runs on training text and each expert's hidden activation norm is recorded; an
//! expert matters for a token iff its norm is above its layer's quantile at the target
//! sparsity; each layer's router is then a logistic regression from the FFN input to
//! "matters", fitted by binary cross-entropy. The model never sees the router while it
//! is fitted, which is what LTE's joint objective improves on.

use std::cell::RefCell;

use candle_core::{DType, Device, Result, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use labelplan_lm::experts::EXPERT_SIZE;
use labelplan_lm::sparse::Routers;

use crate::llama::Llama;
use crate::lte::{self, THRESHOLD};

/// What the dense model did on the training text, per layer.
pub struct Activations {
    /// FFN inputs after the norm, `tokens × dim`.
    pub inputs: Vec<Tensor>,
    /// Each expert's hidden activation norm, `tokens × experts`.
    pub norms: Vec<Tensor>,
}

/// The dense model's FFN inputs and expert norms on `windows` windows of `positions`
/// tokens of `stream` (taken as [`lte::batch`] takes them, 4 at a time).
pub fn record(llama: &Llama, stream: &[u32], windows: usize, positions: usize) -> Result<Activations> {
    let layers = llama.config().layers;
    let seen = RefCell::new((vec![Vec::new(); layers], vec![Vec::new(); layers]));
    let observe = |l: usize, h: &Tensor, hidden: &Tensor| {
        let (tokens, ff) = hidden.dims2()?;
        let experts = ff / EXPERT_SIZE;
        let norms = hidden.reshape((tokens, experts, EXPERT_SIZE))?.sqr()?.sum(D::Minus1)?.sqrt()?;
        let mut seen = seen.borrow_mut();
        seen.0[l].push(h.detach());
        seen.1[l].push(norms);
        Tensor::ones((tokens, experts), DType::F32, h.device())
    };
    const BATCH: usize = 4;
    for step in 0..windows.div_ceil(BATCH) {
        let (inputs, _) = lte::batch(stream, step, BATCH, positions, &Device::Cpu)?;
        llama.forward(&inputs, Some(&observe))?;
    }
    let (inputs, norms) = seen.into_inner();
    let cat = |parts: Vec<Vec<Tensor>>| parts.iter().map(|p| Tensor::cat(p, 0)).collect::<Result<Vec<_>>>();
    Ok(Activations { inputs: cat(inputs)?, norms: cat(norms)? })
}

/// Routers fitted to `activations` for a share `sparsity` of experts off: per layer,
/// `steps` full-batch AdamW steps at `learning_rate` on the binary cross-entropy.
pub fn fit(activations: &Activations, sparsity: f32, steps: usize, learning_rate: f64) -> Result<Routers> {
    let (mut weights, mut bias) = (Vec::new(), Vec::new());
    for (x, norms) in activations.inputs.iter().zip(&activations.norms) {
        let (_, dim) = x.dims2()?;
        let experts = norms.dim(1)?;
        let labels = norms.ge(quantile(norms, sparsity)? as f64)?.to_dtype(DType::F32)?;
        let w = Var::zeros((dim, experts), DType::F32, x.device())?;
        // Starting at the labels' base rate, each expert's log-odds of mattering.
        let rate = (1.0 - sparsity).clamp(1e-3, 1.0 - 1e-3);
        let b = Var::from_tensor(&Tensor::full((rate / (1.0 - rate)).ln(), experts, x.device())?)?;
        let params = ParamsAdamW { lr: learning_rate, weight_decay: 0.0, ..Default::default() };
        let mut optimizer = AdamW::new(vec![w.clone(), b.clone()], params)?;
        for _ in 0..steps {
            let z = x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            optimizer.backward_step(&binary_cross_entropy(&z, &labels)?)?;
        }
        weights.push(w.as_tensor().t()?.contiguous()?.flatten_all()?.to_vec1()?);
        bias.push(b.as_tensor().to_vec1()?);
    }
    Ok(Routers { weights, bias, threshold: THRESHOLD, scales: None })
}

/// The value under which a share `share` of `values` fall.
fn quantile(values: &Tensor, share: f32) -> Result<f32> {
    let mut v = values.flatten_all()?.to_vec1::<f32>()?;
    v.sort_by(f32::total_cmp);
    let at = ((share as f64 * v.len() as f64) as usize).min(v.len() - 1);
    Ok(v[at])
}

/// Mean binary cross-entropy of logits `z` against 0/1 `labels`, without overflow:
/// `softplus(z) − y·z` with `softplus(z) = max(z, 0) + ln(1 + e^−|z|)`.
fn binary_cross_entropy(z: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let softplus = (z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    (softplus - (labels * z)?)?.mean_all()
}
