//! labelplan-gpu: the WebGPU backend, the only crate that names wgpu.
//!
//! A [`GpuContext`] is built once (in the browser: inside the worker) and reused; each
//! kernel sits in `kernels/<name>/` beside its WGSL and has a CPU twin in
//! labelplan-cpu. Inputs larger than one storage binding are processed in tiles sized
//! from the adapter's real limits; [`GpuOptions::max_binding_bytes`] lowers that limit so
//! tests can force many tiles.

mod backend;
mod context;
mod error;
pub mod kernels;
mod matrix;
mod program;

pub use backend::GpuBackend;
pub use context::{GpuContext, GpuOptions};
pub use error::GpuError;
pub use kernels::head::GpuTraining;
pub use matrix::{GpuMatrix, GpuVector, Storage, UPLOAD_PIECE};
pub use program::{GpuBinding, GpuBuffer, GpuCommand, GpuKernel, GpuRead};
