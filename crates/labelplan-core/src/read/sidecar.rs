//! A sidecar CSV/TSV of ids and metadata (the Projector's metadata TSV among them),
//! joined to the embeddings by row order or by an id column.

use futures::io::{AsyncRead, BufReader};
use serde::{Deserialize, Serialize};

use super::builder::check_unique_ids;
use super::delimited::ID_NAMES;
use super::records::Records;
use super::source::{Tracked, Watch};
use super::Input;
use crate::{Dataset, Error, MetaColumn, Result};

/// The records of a sidecar file, header not yet decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// File name.
    pub file: String,
    /// Every record, in file order.
    pub records: Vec<Vec<String>>,
}

/// How sidecar rows meet embedding rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SidecarJoin {
    /// Sidecar row i describes embedding row i of the file.
    #[default]
    RowOrder,
    /// The sidecar column of this name holds ids matching the embeddings' ids.
    ById(String),
}

/// Reads every record of a sidecar file; tab-separated unless the name ends in `.csv`.
pub async fn read_sidecar<R: AsyncRead + Unpin>(input: Input<R>, watch: &dyn Watch) -> Result<Table> {
    let file = input.name.clone();
    if input.len == 0 {
        return Err(Error::EmptyFile { file });
    }
    let delimiter = if file.to_ascii_lowercase().ends_with(".csv") { b',' } else { b'\t' };
    let reader = BufReader::new(Tracked::new(input.reader, input.len, watch));
    let mut records = Records::new(reader, delimiter, &file);
    let mut table = Table { file, records: Vec::new() };
    let mut fields = Vec::new();
    while let Some(line) = records.next(&mut fields).await? {
        if let Some(first) = table.records.first() {
            if first.len() != fields.len() {
                return Err(Error::malformed(
                    &table.file,
                    format!(
                        "line {line} has {} fields, expected {} like the first line",
                        fields.len(),
                        first.len()
                    ),
                ));
            }
        }
        table.records.push(std::mem::take(&mut fields));
    }
    if table.records.is_empty() {
        return Err(Error::NoRows { file: table.file });
    }
    Ok(table)
}

/// Joins `table` to `data`: ids (a column named like `id`) and metadata columns.
///
/// Header rule (the Projector's): with several columns the first line is a header;
/// with one column it is a header only when the file has exactly one line more than
/// the embeddings have rows.
pub fn join_sidecar(data: &mut Dataset, table: Table, join: &SidecarJoin) -> Result<()> {
    let file = table.file;
    let mut records = table.records;
    let width = records[0].len();
    let file_rows = (data.rows + data.dropped_rows.len()) as u64;
    let has_header =
        width > 1 || matches!(join, SidecarJoin::ById(_)) || records.len() as u64 == file_rows + 1;
    let names: Vec<String> =
        if has_header { records.remove(0) } else { (1..=width).map(|i| format!("column {i}")).collect() };
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(data.rows); width];
    match join {
        SidecarJoin::RowOrder => {
            if records.len() as u64 != file_rows {
                return Err(Error::RowCountMismatch {
                    file,
                    found: records.len() as u64,
                    expected: file_rows,
                });
            }
            let mut dropped = data.dropped_rows.iter().peekable();
            for (row, record) in records.into_iter().enumerate() {
                if dropped.peek() == Some(&&(row as u64)) {
                    dropped.next();
                    continue;
                }
                for (col, value) in columns.iter_mut().zip(record) {
                    col.push(value);
                }
            }
        }
        SidecarJoin::ById(key) => {
            let key_col = names.iter().position(|n| n == key).ok_or_else(|| {
                Error::malformed(
                    &file,
                    format!("has no column {key:?}; its columns are {}", names.join(", ")),
                )
            })?;
            let ids = data.ids.as_ref().ok_or_else(|| Error::JoinMismatch {
                file: file.clone(),
                message: format!(
                    "cannot join by {key:?}: the embeddings file {} has no ids",
                    data.source_name
                ),
            })?;
            let mut by_id = std::collections::HashMap::with_capacity(records.len());
            for (row, record) in records.iter().enumerate() {
                if let Some(prev) = by_id.insert(record[key_col].as_str(), row) {
                    return Err(Error::DuplicateId {
                        file: file.clone(),
                        id: record[key_col].clone(),
                        first: prev as u64,
                        second: row as u64,
                    });
                }
            }
            for id in ids {
                let row = *by_id.get(id.as_str()).ok_or_else(|| Error::JoinMismatch {
                    file: file.clone(),
                    message: format!(
                        "has no row for id {id:?} of {}; expected one row per id",
                        data.source_name
                    ),
                })?;
                for (col, value) in columns.iter_mut().zip(&records[row]) {
                    col.push(value.clone());
                }
            }
        }
    }
    let id_col = if data.ids.is_none() && has_header {
        names.iter().position(|n| ID_NAMES.contains(&n.trim().to_ascii_lowercase().as_str()))
    } else {
        None
    };
    if let Some(c) = id_col {
        check_unique_ids(&file, &columns[c])?;
    }
    // Checks done: only now is the dataset changed, so a failed join leaves it as it was.
    for (i, (name, values)) in names.into_iter().zip(columns).enumerate() {
        if Some(i) == id_col {
            data.ids = Some(values);
        } else if !matches!(join, SidecarJoin::ById(k) if *k == name) {
            data.columns.push(MetaColumn { name, values });
        }
    }
    Ok(())
}
