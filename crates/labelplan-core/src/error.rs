//! The one error type of labelplan-core: every variant names the file and, where it
//! applies, the row, line or field, and what was expected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where in a file a problem sits: a 0-based data row and, for text files, the 1-based
/// line an editor would show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// 0-based index of the data row (the item).
    pub row: u64,
    /// 1-based line number in a text file.
    pub line: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line} (row {})", self.row),
            None => write!(f, "row {}", self.row),
        }
    }
}

/// Rows listed in a message: the first few, then how many more.
fn preview(rows: &[u64], total: u64) -> String {
    let shown: Vec<String> = rows.iter().map(u64::to_string).collect();
    let more = total.saturating_sub(rows.len() as u64);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Why a file could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The file has no bytes at all.
    #[error("{file}: the file is empty")]
    EmptyFile {
        /// File name.
        file: String,
    },
    /// The file parsed but holds no rows of embeddings.
    #[error("{file}: no rows of embeddings found; expected at least one row")]
    NoRows {
        /// File name.
        file: String,
    },
    /// A row has a different number of values than the rows before it.
    #[error("{file}: {at} has {found} values, expected {expected} like the rows before it")]
    RaggedRow {
        /// File name.
        file: String,
        /// Where.
        at: Location,
        /// Values found in this row.
        found: usize,
        /// Values in the first row.
        expected: usize,
    },
    /// A value that should be a number is not.
    #[error("{file}: {at}, field {field}: expected a number, found {found:?}")]
    NotANumber {
        /// File name.
        file: String,
        /// Where.
        at: Location,
        /// Column name or position.
        field: String,
        /// The text found (cut to 40 characters).
        found: String,
    },
    /// Some rows hold NaN or infinite values and dropping them was not asked for.
    #[error(
        "{file}: {count} rows hold NaN or infinite values (rows {}); load again with \"drop rows with NaN/Inf\" to skip them",
        preview(rows, *count)
    )]
    NonFinite {
        /// File name.
        file: String,
        /// How many rows are affected.
        count: u64,
        /// The first affected rows (0-based).
        rows: Vec<u64>,
    },
    /// The file ends before the data its header promises.
    #[error("{file}: the file ends early in {what}: expected {expected} bytes, found {found}")]
    Truncated {
        /// File name.
        file: String,
        /// Which part was cut.
        what: String,
        /// Bytes expected.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A dtype labelplan cannot read.
    #[error("{file}: unsupported data type {dtype}; expected {expected}")]
    UnsupportedDtype {
        /// File name.
        file: String,
        /// The dtype found.
        dtype: String,
        /// What is supported.
        expected: String,
    },
    /// The same id appears twice.
    #[error("{file}: id {id:?} appears in rows {first} and {second}; ids must be unique")]
    DuplicateId {
        /// File name.
        file: String,
        /// The repeated id.
        id: String,
        /// First row holding it.
        first: u64,
        /// Second row holding it.
        second: u64,
    },
    /// A sidecar whose row count differs from the embeddings'.
    #[error("{file}: has {found} rows but the embeddings have {expected}; expected one row per embedding")]
    RowCountMismatch {
        /// File name.
        file: String,
        /// Rows in the sidecar.
        found: u64,
        /// Rows in the embeddings.
        expected: u64,
    },
    /// A sidecar joined by id names an id the embeddings do not have, or misses one.
    #[error("{file}: {message}")]
    JoinMismatch {
        /// File name.
        file: String,
        /// What did not match.
        message: String,
    },
    /// The parsed data would not fit the memory this process may use.
    #[error(
        "{file}: {rows} rows × {dim} dims need {} MiB as f32, more than the {} MiB limit{}; split the file into fewer rows, or reduce the dims (e.g. with PCA), and load a part",
        needed / (1 << 20), limit / (1 << 20), if *limit_is_browser {" of a browser tab"} else {""}
    )]
    TooLarge {
        /// File name.
        file: String,
        /// Rows declared.
        rows: u64,
        /// Dims declared.
        dim: u64,
        /// Bytes needed.
        needed: u64,
        /// Bytes allowed.
        limit: u64,
        /// Whether the limit is the browser's.
        limit_is_browser: bool,
    },
    /// The file's structure is not what its format requires.
    #[error("{file}: {message}")]
    Malformed {
        /// File name.
        file: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A valid file of a kind labelplan does not read (format, layout or shape).
    #[error("{file}: {message}")]
    Unsupported {
        /// File name.
        file: String,
        /// What is not supported and what is.
        message: String,
    },
    /// Reading the bytes failed.
    #[error("{file}: could not read the file: {message}")]
    Io {
        /// File name.
        file: String,
        /// The system's message.
        message: String,
    },
    /// The user cancelled the load.
    #[error("loading {file} was cancelled")]
    Cancelled {
        /// File name.
        file: String,
    },
}

impl Error {
    /// A `Malformed` error.
    pub fn malformed(file: &str, message: impl Into<String>) -> Self {
        Error::Malformed { file: file.to_owned(), message: message.into() }
    }

    /// An `Unsupported` error.
    pub fn unsupported(file: &str, message: impl Into<String>) -> Self {
        Error::Unsupported { file: file.to_owned(), message: message.into() }
    }

    /// Maps an I/O error from a tracked source: cancellation and early ends keep their
    /// meaning, everything else becomes `Io`.
    pub fn from_io(file: &str, err: &std::io::Error, what: &str) -> Self {
        if crate::read::source::is_cancel(err) {
            return Error::Cancelled { file: file.to_owned() };
        }
        if err.kind() == std::io::ErrorKind::UnexpectedEof {
            return Error::malformed(file, format!("the file ends early in {what}"));
        }
        Error::Io { file: file.to_owned(), message: err.to_string() }
    }
}

/// Result with labelplan-core's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text a panic carried (`panic!("…")` gives a `&str` or a `String`), for a message
/// that names what broke; empty for any other payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default()
}
