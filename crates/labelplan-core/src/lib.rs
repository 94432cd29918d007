//! labelplan-core: the data types every other crate shares, the readers that turn an
//! embeddings file into a [`Dataset`], the load summary, and the one error type.
//!
//! Readers accept `.npy`, `.npz`, `.safetensors`, CSV/TSV and JSONL, plus a sidecar
//! CSV/TSV of ids and metadata; see [`read`]. Every failure is an [`Error`] naming the
//! file and, where it applies, the row, line or field, and what was expected.
//!
//! It also holds the [`Backend`] trait the selection engine is written against and the
//! serde types of a plan run ([`plan`]).

pub mod backend;
pub mod dataset;
pub mod det;
pub mod digest;
pub mod draw;
pub mod error;
pub mod layout;
pub mod parallel;
pub mod plan;
pub mod progress;
pub mod read;
pub mod settings;
pub mod summary;
pub mod write;

pub use backend::{Backend, BackendError};
pub use dataset::{Dataset, MetaColumn, SourceDtype};
pub use error::{Error, Location, Result};
pub use read::{read_embeddings, Format, Input, LoadOptions};
pub use summary::{NormStats, Summary};
