//! Similarity blocks of query rows against reference rows (workgroup-shared tiles,
//! `vec4` loads) with three epilogues: dense output, fused arg-max and fused top-k; each
//! compiled for f32 and for f16 storage of either operand. CPU twins: `CpuBackend::{dot, nearest, top_k}`.

use crate::kernels::{per_storage_sources, Kernel, PerStorage};
use crate::matrix::{GpuMatrix, Tile};
use crate::{GpuContext, GpuError};

const COMMON: &str = include_str!("common.wgsl");
/// Each epilogue's label and shader.
const EPILOGUES: [(&str, &str); 3] = [
    ("similarity/dense", include_str!("dense.wgsl")),
    ("similarity/nearest", include_str!("nearest.wgsl")),
    ("similarity/top_k", include_str!("top_k.wgsl")),
];
/// The matrix operands: query rows and reference rows.
const OPERANDS: [&str; 2] = ["q", "r"];

/// Query rows per workgroup (the shaders' BLOCK).
const BLOCK: usize = 64;
/// Reference rows one dispatch walks: keeps each dispatch short (browsers and drivers
/// stop long-running GPU work).
const REFS_PER_DISPATCH: usize = 8192;
/// Largest k the top-k kernel keeps in registers (the shader's MAX_K).
pub const MAX_K: usize = 32;

/// The three similarity pipelines, each for every storage of the queries and of the
/// references.
#[derive(Debug)]
pub(crate) struct Kernels {
    dense: PerStorage,
    nearest: PerStorage,
    top_k: PerStorage,
}

/// The full WGSL of each similarity kernel (storage prelude, common part, epilogue).
pub fn sources() -> Vec<(String, String)> {
    EPILOGUES
        .iter()
        .flat_map(|(label, epilogue)| per_storage_sources(label, &OPERANDS, &format!("{COMMON}\n{epilogue}")))
        .collect()
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let [dense, nearest, top_k] = EPILOGUES.map(|(label, epilogue)| {
            PerStorage::new(device, label, &OPERANDS, &format!("{COMMON}\n{epilogue}"), "main")
        });
        Kernels { dense, nearest, top_k }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    q_rows: u32,
    dim4: u32,
    r_start: u32,
    r_end: u32,
    r_first: u32,
    q_first: u32,
    k: u32,
    out_stride: u32,
}

/// What a similarity dispatch does with its dot products.
struct Epilogue<'a> {
    kernel: &'a Kernel,
    /// The epilogue's buffers (bindings 3, 4, …).
    state: &'a [&'a wgpu::Buffer],
    /// Top-k: entries kept per row.
    k: u32,
    /// Dense: floats per output row.
    out_stride: u32,
}

/// Records the dispatches of an epilogue for query tile `q` against every reference
/// tile, `REFS_PER_DISPATCH` reference rows at a time.
fn encode(ctx: &GpuContext, enc: &mut wgpu::CommandEncoder, q: &Tile, refs: &GpuMatrix, e: &Epilogue) {
    let dim4 = (refs.dim4().max(4) / 4) as u32;
    let groups = q.rows.div_ceil(BLOCK) as u32;
    for r in &refs.tiles {
        for start in (0..r.rows).step_by(REFS_PER_DISPATCH) {
            let params = Params {
                q_rows: q.rows as u32,
                dim4,
                r_start: start as u32,
                r_end: (start + REFS_PER_DISPATCH).min(r.rows) as u32,
                r_first: r.first as u32,
                q_first: q.first as u32,
                k: e.k,
                out_stride: e.out_stride,
            };
            let uniform = ctx.uniform(&params);
            let mut buffers = vec![&q.buffer, &r.buffer, &uniform];
            buffers.extend_from_slice(e.state);
            let bind = e.kernel.bind(&ctx.device, &buffers);
            e.kernel.dispatch(enc, &bind, groups, ctx.max_workgroups());
        }
    }
}

/// Both matrices must have the same width (either may be f32 or f16).
fn check_pair(op: &'static str, a: &GpuMatrix, b: &GpuMatrix) -> Result<(), GpuError> {
    if a.dim == b.dim {
        return Ok(());
    }
    Err(GpuError::Shape {
        op,
        rows: b.rows,
        dim: b.dim,
        message: format!("the other matrix has {} dims", a.dim),
    })
}

/// `a · bᵀ`, row-major `a.rows × b.rows`. Query tiles are cut so one tile's output fits
/// a binding.
pub async fn dot(ctx: &GpuContext, a: &GpuMatrix, b: &GpuMatrix) -> Result<Vec<f32>, GpuError> {
    check_pair("dot", a, b)?;
    let row_bytes = (b.rows as u64 * 4).max(4);
    let per = (ctx.binding_bytes() / row_bytes) as usize;
    if per == 0 {
        return Err(GpuError::Shape {
            op: "dot",
            rows: b.rows,
            dim: b.dim,
            message: "one output row is larger than a storage binding".into(),
        });
    }
    let mut out = Vec::with_capacity(a.rows * b.rows);
    for tile in &a.tiles {
        for start in (0..tile.rows).step_by(per) {
            let sub = sub_tile(ctx, a, tile, start, per.min(tile.rows - start));
            let buf = ctx
                .scoped("dot", || {
                    // Sentinel-filled: an entry the kernel fails to write reads back as NaN.
                    let buf = ctx.storage(
                        "dot.out",
                        bytemuck::cast_slice(&vec![f32::NAN; (sub.rows * b.rows).max(1)]),
                    );
                    let mut enc = ctx.encoder();
                    let dense = Epilogue {
                        kernel: ctx.pipelines.similarity.dense.on(&[a.storage, b.storage]),
                        state: &[&buf],
                        k: 0,
                        out_stride: b.rows as u32,
                    };
                    encode(ctx, &mut enc, &sub, b, &dense);
                    ctx.queue.submit([enc.finish()]);
                    buf
                })
                .await?;
            out.extend(ctx.read_f32(&buf, (sub.rows * b.rows) as u64 * 4).await?);
        }
    }
    Ok(out)
}

/// Rows `start .. start + rows` of `tile` as a tile of their own (the same buffer when
/// it is the whole tile, else a copy).
fn sub_tile(ctx: &GpuContext, m: &GpuMatrix, tile: &Tile, start: usize, rows: usize) -> Tile {
    if start == 0 && rows == tile.rows {
        return Tile { buffer: tile.buffer.clone(), first: tile.first, rows };
    }
    let row_bytes = m.row_bytes();
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("sub tile"),
        size: rows as u64 * row_bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.encoder();
    enc.copy_buffer_to_buffer(&tile.buffer, start as u64 * row_bytes, &buffer, 0, rows as u64 * row_bytes);
    ctx.queue.submit([enc.finish()]);
    Tile { buffer, first: tile.first + start, rows }
}

/// For every row of `points`, the most similar row of `refs` and the similarity.
pub async fn nearest(
    ctx: &GpuContext,
    points: &GpuMatrix,
    refs: &GpuMatrix,
) -> Result<(Vec<u32>, Vec<f32>), GpuError> {
    check_pair("nearest", points, refs)?;
    let (mut index, mut sim) = (Vec::with_capacity(points.rows), Vec::with_capacity(points.rows));
    for tile in &points.tiles {
        let (i, s) = running_lists(
            ctx,
            ctx.pipelines.similarity.nearest.on(&[points.storage, refs.storage]),
            tile,
            refs,
            1,
            &[],
        )
        .await?;
        index.extend(i);
        sim.extend(s);
    }
    Ok((index, sim))
}

/// For every row of `queries`, its `k` most similar rows of `refs` outside its group
/// (`ref_group[r] == query_group[q]` skips ref `r`).
pub async fn top_k(
    ctx: &GpuContext,
    queries: &GpuMatrix,
    refs: &GpuMatrix,
    k: usize,
    query_group: &[u32],
    ref_group: &[u32],
) -> Result<(Vec<u32>, Vec<f32>), GpuError> {
    check_pair("top_k", queries, refs)?;
    if k > MAX_K {
        return Err(GpuError::Shape {
            op: "top_k",
            rows: queries.rows,
            dim: queries.dim,
            message: format!("k = {k} is above the GPU kernel's {MAX_K}"),
        });
    }
    if query_group.len() != queries.rows || ref_group.len() != refs.rows {
        return Err(GpuError::Shape {
            op: "top_k",
            rows: queries.rows,
            dim: queries.dim,
            message: format!("{} query groups and {} reference groups", query_group.len(), ref_group.len()),
        });
    }
    if k == 0 || queries.rows == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let words = |g: &[u32]| {
        ctx.storage("top_k.group", bytemuck::cast_slice(if g.is_empty() { &[u32::MAX] } else { g }))
    };
    let (ref_groups, query_groups) = (words(ref_group), words(query_group));
    let (mut index, mut sim) = (Vec::with_capacity(queries.rows * k), Vec::with_capacity(queries.rows * k));
    for tile in &queries.tiles {
        let (i, s) = running_lists(
            ctx,
            ctx.pipelines.similarity.top_k.on(&[queries.storage, refs.storage]),
            tile,
            refs,
            k,
            &[&ref_groups, &query_groups],
        )
        .await?;
        index.extend(i);
        sim.extend(s);
    }
    Ok((index, sim))
}

/// Runs an epilogue that keeps `k` (index, similarity) pairs per query row across the
/// reference tiles, from empty lists (index `u32::MAX`, similarity −∞), and reads them.
async fn running_lists(
    ctx: &GpuContext,
    kernel: &Kernel,
    q: &Tile,
    refs: &GpuMatrix,
    k: usize,
    extra: &[&wgpu::Buffer],
) -> Result<(Vec<u32>, Vec<f32>), GpuError> {
    let slots = q.rows * k;
    let (sims, index) = ctx
        .scoped("similarity", || {
            let sims = ctx.storage("lists.sim", bytemuck::cast_slice(&vec![f32::NEG_INFINITY; slots]));
            let index = ctx.storage("lists.index", bytemuck::cast_slice(&vec![u32::MAX; slots]));
            let mut state = vec![&sims, &index];
            state.extend_from_slice(extra);
            let mut enc = ctx.encoder();
            encode(ctx, &mut enc, q, refs, &Epilogue { kernel, state: &state, k: k as u32, out_stride: 0 });
            ctx.queue.submit([enc.finish()]);
            (sims, index)
        })
        .await?;
    let bytes = slots as u64 * 4;
    let lists = ctx.read_parts(ctx.encoder(), &[(&index, 0, bytes), (&sims, 0, bytes)]).await?;
    Ok((bytemuck::pod_collect_to_vec(&lists[0]), bytemuck::pod_collect_to_vec(&lists[1])))
}
