//! The forward pass on the GPU backend: the same Llama as [`crate::model`], in WGSL
//! kernels registered on the planner's [`GpuContext`]. Weights stay quantised on the
//! device and are dequantised inside the products (the arithmetic of
//! [`Products::Exact`](crate::model::Products::Exact), the oracle of the tests).
//!
//! A position costs one copy (its number into the step uniform) and 5 dispatches per
//! layer: queries/keys/values with RMSNorm and RoPE fused and the cache written;
//! attention; the output projection added to the residual; gate/up with RMSNorm and
//! SwiGLU fused; the down projection added. The embedding lookup comes first, and the
//! head and the arg-max come last for the position whose next token is wanted. The
//! token list lives on the device: the arg-max writes the greedy next token there, so
//! one 4-byte readback per token is all that returns. A prompt's positions are queued
//! back to back without readbacks (prefill), in submissions of [`PREFILL_CHUNK`].

pub mod shaders;

use labelplan_gpu::{GpuBinding, GpuBuffer, GpuCommand, GpuContext, GpuError};

use crate::experts::EXPERT_SIZE;
use crate::model::{Config, Layout, Matrix, Model};
use crate::quant::DType;
use crate::sparse::{Routers, Sparsity};
use shaders::product_groups;

/// Positions queued in one submission during prefill (a browser may stop a single
/// submission that runs for too long).
pub const PREFILL_CHUNK: usize = 16;

/// Why the model cannot run on the GPU.
#[derive(Debug, thiserror::Error)]
pub enum GpuModelError {
    /// The device failed or refused something.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The model has something the kernels do not take.
    #[error("{0}")]
    Unsupported(String),
    /// More positions than the cache holds.
    #[error("the context holds {positions} tokens; {wanted} were fed")]
    Full {
        /// Positions the cache holds.
        positions: usize,
        /// Positions wanted.
        wanted: usize,
    },
}

/// One layer's kernels, bound to its weights and cache.
#[derive(Debug)]
struct LayerBindings {
    qkv: GpuBinding,
    attention: GpuBinding,
    output: GpuBinding,
    ffn_in: GpuBinding,
    down: GpuBinding,
}

/// One layer's FFN weights, kept to bind the sparse kernels when a sparsity is chosen.
#[derive(Debug)]
struct FfnWeights {
    norm: GpuBuffer,
    gate: GpuBuffer,
    up: GpuBuffer,
    down: GpuBuffer,
    /// Gate's, up's and down's types.
    types: [DType; 3],
    /// Down's layout (the grouped model's is by blocks).
    down_layout: Layout,
}

/// One layer's sparse FFN: the router with the compaction of its list, then gate/up and
/// down over the listed experts.
#[derive(Debug)]
struct SparseLayer {
    router: GpuBinding,
    ffn_in: GpuBinding,
    down: GpuBinding,
    /// Each position's mask of running experts (2 words).
    used: GpuBuffer,
    /// The router's weights, bias and scales, held for the bindings.
    _buffers: [GpuBuffer; 3],
}

/// Rows of `cols` values stored column after column: a router's weights as its kernel
/// reads them (the experts' invocations read one input's weights side by side).
fn transposed(rows: &[f32], cols: usize) -> Vec<f32> {
    let n = rows.len() / cols;
    (0..rows.len()).map(|i| rows[(i % n) * cols + i / n]).collect()
}

/// The model on the device, with its KV cache and token list.
#[derive(Debug)]
pub struct GpuModel {
    ctx: GpuContext,
    config: Config,
    positions: usize,
    len: usize,
    tokens: GpuBuffer,
    logits: GpuBuffer,
    step: GpuBuffer,
    position_numbers: GpuBuffer,
    embed: GpuBinding,
    layers: Vec<LayerBindings>,
    head: GpuBinding,
    argmax: GpuBinding,
    x: GpuBuffer,
    act: GpuBuffer,
    ffn: Vec<FfnWeights>,
    /// The listed experts of the layer running (count, then ids), shared by the layers.
    listed: GpuBuffer,
    /// Set by [`GpuModel::set_sparsity`]: the layers' sparse FFNs.
    sparse: Option<Vec<SparseLayer>>,
    /// Held so the device keeps them as long as the bindings that use them.
    _buffers: Vec<GpuBuffer>,
}

/// A matrix's bytes as the kernels read them: Q8_0 blocks padded from 34 to 36 bytes so
/// every block starts on a 4-byte word.
fn device_bytes(m: &Matrix, name: &str) -> Result<Vec<u8>, GpuModelError> {
    if !m.cols.is_multiple_of(32) {
        return Err(GpuModelError::Unsupported(format!(
            "{name} has rows of {} values; the GPU kernels take multiples of 32",
            m.cols
        )));
    }
    match m.dtype {
        DType::F32 | DType::F16 | DType::Q4_1 => Ok(m.bytes.clone()),
        DType::Q8_0 => Ok(m
            .bytes
            .chunks_exact(34)
            .flat_map(|block| [&block[..2], &[0u8, 0][..], &block[2..]].concat())
            .collect()),
        DType::Other(_, type_name, _, _) => Err(GpuModelError::Unsupported(format!(
            "{name} is {type_name}; the GPU kernels take F32, F16, Q8_0 and Q4_1"
        ))),
    }
}

/// (cos, sin) of RoPE's angle per position and pair of a head, computed as the CPU pass
/// computes them.
fn rope_table(c: &Config, positions: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(positions * c.head_dim);
    for pos in 0..positions {
        for i in 0..c.head_dim / 2 {
            let (cos, sin) = crate::model::rope_angle(pos, i, c.head_dim, c.rope_base);
            out.extend([cos, sin]);
        }
    }
    out
}

fn f32_bytes(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

impl GpuModel {
    /// Uploads `model` with a cache of `positions` tokens and binds every kernel.
    pub async fn upload(
        ctx: &GpuContext,
        model: &Model,
        positions: usize,
    ) -> Result<GpuModel, GpuModelError> {
        let c = model.config.clone();
        let kernel = |s: shaders::Shader| async move { ctx.kernel(&s.label, &s.source, "main").await };
        let mut keep = Vec::new();
        let matrix = |m: &Matrix, name: &str| -> Result<GpuBuffer, GpuModelError> {
            Ok(ctx.buffer(name, &device_bytes(m, name)?))
        };
        let kv = c.kv_heads * c.head_dim;
        let x = ctx.zeroed("lm.x", 4 * c.dim as u64);
        let q = ctx.zeroed("lm.q", 4 * c.dim as u64);
        let att = ctx.zeroed("lm.attention", 4 * c.dim as u64);
        let act = ctx.zeroed("lm.ffn", 4 * c.ff as u64);
        let scores = ctx.zeroed("lm.scores", 4 * (c.heads * positions) as u64);
        let tokens = ctx.zeroed("lm.tokens", 4 * (positions as u64 + 1));
        let logits = ctx.zeroed("lm.logits", 4 * c.vocab as u64);
        let step = ctx.uniform_buffer("lm.step", 16);
        let numbers: Vec<u32> = (0..positions as u32).collect();
        let position_numbers = ctx.buffer("lm.positions", bytemuck::cast_slice(&numbers));
        let rope = ctx.buffer("lm.rope", f32_bytes(&rope_table(&c, positions)));
        let embed_w = matrix(&model.embed, "token_embd.weight")?;
        let head_w = match &model.head {
            Some(h) => Some(matrix(h, "output.weight")?),
            None => None,
        };
        let head_matrix = model.head.as_ref().unwrap_or(&model.embed);
        let embed = ctx
            .bind(
                &kernel(shaders::embed(&c, positions, model.embed.dtype)).await?,
                &[&tokens, &embed_w, &x, &step],
            )
            .await?;
        let final_norm = ctx.buffer("output_norm.weight", f32_bytes(&model.norm));
        let head = ctx
            .bind(
                &kernel(shaders::head(&c, positions, head_matrix.dtype)).await?,
                &[&x, &final_norm, head_w.as_ref().unwrap_or(&embed_w), &logits],
            )
            .await?;
        let argmax =
            ctx.bind(&kernel(shaders::argmax(&c, positions)).await?, &[&logits, &tokens, &step]).await?;
        let attention_kernel = kernel(shaders::attention(&c, positions)).await?;
        let mut layers = Vec::with_capacity(model.layers.len());
        let mut ffn = Vec::with_capacity(model.layers.len());
        for (i, l) in model.layers.iter().enumerate() {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let [wq, wk, wv, wo, wg, wu, wd] = [
                (&l.q, "attn_q"),
                (&l.k, "attn_k"),
                (&l.v, "attn_v"),
                (&l.o, "attn_output"),
                (&l.gate, "ffn_gate"),
                (&l.up, "ffn_up"),
                (&l.down, "ffn_down"),
            ]
            .map(|(m, part)| matrix(m, &name(part)));
            let (wq, wk, wv, wo, wg, wu, wd) = (wq?, wk?, wv?, wo?, wg?, wu?, wd?);
            let attn_norm = ctx.buffer("attn_norm", f32_bytes(&l.attn_norm));
            let ffn_norm = ctx.buffer("ffn_norm", f32_bytes(&l.ffn_norm));
            let cache = ctx.zeroed("lm.cache", 4 * 2 * (positions * kv) as u64);
            let qkv_kernel = kernel(shaders::qkv(&c, positions, [l.q.dtype, l.k.dtype, l.v.dtype])).await?;
            let o_kernel =
                kernel(shaders::add_product(&c, positions, (l.o.dtype, l.o.layout), c.dim, c.dim)).await?;
            let ffn_kernel = kernel(shaders::ffn_in(&c, positions, [l.gate.dtype, l.up.dtype])).await?;
            let down_kernel =
                kernel(shaders::add_product(&c, positions, (l.down.dtype, l.down.layout), c.dim, c.ff))
                    .await?;
            layers.push(LayerBindings {
                qkv: ctx
                    .bind(&qkv_kernel, &[&x, &attn_norm, &wq, &wk, &wv, &q, &cache, &rope, &step])
                    .await?,
                attention: ctx.bind(&attention_kernel, &[&q, &cache, &scores, &att, &step]).await?,
                output: ctx.bind(&o_kernel, &[&att, &wo, &x]).await?,
                ffn_in: ctx.bind(&ffn_kernel, &[&x, &ffn_norm, &wg, &wu, &act]).await?,
                down: ctx.bind(&down_kernel, &[&act, &wd, &x]).await?,
            });
            keep.extend([wq, wk, wv, wo, attn_norm, cache]);
            ffn.push(FfnWeights {
                norm: ffn_norm,
                gate: wg,
                up: wu,
                down: wd,
                types: [l.gate.dtype, l.up.dtype, l.down.dtype],
                down_layout: l.down.layout,
            });
        }
        keep.extend([q, att, scores, rope, embed_w, final_norm]);
        keep.extend(head_w);
        // The count, the ids, then the gate/up kernel's grid (x, y, z) for an indirect
        // dispatch.
        let listed = ctx.zeroed_indirect("lm.listed", 4 * (4 + c.ff / EXPERT_SIZE) as u64);
        Ok(GpuModel {
            ctx: ctx.clone(),
            config: c,
            positions,
            len: 0,
            tokens,
            logits,
            step,
            position_numbers,
            embed,
            layers,
            head,
            argmax,
            x,
            act,
            ffn,
            listed,
            sparse: None,
            _buffers: keep,
        })
    }

    /// Chooses each layer's experts by `sparsity` for the positions fed from now on
    /// ([`Sparsity::Dense`]: every expert, the dense kernels). The model must have been
    /// [grouped](Model::grouped). Routers run on the device, and so does the list of the
    /// experts they choose: still one readback per token. [`Sparsity::Masks`] run as
    /// routers that are always on or off; [`Sparsity::Thresholds`] need the dense gate
    /// and run on the CPU only.
    pub async fn set_sparsity(&mut self, sparsity: &Sparsity) -> Result<(), GpuModelError> {
        let c = &self.config;
        let (layers, experts) = (c.layers, c.ff / EXPERT_SIZE);
        let routers = match sparsity {
            Sparsity::Dense => {
                self.sparse = None;
                return Ok(());
            }
            Sparsity::Routers(r) => r.clone(),
            Sparsity::Masks(m) => Routers::from_masks(m, c.dim),
            Sparsity::Thresholds(_) => {
                return Err(GpuModelError::Unsupported(
                    "thresholds compare the dense gate; they run on the CPU only".into(),
                ))
            }
        };
        let fits = routers.weights.len() == layers
            && routers.weights.iter().all(|w| w.len() == experts * c.dim)
            && routers.bias.iter().all(|b| b.len() == experts)
            && routers.scales.as_ref().is_none_or(|s| s.iter().all(|s| s.len() == experts));
        if !fits || experts > 64 || !c.ff.is_multiple_of(EXPERT_SIZE) {
            return Err(GpuModelError::Unsupported(format!(
                "routers for {} layers do not fit this model's {layers} layers of {experts} experts \
                 over {} inputs (the GPU router takes at most 64 experts)",
                routers.weights.len(),
                c.dim
            )));
        }
        let ctx = &self.ctx;
        let kernel = |s: shaders::Shader| async move { ctx.kernel(&s.label, &s.source, "main").await };
        let router = kernel(shaders::router(c, self.positions, experts, routers.logit_threshold())).await?;
        let mut sparse = Vec::with_capacity(layers);
        for (l, w) in self.ffn.iter().enumerate() {
            let ffn_in = kernel(shaders::ffn_in_sparse(c, self.positions, [w.types[0], w.types[1]])).await?;
            let down = kernel(shaders::down_sparse(c, self.positions, (w.types[2], w.down_layout))).await?;
            let scales = routers.scales.as_ref().map_or_else(|| vec![1.0; experts], |s| s[l].clone());
            let buffers = [
                ctx.buffer("lm.router.weight", f32_bytes(&transposed(&routers.weights[l], c.dim))),
                ctx.buffer("lm.router.bias", f32_bytes(&routers.bias[l])),
                ctx.buffer("lm.router.scale", f32_bytes(&scales)),
            ];
            let used = ctx.zeroed("lm.used", 8 * self.positions as u64);
            sparse.push(SparseLayer {
                router: ctx
                    .bind(
                        &router,
                        &[&self.x, &w.norm, &buffers[0], &buffers[1], &self.listed, &used, &self.step],
                    )
                    .await?,
                ffn_in: ctx
                    .bind(&ffn_in, &[&self.x, &w.norm, &w.gate, &w.up, &self.act, &self.listed, &buffers[2]])
                    .await?,
                down: ctx.bind(&down, &[&self.act, &w.down, &self.x, &self.listed]).await?,
                used,
                _buffers: buffers,
            });
        }
        self.sparse = Some(sparse);
        Ok(())
    }

    /// Which experts ran at each position fed so far, per layer: `[position][layer]`, bit
    /// e for expert e (`None` without a sparsity set: every expert ran).
    pub async fn experts_used(&self) -> Result<Option<Vec<Vec<u64>>>, GpuModelError> {
        let Some(sparse) = &self.sparse else { return Ok(None) };
        let reads: Vec<_> = sparse.iter().map(|s| (&s.used, 0, 8 * self.len.max(1) as u64)).collect();
        let out = self.ctx.run(&[], &reads).await?;
        let words: Vec<Vec<u32>> = out.iter().map(|o| bytemuck::pod_collect_to_vec(o)).collect();
        Ok(Some(
            (0..self.len)
                .map(|pos| words.iter().map(|w| w[2 * pos] as u64 | (w[2 * pos + 1] as u64) << 32).collect())
                .collect(),
        ))
    }

    /// Positions fed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The model's shape.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Positions the cache holds.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// Keeps the first `len` positions fed (the rest are fed again or overwritten).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Dispatches per position: the embedding, 5 per layer (6 with a sparsity: the
    /// router), head and arg-max.
    pub fn dispatches_per_token(&self) -> usize {
        3 + if self.sparse.is_some() { 6 } else { 5 } * self.layers.len()
    }

    /// Feeds `tokens` at the next positions and returns the greedy next token (the
    /// logits it was chosen from stay on the device: [`GpuModel::logits`]).
    pub async fn feed(&mut self, tokens: &[u32]) -> Result<u32, GpuModelError> {
        let wanted = self.len + tokens.len();
        if wanted > self.positions {
            return Err(GpuModelError::Full { positions: self.positions, wanted });
        }
        if tokens.is_empty() {
            return Err(GpuModelError::Unsupported("nothing to feed".into()));
        }
        self.ctx.write(&self.tokens, 4 * self.len as u64, bytemuck::cast_slice(tokens));
        let c = &self.config;
        let kv = c.kv_heads * c.head_dim;
        let first = self.len;
        let mut next = 0;
        for chunk_start in (first..wanted).step_by(PREFILL_CHUNK) {
            let chunk_end = (chunk_start + PREFILL_CHUNK).min(wanted);
            let mut commands = Vec::new();
            for pos in chunk_start..chunk_end {
                commands.push(GpuCommand::Copy {
                    from: &self.position_numbers,
                    from_offset: 4 * pos as u64,
                    to: &self.step,
                    to_offset: 0,
                    bytes: 4,
                });
                commands.push(GpuCommand::Dispatch(&self.embed, c.dim.div_ceil(64) as u32));
                for (i, l) in self.layers.iter().enumerate() {
                    commands.extend([
                        GpuCommand::Dispatch(&l.qkv, product_groups(c.dim + 2 * kv)),
                        GpuCommand::Dispatch(&l.attention, c.heads as u32),
                        GpuCommand::Dispatch(&l.output, product_groups(c.dim)),
                    ]);
                    self.ffn_commands(i, &mut commands);
                }
            }
            let last = chunk_end == wanted;
            if last {
                commands.push(GpuCommand::Dispatch(&self.head, product_groups(c.vocab)));
                commands.push(GpuCommand::Dispatch(&self.argmax, 1));
            }
            let reads = if last { vec![(&self.tokens, 4 * wanted as u64, 4)] } else { Vec::new() };
            let out = self.ctx.run(&commands, &reads).await?;
            if last {
                next = bytemuck::pod_read_unaligned(&out[0][..4]);
            }
        }
        self.len = wanted;
        Ok(next)
    }

    /// Layer `i`'s FFN dispatches, dense or sparse.
    fn ffn_commands<'a>(&'a self, i: usize, commands: &mut Vec<GpuCommand<'a>>) {
        let c = &self.config;
        let experts = c.ff / EXPERT_SIZE;
        match &self.sparse {
            None => commands.extend([
                GpuCommand::Dispatch(&self.layers[i].ffn_in, product_groups(c.ff)),
                GpuCommand::Dispatch(&self.layers[i].down, product_groups(c.dim)),
            ]),
            // Gate/up's grid is the listed experts' workgroups, written by the router.
            Some(sparse) => commands.extend([
                GpuCommand::Dispatch(&sparse[i].router, 1),
                GpuCommand::DispatchIndirect(&sparse[i].ffn_in, &self.listed, 4 * (1 + experts) as u64),
                GpuCommand::Dispatch(&sparse[i].down, product_groups(c.dim)),
            ]),
        }
    }

    /// Runs every layer's FFN `repeats` times on the residual stream as it stands, then
    /// reads back one word: what a benchmark times to tell the FFN's share of a token
    /// from the rest. It overwrites the residual stream, so what was fed is forgotten.
    pub async fn run_ffns(&mut self, repeats: usize) -> Result<(), GpuModelError> {
        let mut commands = Vec::new();
        for _ in 0..repeats {
            for i in 0..self.layers.len() {
                self.ffn_commands(i, &mut commands);
            }
        }
        self.ctx.run(&commands, &[(&self.x, 0, 4)]).await?;
        self.len = 0;
        Ok(())
    }

    /// The logits after the last position fed.
    pub async fn logits(&self) -> Result<Vec<f32>, GpuModelError> {
        let out = self.ctx.run(&[], &[(&self.logits, 0, 4 * self.config.vocab as u64)]).await?;
        Ok(bytemuck::pod_collect_to_vec(&out[0]))
    }
}
