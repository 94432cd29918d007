//! The forward pass's WGSL, assembled per model: the model's sizes become constants and
//! each weight matrix gets the reading functions of its type (from `weights.wgsl`).

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::experts::EXPERT_SIZE;
use crate::model::{Config, Layout};
use crate::quant::DType;

const COMMON: &str = include_str!("common.wgsl");
const NORM: &str = include_str!("norm.wgsl");
const PASSES_WGSL: &str = include_str!("passes.wgsl");
const WEIGHTS: &str = include_str!("weights.wgsl");

/// One kernel's label (unique per source, so the context's registry shares it between
/// loads of the same model) and WGSL.
#[derive(Debug, Clone)]
pub struct Shader {
    /// `lm.<kernel> #<hash of the source>`.
    pub label: String,
    /// The whole module.
    pub source: String,
}

/// Which reading function of a weight a kernel needs.
#[derive(Clone, Copy, PartialEq)]
enum Read {
    /// `block_W(r, b)`: block b of row r times the kernel's `input`.
    Products,
    /// `value_W(r, j)`: one value.
    Values,
}

/// WGSL reading the weight `name` of type `dtype` with `cols` values per row, stored
/// row after row.
fn weight(name: &str, dtype: DType, cols: usize, read: Read) -> String {
    weight_in(name, dtype, cols, read, Layout::Rows, 0)
}

/// [`weight`] stored in `layout` (for [`Layout::Blocks`], `rows` rows; products only).
fn weight_in(name: &str, dtype: DType, cols: usize, read: Read, layout: Layout, rows: usize) -> String {
    let marker = format!("//# {}:", dtype.name());
    let start = WEIGHTS.find(&marker).unwrap_or_else(|| panic!("weights.wgsl has no {marker}"));
    let section = &WEIGHTS[start..];
    let section = &section[..section[3..].find("//# ").map_or(section.len(), |e| e + 3)];
    let split = section.find("fn value_W").expect("a value function");
    let code = match read {
        Read::Products => &section[..split],
        Read::Values => &section[split..],
    };
    let code = code.replace("W_BLOCKS", &format!("{name}_BLOCKS")).replace("_W(", &format!("_{name}("));
    let mut code = code.replace("W[", &format!("{name}["));
    if layout == Layout::Blocks {
        assert!(read == Read::Products, "values are read from matrices stored row after row");
        let rows_first = format!("(r * {name}_BLOCKS + b)");
        assert!(
            code.contains(&rows_first),
            "weights.wgsl's {} products index blocks as {rows_first}",
            dtype.name()
        );
        code = code.replace(&rows_first, &format!("(b * {rows}u + r)"));
    }
    if read == Read::Products {
        // One lane's share of a row: every LANES-th block from `lane` on.
        code.push_str(&format!(
            "fn lane_{name}(r: u32, lane: u32) -> f32 {{\n    var acc = 0.0;\n    \
             for (var b0 = 0u; b0 < {name}_BLOCKS; b0 += LANES) {{\n        \
             let b = b0 + lane;\n        \
             if (b < {name}_BLOCKS) {{ acc += block_{name}(r, b); }}\n    }}\n    \
             return acc;\n}}\n"
        ));
        // The workgroup's rows of W from `first` (up to ROWS), each lane's sum parked in
        // `lanes` for `lanes_total` (`passes.wgsl`); every invocation calls it (it holds
        // the barrier).
        code.push_str(&format!(
            "fn pass_sums_{name}(first: u32, lid: u32) {{\n    \
             for (var p = 0u; p < PASSES; p++) {{\n        \
             let row = first + pass_row(p, lid);\n        var acc = 0.0;\n        \
             if (row < ROWS) {{ acc = lane_{name}(row, lid % LANES); }}\n        \
             lanes[p * 64u + lid] = vec2(acc, 0.0);\n    }}\n    workgroupBarrier();\n}}\n"
        ));
    }
    format!("const {name}_BLOCKS: u32 = {}u;\n{code}\n", cols / 32)
}

/// Normed inputs up to this many values are staged in workgroup memory (within
/// WebGPU's default 16 KiB with room for the reductions); longer ones are normed at
/// every use.
const STAGED_MAX: usize = 3072;

/// `input(j)` for the products that read the residual stream through RMSNorm, and
/// `stage(lid)`, which every invocation calls once before the products: the normed
/// values are computed once into workgroup memory when they fit.
fn normed_input(c: &Config) -> String {
    let value = "x[j] * inv_rms * norm[j]";
    let len = c.dim;
    if len > STAGED_MAX {
        return format!("fn input(j: u32) -> f32 {{ return {value}; }}\nfn stage(lid: u32) {{}}\n");
    }
    format!(
        "var<workgroup> staged: array<f32, {len}>;\n\
         fn input(j: u32) -> f32 {{ return staged[j]; }}\n\
         fn stage(lid: u32) {{\n    for (var j0 = 0u; j0 < {len}u; j0 += 64u) {{\n        let j = j0 + lid;\n        \
         if (j < {len}u) {{ staged[j] = {value}; }}\n    }}\n    workgroupBarrier();\n}}\n"
    )
}

/// `input(j)` for the products whose input is a buffer as it stands (`inp`), read where
/// it is used: staging it in workgroup memory cost SwiftShader a fifth of the down
/// projection's time at every sparsity, and lavapipe nothing either way.
const DIRECT_INPUT: &str = "fn input(j: u32) -> f32 { return inp[j]; }\n";

/// The module `body` with `constants` and `parts` before it.
fn assemble(kernel: &str, constants: &[(&str, String)], parts: &[&str], body: &str) -> Shader {
    let mut source: String =
        constants.iter().map(|(name, value)| format!("const {name} = {value};\n")).collect();
    source.push_str(COMMON);
    for part in parts {
        source.push_str(part);
    }
    source.push_str(body);
    let mut hasher = DefaultHasher::new();
    source.hash(&mut hasher);
    Shader { label: format!("lm.{kernel} #{:016x}", hasher.finish()), source }
}

fn u(v: usize) -> String {
    format!("{v}u")
}

fn f(v: f32) -> String {
    format!("{v:?}f")
}

/// The constants every kernel of a model may use.
fn model_constants(c: &Config, positions: usize) -> Vec<(&'static str, String)> {
    vec![
        ("DIM", u(c.dim)),
        ("EPS", f(c.eps)),
        ("HEAD_DIM", u(c.head_dim)),
        ("Q_ROWS", u(c.heads * c.head_dim)),
        ("KV_ROWS", u(c.kv_heads * c.head_dim)),
        ("GROUP", u(c.heads / c.kv_heads)),
        ("POSITIONS", u(positions)),
        ("SCALE", f(1.0 / (c.head_dim as f32).sqrt())),
        ("VOCAB", u(c.vocab)),
    ]
}

/// Norm, queries, keys and values with RoPE, stored in the cache.
pub fn qkv(c: &Config, positions: usize, types: [DType; 3]) -> Shader {
    let parts = [
        PASSES_WGSL.to_string(),
        NORM.to_string(),
        normed_input(c),
        weight("WQ", types[0], c.dim, Read::Products),
        weight("WK", types[1], c.dim, Read::Products),
        weight("WV", types[2], c.dim, Read::Products),
    ];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let constants = product_constants(c, positions, c.dim + 2 * c.kv_heads * c.head_dim);
    assemble("qkv", &constants, &parts, include_str!("qkv.wgsl"))
}

/// Attention over the cache.
pub fn attention(c: &Config, positions: usize) -> Shader {
    assemble("attention", &model_constants(c, positions), &[], include_str!("attention.wgsl"))
}

/// Groups of 8 rows each workgroup of the products takes (`passes.wgsl`). A software
/// GPU (lavapipe, SwiftShader) pays about 0.1 ms per workgroup of 64 invocations and
/// their barriers, far more than for the arithmetic; a real GPU still gets tens of
/// workgroups per product.
pub const PASSES: usize = 4;

/// Workgroups of the products for `rows` rows.
pub fn product_groups(rows: usize) -> u32 {
    rows.div_ceil(8 * PASSES) as u32
}

/// The constants of a kernel with [`PASSES`] over `rows` rows.
fn product_constants(c: &Config, positions: usize, rows: usize) -> Vec<(&'static str, String)> {
    let mut constants = model_constants(c, positions);
    constants.push(("ROWS", u(rows)));
    constants.push(("PASSES", u(PASSES)));
    constants
}

/// `x += W · input` with `rows × cols` weights of type `dtype`.
pub fn add_product(c: &Config, positions: usize, w: (DType, Layout), rows: usize, cols: usize) -> Shader {
    let constants = product_constants(c, positions, rows);
    let w = weight_in("W", w.0, cols, Read::Products, w.1, rows);
    let parts = [PASSES_WGSL, DIRECT_INPUT, &w];
    assemble("add_product", &constants, &parts, include_str!("add_product.wgsl"))
}

/// Norm, gate and up, silu(gate) ⊙ up.
pub fn ffn_in(c: &Config, positions: usize, types: [DType; 2]) -> Shader {
    let constants = product_constants(c, positions, c.ff);
    let parts = gate_up_parts(c, types);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assemble("ffn_in", &constants, &parts, include_str!("ffn_in.wgsl"))
}

/// What the FFN's first half reads: the normed residual, the gate and up projections.
fn gate_up_parts(c: &Config, types: [DType; 2]) -> [String; 5] {
    [
        PASSES_WGSL.to_string(),
        NORM.to_string(),
        normed_input(c),
        weight("WG", types[0], c.dim, Read::Products),
        weight("WU", types[1], c.dim, Read::Products),
    ]
}

/// Workgroups of the sparse gate/up kernel per listed expert.
const GROUPS_PER_EXPERT: usize = EXPERT_SIZE / (8 * PASSES);
const _: () = assert!(EXPERT_SIZE.is_multiple_of(8 * PASSES), "an expert's rows fill whole workgroups");

/// A layer's router over `experts` experts (at most 64, one invocation each) and the
/// compaction of the chosen ones: an expert runs iff its router's logit is above
/// `logit_threshold`.
pub fn router(c: &Config, positions: usize, experts: usize, logit_threshold: f32) -> Shader {
    let mut constants = model_constants(c, positions);
    constants.push(("EXPERTS", u(experts)));
    constants.push(("LOGIT_THRESHOLD", f(logit_threshold)));
    constants.push(("GROUPS_PER_EXPERT", u(GROUPS_PER_EXPERT)));
    assemble("router", &constants, &[NORM, &normed_input(c)], include_str!("router.wgsl"))
}

/// [`ffn_in`] over the listed experts only.
pub fn ffn_in_sparse(c: &Config, positions: usize, types: [DType; 2]) -> Shader {
    let mut constants = product_constants(c, positions, c.ff);
    constants.push(("EXPERT_SIZE", u(EXPERT_SIZE)));
    constants.push(("GROUPS_PER_EXPERT", u(GROUPS_PER_EXPERT)));
    let parts = gate_up_parts(c, types);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assemble("ffn_in_sparse", &constants, &parts, include_str!("ffn_in_sparse.wgsl"))
}

/// The down projection (its type and layout) over the listed experts' blocks only.
pub fn down_sparse(c: &Config, positions: usize, w: (DType, Layout)) -> Shader {
    let constants = product_constants(c, positions, c.dim);
    let w = weight_in("W", w.0, c.ff, Read::Products, w.1, c.dim);
    let parts = [PASSES_WGSL, DIRECT_INPUT, &w];
    assemble("down_sparse", &constants, &parts, include_str!("down_sparse.wgsl"))
}

/// The final norm and the logits.
pub fn head(c: &Config, positions: usize, dtype: DType) -> Shader {
    let constants = product_constants(c, positions, c.vocab);
    let w = weight("W", dtype, c.dim, Read::Products);
    assemble("head", &constants, &[PASSES_WGSL, NORM, &normed_input(c), &w], include_str!("head.wgsl"))
}

/// The embedding lookup.
pub fn embed(c: &Config, positions: usize, dtype: DType) -> Shader {
    let w = weight("W", dtype, c.dim, Read::Values);
    assemble("embed", &model_constants(c, positions), &[&w], include_str!("embed.wgsl"))
}

/// The arg-max of the logits.
pub fn argmax(c: &Config, positions: usize) -> Shader {
    assemble("argmax", &model_constants(c, positions), &[], include_str!("argmax.wgsl"))
}

/// Every kernel for `c` with every weight type, for the validation test.
pub fn all(c: &Config, positions: usize) -> Vec<Shader> {
    let types = [DType::F32, DType::F16, DType::Q8_0, DType::Q4_1];
    let mut out = vec![attention(c, positions), argmax(c, positions), router(c, positions, 48, 0.0)];
    for t in types {
        out.push(add_product(c, positions, (t, Layout::Rows), c.dim, c.dim));
        out.push(qkv(c, positions, [t; 3]));
        out.push(add_product(c, positions, (t, Layout::Blocks), c.dim, c.ff));
        out.push(ffn_in(c, positions, [t; 2]));
        out.push(ffn_in_sparse(c, positions, [t; 2]));
        out.push(down_sparse(c, positions, (t, Layout::Rows)));
        out.push(down_sparse(c, positions, (t, Layout::Blocks)));
        out.push(head(c, positions, t));
        out.push(embed(c, positions, t));
    }
    out
}
