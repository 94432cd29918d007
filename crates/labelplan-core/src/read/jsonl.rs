//! JSON Lines: one object per line with the vector as an array of numbers. The vector
//! field is `embedding` (or `embeddings`, `vector`, `emb`), else the first field holding
//! an array of numbers. An `id` field gives the ids; other fields become metadata,
//! added as they appear and left empty on lines without them.

use futures::io::{AsyncBufRead, AsyncBufReadExt};
use serde_json::{Map, Value};

use super::builder::Builder;
use super::delimited::ID_NAMES;
use crate::error::Location;
use crate::{Error, Result};

const VECTOR_NAMES: &[&str] = &["embedding", "embeddings", "vector", "emb"];

fn is_vector(value: &Value) -> bool {
    matches!(value, Value::Array(items) if items.iter().all(|v| v.is_number() || v.is_null()))
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) async fn read<R: AsyncBufRead + Unpin>(mut reader: R, out: &mut Builder<'_>) -> Result<()> {
    let file = out.file.to_owned();
    let mut buf = Vec::new();
    let mut keys: Option<(String, Option<String>)> = None;
    let (mut line, mut row, mut consumed) = (0u64, 0u64, 0u64);
    let mut values = Vec::new();
    let mut meta = Vec::new();
    loop {
        buf.clear();
        let n =
            reader.read_until(b'\n', &mut buf).await.map_err(|e| Error::from_io(&file, &e, "the text"))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        consumed += n as u64;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = Location { row, line: Some(line) };
        let object: Map<String, Value> = serde_json::from_slice(&buf)
            .map_err(|e| Error::malformed(&file, format!("{at}: expected one JSON object per line: {e}")))?;
        let (vector_key, id_key) = match &keys {
            Some(k) => k.clone(),
            None => {
                let vector_key = VECTOR_NAMES
                    .iter()
                    .find(|k| object.get(**k).is_some_and(is_vector))
                    .map(|k| k.to_string())
                    .or_else(|| object.iter().find(|(_, v)| is_vector(v)).map(|(k, _)| k.clone()))
                    .ok_or_else(|| {
                        Error::malformed(&file, format!("{at}: no field holds an array of numbers; expected e.g. \"embedding\": [0.1, 0.2, ...]"))
                    })?;
                let id_key =
                    object.keys().find(|k| ID_NAMES.contains(&k.to_ascii_lowercase().as_str())).cloned();
                out.set_columns(Vec::new(), id_key.is_some());
                keys = Some((vector_key.clone(), id_key.clone()));
                (vector_key, id_key)
            }
        };
        let vector = object.get(&vector_key).ok_or_else(|| {
            Error::malformed(
                &file,
                format!("{at}: the field {vector_key:?} is missing; expected it on every line"),
            )
        })?;
        values.clear();
        match vector {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Number(x) => values.push(x.as_f64().map_or(f32::NAN, |x| x as f32)),
                        Value::Null => values.push(f32::NAN),
                        other => {
                            return Err(Error::NotANumber {
                                file,
                                at,
                                field: format!("{vector_key}[{i}]"),
                                found: other.to_string().chars().take(40).collect(),
                            })
                        }
                    }
                }
            }
            other => {
                return Err(Error::NotANumber {
                    file,
                    at,
                    field: vector_key,
                    found: other.to_string().chars().take(40).collect(),
                })
            }
        }
        let id = match &id_key {
            Some(k) => Some(object.get(k).map(as_text).ok_or_else(|| {
                Error::malformed(
                    &file,
                    format!("{at}: the id field {k:?} is missing; expected it on every line"),
                )
            })?),
            None => None,
        };
        meta.clear();
        for (key, value) in &object {
            if *key == vector_key || Some(key) == id_key.as_ref() {
                continue;
            }
            let col = match out.column_index(key) {
                Some(c) => c,
                None => out.add_column(key.clone()),
            };
            if meta.len() <= col {
                meta.resize(col + 1, String::new());
            }
            meta[col] = as_text(value);
        }
        let mut row_meta = std::mem::take(&mut meta);
        row_meta.resize(out.column_count(), String::new());
        out.set_text_position(consumed);
        out.push_row(&values, at, id, row_meta)?;
        row += 1;
    }
}
