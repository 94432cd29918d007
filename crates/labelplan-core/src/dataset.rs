//! The loaded dataset: a dense row-major f32 matrix plus optional ids and metadata.

use serde::{Deserialize, Serialize};

/// The element type the vectors had in the file, before conversion to f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceDtype {
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// Decimal numbers in a text format.
    Text,
}

impl SourceDtype {
    /// Short name shown to users.
    pub fn name(self) -> &'static str {
        match self {
            SourceDtype::F16 => "float16",
            SourceDtype::BF16 => "bfloat16",
            SourceDtype::F32 => "float32",
            SourceDtype::F64 => "float64",
            SourceDtype::Text => "text (decimal)",
        }
    }
}

/// A named column of per-row metadata, kept as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaColumn {
    /// Column name (from a header, a field name, or `column N`).
    pub name: String,
    /// One value per row.
    pub values: Vec<String>,
}

/// Embeddings loaded from one file (and an optional sidecar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Name of the file the vectors came from.
    pub source_name: String,
    /// Size of that file in bytes.
    pub source_bytes: u64,
    /// Element type in the file.
    pub dtype: SourceDtype,
    /// Number of rows (items).
    pub rows: usize,
    /// Dimension of each vector.
    pub dim: usize,
    /// `rows × dim` values, row-major.
    pub values: Vec<f32>,
    /// One id per row, when the file or sidecar has them.
    pub ids: Option<Vec<String>>,
    /// Other per-row columns.
    pub columns: Vec<MetaColumn>,
    /// Rows of the file that were dropped (NaN/Inf), as 0-based row numbers in the file.
    pub dropped_rows: Vec<u64>,
}

impl Dataset {
    /// An in-memory float32 `rows × dim` matrix (row-major) without ids or metadata.
    pub fn from_matrix(name: &str, values: Vec<f32>, rows: usize, dim: usize) -> Self {
        Dataset {
            source_name: name.into(),
            source_bytes: (values.len() * 4) as u64,
            dtype: SourceDtype::F32,
            rows,
            dim,
            values,
            ids: None,
            columns: Vec::new(),
            dropped_rows: Vec::new(),
        }
    }

    /// Row `i` as a slice of `dim` values.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Bytes held by the vectors, ids and metadata.
    pub fn memory_bytes(&self) -> u64 {
        let strings = |v: &[String]| -> u64 {
            v.iter().map(|s| (s.capacity() + std::mem::size_of::<String>()) as u64).sum()
        };
        let ids = self.ids.as_deref().map_or(0, strings);
        let meta: u64 = self.columns.iter().map(|c| strings(&c.values)).sum();
        (self.values.capacity() * std::mem::size_of::<f32>()) as u64 + ids + meta
    }
}
