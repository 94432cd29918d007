//! labelplan-lm: the small language model the page runs (SmolLM2-135M, from a GGUF).
//!
//! - [`gguf`]: the GGUF v3 container, read with every count and offset checked against
//!   the bytes there are (a truncated or inconsistent file is an error, never a panic or
//!   an allocation of what it merely declares);
//! - [`quant`]: the tensor types the model uses (F32, F16, Q8_0, Q4_1), dequantised;
//! - [`tokenizer`]: text to token ids and back, built from the GGUF's vocabulary;
//! - [`model`]: the Llama forward pass on the CPU over a KV cache;
//! - [`gpu`]: the same forward pass in WGSL on the planner's GPU context;
//! - [`sample`]: greedy, temperature and top-p choice of the next token, seeded;
//! - [`chat`]: a conversation in the GGUF's own chat template.

pub mod chat;
pub mod gguf;
pub mod gpu;
pub mod model;
pub mod quant;
pub mod sample;
pub mod tokenizer;

pub use gguf::{Gguf, GgufError, TensorInfo, Value};
pub use model::{Cache, Config, Model};
pub use quant::DType;
pub use tokenizer::Tokenizer;
