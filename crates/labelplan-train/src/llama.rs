//! The Llama forward pass over a batch of sequences in candle's tensors, for training:
//! every weight frozen (plain tensors, so autograd computes no gradient for them) and
//! every operation one candle differentiates, so a loss's gradient reaches the routers
//! through all the layers after them.

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Storage, Tensor, D};
use labelplan_lm::model::{rope_angle, Matrix, Model};

/// `x · W` for a frozen `W` (inputs × outputs), as one operation whose backward pass
/// is `grad · Wᵀ` alone: candle's own product also computes the gradient of `W`, which
/// doubled the backward pass's time for weights that never learn.
#[derive(Clone)]
struct Frozen(Tensor);

impl CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (start, end) =
            layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("a strided input".into()))?;
        let x = Tensor::from_slice(&storage.as_slice::<f32>()?[start..end], layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.0)?;
        let (out, _) = y.storage_and_layout();
        match &*out {
            Storage::Cpu(cpu) => Ok((cpu.clone(), y.shape().clone())),
            _ => candle_core::bail!("frozen-linear runs on the CPU"),
        }
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.0.t()?)?))
    }
}

impl Frozen {
    /// `x · W` (`x` of rows × inputs).
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(self.clone())
    }
}

/// One layer's weights.
struct LayerWeights {
    attn_norm: Tensor,
    q: Frozen,
    k: Frozen,
    v: Frozen,
    o: Frozen,
    ffn_norm: Tensor,
    gate: Frozen,
    up: Frozen,
    down: Frozen,
}

/// Weights of each layer's experts: `weights(layer, h, hidden)` is a `batch·positions ×
/// experts` tensor for the FFN input `h` (`batch·positions × dim`, after the norm) and
/// the dense hidden values `hidden` (`batch·positions × ff`); expert `e`'s output is
/// multiplied by it (LTE's stage 1: the router's gates; stage 2: the hard mask times
/// the trained scales; the post-hoc router's data: ones, after reading both).
pub type ExpertWeights<'a> = &'a dyn Fn(usize, &Tensor, &Tensor) -> Result<Tensor>;

/// The frozen model.
pub struct Llama {
    config: labelplan_lm::Config,
    embed: Tensor,
    head: Frozen,
    norm: Tensor,
    layers: Vec<LayerWeights>,
    device: Device,
}

fn dequantized(m: &Matrix, device: &Device) -> Result<Tensor> {
    Tensor::from_vec(m.to_f32(), (m.rows, m.cols), device)
}

fn transposed(m: &Matrix, device: &Device) -> Result<Frozen> {
    Ok(Frozen(dequantized(m, device)?.t()?.contiguous()?))
}

impl Llama {
    /// `model`'s weights, dequantised to f32.
    pub fn new(model: &Model, device: &Device) -> Result<Llama> {
        let vector = |v: &[f32]| Tensor::from_slice(v, v.len(), device);
        let layers = model
            .layers
            .iter()
            .map(|l| {
                Ok(LayerWeights {
                    attn_norm: vector(&l.attn_norm)?,
                    q: transposed(&l.q, device)?,
                    k: transposed(&l.k, device)?,
                    v: transposed(&l.v, device)?,
                    o: transposed(&l.o, device)?,
                    ffn_norm: vector(&l.ffn_norm)?,
                    gate: transposed(&l.gate, device)?,
                    up: transposed(&l.up, device)?,
                    down: transposed(&l.down, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embed = dequantized(&model.embed, device)?;
        let head = match &model.head {
            Some(h) => transposed(h, device)?,
            None => Frozen(embed.t()?.contiguous()?),
        };
        Ok(Llama {
            config: model.config.clone(),
            embed,
            head,
            norm: vector(&model.norm)?,
            layers,
            device: device.clone(),
        })
    }

    /// The model's numbers.
    pub fn config(&self) -> &labelplan_lm::Config {
        &self.config
    }

    /// Logits (`batch·positions × vocab`) of `tokens` (`batch × positions`, u32), each
    /// FFN's experts weighted by `experts` (all 1 when `None`).
    pub fn forward(&self, tokens: &Tensor, experts: Option<ExpertWeights>) -> Result<Tensor> {
        let c = &self.config;
        let (batch, t) = tokens.dims2()?;
        let (hd, heads, kv_heads) = (c.head_dim, c.heads, c.kv_heads);
        // The residual stream as one matrix of `batch·t` rows: each linear layer is then
        // one product (candle runs a broadcast product batch by batch).
        let mut x = self.embed.index_select(&tokens.flatten_all()?, 0)?;
        let (cos, sin) = self.rope_tables(t)?;
        let mask = causal_mask(t, &self.device)?;
        for (l, w) in self.layers.iter().enumerate() {
            let h = rms_norm(&x, &w.attn_norm, c.eps)?;
            let heads_of = |m: &Frozen, n: usize| -> Result<Tensor> {
                m.apply(&h)?.reshape((batch, t, n, hd))?.transpose(1, 2)
            };
            let q = rope(&heads_of(&w.q, heads)?, &cos, &sin)?;
            let k = repeat_heads(&rope(&heads_of(&w.k, kv_heads)?, &cos, &sin)?, heads / kv_heads)?;
            let v = repeat_heads(&heads_of(&w.v, kv_heads)?, heads / kv_heads)?;
            let scores = (q.contiguous()?.matmul(&k.t()?.contiguous()?)? / (hd as f64).sqrt())?
                .broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax(&scores, D::Minus1)?.matmul(&v.contiguous()?)?;
            let att = att.transpose(1, 2)?.reshape((batch * t, c.dim))?;
            x = (x + w.o.apply(&att)?)?;
            let h = rms_norm(&x, &w.ffn_norm, c.eps)?;
            let hidden = (w.gate.apply(&h)?.silu()? * w.up.apply(&h)?)?;
            let hidden = match experts {
                None => hidden,
                Some(weights) => {
                    let g = weights(l, &h, &hidden)?;
                    let experts = g.dim(D::Minus1)?;
                    hidden
                        .reshape((batch * t, experts, c.ff / experts))?
                        .broadcast_mul(&g.unsqueeze(D::Minus1)?)?
                        .reshape((batch * t, c.ff))?
                }
            };
            x = (x + w.down.apply(&hidden)?)?;
        }
        self.head.apply(&rms_norm(&x, &self.norm, c.eps)?)
    }

    /// RoPE's cos and sin for positions `0..t`, `t × head_dim/2`, as the CPU pass
    /// computes them.
    fn rope_tables(&self, t: usize) -> Result<(Tensor, Tensor)> {
        let c = &self.config;
        let half = c.head_dim / 2;
        let (mut cos, mut sin) = (Vec::with_capacity(t * half), Vec::with_capacity(t * half));
        for pos in 0..t {
            for i in 0..half {
                let (co, si) = rope_angle(pos, i, c.head_dim, c.rope_base);
                cos.push(co);
                sin.push(si);
            }
        }
        Ok((Tensor::from_vec(cos, (t, half), &self.device)?, Tensor::from_vec(sin, (t, half), &self.device)?))
    }
}

/// `x / rms(x) · w` over the last dimension.
fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> Result<Tensor> {
    let mean = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(mean + eps as f64)?.sqrt()?)?.broadcast_mul(w)
}

/// Rotates adjacent pairs `(x[2i], x[2i+1])` of `x` (`batch × heads × t × head_dim`).
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (b, h, t, hd) = x.dims4()?;
    let pairs = x.reshape((b, h, t, hd / 2, 2))?;
    let (a, c) = (
        pairs.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?,
        pairs.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?,
    );
    let first = (a.broadcast_mul(cos)? - c.broadcast_mul(sin)?)?;
    let second = (a.broadcast_mul(sin)? + c.broadcast_mul(cos)?)?;
    Tensor::stack(&[first, second], D::Minus1)?.reshape((b, h, t, hd))
}

/// Each key/value head repeated for the `group` query heads that share it.
fn repeat_heads(x: &Tensor, group: usize) -> Result<Tensor> {
    if group == 1 {
        return Ok(x.clone());
    }
    let (b, h, t, hd) = x.dims4()?;
    x.unsqueeze(2)?.broadcast_as((b, h, group, t, hd))?.reshape((b, h * group, t, hd))
}

/// 0 on and below the diagonal, −∞ above: a position sees itself and the ones before.
fn causal_mask(t: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { f32::NEG_INFINITY } else { 0.0 }).collect();
    Tensor::from_vec(values, (t, t), device)?.to_dtype(DType::F32)
}
