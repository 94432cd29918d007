//! The WGSL kernels, each in its own folder beside its shader.

pub mod row_norms;

/// Compiled pipelines, built once per context.
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub row_norms: row_norms::Pipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        Pipelines { row_norms: row_norms::Pipeline::new(device) }
    }
}

/// Every WGSL source, for the naga validation test.
pub const SHADERS: &[(&str, &str)] = &[("row_norms", row_norms::SOURCE)];
