//! labelplan-lm: the small language model the page runs (SmolLM2-135M, from a GGUF).
//!
//! - [`gguf`]: the GGUF v3 container, read with every count and offset checked against
//!   the bytes there are (a truncated or inconsistent file is an error, never a panic or
//!   an allocation of what it merely declares);
//! - [`quant`]: the tensor types the model uses (F32, F16, Q8_0, Q4_1), dequantised;
//! - [`tokenizer`]: text to token ids and back, built from the GGUF's vocabulary;
//! - [`model`]: the Llama forward pass on the CPU over a KV cache;
//! - [`experts`]: FFN neurons grouped into experts, the model permuted to match;
//! - [`sparse`]: the FFN running only the experts a router or threshold chooses;
//! - [`shipped`]: the manifest of the sparsity sets the page ships, with their evaluation;
//! - [`gpu`]: the same forward pass in WGSL on the planner's GPU context;
//! - [`sample`]: greedy, temperature and top-p choice of the next token, seeded;
//! - [`chat`]: a conversation in the GGUF's own chat template;
//! - [`session`]: a conversation on either pass, fed a few tokens at a time;
//! - [`eval`]: perplexity on held-out text;
//! - [`speed`]: the FFN's and a token's time against the share of experts off.

pub mod chat;
pub mod eval;
pub mod experts;
pub mod gguf;
pub mod gpu;
pub mod model;
pub mod quant;
pub mod sample;
pub mod session;
pub mod shipped;
pub mod sparse;
pub mod speed;
pub mod tokenizer;

pub use gguf::{Gguf, GgufError, TensorInfo, Value};
pub use model::{Cache, Config, Model};
pub use quant::DType;
pub use session::{Next, Session};
pub use tokenizer::Tokenizer;

/// Everything the page and the CLI need from one GGUF file.
#[derive(Debug)]
pub struct Loaded {
    /// The weights.
    pub model: Model,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// Its chat template, if it has one.
    pub template: Option<chat::ChatTemplate>,
    /// `general.name`, else the file's name.
    pub name: String,
}

impl Loaded {
    /// Reads the llama GGUF `file` named `name` (errors name the file, the byte and the
    /// tensor or key at fault).
    pub fn from_bytes(name: &str, file: &[u8]) -> Result<Loaded, GgufError> {
        let gguf = Gguf::parse(name, file)?;
        let model = Model::from_gguf(&gguf, file)?;
        Ok(Loaded {
            tokenizer: Tokenizer::from_gguf(&gguf)?,
            template: chat::ChatTemplate::from_gguf(&gguf).ok(),
            name: gguf.require_str("general.name").map_or_else(|_| name.to_owned(), str::to_owned),
            model,
        })
    }
}
