//! labelplan-train: LTE's router training on the language model, natively.
//!
//! - [`llama`]: the model's forward pass in candle's tensors (weights frozen, taken
//!   dequantised from a grouped [`labelplan_lm::Model`]), its FFNs gated by routers;
//! - [`lte`]: the routers and LTE's two stages of training;
//! - [`posthoc`]: the baseline router fitted to the dense model's activations.

pub mod llama;
pub mod lte;
pub mod posthoc;
