//! Readers for every embeddings format labelplan accepts, all producing one [`Dataset`].
//!
//! Readers are async over a [`futures::io`] source so the browser can stream a `Blob`
//! chunk by chunk (reporting progress, honouring cancel) while natively the same code
//! runs over a file. Values are converted to f32 as they stream in: the file's bytes
//! are never held whole beside the parsed matrix.

mod builder;
mod delimited;
mod dense;
mod jsonl;
mod npy;
mod npz;
mod parquet;
mod records;
mod safetensors;
mod sidecar;
pub mod source;
mod thrift_check;

use futures::io::{AsyncRead, AsyncSeek, BufReader};
use serde::{Deserialize, Serialize};

use crate::{Dataset, Error, Result};
pub use sidecar::{join_sidecar, read_sidecar, SidecarJoin, Table};
use source::{Tracked, Watch};

/// The file formats labelplan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// NumPy `.npy`.
    Npy,
    /// NumPy `.npz` (zip of `.npy`, stored or deflated).
    Npz,
    /// Hugging Face `.safetensors`.
    Safetensors,
    /// Comma-separated text.
    Csv,
    /// Tab-separated text (TF Embedding Projector layout).
    Tsv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Picks the format from the file name's extension, else from the first bytes.
    pub fn detect(name: &str, head: &[u8]) -> Option<Format> {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let by_ext = match ext.as_deref() {
            Some("npy") => Some(Format::Npy),
            Some("npz") => Some(Format::Npz),
            Some("safetensors") => Some(Format::Safetensors),
            Some("csv") => Some(Format::Csv),
            Some("tsv") | Some("tab") => Some(Format::Tsv),
            Some("jsonl") | Some("ndjson") => Some(Format::Jsonl),
            Some("parquet") | Some("pq") => Some(Format::Parquet),
            _ => None,
        };
        by_ext.or_else(|| {
            if head.starts_with(b"\x93NUMPY") {
                Some(Format::Npy)
            } else if head.starts_with(b"PAR1") {
                Some(Format::Parquet)
            } else if head.starts_with(b"PK\x03\x04") {
                Some(Format::Npz)
            } else if head.first() == Some(&b'{') {
                Some(Format::Jsonl)
            } else {
                None
            }
        })
    }

    /// Extensions users may drop, for messages and the file picker.
    pub const EXTENSIONS: &'static [&'static str] =
        &[".npy", ".npz", ".safetensors", ".parquet", ".csv", ".tsv", ".jsonl", ".ndjson"];
}

/// How to load a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Drop rows holding NaN or ±Inf instead of refusing the file.
    pub drop_non_finite: bool,
    /// Array or tensor to read from a `.npz` or `.safetensors` holding several.
    pub array_name: Option<String>,
    /// Most bytes the f32 matrix may take.
    pub memory_limit: u64,
    /// Whether `memory_limit` is a browser tab's (for the message).
    pub limit_is_browser: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            drop_non_finite: false,
            array_name: None,
            memory_limit: u64::MAX,
            limit_is_browser: false,
        }
    }
}

impl LoadOptions {
    /// Options for a browser tab: wasm32 memory tops out at 4 GiB, and the worker needs
    /// room beside the matrix, so the matrix gets at most 1.5 GiB.
    pub fn browser() -> Self {
        LoadOptions { memory_limit: 3 << 29, limit_is_browser: true, ..LoadOptions::default() }
    }
}

/// A named byte source of known length.
pub struct Input<R> {
    /// File name shown in messages.
    pub name: String,
    /// Length in bytes.
    pub len: u64,
    /// The bytes.
    pub reader: R,
}

/// Reads the embeddings in `input`, whatever its format.
pub async fn read_embeddings<R>(input: Input<R>, options: &LoadOptions, watch: &dyn Watch) -> Result<Dataset>
where
    R: AsyncRead + AsyncSeek + Unpin,
{
    let file = input.name.as_str();
    if input.len == 0 {
        return Err(Error::EmptyFile { file: file.to_owned() });
    }
    // A buffer no larger than the file: small files (and every fuzzed input) skip a
    // 1 MiB allocation.
    let capacity = input.len.min(1 << 20) as usize;
    let mut reader = BufReader::with_capacity(capacity, Tracked::new(input.reader, input.len, watch));
    let head = builder::peek(&mut reader, file).await?;
    let format = Format::detect(file, &head).ok_or_else(|| {
        Error::unsupported(
            file,
            format!("unknown file type; expected one of {}", Format::EXTENSIONS.join(", ")),
        )
    })?;
    let mut out = builder::Builder::new(file, input.len, options);
    match format {
        Format::Npy => npy::read(&mut reader, input.len, &mut out).await?,
        Format::Npz => npz::read(reader, input.len, &mut out).await?,
        Format::Safetensors => safetensors::read(&mut reader, input.len, &mut out).await?,
        Format::Csv => delimited::read(reader, b',', &mut out).await?,
        Format::Tsv => delimited::read(reader, b'\t', &mut out).await?,
        Format::Jsonl => jsonl::read(reader, &mut out).await?,
        Format::Parquet => parquet::read(&mut reader, input.len, &mut out).await?,
    }
    out.finish()
}

/// Reads a file from disk (native only): the CLI's and tests' entry point.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_path(path: &std::path::Path, options: &LoadOptions) -> Result<Dataset> {
    let input = open_path(path)?;
    futures::executor::block_on(read_embeddings(input, options, &source::Unwatched))
}

/// Opens a file from disk as an [`Input`] (native only).
#[cfg(not(target_arch = "wasm32"))]
pub fn open_path(path: &std::path::Path) -> Result<Input<futures::io::AllowStdIo<std::fs::File>>> {
    let name =
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let io = |e: std::io::Error| Error::Io { file: name.clone(), message: e.to_string() };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    Ok(Input { name, len, reader: futures::io::AllowStdIo::new(file) })
}
