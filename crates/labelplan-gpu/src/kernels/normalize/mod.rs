//! Row norms and unit-norm rows, tile by tile. CPU twins: `labelplan_cpu::row_norms` and
//! `CpuBackend::normalize_rows`.

use crate::kernels::{Kernel, WORKGROUP};
use crate::matrix::{GpuMatrix, Tile};
use crate::{GpuContext, GpuError};

const COMMON: &str = include_str!("common.wgsl");
const NORMALIZE: &str = include_str!("normalize.wgsl");
const NORMS: &str = include_str!("norms.wgsl");

/// The full WGSL of each kernel (common part first).
pub fn sources() -> Vec<(String, String)> {
    vec![
        ("normalize".into(), format!("{COMMON}\n{NORMALIZE}")),
        ("row_norms".into(), format!("{COMMON}\n{NORMS}")),
    ]
}

/// The two pipelines.
#[derive(Debug)]
pub(crate) struct Kernels {
    normalize: Kernel,
    norms: Kernel,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let [(_, normalize), (_, norms)]: [(String, String); 2] = sources().try_into().expect("two sources");
        Kernels {
            normalize: Kernel::new(device, "normalize", &normalize, "main"),
            norms: Kernel::new(device, "row_norms", &norms, "main"),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim4: u32,
}

/// Records `kernel` over one tile, writing into `out`.
fn encode(
    ctx: &GpuContext,
    enc: &mut wgpu::CommandEncoder,
    kernel: &Kernel,
    m: &GpuMatrix,
    tile: &Tile,
    out: &wgpu::Buffer,
) {
    let uniform = ctx.uniform(&Params { rows: tile.rows as u32, dim4: (m.dim4().max(4) / 4) as u32 });
    let bind = kernel.bind(&ctx.device, &[&tile.buffer, out, &uniform]);
    kernel.dispatch(enc, &bind, (tile.rows as u32).div_ceil(WORKGROUP), ctx.max_workgroups());
}

/// L2 norm of each row of a row-major `rows × dim` matrix, on the GPU.
pub async fn row_norms(
    ctx: &GpuContext,
    values: &[f32],
    rows: usize,
    dim: usize,
) -> Result<Vec<f32>, GpuError> {
    let m = GpuMatrix::upload(ctx, values, rows, dim)?;
    let (enc, outs) = ctx
        .scoped("row_norms", || {
            let mut enc = ctx.encoder();
            let outs: Vec<wgpu::Buffer> = m
                .tiles
                .iter()
                .map(|tile| {
                    // Sentinel-filled: a row the kernel fails to write reads back as NaN.
                    let out = ctx.storage("row norms", bytemuck::cast_slice(&vec![f32::NAN; tile.rows]));
                    encode(ctx, &mut enc, &ctx.pipelines.normalize.norms, &m, tile, &out);
                    out
                })
                .collect();
            (enc, outs)
        })
        .await?;
    let parts: Vec<(&wgpu::Buffer, u64, u64)> =
        outs.iter().zip(&m.tiles).map(|(out, tile)| (out, 0, tile.rows as u64 * 4)).collect();
    let norms = ctx.read_parts(enc, &parts).await?;
    Ok(norms.iter().flat_map(|bytes| bytemuck::pod_collect_to_vec::<u8, f32>(bytes)).collect())
}

/// A copy of `m` with unit-norm rows.
pub async fn normalize_rows(ctx: &GpuContext, m: &GpuMatrix) -> Result<GpuMatrix, GpuError> {
    m.expect_f32("normalize_rows")?;
    ctx.scoped("normalize_rows", || {
        // Sentinel-filled (NaN) by `like`: a row the kernel misses stays NaN.
        let out = GpuMatrix::like(ctx, m);
        let mut enc = ctx.encoder();
        for (src, dst) in m.tiles.iter().zip(&out.tiles) {
            encode(ctx, &mut enc, &ctx.pipelines.normalize.normalize, m, src, &dst.buffer);
        }
        ctx.queue.submit([enc.finish()]);
        out
    })
    .await
}
