//! The map's layout epochs on the GPU: the graph uploaded once per call, positions
//! ping-ponged between two buffers, one dispatch per epoch in one submission. CPU twin:
//! `labelplan_core::layout::run`.

use labelplan_core::layout::{Epochs, Graph};

use crate::kernels::{Kernel, WORKGROUP};
use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("layout.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    epoch: u32,
    total: u32,
    negatives: u32,
    seed: u32,
}

/// See `Backend::layout_epochs`.
pub async fn layout_epochs(
    ctx: &GpuContext,
    graph: &Graph,
    positions: &[f32],
    epochs: &Epochs,
) -> Result<Vec<f32>, GpuError> {
    let rows = graph.rows();
    if positions.len() != 2 * rows {
        return Err(GpuError::Shape {
            op: "layout",
            rows,
            dim: 2,
            message: format!("{} position values for {rows} rows of 2", positions.len()),
        });
    }
    let edge_bytes = graph.targets.len() as u64 * 4;
    if edge_bytes > ctx.binding_bytes() {
        return Err(GpuError::Shape {
            op: "layout",
            rows,
            dim: 2,
            message: format!(
                "the neighbour graph's {} edges need {edge_bytes} bytes in one binding; this device binds {}",
                graph.targets.len(),
                ctx.binding_bytes()
            ),
        });
    }
    if rows == 0 || epochs.count == 0 {
        return Ok(positions.to_vec());
    }
    let kernel: &Kernel = &ctx.pipelines.layout;
    let bytes = positions.len() as u64 * 4;
    let last = ctx
        .scoped("layout", || {
            let offsets = ctx.storage("layout.offsets", bytemuck::cast_slice(&graph.offsets));
            let nonempty = |v: &[u8]| if v.is_empty() { vec![0u8; 4] } else { v.to_vec() };
            let targets = ctx.storage("layout.targets", &nonempty(bytemuck::cast_slice(&graph.targets)));
            let weights = ctx.storage("layout.weights", &nonempty(bytemuck::cast_slice(&graph.weights)));
            let buffers = [
                ctx.storage("layout.a", bytemuck::cast_slice(positions)),
                ctx.empty_storage("layout.b", bytes),
            ];
            let mut enc = ctx.encoder();
            for step in 0..epochs.count {
                let (now, next) = (&buffers[step as usize % 2], &buffers[(step as usize + 1) % 2]);
                let uniform = ctx.uniform(&Params {
                    rows: rows as u32,
                    epoch: epochs.first + step,
                    total: epochs.total,
                    negatives: epochs.negatives,
                    seed: epochs.seed,
                });
                let bind = kernel.bind(&ctx.device, &[&offsets, &targets, &weights, now, next, &uniform]);
                kernel.dispatch(&mut enc, &bind, (rows as u32).div_ceil(WORKGROUP), ctx.max_workgroups());
            }
            ctx.queue.submit([enc.finish()]);
            let [a, b] = buffers;
            if epochs.count.is_multiple_of(2) {
                a
            } else {
                b
            }
        })
        .await?;
    ctx.read_f32(&last, bytes).await
}
