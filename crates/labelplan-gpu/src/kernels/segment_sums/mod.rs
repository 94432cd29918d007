//! Per-segment row sums (k-means centroid update), deterministic without float
//! atomics: the GPU sums fixed chunks of rows, the host adds the chunk partials in
//! order. CPU twin: `CpuBackend::segment_sums`.

use crate::kernels::WORKGROUP;
use crate::matrix::GpuMatrix;
use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("segment_sums.wgsl");

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
    points.expect_f32("segment_sums")?;
    let shape =
        |message: String| GpuError::Shape { op: "segment_sums", rows: points.rows, dim: points.dim, message };
    if segment.len() != points.rows {
        return Err(shape(format!("{} segment ids for {} rows", segment.len(), points.rows)));
    }
    if let Some(bad) = segment.iter().find(|&&s| s != u32::MAX && s as usize >= segments) {
        return Err(shape(format!("segment {bad} of {segments}")));
    }
    let dim4 = points.dim4().max(4);
    let mut sums = vec![0.0f32; segments * dim4];
    for tile in &points.tiles {
        // Tile rows grouped by segment, ascending within each, cut into chunks.
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); segments];
        for r in 0..tile.rows {
            let s = segment[tile.first + r];
            if s != u32::MAX {
                members[s as usize].push(r as u32);
            }
        }
        let (mut rows, mut bounds, mut owner) = (Vec::new(), Vec::new(), Vec::new());
        for (s, m) in members.iter().enumerate() {
            for chunk in m.chunks(CHUNK) {
                bounds.push([rows.len() as u32, (rows.len() + chunk.len()) as u32]);
                rows.extend_from_slice(chunk);
                owner.push(s);
            }
        }
        if bounds.is_empty() {
            continue;
        }
        let partial_floats = bounds.len() * dim4;
        let out = ctx
            .scoped("segment_sums", || {
                let rows_buf = ctx.storage("segment rows", bytemuck::cast_slice(&rows));
                let bounds_buf = ctx.storage("segment chunks", bytemuck::cast_slice(&bounds));
                let out =
                    ctx.storage("segment partials", bytemuck::cast_slice(&vec![f32::NAN; partial_floats]));
                let uniform = ctx.uniform(&Params { chunks: bounds.len() as u32, dim4: (dim4 / 4) as u32 });
                let kernel = &ctx.pipelines.segment_sums;
                let bind = kernel.bind(&ctx.device, &[&tile.buffer, &rows_buf, &bounds_buf, &out, &uniform]);
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
