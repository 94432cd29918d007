//! The Llama forward pass on the CPU, one token at a time over a KV cache: the oracle of
//! the GPU path and the browser's fallback. Weights stay in their GGUF types. The
//! matrix-vector products run one of two ways ([`Products`]):
//!
//! - `Exact`: the f32 input times each block's integers, scaled by the block's `d` (and
//!   `m` times the block's sum of the input): the GPU's kernels compute this way; candle
//!   with every matrix dequantised agrees to 1e-4 of the logits' spread.
//! - `Quantized`: as ggml and candle do by default, the input quantised to 8 bits per
//!   block of 32 (scale `d = max|x|/127`, stored as f16) and each block's product an
//!   integer sum, `d_w·d_x·Σ q_w·q_x` (+ `m_w·s_x` for Q4_1, `s_x = f16(Σq)·d_x`). Faster,
//!   and at the first position bit for bit candle's; later positions part from it by
//!   float noise that the 8-bit rounding turns into steps of 1/127.

use crate::gguf::{Gguf, GgufError};
use crate::quant::{block_sums, dequantize, exact_dot, half, q4_1_integers, DType};
use crate::sparse::{FfnScratch, Sparsity};

/// The architecture's numbers, from the GGUF's `llama.*` metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Transformer blocks.
    pub layers: usize,
    /// Width of the residual stream.
    pub dim: usize,
    /// Width of the FFN's hidden layer.
    pub ff: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention: `heads / kv_heads` queries share one).
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// RoPE's base.
    pub rope_base: f32,
    /// RMSNorm's epsilon.
    pub eps: f32,
    /// Tokens in the vocabulary.
    pub vocab: usize,
    /// Positions the model was trained for.
    pub context: usize,
}

impl Config {
    /// The numbers of a `llama` GGUF.
    pub fn from_gguf(gguf: &Gguf) -> Result<Config, GgufError> {
        let arch = gguf.require_str("general.architecture")?;
        if arch != "llama" {
            return Err(GgufError {
                file: gguf.file.clone(),
                at: 0,
                message: format!("general.architecture is {arch:?}; labelplan runs llama models"),
            });
        }
        let n = |key: &str| gguf.require_u64(&format!("llama.{key}")).map(|v| v as usize);
        let f = |key: &str| gguf.require_f64(&format!("llama.{key}")).map(|v| v as f32);
        let (dim, heads) = (n("embedding_length")?, n("attention.head_count")?);
        let kv_heads = n("attention.head_count_kv").unwrap_or(heads);
        let vocab = gguf.tensor("token_embd.weight")?.shape().1 as usize;
        let config = Config {
            layers: n("block_count")?,
            dim,
            ff: n("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim: dim / heads.max(1),
            rope_base: f("rope.freq_base").unwrap_or(10_000.0),
            eps: f("attention.layer_norm_rms_epsilon")?,
            vocab,
            context: n("context_length")?,
        };
        if heads == 0
            || kv_heads == 0
            || !dim.is_multiple_of(heads)
            || !heads.is_multiple_of(kv_heads)
            || !config.head_dim.is_multiple_of(2)
        {
            return Err(GgufError {
                file: gguf.file.clone(),
                at: 0,
                message: format!(
                    "{heads} heads, {kv_heads} key/value heads and width {dim} do not make a Llama"
                ),
            });
        }
        Ok(config)
    }
}

/// How the matrix-vector products treat the input vector (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Products {
    /// f32 input, weights dequantised inside the product: the GPU's arithmetic.
    Exact,
    /// 8-bit input and integer block sums: ggml's and candle's arithmetic, faster.
    #[default]
    Quantized,
}

/// How a matrix's blocks of 32 values are ordered in its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Row after row (the GGUF's).
    #[default]
    Rows,
    /// Block 0 of every row, then block 1 of every row, and so on: the sparse FFN's
    /// down projection, which reads only some blocks of each row (one per expert that
    /// ran), reads each as one contiguous run; row after row, the memory traffic hardly
    /// falls with the blocks skipped (the prefetchers fetch the rows whole).
    Blocks,
}

/// A weight matrix in its stored type: `rows` rows of `cols` values.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The element type.
    pub dtype: DType,
    /// Output rows.
    pub rows: usize,
    /// Values per row (the input width).
    pub cols: usize,
    /// The blocks' order in `bytes`.
    pub layout: Layout,
    /// The values' bytes, in `layout`'s order.
    pub bytes: Vec<u8>,
}

impl Matrix {
    fn load(gguf: &Gguf, file: &[u8], name: &str, rows: usize, cols: usize) -> Result<Matrix, GgufError> {
        let t = gguf.tensor(name)?;
        let fail = |message: String| GgufError { file: gguf.file.clone(), at: t.start, message };
        if !t.dtype.is_supported() {
            return Err(fail(format!(
                "tensor {name} is {}; labelplan computes with F32, F16, Q8_0 and Q4_1",
                t.dtype.name()
            )));
        }
        if t.shape() != (cols as u64, rows as u64) {
            return Err(fail(format!("tensor {name} is {:?}; {cols} × {rows} expected", t.dims)));
        }
        Ok(Matrix { dtype: t.dtype, rows, cols, layout: Layout::Rows, bytes: gguf.data(file, t).to_vec() })
    }

    /// Bytes of one row.
    fn row_bytes(&self) -> usize {
        let (values, bytes) = self.dtype.block();
        self.cols / values as usize * bytes as usize
    }

    /// Every row as f32, row after row (whatever the layout).
    pub fn to_f32(&self) -> Vec<f32> {
        let mut values = vec![0.0f32; self.rows * self.cols];
        for (r, row) in values.chunks_exact_mut(self.cols).enumerate() {
            self.row(r, row);
        }
        values
    }

    /// Row `r` as f32 (the embedding lookup).
    pub fn row(&self, r: usize, out: &mut [f32]) {
        let n = self.row_bytes();
        match self.layout {
            Layout::Rows => dequantize(self.dtype, &self.bytes[r * n..(r + 1) * n], out),
            Layout::Blocks => {
                let block = n / self.cols.div_ceil(32);
                for (b, values) in out.chunks_mut(32).enumerate() {
                    let at = (b * self.rows + r) * block;
                    dequantize(self.dtype, &self.bytes[at..at + block], values);
                }
            }
        }
    }

    /// This matrix with its blocks in `layout`'s order (whole blocks of 32 values: the
    /// columns must be a multiple of 32 for [`Layout::Blocks`]).
    pub fn with_layout(self, layout: Layout) -> Matrix {
        if layout == self.layout {
            return self;
        }
        assert!(self.cols.is_multiple_of(32), "{} columns are not whole blocks", self.cols);
        let (rows, blocks) = (self.rows, self.cols / 32);
        let block = self.row_bytes() / blocks;
        let mut bytes = Vec::with_capacity(self.bytes.len());
        let (outer, inner) = if layout == Layout::Blocks { (blocks, rows) } else { (rows, blocks) };
        for o in 0..outer {
            for i in 0..inner {
                // Block `i` of row `o` (to Rows) or block `o` of row `i` (to Blocks), read
                // where the other layout keeps it.
                let at = (i * outer + o) * block;
                bytes.extend_from_slice(&self.bytes[at..at + block]);
            }
        }
        Matrix { layout, bytes, ..self }
    }

    /// `out[r] = row_r · x` for every row (natively, rows split across the cores).
    pub fn matvec(&self, x: &[f32], out: &mut [f32], products: Products) {
        match self.layout {
            Layout::Rows => {
                self.with_dot(x, products, AllRows { out, bytes: &self.bytes, n: self.row_bytes() })
            }
            Layout::Blocks => self.matvec_blocks(x, out, products, &vec![true; self.cols / 32]),
        }
    }

    /// [`Matrix::matvec`] for the rows of some groups of `size` consecutive rows only
    /// (the experts that run); the other rows of `out` are left as they are.
    pub fn matvec_groups(
        &self,
        x: &[f32],
        out: &mut [f32],
        products: Products,
        groups: &[bool],
        size: usize,
    ) {
        assert_eq!(self.layout, Layout::Rows, "groups of rows are read row after row");
        let n = self.row_bytes();
        // Runs of consecutive groups that run, cut into parts of at most `most` rows: a
        // few parts per core however the groups fall (one per group made hundreds of
        // tiny tasks; one per run left a long run to one core).
        let active = groups.iter().filter(|&&on| on).count() * size;
        let most = active.div_ceil(2 * parallelism()).max(size);
        let mut parts = Vec::new();
        let (mut out, mut bytes) = (out, &self.bytes[..]);
        let mut g = 0;
        while g < groups.len() {
            let run = groups[g..].iter().take_while(|&&on| on == groups[g]).count();
            let take = (run * size).min(out.len());
            let (part, rest) = std::mem::take(&mut out).split_at_mut(take);
            let (part_bytes, rest_bytes) = bytes.split_at((run * size * n).min(bytes.len()));
            if groups[g] {
                parts.extend(part.chunks_mut(most).zip(part_bytes.chunks(most * n)));
            }
            (out, bytes) = (rest, rest_bytes);
            g += run;
        }
        self.with_dot(x, products, SomeRows { parts, n });
    }

    /// [`Matrix::matvec`] of an `x` that is zero outside some blocks of 32 (the hidden
    /// values of the experts that ran): only those blocks of each row are read, and the
    /// sums are the full product's (the skipped blocks would add zeros).
    pub fn matvec_blocks(&self, x: &[f32], out: &mut [f32], products: Products, blocks: &[bool]) {
        let n = self.row_bytes();
        let on = blocks.iter().enumerate().filter_map(|(b, &on)| on.then_some(b)).collect();
        let block_bytes = n / blocks.len();
        match self.layout {
            Layout::Rows => {
                self.with_dot(x, products, SomeBlocks { out, bytes: &self.bytes, n, on, block_bytes })
            }
            Layout::Blocks => {
                self.with_dot(x, products, BlockRuns { out, bytes: &self.bytes, on, block_bytes })
            }
        }
    }

    /// Runs `job` with the row product for input `x` in this matrix's type.
    fn with_dot(&self, x: &[f32], products: Products, job: impl DotJob) {
        match (self.dtype, products) {
            (DType::Q4_1 | DType::Q8_0, Products::Quantized) => {
                job.run(&QuantizedDot { dtype: self.dtype, x: Q8Blocks::new(x) })
            }
            (dtype, _) => job.run(&ExactDot { dtype, x, sums: block_sums(x) }),
        }
    }
}

/// Work done with a row product of whatever kind (generic, so the product is inlined
/// into the vectorised loop).
trait DotJob {
    fn run<D: RowDot>(self, dot: &D);
}

/// Every row.
struct AllRows<'a> {
    out: &'a mut [f32],
    bytes: &'a [u8],
    n: usize,
}

impl DotJob for AllRows<'_> {
    fn run<D: RowDot>(self, dot: &D) {
        let n = self.n;
        split_rows(self.out, self.bytes, n, |out, bytes| {
            vectorized(Rows { out, bytes, n, dot, first: 0, add: false })
        });
    }
}

/// Some groups of rows, each with its outputs.
struct SomeRows<'a> {
    parts: Vec<(&'a mut [f32], &'a [u8])>,
    n: usize,
}

impl DotJob for SomeRows<'_> {
    fn run<D: RowDot>(self, dot: &D) {
        let n = self.n;
        for_each_part(self.parts, |(out, bytes)| {
            vectorized(Rows { out, bytes, n, dot, first: 0, add: false })
        });
    }
}

/// Every row, over some of its blocks.
struct SomeBlocks<'a> {
    out: &'a mut [f32],
    bytes: &'a [u8],
    n: usize,
    on: Vec<usize>,
    block_bytes: usize,
}

impl DotJob for SomeBlocks<'_> {
    fn run<D: RowDot>(self, dot: &D) {
        let (n, dot) = (self.n, &BlocksDot { dot, on: &self.on, bytes: self.block_bytes });
        split_rows(self.out, self.bytes, n, |out, bytes| {
            vectorized(Rows { out, bytes, n, dot, first: 0, add: false })
        });
    }
}

/// Every row, over some of its blocks, in [`Layout::Blocks`]: each part of the rows
/// adds block after block (each one contiguous run of the bytes), so every row sums in
/// the full product's order.
struct BlockRuns<'a> {
    out: &'a mut [f32],
    bytes: &'a [u8],
    on: Vec<usize>,
    block_bytes: usize,
}

impl DotJob for BlockRuns<'_> {
    fn run<D: RowDot>(self, dot: &D) {
        let (rows, size) = (self.out.len(), self.block_bytes);
        let (on, bytes) = (&self.on, self.bytes);
        split_out(self.out, |first, out| {
            out.fill(0.0);
            for &b in on {
                let run = &bytes[(b * rows + first) * size..(b * rows + first + out.len()) * size];
                vectorized(Rows { out: &mut *out, bytes: run, n: size, dot, first: b, add: true });
            }
        });
    }
}

/// A row product over some blocks only, in the full product's order.
struct BlocksDot<'a, D> {
    dot: &'a D,
    on: &'a [usize],
    bytes: usize,
}

impl<D: RowDot> RowDot for BlocksDot<'_, D> {
    #[inline(always)]
    fn dot(&self, row: &[u8], _: usize) -> f32 {
        self.on
            .iter()
            .fold(0.0, |total, &b| total + self.dot.dot(&row[b * self.bytes..(b + 1) * self.bytes], b))
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot_avx2(&self, simd: pulp::x86::V3, row: &[u8], _: usize) -> f32 {
        self.on.iter().fold(0.0, |total, &b| {
            total + self.dot.dot_avx2(simd, &row[b * self.bytes..(b + 1) * self.bytes], b)
        })
    }
}

/// One row's product with the input, as a matrix-vector product computes it.
/// `row` is a whole row, or some of its blocks from block `first` on.
trait RowDot: Sync {
    fn dot(&self, row: &[u8], first: usize) -> f32;

    /// The same product where the CPU has AVX2 (the same bits).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot_avx2(&self, _: pulp::x86::V3, row: &[u8], first: usize) -> f32 {
        self.dot(row, first)
    }
}

/// Products in f32, the GPU's arithmetic ([`Products::Exact`]).
struct ExactDot<'a> {
    dtype: DType,
    x: &'a [f32],
    sums: Vec<f32>,
}

impl RowDot for ExactDot<'_> {
    #[inline(always)]
    fn dot(&self, row: &[u8], first: usize) -> f32 {
        exact_dot(self.dtype, row, &self.x[first * 32..], &self.sums[first..])
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn dot_avx2(&self, simd: pulp::x86::V3, row: &[u8], first: usize) -> f32 {
        crate::quant::avx2::exact_dot(simd, self.dtype, row, &self.x[first * 32..], &self.sums[first..])
    }
}

/// Products with the input quantised as ggml's ([`Products::Quantized`]).
struct QuantizedDot {
    dtype: DType,
    x: Q8Blocks,
}

impl RowDot for QuantizedDot {
    #[inline(always)]
    fn dot(&self, row: &[u8], first: usize) -> f32 {
        match self.dtype {
            DType::Q4_1 => q4_1_dot(row, &self.x, first),
            _ => q8_0_dot(row, &self.x, first),
        }
    }
}

/// Rows of `bytes` (`n` bytes each, from block `first` of each row on) and their
/// outputs: one part of a product, written or (`add`) added to what is there.
struct Rows<'a, D> {
    out: &'a mut [f32],
    bytes: &'a [u8],
    n: usize,
    dot: &'a D,
    first: usize,
    add: bool,
}

#[cfg(not(target_arch = "wasm32"))]
impl<D: RowDot> pulp::WithSimd for Rows<'_, D> {
    type Output = ();

    // Inlined, with the dot, into pulp's function that enables the vector instructions.
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.run();
    }
}

impl<D: RowDot> Rows<'_, D> {
    /// `out[r] = row r · x`, or `+=` it. A plain loop: a closure in this chain is
    /// compiled without the caller's vector instructions and calls each one (20× slower).
    #[inline(always)]
    fn run(self) {
        for (o, row) in self.out.iter_mut().zip(self.bytes.chunks_exact(self.n)) {
            let d = self.dot.dot(row, self.first);
            *o = if self.add { *o + d } else { d };
        }
    }
}

/// [`Rows`] with AVX2's products, run by [`pulp::x86::V3::vectorize`].
#[cfg(target_arch = "x86_64")]
struct Avx2Rows<'a, D>(pulp::x86::V3, Rows<'a, D>);

#[cfg(target_arch = "x86_64")]
impl<D: RowDot> pulp::NullaryFnOnce for Avx2Rows<'_, D> {
    type Output = ();

    // Inlined, with the dot, into the function that enables AVX2.
    #[inline(always)]
    fn call(self) {
        let Avx2Rows(simd, Rows { out, bytes, n, dot, first, add }) = self;
        Rows { out, bytes, n, dot: &Avx2Dot(simd, dot), first, add }.run();
    }
}

/// A row product taken with AVX2's instructions.
#[cfg(target_arch = "x86_64")]
struct Avx2Dot<'a, D>(pulp::x86::V3, &'a D);

#[cfg(target_arch = "x86_64")]
impl<D: RowDot> RowDot for Avx2Dot<'_, D> {
    #[inline(always)]
    fn dot(&self, row: &[u8], first: usize) -> f32 {
        self.1.dot_avx2(self.0, row, first)
    }
}

/// Runs `rows` compiled for the widest vector instructions this CPU has, detected at
/// run time (natively: the build targets SSE2, most CPUs have AVX2, where the exact
/// products are written out in its instructions; the browser's build has SIMD128 at
/// compile time). Products are never fused into FMAs (Rust does
/// not contract), so the results are the same bits either way.
fn vectorized<D: RowDot>(rows: Rows<'_, D>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return simd.vectorize(Avx2Rows(simd, rows));
    }
    #[cfg(not(target_arch = "wasm32"))]
    pulp::Arch::new().dispatch(rows);
    #[cfg(target_arch = "wasm32")]
    rows.run();
}

/// Runs `f` on consecutive parts of `out` and their rows' `bytes` (`n` a row).
fn split_rows(out: &mut [f32], bytes: &[u8], n: usize, f: impl Fn(&mut [f32], &[u8]) + Sync) {
    split_out(out, |first, part| f(part, &bytes[first * n..(first + part.len()) * n]));
}

/// Runs `f(first, part)` on consecutive parts of `out` (`first`: the part's first index):
/// natively on rayon's pool, a few parts per core so that a slow core is evened out; in
/// the browser on its one thread.
fn split_out(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads();
        if threads > 1 {
            let per = out.len().div_ceil(threads * 2);
            out.par_chunks_mut(per).enumerate().for_each(|(k, o)| f(k * per, o));
            return;
        }
    }
    f(0, out);
}

/// Threads the products are split over: rayon's natively, one in the browser.
fn parallelism() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(target_arch = "wasm32")]
    1
}

/// Runs `f` on each of `parts`: natively on rayon's pool, in the browser in turn.
fn for_each_part<P: Send>(parts: Vec<P>, f: impl Fn(P) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        parts.into_par_iter().for_each(f);
    }
    #[cfg(target_arch = "wasm32")]
    parts.into_iter().for_each(f);
}

/// A vector quantised as ggml's Q8_1 (and Q8_0: the same values without the sums) per
/// block of 32: scale `d` (rounded to f16, as stored), values `q`, and `s = d·Σq`.
struct Q8Blocks {
    d: Vec<f32>,
    s: Vec<f32>,
    q: Vec<i8>,
}

impl Q8Blocks {
    fn new(x: &[f32]) -> Q8Blocks {
        let blocks = x.len() / 32;
        let (mut d, mut s, mut q) =
            (Vec::with_capacity(blocks), Vec::with_capacity(blocks), vec![0i8; x.len()]);
        for (xs, qs) in x.chunks_exact(32).zip(q.chunks_exact_mut(32)) {
            let amax = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inverse = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let mut sum = 0i32;
            for (q, &v) in qs.iter_mut().zip(xs) {
                *q = (v * inverse).round() as i8;
                sum += *q as i32;
            }
            // As ggml stores them: d in f16, and s the f16 product of f16(Σq) and d.
            let stored = half::f16::from_f32(scale);
            d.push(stored.to_f32());
            s.push((half::f16::from_f32(sum as f32) * stored).to_f32());
        }
        Q8Blocks { d, s, q }
    }
}

/// One Q4_1 row (or its blocks from `first` on) · the quantised vector.
#[inline(always)]
fn q4_1_dot(row: &[u8], x: &Q8Blocks, first: usize) -> f32 {
    let (blocks, _) = row.as_chunks::<20>();
    let (xq, _) = x.q[first * 32..].as_chunks::<32>();
    let mut total = 0.0f32;
    for (((b, q), d), s) in blocks.iter().zip(xq).zip(&x.d[first..]).zip(&x.s[first..]) {
        let sum: i32 = q4_1_integers(b).iter().zip(q).map(|(&w, &q)| w as i32 * q as i32).sum();
        total += half(b, 0) * d * sum as f32 + half(b, 2) * s;
    }
    total
}

/// One Q8_0 row (or its blocks from `first` on) · the quantised vector.
#[inline(always)]
fn q8_0_dot(row: &[u8], x: &Q8Blocks, first: usize) -> f32 {
    let (blocks, _) = row.as_chunks::<34>();
    let (xq, _) = x.q[first * 32..].as_chunks::<32>();
    let mut total = 0.0f32;
    for ((b, q), d) in blocks.iter().zip(xq).zip(&x.d[first..]) {
        let sum: i32 = b[2..].iter().zip(q).map(|(&w, &q)| w as i8 as i32 * q as i32).sum();
        total += half(b, 0) * d * sum as f32;
    }
    total
}

/// One transformer block's weights.
#[derive(Debug, Clone)]
pub struct Layer {
    /// RMSNorm before attention.
    pub attn_norm: Vec<f32>,
    /// Query, key, value and output projections.
    pub q: Matrix,
    /// Keys.
    pub k: Matrix,
    /// Values.
    pub v: Matrix,
    /// Attention output.
    pub o: Matrix,
    /// RMSNorm before the FFN.
    pub ffn_norm: Vec<f32>,
    /// The FFN: `down(silu(gate·x) ⊙ up·x)`.
    pub gate: Matrix,
    /// Up projection.
    pub up: Matrix,
    /// Down projection.
    pub down: Matrix,
}

/// The model's weights.
#[derive(Debug, Clone)]
pub struct Model {
    /// Its numbers.
    pub config: Config,
    /// Token embeddings, also the output head when the GGUF has no `output.weight`.
    pub embed: Matrix,
    /// The output head when it is not tied to the embeddings.
    pub head: Option<Matrix>,
    /// The blocks.
    pub layers: Vec<Layer>,
    /// The final RMSNorm.
    pub norm: Vec<f32>,
    /// How the products treat their input.
    pub products: Products,
}

fn vector(gguf: &Gguf, file: &[u8], name: &str, len: usize) -> Result<Vec<f32>, GgufError> {
    let m = Matrix::load(gguf, file, name, 1, len)?;
    let mut out = vec![0.0; len];
    m.row(0, &mut out);
    Ok(out)
}

impl Model {
    /// The weights of the llama GGUF parsed as `gguf` from `file`.
    pub fn from_gguf(gguf: &Gguf, file: &[u8]) -> Result<Model, GgufError> {
        let c = Config::from_gguf(gguf)?;
        let kv = c.kv_heads * c.head_dim;
        let layers = (0..c.layers)
            .map(|i| {
                let m = |name: &str, rows, cols| {
                    Matrix::load(gguf, file, &format!("blk.{i}.{name}.weight"), rows, cols)
                };
                Ok(Layer {
                    attn_norm: vector(gguf, file, &format!("blk.{i}.attn_norm.weight"), c.dim)?,
                    q: m("attn_q", c.dim, c.dim)?,
                    k: m("attn_k", kv, c.dim)?,
                    v: m("attn_v", kv, c.dim)?,
                    o: m("attn_output", c.dim, c.dim)?,
                    ffn_norm: vector(gguf, file, &format!("blk.{i}.ffn_norm.weight"), c.dim)?,
                    gate: m("ffn_gate", c.ff, c.dim)?,
                    up: m("ffn_up", c.ff, c.dim)?,
                    down: m("ffn_down", c.dim, c.ff)?,
                })
            })
            .collect::<Result<Vec<_>, GgufError>>()?;
        let head = match gguf.tensor("output.weight") {
            Ok(_) => Some(Matrix::load(gguf, file, "output.weight", c.vocab, c.dim)?),
            Err(_) => None,
        };
        Ok(Model {
            embed: Matrix::load(gguf, file, "token_embd.weight", c.vocab, c.dim)?,
            head,
            norm: vector(gguf, file, "output_norm.weight", c.dim)?,
            layers,
            config: c,
            products: Products::default(),
        })
    }

    /// Weights in all (the tied head counted once).
    pub fn parameters(&self) -> u64 {
        let m = |m: &Matrix| (m.rows * m.cols) as u64;
        let layers: u64 = self
            .layers
            .iter()
            .map(|l| {
                [&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down].into_iter().map(m).sum::<u64>()
                    + (l.attn_norm.len() + l.ffn_norm.len()) as u64
            })
            .sum();
        layers + m(&self.embed) + self.head.as_ref().map_or(0, m) + self.norm.len() as u64
    }

    /// An empty cache for `positions` tokens.
    pub fn cache(&self, positions: usize) -> Cache {
        let c = &self.config;
        let size = c.layers * positions * c.kv_heads * c.head_dim;
        Cache { keys: vec![0.0; size], values: vec![0.0; size], len: 0, positions }
    }

    /// Feeds `token` at the cache's next position and returns the logits of the token
    /// after it. Panics when the cache is full.
    pub fn forward(&self, token: u32, cache: &mut Cache) -> Vec<f32> {
        self.forward_with(token, cache, &Sparsity::Dense, |_, _| {})
    }

    /// [`Model::forward`] with each FFN's experts chosen by `sparsity` (the model must be
    /// [grouped](crate::experts) unless it is dense); `used(layer, ffn)` sees each
    /// layer's FFN afterwards (which experts ran: `ffn.active`).
    pub fn forward_with(
        &self,
        token: u32,
        cache: &mut Cache,
        sparsity: &Sparsity,
        mut used: impl FnMut(usize, &FfnScratch),
    ) -> Vec<f32> {
        let c = &self.config;
        assert!(cache.len < cache.positions, "the cache holds {} positions", cache.positions);
        let pos = cache.len;
        let kv = c.kv_heads * c.head_dim;
        let mut x = vec![0.0f32; c.dim];
        self.embed.row(token as usize, &mut x);
        let (mut h, mut q, mut att) = (vec![0.0; c.dim], vec![0.0; c.dim], vec![0.0; c.dim]);
        let (mut k, mut v) = (vec![0.0; kv], vec![0.0; kv]);
        let mut ffn = FfnScratch::new(c.ff);
        let mut scores = vec![0.0f32; pos + 1];
        let scale = 1.0 / (c.head_dim as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&x, &layer.attn_norm, c.eps, &mut h);
            layer.q.matvec(&h, &mut q, self.products);
            layer.k.matvec(&h, &mut k, self.products);
            layer.v.matvec(&h, &mut v, self.products);
            rope(&mut q, c.head_dim, pos, c.rope_base);
            rope(&mut k, c.head_dim, pos, c.rope_base);
            let base = l * cache.positions * kv;
            cache.keys[base + pos * kv..base + (pos + 1) * kv].copy_from_slice(&k);
            cache.values[base + pos * kv..base + (pos + 1) * kv].copy_from_slice(&v);
            let group = c.heads / c.kv_heads;
            for head in 0..c.heads {
                let qh = &q[head * c.head_dim..(head + 1) * c.head_dim];
                let kv_off = (head / group) * c.head_dim;
                for (t, s) in scores.iter_mut().enumerate() {
                    let key = &cache.keys[base + t * kv + kv_off..base + t * kv + kv_off + c.head_dim];
                    *s = qh.iter().zip(key).map(|(a, b)| a * b).sum::<f32>() * scale;
                }
                softmax(&mut scores);
                let out = &mut att[head * c.head_dim..(head + 1) * c.head_dim];
                out.fill(0.0);
                for (t, &p) in scores.iter().enumerate() {
                    let value = &cache.values[base + t * kv + kv_off..base + t * kv + kv_off + c.head_dim];
                    out.iter_mut().zip(value).for_each(|(o, v)| *o += p * v);
                }
            }
            layer.o.matvec(&att, &mut h, self.products);
            x.iter_mut().zip(&h).for_each(|(x, h)| *x += h);
            rms_norm(&x, &layer.ffn_norm, c.eps, &mut h);
            // `att` is free again: the FFN's output goes there.
            sparsity.ffn(layer, l, &h, &mut att, self.products, &mut ffn);
            used(l, &ffn);
            x.iter_mut().zip(&att).for_each(|(x, f)| *x += f);
        }
        cache.len += 1;
        rms_norm(&x.clone(), &self.norm, c.eps, &mut x);
        let mut logits = vec![0.0f32; c.vocab];
        self.head.as_ref().unwrap_or(&self.embed).matvec(&x, &mut logits, self.products);
        logits
    }
}

/// Keys and values of the positions fed so far, per layer.
#[derive(Debug, Clone)]
pub struct Cache {
    keys: Vec<f32>,
    values: Vec<f32>,
    /// Positions filled.
    pub len: usize,
    /// Positions it holds.
    pub positions: usize,
}

/// `x / rms(x) · w`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let inv = 1.0 / (mean + eps).sqrt();
    out.iter_mut().zip(x).zip(w).for_each(|((o, x), w)| *o = x * inv * w);
}

/// (cos, sin) of RoPE's angle for pair `i` of a head at `pos`: `pos · base^(-2i/head_dim)`,
/// with libm's portable functions (the same bits natively and in the browser, so greedy
/// text is the same on both).
pub fn rope_angle(pos: usize, i: usize, head_dim: usize, base: f32) -> (f32, f32) {
    let theta = pos as f32 * (1.0 / libm::powf(base, (2 * i) as f32 / head_dim as f32));
    (libm::cosf(theta), libm::sinf(theta))
}

/// Rotates each head's adjacent pairs `(x[2i], x[2i+1])` by `pos · base^(-2i/head_dim)`.
pub fn rope(x: &mut [f32], head_dim: usize, pos: usize, base: f32) {
    for head in x.chunks_exact_mut(head_dim) {
        for (i, pair) in head.chunks_exact_mut(2).enumerate() {
            let (cos, sin) = rope_angle(pos, i, head_dim, base);
            let (a, b) = (pair[0], pair[1]);
            pair[0] = a * cos - b * sin;
            pair[1] = a * sin + b * cos;
        }
    }
}

fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    x.iter_mut().for_each(|v| {
        *v = libm::expf(*v - max);
        sum += *v;
    });
    x.iter_mut().for_each(|v| *v /= sum);
}

pub(crate) fn silu(x: f32) -> f32 {
    x / (1.0 + libm::expf(-x))
}

/// The index of the largest value (the first on ties).
pub fn argmax(x: &[f32]) -> u32 {
    x.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
        .0 as u32
}
