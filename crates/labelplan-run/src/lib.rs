//! labelplan-run: what the CLI and the web worker both do around a plan, written once.
//!
//! - [`input`]: the manifest's record of the input files, their SHA-256 streamed;
//! - [`policy`]: where a plan runs — the GPU or the CPU, chosen by timing the same short
//!   probe on both ([`BackendPolicy::Auto`]) or forced by the user;
//! - [`runner`]: one plan on the chosen backend, rerun on the CPU (with a note saying
//!   why) when the GPU fails, with the engine's progress and cancel passed through.

pub mod input;
pub mod policy;
pub mod runner;

pub use input::{input_info, Source};
pub use policy::{choose, BackendPolicy, Choice, ProbeTimes};
pub use runner::{plan, Planned, Watch, Work};
