//! The forward pass's WGSL, assembled per model: the model's sizes become constants and
//! each weight matrix gets the reading functions of its type (from `weights.wgsl`).

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::experts::EXPERT_SIZE;
use crate::model::{Config, Layout};
use crate::quant::DType;

const COMMON: &str = include_str!("common.wgsl");
const NORM: &str = include_str!("norm.wgsl");
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
             for (var b = lane; b < {name}_BLOCKS; b += LANES) {{ acc += block_{name}(r, b); }}\n    \
             return acc;\n}}\n"
        ));
    }
    format!("const {name}_BLOCKS: u32 = {}u;\n{code}\n", cols / 32)
}

/// Input vectors up to this many values are staged in workgroup memory (within
/// WebGPU's default 16 KiB with room for the reductions); longer ones are read from
/// storage at every use.
const STAGED_MAX: usize = 3072;

/// WGSL of the products' `input(j)` and of `stage(lid)`, which every invocation calls
/// once before the products: `value` is the j-th input (`x[j] * inv_rms * norm[j]` for
/// the normed ones), copied once into workgroup memory when `len` values fit.
fn input(value: &str, len: usize) -> String {
    if len > STAGED_MAX {
        return format!("fn input(j: u32) -> f32 {{ return {value}; }}\nfn stage(lid: u32) {{}}\n");
    }
    format!(
        "var<workgroup> staged: array<f32, {len}>;\n\
         fn input(j: u32) -> f32 {{ return staged[j]; }}\n\
         fn stage(lid: u32) {{\n    for (var j = lid; j < {len}u; j += 64u) {{ staged[j] = {value}; }}\n    workgroupBarrier();\n}}\n"
    )
}

/// `input` for the sparse down projection: only the listed experts' hidden values are
/// staged, at their own places (the others are never read; staging them all would cost
/// as much at any sparsity).
fn listed_input(len: usize) -> String {
    if len > STAGED_MAX {
        return input("inp[j]", len);
    }
    format!(
        "var<workgroup> staged: array<f32, {len}>;\n\
         fn input(j: u32) -> f32 {{ return staged[j]; }}\n\
         fn stage(lid: u32) {{\n    let n = experts[0] * 32u;\n    for (var i = lid; i < n; i += 64u) {{\n        \
         let j = experts[1u + i / 32u] * 32u + i % 32u;\n        staged[j] = inp[j];\n    }}\n    \
         workgroupBarrier();\n}}\n"
    )
}

/// `input` for the products that read the residual stream through RMSNorm.
fn normed_input(c: &Config) -> String {
    input("x[j] * inv_rms * norm[j]", c.dim)
}

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
        NORM.to_string(),
        normed_input(c),
        weight("WQ", types[0], c.dim, Read::Products),
        weight("WK", types[1], c.dim, Read::Products),
        weight("WV", types[2], c.dim, Read::Products),
    ];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assemble("qkv", &model_constants(c, positions), &parts, include_str!("qkv.wgsl"))
}

/// Attention over the cache.
pub fn attention(c: &Config, positions: usize) -> Shader {
    assemble("attention", &model_constants(c, positions), &[], include_str!("attention.wgsl"))
}

/// `x += W · input` with `rows × cols` weights of type `dtype`.
pub fn add_product(c: &Config, positions: usize, w: (DType, Layout), rows: usize, cols: usize) -> Shader {
    let mut constants = model_constants(c, positions);
    constants.push(("ROWS", u(rows)));
    let w = weight_in("W", w.0, cols, Read::Products, w.1, rows);
    assemble("add_product", &constants, &[&input("inp[j]", cols), &w], include_str!("add_product.wgsl"))
}

/// Norm, gate and up, silu(gate) ⊙ up.
pub fn ffn_in(c: &Config, positions: usize, types: [DType; 2]) -> Shader {
    let mut constants = model_constants(c, positions);
    constants.push(("ROWS", u(c.ff)));
    let parts = gate_up_parts(c, types);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assemble("ffn_in", &constants, &parts, include_str!("ffn_in.wgsl"))
}

/// What the FFN's first half reads: the normed residual, the gate and up projections.
fn gate_up_parts(c: &Config, types: [DType; 2]) -> [String; 4] {
    [
        NORM.to_string(),
        normed_input(c),
        weight("WG", types[0], c.dim, Read::Products),
        weight("WU", types[1], c.dim, Read::Products),
    ]
}

/// Workgroups of the sparse gate/up kernel per listed expert (8 rows each).
const GROUPS_PER_EXPERT: usize = EXPERT_SIZE / 8;

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
    let mut constants = model_constants(c, positions);
    constants.push(("EXPERT_SIZE", u(EXPERT_SIZE)));
    constants.push(("GROUPS_PER_EXPERT", u(GROUPS_PER_EXPERT)));
    let parts = gate_up_parts(c, types);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    assemble("ffn_in_sparse", &constants, &parts, include_str!("ffn_in_sparse.wgsl"))
}

/// The down projection (its type and layout) over the listed experts' blocks only.
pub fn down_sparse(c: &Config, positions: usize, w: (DType, Layout)) -> Shader {
    let mut constants = model_constants(c, positions);
    constants.push(("ROWS", u(c.dim)));
    let w = weight_in("W", w.0, c.ff, Read::Products, w.1, c.dim);
    assemble("down_sparse", &constants, &[&listed_input(c.ff), &w], include_str!("down_sparse.wgsl"))
}

/// Groups of 8 rows each workgroup of the head takes.
pub const HEAD_PASSES: usize = 4;

/// The final norm and the logits.
pub fn head(c: &Config, positions: usize, dtype: DType) -> Shader {
    let mut constants = model_constants(c, positions);
    constants.push(("ROWS", u(c.vocab)));
    constants.push(("PASSES", u(HEAD_PASSES)));
    let w = weight("W", dtype, c.dim, Read::Products);
    assemble("head", &constants, &[NORM, &normed_input(c), &w], include_str!("head.wgsl"))
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
        out.push(add_product(c, positions, (t, Layout::Rows), c.dim, STAGED_MAX + 32));
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
