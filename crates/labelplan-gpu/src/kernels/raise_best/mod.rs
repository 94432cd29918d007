//! The greedy-coverage step of k-center and k-means++: raise every row's best
//! similarity by the new pick, then reduce to the least-covered row on the GPU; only
//! the winner (8 bytes) comes back. CPU twin: `CpuBackend::raise_best`.

use crate::kernels::{Kernel, WORKGROUP};
use crate::matrix::{GpuMatrix, GpuVector};
use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("raise_best.wgsl");

/// The two pipelines.
#[derive(Debug)]
pub(crate) struct Kernels {
    raise: Kernel,
    reduce: Kernel,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        Kernels {
            raise: Kernel::new(device, "raise_best", SOURCE, "raise"),
            reduce: Kernel::new(device, "raise_best.reduce", SOURCE, "reduce"),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim4: u32,
    first: u32,
    pick: u32,
    retire: u32,
    part_at: u32,
    parts: u32,
    nan: u32,
}

/// See `Backend::raise_best`.
pub async fn raise_best(
    ctx: &GpuContext,
    points: &GpuMatrix,
    best: &mut GpuVector,
    pick: u32,
    retire: bool,
) -> Result<Option<(u32, f32)>, GpuError> {
    points.expect_f32("raise_best")?;
    if pick as usize >= points.rows || best.len != points.rows {
        return Err(GpuError::Shape {
            op: "raise_best",
            rows: points.rows,
            dim: points.dim,
            message: format!("pick {pick} with a best vector of {} rows", best.len),
        });
    }
    let row_bytes = points.dim4().max(4) as u64 * 4;
    let groups: Vec<u32> = points.tiles.iter().map(|t| (t.rows as u32).div_ceil(WORKGROUP)).collect();
    let parts: u32 = groups.iter().sum();
    let base = Params {
        rows: 0,
        dim4: (row_bytes / 16) as u32,
        first: 0,
        pick,
        retire: retire as u32,
        part_at: 0,
        parts,
        nan: f32::NAN.to_bits(),
    };
    let (enc, part_value, part_index) = ctx
        .scoped("raise_best", || {
            let k = &ctx.pipelines.raise_best;
            let pick_row = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pick row"),
                size: row_bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let part_value =
                ctx.storage("parts.value", bytemuck::cast_slice(&vec![f32::NAN; parts as usize + 1]));
            let part_index =
                ctx.storage("parts.index", bytemuck::cast_slice(&vec![u32::MAX; parts as usize + 1]));
            let mut enc = ctx.encoder();
            let (tile, at) = points.locate(pick as usize);
            enc.copy_buffer_to_buffer(&tile.buffer, at as u64 * row_bytes, &pick_row, 0, row_bytes);
            let mut part_at = 0;
            for (t, &g) in points.tiles.iter().zip(&groups) {
                let uniform =
                    ctx.uniform(&Params { rows: t.rows as u32, first: t.first as u32, part_at, ..base });
                let bind = k.raise.bind(
                    &ctx.device,
                    &[&t.buffer, &pick_row, &best.buffer, &part_value, &part_index, &uniform],
                );
                k.raise.dispatch(&mut enc, &bind, g, ctx.max_workgroups());
                part_at += g;
            }
            let uniform = ctx.uniform(&base);
            let bind = k.reduce.bind_from(&ctx.device, 3, &[&part_value, &part_index, &uniform]);
            k.reduce.dispatch(&mut enc, &bind, 1, 1);
            (enc, part_value, part_index)
        })
        .await?;
    // Only the winner comes back: its value and index, in one map.
    let at = parts as u64 * 4;
    let winner = ctx.read_parts(enc, &[(&part_value, at, 4), (&part_index, at, 4)]).await?;
    let value = f32::from_le_bytes(winner[0][..4].try_into().expect("4 bytes"));
    let index = u32::from_le_bytes(winner[1][..4].try_into().expect("4 bytes"));
    Ok((index != u32::MAX).then_some((index, value)))
}
