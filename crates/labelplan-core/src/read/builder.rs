//! Collects rows from any reader into a [`Dataset`], enforcing the checks every format
//! shares: one dimension for all rows, finite values (or dropping the rows that are
//! not), unique ids, and the memory limit.

use futures::io::{AsyncBufRead, AsyncBufReadExt};

use super::LoadOptions;
use crate::error::Location;
use crate::{Dataset, Error, MetaColumn, Result, SourceDtype};

/// Rows of a text file read before the rest of it is estimated.
const FIRST_TEXT_ROWS: u64 = 256;

/// How many offending rows an error message lists.
const ROWS_SHOWN: usize = 10;

/// Returns the first bytes of the source without consuming them.
pub(super) async fn peek<R: AsyncBufRead + Unpin>(reader: &mut R, file: &str) -> Result<Vec<u8>> {
    let buf = reader.fill_buf().await.map_err(|e| Error::from_io(file, &e, "the header"))?;
    Ok(buf[..buf.len().min(16)].to_vec())
}

pub(super) struct Builder<'a> {
    pub file: &'a str,
    source_bytes: u64,
    options: &'a LoadOptions,
    dtype: SourceDtype,
    dim: Option<usize>,
    values: Vec<f32>,
    rows_seen: u64,
    dropped: Vec<u64>,
    non_finite_count: u64,
    non_finite_rows: Vec<u64>,
    ids: Option<Vec<String>>,
    columns: Vec<MetaColumn>,
    /// Rows the file's header declares (binary formats, Parquet).
    declared_rows: Option<u64>,
    /// Bytes of a text file read through the current row.
    text_position: u64,
}

impl<'a> Builder<'a> {
    pub fn new(file: &'a str, source_bytes: u64, options: &'a LoadOptions) -> Self {
        Builder {
            file,
            source_bytes,
            options,
            dtype: SourceDtype::Text,
            dim: None,
            values: Vec::new(),
            rows_seen: 0,
            dropped: Vec::new(),
            non_finite_count: 0,
            non_finite_rows: Vec::new(),
            ids: None,
            columns: Vec::new(),
            declared_rows: None,
            text_position: 0,
        }
    }

    /// Rows the header declares, when they are known before the vectors' length (a
    /// Parquet list column): the matrix is reserved for them at the first row.
    pub fn expect_rows(&mut self, rows: u64) {
        self.declared_rows = Some(rows);
    }

    /// Bytes of a text file read through the row about to be pushed: the rows still to
    /// come are estimated from it when the matrix needs room.
    pub fn set_text_position(&mut self, bytes: u64) {
        self.text_position = bytes;
    }

    /// Rows to make room for when the matrix is full: those the header declared, else
    /// what the rest of a text file holds at the bytes per row seen so far (and 1/16
    /// more), else as many as there are (doubling). Growing by estimates keeps the peak
    /// near the matrix's own size, where doubling could reach three times it. Never more
    /// values than the file has bytes (a lying header) or than the memory limit allows.
    fn rows_to_reserve(&self, dim: usize) -> usize {
        let kept = self.kept_rows() as u64;
        let rows = match self.declared_rows {
            Some(declared) if declared > kept => declared - kept,
            // A text file's first rows, then the rest of it at the bytes per row seen
            // (by then a header line is a small part of what was read).
            _ if self.text_position > 0 && kept < FIRST_TEXT_ROWS => FIRST_TEXT_ROWS,
            _ if self.text_position > 0 => {
                let per_row = (self.text_position / self.rows_seen.max(1)).max(1);
                let rest = self.source_bytes.saturating_sub(self.text_position) / per_row;
                rest + rest / 16 + 1
            }
            _ => kept.max(1),
        };
        let most = (self.source_bytes.min(self.options.memory_limit / 4) / dim.max(1) as u64).max(1);
        rows.min(most) as usize
    }

    pub fn set_dtype(&mut self, dtype: SourceDtype) {
        self.dtype = dtype;
    }

    pub fn dim(&self) -> Option<usize> {
        self.dim
    }

    /// Picks the array or tensor to read from a file holding `names` (sorted): the one
    /// the user named, else the only one. `what` is "array" or "tensor"; `suffix` is a
    /// file suffix the user may include in the name (".npy" inside an npz).
    pub fn choose<'n>(&self, what: &str, names: &[&'n str], suffix: &str) -> Result<&'n str> {
        let list = || names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
        match self.options.array_name.as_deref() {
            Some(want) => {
                let want = want.strip_suffix(suffix).unwrap_or(want);
                names.iter().copied().find(|n| *n == want).ok_or_else(|| {
                    Error::malformed(self.file, format!("has no {what} named {want:?}; it holds {}", list()))
                })
            }
            None => match names {
                [only] => Ok(only),
                [] => Err(Error::malformed(self.file, format!("holds no {what}s; expected at least one"))),
                _ => Err(Error::malformed(
                    self.file,
                    format!("holds several {what}s ({}); choose one by name", list()),
                )),
            },
        }
    }

    /// Declares the shape up front (binary formats): checks the memory limit before any
    /// data is read and reserves the matrix once. The reservation never exceeds one
    /// value per byte of the file, so a header that lies about a compressed file's rows
    /// (Parquet's footer) cannot make it allocate what the file does not hold.
    pub fn expect_shape(&mut self, rows: u64, dim: u64) -> Result<()> {
        if rows == 0 || dim == 0 {
            return Err(Error::NoRows { file: self.file.to_owned() });
        }
        self.check_memory(rows, dim)?;
        self.dim = Some(dim as usize);
        self.declared_rows = Some(rows);
        self.values.reserve_exact(rows.saturating_mul(dim).min(self.source_bytes) as usize);
        Ok(())
    }

    /// The most bytes the load may hold (a reader bounds its own buffers by it too).
    pub fn memory_limit(&self) -> u64 {
        self.options.memory_limit
    }

    fn check_memory(&self, rows: u64, dim: u64) -> Result<()> {
        let needed = rows.saturating_mul(dim).saturating_mul(4);
        // On wasm32 a usize cannot even index past 4 GiB.
        let addressable = usize::MAX as u64;
        let limit = self.options.memory_limit.min(addressable);
        if needed > limit {
            return Err(Error::TooLarge {
                file: self.file.to_owned(),
                rows,
                dim,
                needed,
                limit,
                limit_is_browser: self.options.limit_is_browser,
            });
        }
        Ok(())
    }

    /// Names the metadata columns (text formats), once, before the first row.
    pub fn set_columns(&mut self, names: Vec<String>, with_ids: bool) {
        self.columns = names.into_iter().map(|name| MetaColumn { name, values: Vec::new() }).collect();
        self.ids = with_ids.then(Vec::new);
    }

    /// Adds a metadata column discovered after some rows (JSONL), back-filled with "".
    pub fn add_column(&mut self, name: String) -> usize {
        let kept = self.kept_rows();
        self.columns.push(MetaColumn { name, values: vec![String::new(); kept] });
        self.columns.len() - 1
    }

    pub fn column_count(&self) -> usize {
        self.columns.len()
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    fn kept_rows(&self) -> usize {
        self.dim.map_or(0, |d| self.values.len() / d.max(1))
    }

    /// Adds one row. `meta` holds one value per column set with [`Self::set_columns`].
    /// Returns whether the row was kept.
    pub fn push_row(
        &mut self,
        row: &[f32],
        at: Location,
        id: Option<String>,
        meta: Vec<String>,
    ) -> Result<bool> {
        let row_no = self.rows_seen;
        self.rows_seen += 1;
        match self.dim {
            None => {
                if row.is_empty() {
                    return Err(Error::malformed(
                        self.file,
                        format!("{at}: the vector is empty; expected at least one number"),
                    ));
                }
                self.dim = Some(row.len());
            }
            Some(d) if d != row.len() => {
                return Err(Error::RaggedRow {
                    file: self.file.to_owned(),
                    at,
                    found: row.len(),
                    expected: d,
                })
            }
            Some(_) => {}
        }
        if row.iter().any(|v| !v.is_finite()) {
            self.non_finite_count += 1;
            if self.non_finite_rows.len() < ROWS_SHOWN {
                self.non_finite_rows.push(row_no);
            }
            if self.options.drop_non_finite {
                self.dropped.push(row_no);
            }
            return Ok(false);
        }
        if self.values.capacity() - self.values.len() < row.len() {
            self.check_memory(self.kept_rows() as u64 * 2 + 1, row.len() as u64)?;
            let rows = self.rows_to_reserve(row.len());
            self.values.reserve_exact(rows * row.len());
            if let Some(ids) = self.ids.as_mut() {
                ids.reserve_exact(rows);
            }
            for col in &mut self.columns {
                col.values.reserve_exact(rows);
            }
        }
        self.values.extend_from_slice(row);
        if let (Some(ids), Some(id)) = (self.ids.as_mut(), id) {
            ids.push(id);
        }
        for (col, value) in self.columns.iter_mut().zip(meta) {
            col.values.push(value);
        }
        Ok(true)
    }

    /// Adds many whole rows of a dense binary array.
    pub fn push_rows(&mut self, values: &[f32]) -> Result<()> {
        let dim = self.dim.unwrap_or(values.len()).max(1);
        for row in values.chunks(dim) {
            let at = Location { row: self.rows_seen, line: None };
            self.push_row(row, at, None, Vec::new())?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Dataset> {
        let file = self.file.to_owned();
        if self.non_finite_count > 0 && !self.options.drop_non_finite {
            return Err(Error::NonFinite { file, count: self.non_finite_count, rows: self.non_finite_rows });
        }
        let dim = self.dim.unwrap_or(0);
        let rows = self.values.len().checked_div(dim).unwrap_or(0);
        if rows == 0 {
            return Err(Error::NoRows { file });
        }
        if let Some(ids) = &self.ids {
            check_unique_ids(&file, ids)?;
        }
        let mut values = self.values;
        // Shrinking copies the matrix in allocators that cannot shrink in place (a
        // moment at twice its size): only worth it for more than 1/8 unused.
        if values.capacity() - values.len() > values.len() / 8 {
            values.shrink_to_fit();
        }
        Ok(Dataset {
            source_name: file,
            source_bytes: self.source_bytes,
            dtype: self.dtype,
            rows,
            dim,
            values,
            ids: self.ids,
            columns: self.columns,
            dropped_rows: self.dropped,
        })
    }
}

/// Fails on the first id that appears twice, naming both rows.
pub(crate) fn check_unique_ids(file: &str, ids: &[String]) -> Result<()> {
    let mut seen = std::collections::HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id.as_str(), row) {
            return Err(Error::DuplicateId {
                file: file.to_owned(),
                id: id.clone(),
                first: first as u64,
                second: row as u64,
            });
        }
    }
    Ok(())
}
