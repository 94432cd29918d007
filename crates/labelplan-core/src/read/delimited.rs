//! CSV and TSV embeddings. Two layouts:
//! - no header, every field a number: the TF Embedding Projector's vectors TSV;
//! - a header row, with the vector either spread over numeric columns (the longest run
//!   of adjacent numeric columns in the first data row) or held in one column as a
//!   JSON array. An `id` column becomes the ids; every other column becomes metadata.

use futures::io::AsyncBufRead;

use super::builder::Builder;
use super::records::Records;
use crate::error::Location;
use crate::{Error, Result};

/// Column names taken as the item id (compared case-insensitively).
pub(super) const ID_NAMES: &[&str] = &["id", "ids", "item_id", "uid"];

/// Names preferred for the vector column when several hold JSON arrays.
const VECTOR_NAMES: &[&str] = &["embedding", "embeddings", "vector", "emb"];

fn is_number(field: &str) -> bool {
    field.trim().parse::<f32>().is_ok()
}

fn is_json_array(field: &str) -> bool {
    field.trim_start().starts_with('[')
}

/// Where the vector sits in each record.
enum VectorColumns {
    /// Fields `start..end` are the values.
    Spread { start: usize, end: usize },
    /// Field `index` holds a JSON array.
    Json { index: usize },
}

struct Layout {
    vector: VectorColumns,
    id: Option<usize>,
    meta: Vec<usize>,
    names: Vec<String>,
}

impl Layout {
    fn from_first_row(names: Vec<String>, row: &[String], has_header: bool) -> Layout {
        let lower: Vec<String> = names.iter().map(|n| n.trim().to_ascii_lowercase()).collect();
        let id = if has_header { lower.iter().position(|n| ID_NAMES.contains(&n.as_str())) } else { None };
        let json: Vec<usize> = (0..row.len()).filter(|&i| is_json_array(&row[i])).collect();
        let vector = if let Some(&first) = json.first() {
            let index =
                json.iter().copied().find(|&i| VECTOR_NAMES.contains(&lower[i].as_str())).unwrap_or(first);
            VectorColumns::Json { index }
        } else if !has_header {
            VectorColumns::Spread { start: 0, end: row.len() }
        } else {
            // The longest run of adjacent numeric columns, the id column excluded.
            let (mut best, mut run_start) = ((0, 0), None);
            for i in 0..=row.len() {
                let numeric = i < row.len() && Some(i) != id && is_number(&row[i]);
                match (numeric, run_start) {
                    (true, None) => run_start = Some(i),
                    (false, Some(s)) => {
                        if i - s > best.1 - best.0 {
                            best = (s, i);
                        }
                        run_start = None;
                    }
                    _ => {}
                }
            }
            let (start, end) = narrow_to_numbered(&lower, best.0, best.1);
            VectorColumns::Spread { start, end }
        };
        let in_vector = |i: usize| match vector {
            VectorColumns::Spread { start, end } => (start..end).contains(&i),
            VectorColumns::Json { index } => i == index,
        };
        let meta = (0..row.len()).filter(|&i| !in_vector(i) && Some(i) != id).collect();
        Layout { vector, id, meta, names }
    }
}

/// Within the numeric run `start..end`, keeps the longest stretch of columns named
/// `<prefix><number>` with one prefix (`f0..f383`, `dim_0..`), so a numeric metadata
/// column beside the vector (`digit`, `year`) stays metadata. Runs without such names
/// are kept whole.
fn narrow_to_numbered(names: &[String], start: usize, end: usize) -> (usize, usize) {
    let prefix = |n: &str| -> Option<String> {
        let stem = n.trim_end_matches(|c: char| c.is_ascii_digit());
        (stem.len() < n.len()).then(|| stem.to_owned())
    };
    let (mut best, mut i) = ((start, end), start);
    let mut best_len = 0;
    while i < end {
        let Some(p) = prefix(&names[i]) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < end && prefix(&names[j]).as_deref() == Some(p.as_str()) {
            j += 1;
        }
        if j - i > best_len {
            (best, best_len) = ((i, j), j - i);
        }
        i = j;
    }
    if best_len >= 2 {
        best
    } else {
        (start, end)
    }
}

pub(super) async fn read<R: AsyncBufRead + Unpin>(
    reader: R,
    delimiter: u8,
    out: &mut Builder<'_>,
) -> Result<()> {
    let file = out.file.to_owned();
    let mut records = Records::new(reader, delimiter, &file);
    let mut fields = Vec::new();
    let Some(mut line) = records.next(&mut fields).await? else {
        return Err(Error::NoRows { file });
    };
    let has_header = fields.iter().any(|f| !is_number(f) && !is_json_array(f));
    let names: Vec<String> = if has_header {
        let names = fields.clone();
        match records.next(&mut fields).await? {
            Some(l) => line = l,
            None => return Err(Error::NoRows { file }),
        }
        names
    } else {
        (1..=fields.len()).map(|i| format!("column {i}")).collect()
    };
    if has_header && names.len() != fields.len() {
        return Err(Error::malformed(
            &file,
            format!("line {line} has {} fields but the header has {}", fields.len(), names.len()),
        ));
    }
    let layout = Layout::from_first_row(names, &fields, has_header);
    if let VectorColumns::Spread { start, end } = layout.vector {
        if start == end {
            return Err(Error::malformed(
                &file,
                format!("line {line}: no numeric columns and no JSON-array column; expected the vector as numbers or as a JSON array"),
            ));
        }
    }
    out.set_columns(layout.meta.iter().map(|&i| layout.names[i].clone()).collect(), layout.id.is_some());
    let mut row = 0u64;
    let mut values = Vec::new();
    loop {
        let at = Location { row, line: Some(line) };
        parse_record(&fields, &layout, at, &file, &mut values, out.dim())?;
        let id = layout.id.map(|i| fields[i].clone());
        let meta = layout.meta.iter().map(|&i| fields[i].clone()).collect();
        out.set_text_position(records.consumed());
        out.push_row(&values, at, id, meta)?;
        row += 1;
        match records.next(&mut fields).await? {
            Some(l) => line = l,
            None => return Ok(()),
        }
    }
}

fn parse_record(
    fields: &[String],
    layout: &Layout,
    at: Location,
    file: &str,
    values: &mut Vec<f32>,
    dim: Option<usize>,
) -> Result<()> {
    values.clear();
    let expected_fields = layout.names.len();
    match layout.vector {
        VectorColumns::Spread { start, end } => {
            if fields.len() != expected_fields {
                if layout.meta.is_empty() && layout.id.is_none() {
                    return Err(Error::RaggedRow {
                        file: file.to_owned(),
                        at,
                        found: fields.len(),
                        expected: dim.unwrap_or(expected_fields),
                    });
                }
                return Err(fields_mismatch(file, at, fields.len(), expected_fields));
            }
            for (field, name) in fields[start..end].iter().zip(&layout.names[start..end]) {
                values.push(parse_number(field, file, at, name)?);
            }
        }
        VectorColumns::Json { index } => {
            if fields.len() != expected_fields {
                return Err(fields_mismatch(file, at, fields.len(), expected_fields));
            }
            parse_json_vector(&fields[index], file, at, &layout.names[index], values)?;
        }
    }
    Ok(())
}

fn fields_mismatch(file: &str, at: Location, found: usize, expected: usize) -> Error {
    Error::malformed(file, format!("{at} has {found} fields, expected {expected} like the first row"))
}

pub(super) fn parse_number(field: &str, file: &str, at: Location, name: &str) -> Result<f32> {
    field.trim().parse::<f32>().map_err(|_| Error::NotANumber {
        file: file.to_owned(),
        at,
        field: name.to_owned(),
        found: field.chars().take(40).collect(),
    })
}

/// Parses `[1.0, 2, ...]`; `null` stands for NaN (as pandas writes it).
pub(super) fn parse_json_vector(
    text: &str,
    file: &str,
    at: Location,
    name: &str,
    values: &mut Vec<f32>,
) -> Result<()> {
    let parsed: Vec<Option<f64>> = serde_json::from_str(text).map_err(|_| Error::NotANumber {
        file: file.to_owned(),
        at,
        field: name.to_owned(),
        found: text.chars().take(40).collect(),
    })?;
    values.extend(parsed.into_iter().map(|v| v.map_or(f32::NAN, |x| x as f32)));
    Ok(())
}
