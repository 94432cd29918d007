//! Kernels that other crates register on the shared context (the language model's), the
//! buffers they own, and sequences of dispatches and copies submitted together with one
//! readback. The planner's own kernels are a fixed set built with the context; these are
//! compiled when first registered and kept by label, so a crate that registers the same
//! label twice (a second model load) compiles nothing.

use std::sync::Arc;

use crate::kernels::Kernel;
use crate::{GpuContext, GpuError};

/// A buffer on the device: storage (also a copy source and destination) or uniform.
#[derive(Debug)]
pub struct GpuBuffer {
    buffer: wgpu::Buffer,
    bytes: u64,
}

impl GpuBuffer {
    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A compiled kernel (one WGSL entry point) registered on a context.
#[derive(Debug, Clone)]
pub struct GpuKernel(Arc<Kernel>);

/// A kernel with its buffers bound at bindings 0, 1, 2, … of group 0.
#[derive(Debug)]
pub struct GpuBinding {
    kernel: Arc<Kernel>,
    group: wgpu::BindGroup,
}

/// One step of a [`GpuContext::run`]: steps run in order, each seeing what the ones
/// before it wrote.
#[derive(Debug, Clone, Copy)]
pub enum GpuCommand<'a> {
    /// `groups` workgroups of a bound kernel (grids over the per-dimension limit fold
    /// into y; shaders recover the linear index as `wid.x + wid.y * nwg.x`).
    Dispatch(&'a GpuBinding, u32),
    /// A bound kernel over the grid whose size (x, y, z: three u32) an earlier step
    /// wrote at a byte offset of a buffer made by [`GpuContext::zeroed_indirect`]: work
    /// sized on the device, with no readback.
    DispatchIndirect(&'a GpuBinding, &'a GpuBuffer, u64),
    /// `bytes` bytes from one buffer's offset to another's (multiples of 4).
    Copy {
        /// The source.
        from: &'a GpuBuffer,
        /// Where in the source.
        from_offset: u64,
        /// The destination.
        to: &'a GpuBuffer,
        /// Where in the destination.
        to_offset: u64,
        /// How much.
        bytes: u64,
    },
}

/// A part of a buffer to read back: buffer, offset and bytes (multiples of 4).
pub type GpuRead<'a> = (&'a GpuBuffer, u64, u64);

impl GpuContext {
    /// The kernel `entry` of `source`, compiled now the first time `label` is registered
    /// on this context and shared after that. A shader the device rejects is an error.
    pub async fn kernel(
        &self,
        label: &str,
        source: &str,
        entry: &'static str,
    ) -> Result<GpuKernel, GpuError> {
        if let Some(k) = self.registered.lock().expect("registry lock").get(label) {
            return Ok(GpuKernel(k.clone()));
        }
        let kernel = self
            .scoped("compiling a kernel", || {
                let k = Kernel::new(&self.device, label, source, entry);
                k.pipeline(&self.device);
                Arc::new(k)
            })
            .await?;
        self.registered.lock().expect("registry lock").insert(label.to_owned(), kernel.clone());
        Ok(GpuKernel(kernel))
    }

    /// A storage buffer holding `contents`.
    pub fn buffer(&self, label: &str, contents: &[u8]) -> GpuBuffer {
        GpuBuffer { buffer: self.storage(label, contents), bytes: contents.len() as u64 }
    }

    /// A zeroed storage buffer of `bytes`.
    pub fn zeroed(&self, label: &str, bytes: u64) -> GpuBuffer {
        GpuBuffer { buffer: self.empty_storage(label, bytes), bytes }
    }

    /// A zeroed storage buffer of `bytes` from which [`GpuCommand::DispatchIndirect`] may
    /// also read its grid.
    pub fn zeroed_indirect(&self, label: &str, bytes: u64) -> GpuBuffer {
        GpuBuffer { buffer: self.empty_storage_for(label, bytes, wgpu::BufferUsages::INDIRECT), bytes }
    }

    /// A uniform buffer of `bytes` (a multiple of 16), written with [`GpuContext::write`]
    /// or filled by copies.
    pub fn uniform_buffer(&self, label: &str, bytes: u64) -> GpuBuffer {
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(16),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        GpuBuffer { buffer, bytes }
    }

    /// Writes `contents` at `offset` of `buffer`, before the next submitted commands run.
    pub fn write(&self, buffer: &GpuBuffer, offset: u64, contents: &[u8]) {
        self.queue.write_buffer(&buffer.buffer, offset, contents);
    }

    /// `kernel` with `buffers` at bindings 0, 1, 2, … (every binding its shader declares).
    pub async fn bind(&self, kernel: &GpuKernel, buffers: &[&GpuBuffer]) -> Result<GpuBinding, GpuError> {
        let raw: Vec<&wgpu::Buffer> = buffers.iter().map(|b| &b.buffer).collect();
        let group = self.scoped("binding a kernel's buffers", || kernel.0.bind(&self.device, &raw)).await?;
        Ok(GpuBinding { kernel: kernel.0.clone(), group })
    }

    /// Runs `commands` in order (consecutive dispatches share one compute pass), then
    /// reads `reads` back with one map once the GPU is done.
    pub async fn run(
        &self,
        commands: &[GpuCommand<'_>],
        reads: &[GpuRead<'_>],
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        let staging = self
            .scoped("running kernels", || {
                let mut enc = self.encoder();
                let mut at = 0;
                while at < commands.len() {
                    if let GpuCommand::Copy { from, from_offset, to, to_offset, bytes } = commands[at] {
                        enc.copy_buffer_to_buffer(&from.buffer, from_offset, &to.buffer, to_offset, bytes);
                        at += 1;
                        continue;
                    }
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    while let Some(&command) = commands.get(at) {
                        match command {
                            GpuCommand::Dispatch(binding, groups) => {
                                pass.set_pipeline(binding.kernel.pipeline(&self.device));
                                pass.set_bind_group(0, &binding.group, &[]);
                                let x = groups.clamp(1, self.max_workgroups());
                                pass.dispatch_workgroups(x, groups.div_ceil(x).max(1), 1);
                            }
                            GpuCommand::DispatchIndirect(binding, args, offset) => {
                                pass.set_pipeline(binding.kernel.pipeline(&self.device));
                                pass.set_bind_group(0, &binding.group, &[]);
                                pass.dispatch_workgroups_indirect(&args.buffer, offset);
                            }
                            GpuCommand::Copy { .. } => break,
                        }
                        at += 1;
                    }
                }
                let parts: Vec<_> =
                    reads.iter().map(|&(b, offset, bytes)| (&b.buffer, offset, bytes)).collect();
                self.stage(enc, &parts)
            })
            .await?;
        self.unstage(staging).await
    }
}
