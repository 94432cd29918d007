//! Row gather on the GPU: a new matrix of the given rows, tiled like any other, copied
//! word by word from the source tiles. CPU twin: `CpuBackend::gather`.

use crate::kernels::{Kernel, WORKGROUP};
use crate::matrix::{GpuMatrix, Tile};
use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("gather.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    out_rows: u32,
    words: u32,
    src_first: u32,
    src_rows: u32,
    out_first: u32,
}

/// The rows `rows` of `m`, in that order, as a new matrix of the same storage.
pub async fn gather(ctx: &GpuContext, m: &GpuMatrix, rows: &[u32]) -> Result<GpuMatrix, GpuError> {
    m.check_rows("gather", rows)?;
    let words = (m.row_bytes() / 4) as u32;
    let per = GpuMatrix::tile_rows(ctx, "gather", rows.len(), m.dim, m.storage)?;
    let kernel: &Kernel = &ctx.pipelines.gather;
    ctx.scoped("gather", || {
        let index =
            ctx.storage("gather.rows", bytemuck::cast_slice(if rows.is_empty() { &[0u32] } else { rows }));
        let mut enc = ctx.encoder();
        let mut tiles = Vec::new();
        for first in (0..rows.len()).step_by(per.max(1)) {
            let n = per.min(rows.len() - first);
            // Sentinel-filled: a word the kernel fails to copy reads back as NaN.
            let buffer =
                ctx.storage("gathered", bytemuck::cast_slice(&vec![f32::NAN; (n * words as usize).max(1)]));
            for src in &m.tiles {
                let params = Params {
                    out_rows: n as u32,
                    words,
                    src_first: src.first as u32,
                    src_rows: src.rows as u32,
                    out_first: first as u32,
                };
                let uniform = ctx.uniform(&params);
                let bind = kernel.bind(&ctx.device, &[&src.buffer, &index, &buffer, &uniform]);
                let groups = (n as u64 * words as u64).div_ceil(WORKGROUP as u64) as u32;
                kernel.dispatch(&mut enc, &bind, groups, ctx.max_workgroups());
            }
            tiles.push(Tile { buffer, first, rows: n });
        }
        ctx.queue.submit([enc.finish()]);
        GpuMatrix { tiles, rows: rows.len(), dim: m.dim, storage: m.storage }
    })
    .await
}
