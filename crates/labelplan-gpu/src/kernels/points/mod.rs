//! The map's points drawn on the GPU: instanced squares into an RGBA texture, read back
//! as the pixels `labelplan_core::draw::paint` writes (its twin and test oracle). The
//! positions and colours stay on the device between frames; a frame uploads only the
//! highlighted rows and a few numbers.

use std::sync::OnceLock;

use labelplan_core::draw::{Frame, Style, PALETTE};

use crate::{GpuContext, GpuError};

/// The shader source.
pub const SOURCE: &str = include_str!("points.wgsl");

/// The texture the points are drawn into (8 bits per channel, like the canvas).
const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// The render pipeline, compiled on first use (as the compute kernels are).
#[derive(Debug)]
pub(crate) struct Pipeline {
    module: wgpu::ShaderModule,
    pipeline: OnceLock<wgpu::RenderPipeline>,
}

impl Pipeline {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("points"),
            source: wgpu::ShaderSource::Wgsl(SOURCE.into()),
        });
        Pipeline { module, pipeline: OnceLock::new() }
    }

    fn get(&self, device: &wgpu::Device) -> &wgpu::RenderPipeline {
        self.pipeline.get_or_init(|| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some("points"),
                layout: None,
                vertex: wgpu::VertexState {
                    module: &self.module,
                    entry_point: Some("vs"),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    buffers: &[],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &self.module,
                    entry_point: Some("fs"),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    // No blending: a square replaces what is under it, as in `paint`.
                    targets: &[Some(wgpu::ColorTargetState {
                        format: FORMAT,
                        blend: None,
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        })
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    size: [f32; 2],
    centre: [f32; 2],
    scale: f32,
    _pad: [f32; 3],
    side: [f32; 4],
    alpha: [f32; 4],
    fixed: [[f32; 4]; 3],
}

/// One square of an instance: its side and either an alpha on the row's colour or a
/// fixed colour.
enum Layer {
    Own(usize, u8),
    Fixed(usize, [u8; 4]),
}

fn unit(c: u8) -> f32 {
    c as f32 / 255.0
}

/// The map's points resident on the GPU (a clone shares the buffers).
#[derive(Clone)]
pub struct MapPoints {
    positions: wgpu::Buffer,
    categories: wgpu::Buffer,
    every_row: wgpu::Buffer,
    palette: wgpu::Buffer,
    rows: usize,
}

/// A storage buffer of `values`, 4 bytes when there are none (wgpu refuses empty ones).
fn words(ctx: &GpuContext, label: &str, values: &[u8]) -> wgpu::Buffer {
    ctx.storage(label, if values.is_empty() { &[0; 4] } else { values })
}

impl MapPoints {
    /// Uploads `positions` (`rows × 2`) and each row's colour category.
    pub async fn new(ctx: &GpuContext, positions: &[f32], categories: &[u32]) -> Result<MapPoints, GpuError> {
        let rows = positions.len() / 2;
        if categories.len() != rows || positions.len() as u64 * 4 > ctx.binding_bytes() {
            let message =
                format!("{} categories, {} bytes of positions", categories.len(), positions.len() * 4);
            return Err(GpuError::Shape { op: "map points", rows, dim: 2, message });
        }
        let every: Vec<u32> = (0..rows as u32).collect();
        let palette: Vec<f32> =
            PALETTE.iter().flat_map(|&[r, g, b]| [unit(r), unit(g), unit(b), 1.0]).collect();
        ctx.scoped("map points", || MapPoints {
            positions: words(ctx, "points.positions", bytemuck::cast_slice(positions)),
            categories: words(ctx, "points.categories", bytemuck::cast_slice(categories)),
            every_row: words(ctx, "points.rows", bytemuck::cast_slice(&every)),
            palette: words(ctx, "points.palette", bytemuck::cast_slice(&palette)),
            rows,
        })
        .await
    }

    /// The same points coloured by other categories.
    pub async fn recolour(&mut self, ctx: &GpuContext, categories: &[u32]) -> Result<(), GpuError> {
        if categories.len() != self.rows {
            let message = format!("{} categories for {} points", categories.len(), self.rows);
            return Err(GpuError::Shape { op: "map points", rows: self.rows, dim: 2, message });
        }
        self.categories = ctx
            .scoped("map points", || words(ctx, "points.categories", bytemuck::cast_slice(categories)))
            .await?;
        Ok(())
    }

    /// How many points there are.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// The map in `frame`, as `labelplan_core::draw::paint` paints it: RGBA rows of
/// `frame.width × 4` bytes. `highlighted` lists the highlighted rows in ascending order.
pub async fn paint(
    ctx: &GpuContext,
    points: &MapPoints,
    frame: &Frame,
    highlighted: &[u32],
    selected: Option<u32>,
    style: &Style,
) -> Result<Vec<u8>, GpuError> {
    let (width, height) = (frame.width.max(1), frame.height.max(1));
    if let Some(&row) = highlighted.iter().chain(&selected).find(|&&r| r as usize >= points.rows) {
        let message = format!("row {row} of {} points", points.rows);
        return Err(GpuError::Shape { op: "map frame", rows: points.rows, dim: 2, message });
    }
    let ring = style.pick * 3;
    let passes: Vec<(Option<wgpu::Buffer>, u32, Vec<Layer>)> = vec![
        (None, points.rows as u32, vec![Layer::Own(style.dot, style.dot_alpha)]),
        (
            Some(words(ctx, "points.highlighted", bytemuck::cast_slice(highlighted))),
            highlighted.len() as u32,
            vec![Layer::Fixed(style.pick + 2, style.outline), Layer::Own(style.pick, 255)],
        ),
        (
            Some(words(ctx, "points.selected", bytemuck::cast_slice(&[selected.unwrap_or(0)]))),
            selected.is_some() as u32,
            vec![
                Layer::Fixed(ring + 2, style.ring),
                Layer::Fixed(ring - 2, style.outline),
                Layer::Own(style.pick, 255),
            ],
        ),
    ];
    // Rows of the copy are padded to wgpu's 256-byte alignment.
    let padded =
        (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let (enc, readback) = ctx
        .scoped("map frame", || {
            // Compiled inside the error scope: a compile error is this frame's error.
            let pipeline = ctx.pipelines.points.get(&ctx.device);
            let texture = ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("points.frame"),
                size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                view_formats: &[],
            });
            let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
            let binds: Vec<(wgpu::BindGroup, u32, u32)> = passes
                .iter()
                .map(|(rows, instances, layers)| {
                    let mut params = Params {
                        size: [width as f32, height as f32],
                        centre: [frame.centre.0 as f32, frame.centre.1 as f32],
                        scale: frame.scale as f32,
                        _pad: [0.0; 3],
                        side: [0.0; 4],
                        alpha: [0.0; 4],
                        fixed: [[0.0; 4]; 3],
                    };
                    for (i, layer) in layers.iter().enumerate() {
                        let (side, alpha, fixed) = match *layer {
                            Layer::Own(side, alpha) => (side, unit(alpha), [0.0; 4]),
                            Layer::Fixed(side, c) => (side, -1.0, c.map(unit)),
                        };
                        (params.side[i], params.alpha[i], params.fixed[i]) = (side as f32, alpha, fixed);
                    }
                    let uniform = ctx.uniform(&params);
                    let entries = [
                        &points.positions,
                        &points.categories,
                        rows.as_ref().unwrap_or(&points.every_row),
                        &points.palette,
                        &uniform,
                    ];
                    let entries: Vec<wgpu::BindGroupEntry> = entries
                        .iter()
                        .enumerate()
                        .map(|(i, b)| wgpu::BindGroupEntry {
                            binding: i as u32,
                            resource: b.as_entire_binding(),
                        })
                        .collect();
                    let bind = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("points"),
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    });
                    (bind, *instances, 6 * layers.len() as u32)
                })
                .collect();
            let mut enc = ctx.encoder();
            {
                let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("points"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &target,
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations {
                            load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                            store: wgpu::StoreOp::Store,
                        },
                    })],
                    depth_stencil_attachment: None,
                    timestamp_writes: None,
                    occlusion_query_set: None,
                    multiview_mask: None,
                });
                pass.set_pipeline(pipeline);
                for (bind, instances, vertices) in binds.iter().filter(|b| b.1 > 0) {
                    pass.set_bind_group(0, bind, &[]);
                    pass.draw(0..*vertices, 0..*instances);
                }
            }
            let readback = ctx.empty_storage("points.readback", padded as u64 * height as u64);
            enc.copy_texture_to_buffer(
                texture.as_image_copy(),
                wgpu::TexelCopyBufferInfo {
                    buffer: &readback,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: 0,
                        bytes_per_row: Some(padded),
                        rows_per_image: Some(height),
                    },
                },
                texture.size(),
            );
            (enc, readback)
        })
        .await?;
    let bytes = ctx.read_bytes(enc, &readback, 0, padded as u64 * height as u64).await?;
    Ok(bytes.chunks_exact(padded as usize).flat_map(|row| &row[..width as usize * 4]).copied().collect())
}
