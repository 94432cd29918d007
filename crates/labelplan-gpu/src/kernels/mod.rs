//! The WGSL kernels, each in its own folder beside its shader, and what they share:
//! pipelines (compiled on first use, once per context), bind groups and 2-D dispatch
//! grids.

pub mod gather;
pub mod head;
pub mod layout;
pub mod nearest_among;
pub mod normalize;
pub mod points;
pub mod raise_best;
pub mod segment_sums;
pub mod similarity;

use std::sync::OnceLock;

use crate::matrix::Storage;

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
    label: String,
    module: wgpu::ShaderModule,
    entry: &'static str,
    pipeline: OnceLock<wgpu::ComputePipeline>,
}

impl Kernel {
    /// `entry` of `source`, to be compiled with an automatic layout on first use.
    pub fn new(device: &wgpu::Device, label: &str, source: &str, entry: &'static str) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        Kernel { label: label.to_owned(), module, entry, pipeline: OnceLock::new() }
    }

    /// The compiled pipeline (compiled now if this is its first use).
    pub fn pipeline(&self, device: &wgpu::Device) -> &wgpu::ComputePipeline {
        self.pipeline.get_or_init(|| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&self.label),
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
            label: Some(&self.label),
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
            label: Some(&self.label),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }
}

/// WGSL declaring, for each named matrix operand, `Stored_<name>` (four values:
/// `vec4<f32>`, or four f16 packed in a `vec2<u32>`) and `widen_<name>` (to `vec4<f32>`).
fn storage_prelude(operands: &[(&str, Storage)]) -> String {
    operands
        .iter()
        .map(|&(name, storage)| match storage {
            Storage::F32 => format!(
                "alias Stored_{name} = vec4<f32>;\nfn widen_{name}(v: Stored_{name}) -> vec4<f32> {{ return v; }}\n"
            ),
            Storage::F16 => format!(
                "alias Stored_{name} = vec2<u32>;\nfn widen_{name}(v: Stored_{name}) -> vec4<f32> \
                 {{ return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }}\n"
            ),
        })
        .collect()
}

/// Label and full WGSL of a kernel for every combination of its matrix operands'
/// storages: variant `v` stores operand `i` as f16 when bit `i` of `v` is set.
pub(crate) fn per_storage_sources(label: &str, operands: &[&str], body: &str) -> Vec<(String, String)> {
    (0..1usize << operands.len())
        .map(|v| {
            let storages: Vec<(&str, Storage)> = operands
                .iter()
                .enumerate()
                .map(|(i, &name)| (name, if v >> i & 1 == 1 { Storage::F16 } else { Storage::F32 }))
                .collect();
            let tag = storages.iter().map(|&(_, st)| st.name()).collect::<Vec<_>>().join(", ");
            (format!("{label} ({tag})"), format!("{}\n{body}", storage_prelude(&storages)))
        })
        .collect()
}

/// One kernel compiled for every combination of its matrix operands' storages (each
/// pipeline only when first used: a plan in f32 never compiles the f16 ones).
#[derive(Debug)]
pub(crate) struct PerStorage {
    kernels: Vec<Kernel>,
}

impl PerStorage {
    /// `entry` of `body`, whose matrix operands `operands` read through `Stored_<name>`
    /// and `widen_<name>`.
    pub fn new(
        device: &wgpu::Device,
        label: &str,
        operands: &[&str],
        body: &str,
        entry: &'static str,
    ) -> Self {
        let kernels = per_storage_sources(label, operands, body)
            .iter()
            .map(|(label, source)| Kernel::new(device, label, source, entry))
            .collect();
        PerStorage { kernels }
    }

    /// The variant for operands stored as `storages` (in the order they were named).
    pub fn on(&self, storages: &[Storage]) -> &Kernel {
        let v =
            storages.iter().enumerate().map(|(i, &st)| usize::from(st == Storage::F16) << i).sum::<usize>();
        &self.kernels[v]
    }
}

/// The kernels, created once per context (each pipeline compiled on first use).
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub gather: Kernel,
    pub nearest_among: PerStorage,
    pub normalize: normalize::Kernels,
    pub similarity: similarity::Kernels,
    pub raise_best: raise_best::Kernels,
    pub segment_sums: PerStorage,
    pub head: head::Kernels,
    pub layout: Kernel,
    pub points: points::Pipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        Pipelines {
            gather: Kernel::new(device, "gather", gather::SOURCE, "main"),
            nearest_among: nearest_among::kernels(device),
            normalize: normalize::Kernels::new(device),
            similarity: similarity::Kernels::new(device),
            raise_best: raise_best::Kernels::new(device),
            segment_sums: segment_sums::kernels(device),
            head: head::Kernels::new(device),
            layout: Kernel::new(device, "layout", layout::SOURCE, "main"),
            points: points::Pipeline::new(device),
        }
    }
}

/// Every WGSL source, for the naga validation test.
pub fn shaders() -> Vec<(String, String)> {
    let mut all = vec![("gather".to_string(), gather::SOURCE.to_string())];
    all.extend(raise_best::sources());
    all.extend(segment_sums::sources());
    all.extend(nearest_among::sources());
    all.extend(normalize::sources());
    all.extend(similarity::sources());
    all.extend(head::sources());
    all.push(("layout".to_string(), layout::SOURCE.to_string()));
    all.push(("points".to_string(), points::SOURCE.to_string()));
    all
}
