//! Per-segment row sums (k-means centroid update) and weighted row sums (the map's
//! power iterations, `Xᵀu`), deterministic without float atomics: the GPU sums fixed
//! chunks of rows, the host adds the chunk partials in order. CPU twins:
//! `CpuBackend::{segment_sums, weighted_sums}`.

use crate::kernels::{per_storage_sources, PerStorage, WORKGROUP};
use crate::matrix::GpuMatrix;
use crate::{GpuContext, GpuError};

const SOURCE: &str = include_str!("segment_sums.wgsl");

/// The full WGSL for f32 and for f16 points.
pub fn sources() -> Vec<(String, String)> {
    per_storage_sources("segment_sums", &["x"], SOURCE)
}

/// The pipelines for f32 and f16 points.
pub(crate) fn kernels(device: &wgpu::Device) -> PerStorage {
    PerStorage::new(device, "segment_sums", &["x"], SOURCE, "main")
}

/// Rows one invocation sums.
const CHUNK: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    chunks: u32,
    dim4: u32,
}

/// Sum of the rows of each segment, `segments × dim` row-major; rows of segment
/// `u32::MAX` are left out.
pub async fn segment_sums(
    ctx: &GpuContext,
    points: &GpuMatrix,
    segment: &[u32],
    segments: usize,
) -> Result<Vec<f32>, GpuError> {
    let shape =
        |message: String| GpuError::Shape { op: "segment_sums", rows: points.rows, dim: points.dim, message };
    if segment.len() != points.rows {
        return Err(shape(format!("{} segment ids for {} rows", segment.len(), points.rows)));
    }
    if let Some(bad) = segment.iter().find(|&&s| s != u32::MAX && s as usize >= segments) {
        return Err(shape(format!("segment {bad} of {segments}")));
    }
    sums(ctx, points, "segment_sums", segments, |first, rows, members| {
        for r in 0..rows {
            let s = segment[first + r];
            if s != u32::MAX {
                members[s as usize].push((r as u32, 1.0));
            }
        }
    })
    .await
}

/// `columns × dim` row-major: output row `c` is `Σᵢ weights[i·columns + c] · rowᵢ`.
pub async fn weighted_sums(
    ctx: &GpuContext,
    points: &GpuMatrix,
    weights: &[f32],
    columns: usize,
) -> Result<Vec<f32>, GpuError> {
    if weights.len() != points.rows * columns {
        return Err(GpuError::Shape {
            op: "weighted_sums",
            rows: points.rows,
            dim: points.dim,
            message: format!("{} weights for {} rows × {columns} columns", weights.len(), points.rows),
        });
    }
    sums(ctx, points, "weighted_sums", columns, |first, rows, members| {
        for (c, m) in members.iter_mut().enumerate() {
            m.extend((0..rows).map(|r| (r as u32, weights[(first + r) * columns + c])));
        }
    })
    .await
}

/// `outputs × dim` sums: for every tile, `fill(first row, rows, members)` lists the
/// (tile row, weight) entries of each output row, rows ascending; the GPU sums chunks
/// of them, the host adds the chunk partials in order.
async fn sums(
    ctx: &GpuContext,
    points: &GpuMatrix,
    op: &'static str,
    outputs: usize,
    fill: impl Fn(usize, usize, &mut [Vec<(u32, f32)>]),
) -> Result<Vec<f32>, GpuError> {
    let dim4 = points.dim4().max(4);
    let mut sums = vec![0.0f32; outputs * dim4];
    for tile in &points.tiles {
        let mut members: Vec<Vec<(u32, f32)>> = vec![Vec::new(); outputs];
        fill(tile.first, tile.rows, &mut members);
        let (mut rows, mut weights, mut bounds, mut owner) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (s, m) in members.iter().enumerate() {
            for chunk in m.chunks(CHUNK) {
                bounds.push([rows.len() as u32, (rows.len() + chunk.len()) as u32]);
                rows.extend(chunk.iter().map(|e| e.0));
                weights.extend(chunk.iter().map(|e| e.1));
                owner.push(s);
            }
        }
        if bounds.is_empty() {
            continue;
        }
        let partial_floats = bounds.len() * dim4;
        let out = ctx
            .scoped(op, || {
                let rows_buf = ctx.storage("sum rows", bytemuck::cast_slice(&rows));
                let weights_buf = ctx.storage("sum weights", bytemuck::cast_slice(&weights));
                let bounds_buf = ctx.storage("sum chunks", bytemuck::cast_slice(&bounds));
                let out = ctx.storage("sum partials", bytemuck::cast_slice(&vec![f32::NAN; partial_floats]));
                let uniform = ctx.uniform(&Params { chunks: bounds.len() as u32, dim4: (dim4 / 4) as u32 });
                let kernel = ctx.pipelines.segment_sums.on(&[points.storage]);
                let buffers = [&tile.buffer, &rows_buf, &weights_buf, &bounds_buf, &out, &uniform];
                let bind = kernel.bind(&ctx.device, &buffers);
                let mut enc = ctx.encoder();
                kernel.dispatch(
                    &mut enc,
                    &bind,
                    (partial_floats as u32 / 4).div_ceil(WORKGROUP),
                    ctx.max_workgroups(),
                );
                ctx.queue.submit([enc.finish()]);
                out
            })
            .await?;
        let partials = ctx.read_f32(&out, partial_floats as u64 * 4).await?;
        for (chunk, &s) in partials.chunks(dim4).zip(&owner) {
            for (acc, v) in sums[s * dim4..(s + 1) * dim4].iter_mut().zip(chunk) {
                *acc += v;
            }
        }
    }
    Ok(sums.chunks(dim4).flat_map(|row| row[..points.dim].iter().copied()).collect())
}
