//! The best of a few candidate references per query row (a kNN neighbourhood's
//! centroids, say): one invocation per query row, the running best kept across reference
//! tiles. CPU twin: `CpuBackend::nearest_among`.

use crate::kernels::{per_storage_sources, PerStorage, WORKGROUP};
use crate::matrix::GpuMatrix;
use crate::{GpuContext, GpuError};

const KERNEL: &str = include_str!("nearest_among.wgsl");

/// The full WGSL for each storage of the points and of the references.
pub fn sources() -> Vec<(String, String)> {
    per_storage_sources("nearest_among", &["q", "r"], KERNEL)
}

/// The pipelines for each storage of the points and of the references.
pub(crate) fn kernels(device: &wgpu::Device) -> PerStorage {
    PerStorage::new(device, "nearest_among", &["q", "r"], KERNEL, "main")
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    q_rows: u32,
    dim4: u32,
    per_row: u32,
    r_first: u32,
    r_rows: u32,
}

/// See `Backend::nearest_among`.
pub async fn nearest_among(
    ctx: &GpuContext,
    points: &GpuMatrix,
    refs: &GpuMatrix,
    candidates: &[u32],
    per_row: usize,
) -> Result<(Vec<u32>, Vec<f32>), GpuError> {
    if points.dim != refs.dim {
        return Err(GpuError::Shape {
            op: "nearest_among",
            rows: refs.rows,
            dim: refs.dim,
            message: "the references differ from the points in width".into(),
        });
    }
    if candidates.len() != points.rows * per_row {
        return Err(GpuError::Shape {
            op: "nearest_among",
            rows: points.rows,
            dim: points.dim,
            message: format!("{} candidates for {} slots per row", candidates.len(), per_row),
        });
    }
    let kernel = ctx.pipelines.nearest_among.on(&[points.storage, refs.storage]);
    let dim4 = (points.dim4().max(4) / 4) as u32;
    let (mut index, mut sim) = (Vec::with_capacity(points.rows), Vec::with_capacity(points.rows));
    for q in &points.tiles {
        let (best_sim, best_index) = ctx
            .scoped("nearest_among", || {
                let slots = &candidates[q.first * per_row..(q.first + q.rows) * per_row];
                let cands = ctx.storage(
                    "nearest_among.candidates",
                    bytemuck::cast_slice(if slots.is_empty() { &[u32::MAX] } else { slots }),
                );
                let best_sim = ctx.storage(
                    "nearest_among.sim",
                    bytemuck::cast_slice(&vec![f32::NEG_INFINITY; q.rows.max(1)]),
                );
                let best_index =
                    ctx.storage("nearest_among.index", bytemuck::cast_slice(&vec![u32::MAX; q.rows.max(1)]));
                let mut enc = ctx.encoder();
                for r in &refs.tiles {
                    let uniform = ctx.uniform(&Params {
                        q_rows: q.rows as u32,
                        dim4,
                        per_row: per_row as u32,
                        r_first: r.first as u32,
                        r_rows: r.rows as u32,
                    });
                    let bind = kernel
                        .bind(&ctx.device, &[&q.buffer, &r.buffer, &uniform, &cands, &best_sim, &best_index]);
                    kernel.dispatch(
                        &mut enc,
                        &bind,
                        (q.rows as u32).div_ceil(WORKGROUP),
                        ctx.max_workgroups(),
                    );
                }
                ctx.queue.submit([enc.finish()]);
                (best_sim, best_index)
            })
            .await?;
        let bytes = q.rows as u64 * 4;
        let lists = ctx.read_parts(ctx.encoder(), &[(&best_index, 0, bytes), (&best_sim, 0, bytes)]).await?;
        index.extend(bytemuck::pod_collect_to_vec::<u8, u32>(&lists[0]));
        sim.extend(bytemuck::pod_collect_to_vec::<u8, f32>(&lists[1]));
    }
    Ok((index, sim))
}
