//! Errors of the WebGPU backend.

/// Why a GPU operation failed. Validation and out-of-memory errors are captured with
/// error scopes and returned here instead of panicking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// No WebGPU adapter is available.
    #[error("no WebGPU adapter found: {0}")]
    NoAdapter(String),
    /// The adapter refused to create a device.
    #[error("the WebGPU adapter refused a device: {0}")]
    NoDevice(String),
    /// A validation or out-of-memory error was captured.
    #[error("WebGPU reported an error in {op}: {message}")]
    Device {
        /// The operation that failed.
        op: &'static str,
        /// The driver's message.
        message: String,
    },
    /// Reading results back failed.
    #[error("reading GPU results back failed: {0}")]
    Readback(String),
    /// A shape that the kernel cannot take.
    #[error("{op}: {rows} rows × {dim} dims: {message}")]
    Shape {
        /// The operation.
        op: &'static str,
        /// Rows given.
        rows: usize,
        /// Dims given.
        dim: usize,
        /// What is wrong.
        message: String,
    },
}
