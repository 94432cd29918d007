//! The GPU context: adapter, device and queue, created once and shared by all kernels.

use std::collections::HashMap;
use std::sync::Arc;

use crate::kernels::Kernel;
use crate::GpuError;

/// Settings for creating a [`GpuContext`].
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Caps the bytes one storage binding may hold, below the adapter's own limit, so
    /// tests can force inputs into many tiles.
    pub max_binding_bytes: Option<u64>,
}

/// A WebGPU device ready for labelplan's kernels.
#[derive(Debug, Clone)]
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    binding_bytes: u64,
    max_workgroups: u32,
    pub(crate) pipelines: Arc<crate::kernels::Pipelines>,
    /// Held while a task has error scopes open (see [`GpuContext::scoped`]).
    scopes: Arc<futures::lock::Mutex<()>>,
    /// Kernels other crates registered, by label (see [`GpuContext::kernel`]).
    pub(crate) registered: Arc<std::sync::Mutex<HashMap<String, Arc<Kernel>>>>,
    /// The first error no scope captured (a queue write on a lost device): reported by
    /// the next [`GpuContext::scoped`] call, where wgpu's default handler would panic.
    stray: Arc<std::sync::Mutex<Option<String>>>,
}

/// Parts copied into a mappable buffer and submitted, not yet read.
pub(crate) struct Staged {
    buffer: Option<wgpu::Buffer>,
    sizes: Vec<u64>,
}

impl GpuContext {
    /// Finds an adapter (any backend wgpu was built with: Vulkan natively, WebGPU in the
    /// browser) and creates a device with the adapter's own limits.
    pub async fn new(options: GpuOptions) -> Result<GpuContext, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::all(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..wgpu::RequestAdapterOptions::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("labelplan"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..wgpu::DeviceDescriptor::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        let adapter_max = (limits.max_storage_buffer_binding_size as u64).min(limits.max_buffer_size);
        let binding_bytes = options.max_binding_bytes.map_or(adapter_max, |cap| cap.min(adapter_max));
        // Every shader module created up front: a shader the browser's compiler rejects
        // (stricter than naga in places) fails here, not in the middle of a plan. The
        // pipelines compile on first use.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipelines = Arc::new(crate::kernels::Pipelines::new(&device));
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Device { op: "compiling the kernels", message: e.to_string() });
        }
        let stray: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let first = stray.clone();
        device.on_uncaptured_error(Arc::new(move |e| {
            let mut slot = first.lock().expect("error slot");
            slot.get_or_insert_with(|| e.to_string());
        }));
        Ok(GpuContext {
            device,
            queue,
            info: adapter.get_info(),
            binding_bytes,
            max_workgroups: limits.max_compute_workgroups_per_dimension,
            pipelines,
            scopes: Arc::default(),
            registered: Arc::default(),
            stray,
        })
    }

    /// The adapter's name and backend, as the app's badge shows it.
    pub fn adapter_description(&self) -> String {
        let name = if self.info.name.is_empty() { "unnamed adapter" } else { &self.info.name };
        format!("{name} ({:?})", self.info.backend)
    }

    /// The same context, described as `name` (in a browser, wgpu leaves the adapter's
    /// name empty and the page asks the browser itself).
    pub fn named(mut self, name: String) -> Self {
        self.info.name = name;
        self
    }

    /// Destroys the device, as a lost one would be: every later use of this context
    /// fails. The tests of the fallbacks use it mid-plan (the browser's test calls
    /// `GPUDevice.destroy()` the same way).
    pub fn destroy(&self) {
        self.device.destroy();
    }

    /// Whether the adapter is a software rasteriser (lavapipe, SwiftShader).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Bytes one storage binding may hold here (adapter limit or the test cap).
    pub fn binding_bytes(&self) -> u64 {
        self.binding_bytes
    }

    /// Runs `f` inside validation and out-of-memory error scopes and returns the first
    /// error either captured. Error scopes are one stack per device: two tasks sharing
    /// the device (a plan and a map frame in the worker) take turns here, or one would
    /// pop the other's scopes (wgpu panics on scopes popped out of order).
    pub(crate) async fn scoped<T>(&self, op: &'static str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let _turn = self.scopes.lock().await;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let first = validation.pop().await;
        let second = oom.pop().await;
        let stray = self.stray.lock().expect("error slot").take();
        match first.map(|e| e.to_string()).or(second.map(|e| e.to_string())).or(stray) {
            Some(message) => Err(GpuError::Device { op, message }),
            None => Ok(out),
        }
    }

    /// A storage buffer holding `contents` (also a copy source and destination).
    pub(crate) fn storage(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.filled(label, contents, wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC)
    }

    /// A buffer of `usage` holding `contents`, written by the queue before the next
    /// submission. Not `create_buffer_init`: it maps the buffer at creation, and wgpu
    /// panics when that fails on a lost device, where a queue write is an error the
    /// scopes report (found by the test of a device lost mid-plan).
    fn filled(&self, label: &str, contents: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        let size = (contents.len() as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).max(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if size as usize == contents.len() {
            self.queue.write_buffer(&buffer, 0, contents);
        } else if !contents.is_empty() {
            let mut padded = contents.to_vec();
            padded.resize(size as usize, 0);
            self.queue.write_buffer(&buffer, 0, &padded);
        }
        buffer
    }

    /// A zeroed storage buffer of `bytes` (also a copy source and destination).
    pub(crate) fn empty_storage(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.empty_storage_for(label, bytes, wgpu::BufferUsages::empty())
    }

    /// [`GpuContext::empty_storage`] with the `extra` usages too.
    pub(crate) fn empty_storage_for(
        &self,
        label: &str,
        bytes: u64,
        extra: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST
                | extra,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding `params`.
    pub(crate) fn uniform<T: bytemuck::Pod>(&self, params: &T) -> wgpu::Buffer {
        self.filled("params", bytemuck::bytes_of(params), wgpu::BufferUsages::UNIFORM)
    }

    /// A fresh command encoder.
    pub(crate) fn encoder(&self) -> wgpu::CommandEncoder {
        self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default())
    }

    /// Workgroups one grid dimension may hold.
    pub(crate) fn max_workgroups(&self) -> u32 {
        self.max_workgroups
    }

    /// Copies `bytes` bytes of `src` into a mappable buffer and reads them as f32.
    pub(crate) async fn read_f32(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<f32>, GpuError> {
        Ok(bytemuck::pod_collect_to_vec(&self.read_bytes(self.encoder(), src, 0, bytes).await?))
    }

    /// Submits `enc` after a copy of `bytes` bytes of `src` from `offset` into a mappable
    /// buffer, and returns them once the GPU is done.
    pub(crate) async fn read_bytes(
        &self,
        enc: wgpu::CommandEncoder,
        src: &wgpu::Buffer,
        offset: u64,
        bytes: u64,
    ) -> Result<Vec<u8>, GpuError> {
        let mut parts = self.read_parts(enc, &[(src, offset, bytes)]).await?;
        Ok(parts.pop().expect("one part"))
    }

    /// Submits `enc` after copying each `(buffer, offset, bytes)` part into one mappable
    /// buffer, and returns the parts once the GPU is done: one map for all of them.
    /// Offsets and sizes are multiples of 4.
    pub(crate) async fn read_parts(
        &self,
        enc: wgpu::CommandEncoder,
        parts: &[(&wgpu::Buffer, u64, u64)],
    ) -> Result<Vec<Vec<u8>>, GpuError> {
        self.unstage(self.stage(enc, parts)).await
    }

    /// Submits `enc` after copying each part into one mappable buffer; [`Self::unstage`]
    /// reads them once the GPU is done.
    pub(crate) fn stage(&self, mut enc: wgpu::CommandEncoder, parts: &[(&wgpu::Buffer, u64, u64)]) -> Staged {
        let sizes: Vec<u64> = parts.iter().map(|p| p.2).collect();
        let total: u64 = sizes.iter().sum();
        if total == 0 {
            self.queue.submit([enc.finish()]);
            return Staged { buffer: None, sizes };
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: total,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0;
        for &(src, offset, bytes) in parts {
            if bytes > 0 {
                enc.copy_buffer_to_buffer(src, offset, &staging, at, bytes);
            }
            at += bytes;
        }
        self.queue.submit([enc.finish()]);
        Staged { buffer: Some(staging), sizes }
    }

    /// The parts [`Self::stage`] copied, once the GPU is done.
    pub(crate) async fn unstage(&self, staged: Staged) -> Result<Vec<Vec<u8>>, GpuError> {
        let Some(staging) = staged.buffer else {
            return Ok(vec![Vec::new(); staged.sizes.len()]);
        };
        let all = self.map_read(&staging).await?;
        let mut start = 0;
        Ok(staged
            .sizes
            .iter()
            .map(|&n| {
                start += n as usize;
                all[start - n as usize..start].to_vec()
            })
            .collect())
    }

    /// Waits for `staging` (MAP_READ) to map and returns its bytes.
    async fn map_read(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        let (tx, rx) = futures::channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        // Natively the callback runs inside poll; on the web the browser drives it.
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.await
            .map_err(|_| GpuError::Readback("the map callback was dropped".into()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let view = staging.slice(..).get_mapped_range().map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = view.to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}
