//! The WGSL kernels, each in its own folder beside its shader, and what they share:
//! pipelines (compiled on first use, once per context), bind groups and 2-D dispatch
//! grids.

pub mod gather;
pub mod head;
pub mod nearest_among;
pub mod normalize;
pub mod raise_best;
pub mod segment_sums;
pub mod similarity;

use std::sync::OnceLock;

/// Invocations per workgroup of every 1-D kernel (shaders declare the same 64).
pub(crate) const WORKGROUP: u32 = 64;

/// A compute pipeline with its label. The shader module is created (and so checked by
/// the browser's compiler, stricter than naga in places) with the context; the pipeline
/// is compiled the first time a dispatch needs it: a software adapter (SwiftShader,
/// lavapipe) spends seconds per pipeline and a plan uses a few of them, so compiling all
/// of them up front delayed every start. Kernels bind and dispatch inside
/// `GpuContext::scoped`, so a compile error surfaces there.
#[derive(Debug)]
pub(crate) struct Kernel {
    label: &'static str,
    module: wgpu::ShaderModule,
    entry: &'static str,
    pipeline: OnceLock<wgpu::ComputePipeline>,
}

impl Kernel {
    /// `entry` of `source`, to be compiled with an automatic layout on first use.
    pub fn new(device: &wgpu::Device, label: &'static str, source: &str, entry: &'static str) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        Kernel { label, module, entry, pipeline: OnceLock::new() }
    }

    /// The compiled pipeline (compiled now if this is its first use).
    pub fn pipeline(&self, device: &wgpu::Device) -> &wgpu::ComputePipeline {
        self.pipeline.get_or_init(|| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(self.label),
                layout: None,
                module: &self.module,
                entry_point: Some(self.entry),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            })
        })
    }

    /// A bind group of group 0 with `buffers` at bindings 0, 1, 2, … in order.
    pub fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        self.bind_from(device, 0, buffers)
    }

    /// A bind group of group 0 with `buffers` at bindings `first`, `first + 1`, …
    pub fn bind_from(&self, device: &wgpu::Device, first: u32, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let numbered: Vec<(u32, &wgpu::Buffer)> =
            buffers.iter().enumerate().map(|(i, &b)| (first + i as u32, b)).collect();
        self.bind_numbered(device, &numbered)
    }

    /// A bind group of group 0 with each buffer at its binding number (for an entry
    /// point that uses only some of a shader's bindings).
    pub fn bind_numbered(&self, device: &wgpu::Device, buffers: &[(u32, &wgpu::Buffer)]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.label),
            layout: &self.pipeline(device).get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Records one dispatch of `groups` workgroups in its own compute pass (after a
    /// bind, which compiled the pipeline). Grids over the per-dimension limit fold into
    /// y; shaders recover the linear workgroup index as `wid.x + wid.y * nwg.x`.
    pub fn dispatch(&self, enc: &mut wgpu::CommandEncoder, bind: &wgpu::BindGroup, groups: u32, max: u32) {
        let pipeline = self.pipeline.get().expect("a kernel is bound before it is dispatched");
        let x = groups.clamp(1, max);
        let y = groups.div_ceil(x).max(1);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(self.label),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}

/// Compiled pipelines, built once per context.
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub gather: Kernel,
    pub nearest_among: nearest_among::Kernels,
    pub normalize: normalize::Kernels,
    pub similarity: similarity::Kernels,
    pub raise_best: raise_best::Kernels,
    pub segment_sums: Kernel,
    pub head: head::Kernels,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        Pipelines {
            gather: Kernel::new(device, "gather", gather::SOURCE, "main"),
            nearest_among: nearest_among::Kernels::new(device),
            normalize: normalize::Kernels::new(device),
            similarity: similarity::Kernels::new(device),
            raise_best: raise_best::Kernels::new(device),
            segment_sums: Kernel::new(device, "segment_sums", segment_sums::SOURCE, "main"),
            head: head::Kernels::new(device),
        }
    }
}

/// Every WGSL source, for the naga validation test.
pub fn shaders() -> Vec<(&'static str, String)> {
    let mut all = vec![
        ("gather", gather::SOURCE.to_string()),
        ("raise_best", raise_best::SOURCE.to_string()),
        ("segment_sums", segment_sums::SOURCE.to_string()),
    ];
    all.extend(nearest_among::sources());
    all.extend(normalize::sources());
    all.extend(similarity::sources());
    all.extend(head::sources());
    all
}
