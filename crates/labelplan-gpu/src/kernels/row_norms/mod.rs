//! Row L2 norms, tiled so each tile's rows fit one storage binding. CPU twin:
//! `labelplan_cpu::row_norms`.

use wgpu::util::DeviceExt;

use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("row_norms.wgsl");

/// Invocations per workgroup (the shader's `WORKGROUP` override).
const WORKGROUP: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    dim: u32,
    grid_x: u32,
    _pad: u32,
}

#[derive(Debug)]
pub(crate) struct Pipeline {
    pipeline: wgpu::ComputePipeline,
}

impl Pipeline {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("row_norms"),
            source: wgpu::ShaderSource::Wgsl(SOURCE.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("row_norms"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &[("WORKGROUP", WORKGROUP as f64)],
                ..Default::default()
            },
            cache: None,
        });
        Pipeline { pipeline }
    }
}

/// Rows per tile: as many as one binding holds, and no more than one dispatch covers.
/// Sizes are u64: on wasm32 a usize overflows at 4 GiB (workgroups² × 64 does).
fn tile_rows(ctx: &GpuContext, dim: usize) -> usize {
    let by_binding = ctx.binding_bytes() / (dim as u64 * 4);
    let by_grid = ctx.max_workgroups() as u64 * ctx.max_workgroups() as u64 * WORKGROUP as u64;
    // Row indices are u32 in the shader.
    by_binding.min(by_grid).min(u32::MAX as u64) as usize
}

/// L2 norm of each row of a row-major `rows × dim` matrix, on the GPU.
pub async fn row_norms(
    ctx: &GpuContext,
    values: &[f32],
    rows: usize,
    dim: usize,
) -> Result<Vec<f32>, GpuError> {
    let shape_err = |message: &str| GpuError::Shape { op: "row_norms", rows, dim, message: message.into() };
    if values.len() != rows * dim {
        return Err(shape_err("values must hold rows × dim numbers"));
    }
    if rows == 0 {
        return Ok(Vec::new());
    }
    let per_tile = tile_rows(ctx, dim);
    if per_tile == 0 {
        return Err(shape_err("one row is larger than a storage binding"));
    }
    let mut out = Vec::with_capacity(rows);
    for start in (0..rows).step_by(per_tile) {
        let n = per_tile.min(rows - start);
        let tile = &values[start * dim..(start + n) * dim];
        out.extend(run_tile(ctx, tile, n, dim).await?);
    }
    Ok(out)
}

async fn run_tile(ctx: &GpuContext, tile: &[f32], rows: usize, dim: usize) -> Result<Vec<f32>, GpuError> {
    let groups = (rows as u32).div_ceil(WORKGROUP);
    let grid_x = groups.min(ctx.max_workgroups());
    let grid_y = groups.div_ceil(grid_x);
    let out_bytes = rows as u64 * 4;
    let dev = &ctx.device;
    let output = ctx
        .scoped("row_norms", || {
            let input = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("row_norms.x"),
                contents: bytemuck::cast_slice(tile),
                usage: wgpu::BufferUsages::STORAGE,
            });
            // Sentinel-filled: a row the kernel fails to write reads back as NaN.
            let output = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("row_norms.out"),
                contents: bytemuck::cast_slice(&vec![f32::NAN; rows]),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            });
            let params = Params { rows: rows as u32, dim: dim as u32, grid_x, _pad: 0 };
            let uniform = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("row_norms.params"),
                contents: bytemuck::bytes_of(&params),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let pipeline = &ctx.pipelines.row_norms.pipeline;
            let bind = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("row_norms"),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: input.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 1, resource: output.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 2, resource: uniform.as_entire_binding() },
                ],
            });
            let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups(grid_x, grid_y, 1);
            }
            ctx.queue.submit([enc.finish()]);
            output
        })
        .await?;
    ctx.read_f32(&output, out_bytes).await
}
