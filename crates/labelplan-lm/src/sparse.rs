//! Contextual sparsity: which experts of each FFN run for a token, and the FFN that runs
//! only those. The model must be [grouped](crate::experts) so that an expert's weights
//! are contiguous. An expert that does not run contributes nothing: the sparse FFN's
//! output is the dense FFN's with those experts' hidden values set to zero (to the bit
//! on the CPU: the down projection skips blocks that would add zeros).

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::experts::{Grouping, EXPERT_SIZE};
use crate::model::{silu, Layer, Model, Products};

/// How the experts of each layer are chosen for a token.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Sparsity {
    /// Every expert runs.
    #[default]
    Dense,
    /// The same experts for every token: `masks[layer][expert]` (tests, and fixed masks).
    Masks(Vec<Vec<bool>>),
    /// A learned router per layer (LTE's, or one fitted after the fact).
    Routers(Routers),
    /// Training-free: an expert runs iff the norm of its `silu(gate · x)` exceeds its
    /// layer's threshold (the gate projection then runs dense; up and down sparse).
    Thresholds(Vec<f32>),
}

/// Sigmoid routers: expert `e` of layer `l` runs iff `sigmoid(w[l][e] · x + b[l][e]) > τ`.
#[derive(Debug, Clone, PartialEq)]
pub struct Routers {
    /// `weights[l]`: experts × dim, row-major.
    pub weights: Vec<Vec<f32>>,
    /// `bias[l]`: one per expert.
    pub bias: Vec<Vec<f32>>,
    /// τ: LTE's fixed threshold, 0.5.
    pub threshold: f32,
    /// Stage 2's adaptation: each expert's output scaled (`scales[l][e]`), if trained.
    pub scales: Option<Vec<Vec<f32>>>,
}

impl Routers {
    /// Routers that choose `masks[layer][expert]` for every token (zero weights over
    /// `dim` inputs, a bias of ±1): fixed masks run through the router's machinery.
    pub fn from_masks(masks: &[Vec<bool>], dim: usize) -> Routers {
        Routers {
            weights: masks.iter().map(|l| vec![0.0; l.len() * dim]).collect(),
            bias: masks.iter().map(|l| l.iter().map(|&on| if on { 1.0 } else { -1.0 }).collect()).collect(),
            threshold: 0.5,
            scales: None,
        }
    }

    /// The logits `w · x + b` of layer `l`'s experts' gates.
    pub fn logits(&self, l: usize, x: &[f32], out: &mut [f32]) {
        for ((z, w), b) in out.iter_mut().zip(self.weights[l].chunks_exact(x.len())).zip(&self.bias[l]) {
            *z = lanes_dot(w, x) + b;
        }
    }

    /// Gate values `sigmoid(w · x + b)` of layer `l`'s experts.
    pub fn gates(&self, l: usize, x: &[f32], out: &mut [f32]) {
        self.logits(l, x, out);
        out.iter_mut().for_each(|z| *z = 1.0 / (1.0 + libm::expf(-*z)));
    }

    /// The logit at which a gate reaches τ: an expert runs iff its logit is above it
    /// (compared before the sigmoid, whose rounding near τ differs between the CPU and
    /// the GPU).
    pub fn logit_threshold(&self) -> f32 {
        (self.threshold / (1.0 - self.threshold)).ln()
    }
}

/// `w · x` summed in 8 lanes, then the lanes: 8 independent chains the compiler
/// vectorises (one running sum is a chain of dependent adds, 8× slower for a router).
fn lanes_dot(w: &[f32], x: &[f32]) -> f32 {
    let (ws, w_tail) = w.as_chunks::<8>();
    let (xs, x_tail) = x.as_chunks::<8>();
    let mut lanes = [0.0f32; 8];
    for (w, x) in ws.iter().zip(xs) {
        lanes.iter_mut().enumerate().for_each(|(l, s)| *s += w[l] * x[l]);
    }
    let tail: f32 = w_tail.iter().zip(x_tail).map(|(w, x)| w * x).sum();
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])) + tail
}

/// Buffers for one token's FFN.
#[derive(Debug, Clone)]
pub struct FfnScratch {
    gate: Vec<f32>,
    up: Vec<f32>,
    logits: Vec<f32>,
    /// The experts that ran in the last call.
    pub active: Vec<bool>,
    /// With [`Sparsity::Thresholds`]: each expert's norm of `silu(gate · x)` in the last
    /// call (what the thresholds compare; calibration reads them).
    pub norms: Vec<f32>,
}

impl FfnScratch {
    /// Buffers for an FFN of `ff` neurons.
    pub fn new(ff: usize) -> FfnScratch {
        let experts = ff / EXPERT_SIZE;
        FfnScratch {
            gate: vec![0.0; ff],
            up: vec![0.0; ff],
            logits: vec![0.0; experts],
            active: vec![true; experts],
            norms: vec![0.0; experts],
        }
    }
}

impl Sparsity {
    /// Layer `l`'s FFN on `h` (after its norm) into `out`, running only the experts this
    /// sparsity chooses; `s.active` says which ran.
    pub fn ffn(
        &self,
        layer: &Layer,
        l: usize,
        h: &[f32],
        out: &mut [f32],
        products: Products,
        s: &mut FfnScratch,
    ) {
        let FfnScratch { gate, up, logits, active, norms } = s;
        if matches!(self, Sparsity::Dense) {
            active.fill(true);
            layer.gate.matvec(h, gate, products);
            layer.up.matvec(h, up, products);
            gate.iter_mut().zip(up.iter()).for_each(|(g, u)| *g = silu(*g) * u);
            layer.down.matvec(gate, out, products);
            return;
        }
        gate.fill(0.0);
        up.fill(0.0);
        match self {
            Sparsity::Dense => unreachable!("handled above"),
            Sparsity::Masks(masks) => active.copy_from_slice(&masks[l]),
            Sparsity::Routers(r) => {
                r.logits(l, h, logits);
                let at = r.logit_threshold();
                active.iter_mut().zip(logits.iter()).for_each(|(a, &z)| *a = z > at);
            }
            Sparsity::Thresholds(t) => {
                layer.gate.matvec(h, gate, products);
                for ((a, n), g) in active.iter_mut().zip(norms.iter_mut()).zip(gate.chunks_exact(EXPERT_SIZE))
                {
                    *n = g.iter().map(|&g| silu(g) * silu(g)).sum::<f32>().sqrt();
                    *a = *n > t[l];
                }
            }
        }
        if !matches!(self, Sparsity::Thresholds(_)) {
            layer.gate.matvec_groups(h, gate, products, active, EXPERT_SIZE);
        }
        layer.up.matvec_groups(h, up, products, active, EXPERT_SIZE);
        let scales = match self {
            Sparsity::Routers(Routers { scales: Some(s), .. }) => Some(&s[l]),
            _ => None,
        };
        for (e, ((g, u), &on)) in gate
            .chunks_exact_mut(EXPERT_SIZE)
            .zip(up.chunks_exact(EXPERT_SIZE))
            .zip(active.iter())
            .enumerate()
        {
            if !on {
                g.fill(0.0);
                continue;
            }
            let scale = scales.map_or(1.0, |s| s[e]);
            g.iter_mut().zip(u).for_each(|(g, u)| *g = silu(*g) * u * scale);
        }
        layer.down.matvec_blocks(gate, out, products, active);
    }
}

/// Per-layer thresholds for [`Sparsity::Thresholds`] under which a share `sparsity` of
/// the experts' norms fall, over the tokens of `ids` fed in turn to `model` (grouped):
/// the training-free baseline (CATS/TEAL style, per expert), calibrated on text.
pub fn calibrate_thresholds(model: &Model, ids: &[u32], sparsity: f32) -> Vec<f32> {
    let layers = model.config.layers;
    let (mut norms, mut cache) = (vec![Vec::new(); layers], model.cache(ids.len()));
    let every = Sparsity::Thresholds(vec![f32::NEG_INFINITY; layers]);
    for &id in ids {
        model.forward_with(id, &mut cache, &every, |l, s| norms[l].extend_from_slice(&s.norms));
    }
    norms
        .into_iter()
        .map(|mut n| {
            n.sort_by(f32::total_cmp);
            // An expert runs iff its norm is above: the ⌈s·n⌉ smallest do not.
            let below = ((sparsity as f64 * n.len() as f64).ceil() as usize).min(n.len());
            if below == 0 {
                f32::NEG_INFINITY
            } else {
                n[below - 1]
            }
        })
        .collect()
}

/// A sparsity as the page loads it: the grouping its routers or thresholds were made
/// for, and what chooses the experts. Stored as safetensors: `order` (u16, layers ×
/// ff), then either `router.weight` (f16, layers × experts × dim), `router.bias` (f16,
/// layers × experts) and optionally `router.scale` (f16, layers × experts), or
/// `thresholds` (f32, layers); the metadata's `about` says its kind and how it was made
/// (`key=value` lines).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseSet {
    /// The neurons' grouping into experts.
    pub grouping: Grouping,
    /// What chooses the experts.
    pub sparsity: Sparsity,
    /// How it was made (kind, η, measured sparsity…), as text.
    pub about: BTreeMap<String, String>,
}

fn f16_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(|v| half::f16::from_f32(v).to_le_bytes()).collect()
}

impl SparseSet {
    /// The safetensors bytes (router values rounded to f16).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let layers = self.grouping.order.len();
        let ff = self.grouping.order.first().map_or(0, Vec::len);
        let order: Vec<u8> =
            self.grouping.order.iter().flatten().flat_map(|&n| (n as u16).to_le_bytes()).collect();
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
            vec![("order".into(), Dtype::U16, vec![layers, ff], order)];
        match &self.sparsity {
            Sparsity::Routers(r) => {
                let experts = r.bias.first().map_or(0, Vec::len);
                let dim = r.weights.first().map_or(0, |w| w.len() / experts.max(1));
                let flat = |v: &[Vec<f32>]| f16_bytes(v.iter().flatten().copied());
                tensors.push((
                    "router.weight".into(),
                    Dtype::F16,
                    vec![layers, experts, dim],
                    flat(&r.weights),
                ));
                tensors.push(("router.bias".into(), Dtype::F16, vec![layers, experts], flat(&r.bias)));
                if let Some(scales) = &r.scales {
                    tensors.push(("router.scale".into(), Dtype::F16, vec![layers, experts], flat(scales)));
                }
            }
            Sparsity::Thresholds(t) => {
                let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
                tensors.push(("thresholds".into(), Dtype::F32, vec![layers], bytes));
            }
            other => return Err(format!("{other:?} is not stored; routers or thresholds are")),
        }
        let views = tensors
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut about = self.about.clone();
        if let Sparsity::Routers(r) = &self.sparsity {
            about.insert("threshold".into(), r.threshold.to_string());
        }
        // One metadata entry, `key=value` lines in key order: a map of several entries
        // is written in hash order, and the same set would not be the same bytes.
        let lines: String = about.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        safetensors::serialize(views, Some(HashMap::from([("about".to_owned(), lines)])))
            .map_err(|e| e.to_string())
    }

    /// Reads a file written by [`SparseSet::to_bytes`]; errors name the file and the
    /// tensor at fault.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<SparseSet, String> {
        let fail = |what: String| format!("{file}: {what}");
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a safetensors file ({e})")))?;
        let tensor = |name: &str, dtype: Dtype, rank: usize| {
            let t = st.tensor(name).map_err(|_| fail(format!("no tensor {name:?}")))?;
            if t.dtype() != dtype || t.shape().len() != rank {
                return Err(fail(format!(
                    "{name} is {:?} {:?}; {dtype:?} of rank {rank} expected",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t)
        };
        let order = tensor("order", Dtype::U16, 2)?;
        let (layers, ff) = (order.shape()[0], order.shape()[1]);
        let numbers: Vec<u32> =
            order.data().chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]) as u32).collect();
        let grouping = Grouping { order: numbers.chunks(ff.max(1)).map(<[u32]>::to_vec).collect() };
        let halves = |t: &safetensors::tensor::TensorView, per: usize| -> Vec<Vec<f32>> {
            let values: Vec<f32> =
                t.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
            values.chunks(per.max(1)).map(<[f32]>::to_vec).collect()
        };
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| fail(e.to_string()))?;
        let lines = metadata.metadata().as_ref().and_then(|m| m.get("about").cloned()).unwrap_or_default();
        let about: BTreeMap<String, String> = lines
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let sparsity = if st.names().contains(&"thresholds") {
            let t = tensor("thresholds", Dtype::F32, 1)?;
            Sparsity::Thresholds(
                t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            )
        } else {
            let w = tensor("router.weight", Dtype::F16, 3)?;
            let (experts, dim) = (w.shape()[1], w.shape()[2]);
            let b = tensor("router.bias", Dtype::F16, 2)?;
            let scales = st
                .names()
                .contains(&"router.scale")
                .then(|| tensor("router.scale", Dtype::F16, 2))
                .transpose()?;
            if w.shape()[0] != layers
                || b.shape() != [layers, experts]
                || scales.as_ref().is_some_and(|s| s.shape() != [layers, experts])
            {
                return Err(fail(format!(
                    "router shapes {:?}, {:?} do not fit {layers} layers",
                    w.shape(),
                    b.shape()
                )));
            }
            let threshold = about.get("threshold").and_then(|t| t.parse().ok()).unwrap_or(0.5);
            Sparsity::Routers(Routers {
                weights: halves(&w, experts * dim),
                bias: halves(&b, experts),
                threshold,
                scales: scales.map(|s| halves(&s, experts)),
            })
        };
        Ok(SparseSet { grouping, sparsity, about })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layout, Matrix};
    use crate::quant::{quantize, DType};

    const DIM: usize = 64;
    const FF: usize = 8 * EXPERT_SIZE;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| libm::sinf(((i as u32).wrapping_mul(2_654_435_761) ^ seed) as f32 * 1e-6) * 0.3)
            .collect()
    }

    fn matrix(dtype: DType, rows: usize, cols: usize, seed: u32) -> Matrix {
        Matrix { dtype, rows, cols, layout: Layout::Rows, bytes: quantize(dtype, &values(rows * cols, seed)) }
    }

    fn layer(down: DType) -> Layer {
        let small = matrix(DType::F32, 1, DIM, 0);
        Layer {
            attn_norm: vec![1.0; DIM],
            q: small.clone(),
            k: small.clone(),
            v: small.clone(),
            o: small,
            ffn_norm: vec![1.0; DIM],
            gate: matrix(DType::Q4_1, FF, DIM, 1),
            up: matrix(DType::Q4_1, FF, DIM, 2),
            down: matrix(down, DIM, FF, 3),
        }
    }

    /// The dense FFN with the hidden values of the experts not in `active` set to zero.
    fn masked_dense(layer: &Layer, h: &[f32], active: &[bool], products: Products) -> Vec<f32> {
        let (mut gate, mut up, mut out) = (vec![0.0; FF], vec![0.0; FF], vec![0.0; DIM]);
        layer.gate.matvec(h, &mut gate, products);
        layer.up.matvec(h, &mut up, products);
        for (k, (g, u)) in gate.iter_mut().zip(&up).enumerate() {
            *g = if active[k / EXPERT_SIZE] { silu(*g) * u } else { 0.0 };
        }
        layer.down.matvec(&gate, &mut out, products);
        out
    }

    #[test]
    fn the_sparse_ffn_is_the_masked_dense_ffn_to_the_bit() {
        let h = values(DIM, 9);
        let experts = FF / EXPERT_SIZE;
        let masks = [
            vec![false; experts],
            (0..experts).map(|e| e == 5).collect(),
            vec![true; experts],
            (0..experts).map(|e| e % 3 != 1).collect::<Vec<_>>(),
        ];
        // Down stored row after row (the GGUF's) and by blocks (the grouped model's):
        // both give the row-after-row masked dense FFN's bits.
        for (down, layout) in [DType::Q4_1, DType::Q8_0, DType::F16, DType::F32]
            .into_iter()
            .flat_map(|d| [(d, Layout::Rows), (d, Layout::Blocks)])
        {
            let by_rows = layer(down);
            let layer = Layer { down: by_rows.down.clone().with_layout(layout), ..by_rows.clone() };
            for products in [Products::Exact, Products::Quantized] {
                for mask in &masks {
                    let sparsity = Sparsity::Masks(vec![mask.clone()]);
                    let (mut out, mut scratch) = (vec![f32::NAN; DIM], FfnScratch::new(FF));
                    sparsity.ffn(&layer, 0, &h, &mut out, products, &mut scratch);
                    let want = masked_dense(&by_rows, &h, mask, products);
                    let bits = |v: &[f32]| v.iter().map(|x| (x + 0.0).to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&out), bits(&want), "{down:?} {layout:?} {products:?} mask {mask:?}");
                    assert_eq!(&scratch.active, mask);
                }
            }
            // Every expert on is the dense FFN.
            let (mut dense, mut scratch) = (vec![0.0; DIM], FfnScratch::new(FF));
            Sparsity::Dense.ffn(&layer, 0, &h, &mut dense, Products::Exact, &mut scratch);
            assert_eq!(dense, masked_dense(&by_rows, &h, &vec![true; experts], Products::Exact));
            // The layout moves bytes only.
            assert_eq!(layer.down.to_f32(), by_rows.down.to_f32(), "{down:?} {layout:?}");
            assert_eq!(layer.down.clone().with_layout(Layout::Rows).bytes, by_rows.down.bytes);
        }
    }

    #[test]
    fn sets_round_trip_through_safetensors() {
        let grouping = Grouping { order: vec![(0..64).rev().collect(), (0..64).collect()] };
        let routers = Routers {
            weights: vec![vec![0.5; 2 * 3], vec![-0.25; 2 * 3]],
            bias: vec![vec![1.0, 2.0], vec![3.0, 4.0]],
            threshold: 0.5,
            scales: Some(vec![vec![1.5, 1.0], vec![0.75, 1.0]]),
        };
        let about: BTreeMap<String, String> = [("kind".to_owned(), "lte".to_owned())].into();
        for sparsity in [Sparsity::Routers(routers), Sparsity::Thresholds(vec![0.125, 3.0])] {
            let set = SparseSet { grouping: grouping.clone(), sparsity, about: about.clone() };
            let bytes = set.to_bytes().expect("stored");
            let back = SparseSet::from_bytes("set.safetensors", &bytes).expect("read");
            assert_eq!((back.grouping, back.sparsity), (set.grouping, set.sparsity));
            assert_eq!(back.about.get("kind").map(String::as_str), Some("lte"));
        }
        let broken = SparseSet::from_bytes("set.safetensors", b"not one").expect_err("refused");
        assert!(broken.starts_with("set.safetensors: not a safetensors file"), "{broken}");
    }

    #[test]
    fn routers_and_thresholds_choose_the_experts_they_say() {
        let layer = layer(DType::Q4_1);
        let h = values(DIM, 9);
        let experts = FF / EXPERT_SIZE;
        // Router e: w = ±h for even/odd e, so even experts' gates are sigmoid(|h|²) > 0.5.
        let hh: f32 = h.iter().map(|v| v * v).sum();
        let weights =
            (0..experts).flat_map(|e| h.iter().map(move |v| if e % 2 == 0 { *v } else { -v })).collect();
        let routers =
            Routers { weights: vec![weights], bias: vec![vec![0.0; experts]], threshold: 0.5, scales: None };
        let mut gates = vec![0.0; experts];
        routers.gates(0, &h, &mut gates);
        assert!((gates[0] - 1.0 / (1.0 + (-hh).exp())).abs() < 1e-6);
        let (mut out, mut scratch) = (vec![0.0; DIM], FfnScratch::new(FF));
        Sparsity::Routers(routers.clone()).ffn(&layer, 0, &h, &mut out, Products::Exact, &mut scratch);
        let even: Vec<bool> = (0..experts).map(|e| e % 2 == 0).collect();
        assert_eq!(scratch.active, even);
        assert_eq!(out, masked_dense(&layer, &h, &even, Products::Exact));
        // Stage 2's scales multiply each expert's part: all 2 doubles the output.
        let scaled = Routers { scales: Some(vec![vec![2.0; experts]]), ..routers };
        let mut doubled = vec![0.0; DIM];
        Sparsity::Routers(scaled).ffn(&layer, 0, &h, &mut doubled, Products::Exact, &mut scratch);
        for (d, o) in doubled.iter().zip(&out) {
            assert!((d - 2.0 * o).abs() <= 1e-5 * o.abs().max(1e-3), "{d} {o}");
        }
        // Thresholds: the experts whose silu(gate) norm is above the median run.
        let mut gate = vec![0.0; FF];
        layer.gate.matvec(&h, &mut gate, Products::Exact);
        let norms: Vec<f32> = gate
            .chunks(EXPERT_SIZE)
            .map(|g| g.iter().map(|&g| silu(g) * silu(g)).sum::<f32>().sqrt())
            .collect();
        let mut sorted = norms.clone();
        sorted.sort_by(f32::total_cmp);
        let t = sorted[experts / 2];
        Sparsity::Thresholds(vec![t]).ffn(&layer, 0, &h, &mut out, Products::Exact, &mut scratch);
        let above: Vec<bool> = norms.iter().map(|&n| n > t).collect();
        assert_eq!(scratch.active, above);
        assert_eq!(above.iter().filter(|&&a| a).count(), experts - experts / 2 - 1);
        assert_eq!(out, masked_dense(&layer, &h, &above, Products::Exact));
    }
}
