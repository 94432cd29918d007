//! Unit-norm rows, tile by tile. CPU twin: `CpuBackend::normalize_rows`.

use crate::kernels::WORKGROUP;
use crate::matrix::GpuMatrix;
use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("normalize.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim4: u32,
}

/// A copy of `m` with unit-norm rows.
pub async fn normalize_rows(ctx: &GpuContext, m: &GpuMatrix) -> Result<GpuMatrix, GpuError> {
    ctx.scoped("normalize_rows", || {
        // Sentinel-filled (NaN) by `like`: a row the kernel misses stays NaN.
        let out = GpuMatrix::like(ctx, m);
        let kernel = &ctx.pipelines.normalize;
        let mut enc = ctx.encoder();
        for (src, dst) in m.tiles.iter().zip(&out.tiles) {
            let uniform = ctx.uniform(&Params { rows: src.rows as u32, dim4: (m.dim4().max(4) / 4) as u32 });
            let bind = kernel.bind(&ctx.device, &[&src.buffer, &dst.buffer, &uniform]);
            kernel.dispatch(&mut enc, &bind, (src.rows as u32).div_ceil(WORKGROUP), ctx.max_workgroups());
        }
        ctx.queue.submit([enc.finish()]);
        out
    })
    .await
}
