//! Parquet, read one row group at a time: the footer is fetched first, then for each
//! row group the byte range of its column chunks, which the `parquet` crate decodes
//! (snappy, gzip, zstd, lz4) into Arrow batches. The vector column is a FixedSizeList
//! or List of floats; other scalar columns become the id (`id`) and metadata.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use futures::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, SeekFrom};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Compression;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};

use super::builder::Builder;
use super::delimited::ID_NAMES;
use super::thrift_check::{walk_struct, FILE_META_DATA, PAGE_HEADER};
use crate::error::Location;
use crate::{Error, Result, SourceDtype};

/// Names preferred for the vector column when several qualify.
const VECTOR_NAMES: &[&str] = &["embedding", "embeddings", "vector", "emb"];
/// Rows per decoded batch.
const BATCH_ROWS: usize = 8192;

/// One row group's bytes, at their offset in the file: all the decoder may ask for.
struct RowGroupBytes {
    file_len: u64,
    offset: u64,
    bytes: Bytes,
}

impl Length for RowGroupBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for RowGroupBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let rest = (self.offset + self.bytes.len() as u64).saturating_sub(start) as usize;
        Ok(bytes::Buf::reader(self.get_bytes(start, rest)?))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = start.checked_sub(self.offset).map(|f| f as usize);
        match from {
            Some(f) if f.checked_add(length).is_some_and(|end| end <= self.bytes.len()) => {
                Ok(self.bytes.slice(f..f + length))
            }
            _ => Err(parquet::errors::ParquetError::General(format!(
                "bytes {start}..{} lie outside the row group's column chunks",
                start.saturating_add(length as u64)
            ))),
        }
    }
}

fn float_dtype(dt: &DataType) -> Option<SourceDtype> {
    match dt {
        DataType::Float16 => Some(SourceDtype::F16),
        DataType::Float32 => Some(SourceDtype::F32),
        DataType::Float64 => Some(SourceDtype::F64),
        _ => None,
    }
}

/// The element type when `field` is a list of floats.
fn vector_dtype(field: &Field) -> Option<SourceDtype> {
    match field.data_type() {
        DataType::FixedSizeList(inner, _) | DataType::List(inner) | DataType::LargeList(inner) => {
            float_dtype(inner.data_type())
        }
        _ => None,
    }
}

pub(super) async fn read<R>(reader: &mut R, file_len: u64, out: &mut Builder<'_>) -> Result<()>
where
    R: AsyncRead + AsyncSeek + Unpin,
{
    let file = out.file.to_owned();
    let metadata = Arc::new(read_footer(reader, file_len, &file).await?);
    refuse_unread_codecs(&metadata, &file)?;
    let pq_err = |e: parquet::errors::ParquetError| Error::malformed(&file, format!("Parquet: {e}"));
    let arrow = ArrowReaderMetadata::try_new(metadata.clone(), ArrowReaderOptions::new()).map_err(pq_err)?;
    let schema = arrow.schema().clone();
    let candidates: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| vector_dtype(&schema.fields()[i]).is_some()).collect();
    let lower = |i: usize| schema.fields()[i].name().to_ascii_lowercase();
    let vector = candidates
        .iter()
        .copied()
        .find(|&i| VECTOR_NAMES.contains(&lower(i).as_str()))
        .or(candidates.first().copied())
        .ok_or_else(|| {
            let cols: Vec<String> =
                schema.fields().iter().map(|f| format!("{} ({})", f.name(), f.data_type())).collect();
            Error::malformed(
                &file,
                format!(
                    "no column holds vectors; expected a FixedSizeList or List of floats, found {}",
                    cols.join(", ")
                ),
            )
        })?;
    let scalar = |i: usize| !schema.fields()[i].data_type().is_nested();
    let id = (0..schema.fields().len()).find(|&i| scalar(i) && ID_NAMES.contains(&lower(i).as_str()));
    let meta: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| i != vector && Some(i) != id && scalar(i)).collect();
    out.set_dtype(vector_dtype(&schema.fields()[vector]).unwrap_or(SourceDtype::F32));
    out.set_columns(meta.iter().map(|&i| schema.fields()[i].name().clone()).collect(), id.is_some());
    let rows = metadata.file_metadata().num_rows().max(0) as u64;
    match schema.fields()[vector].data_type() {
        DataType::FixedSizeList(_, dim) => out.expect_shape(rows, (*dim).max(0) as u64)?,
        _ => out.expect_rows(rows),
    }

    let mut row = 0u64;
    for group in 0..metadata.row_groups().len() {
        let chunk = read_row_group(reader, &metadata, group, file_len, out.memory_limit(), &file).await?;
        guarded(&file, || {
            let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(chunk, arrow.clone())
                .with_row_groups(vec![group])
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(pq_err)?;
            for batch in batches {
                let batch = batch.map_err(|e| Error::malformed(&file, format!("Parquet: {e}")))?;
                push_batch(&batch, vector, id, &meta, &mut row, out)?;
            }
            Ok(())
        })?;
    }
    if row != rows {
        return Err(Error::malformed(
            &file,
            format!("the footer declares {rows} rows but the pages hold {row}"),
        ));
    }
    Ok(())
}

/// Reads and decodes the footer: `<metadata> <u32 length> PAR1` at the end.
async fn read_footer<R>(reader: &mut R, file_len: u64, file: &str) -> Result<ParquetMetaData>
where
    R: AsyncRead + AsyncSeek + Unpin,
{
    let io = |e: std::io::Error| Error::from_io(file, &e, "the Parquet footer");
    if file_len < 12 {
        return Err(Error::malformed(
            file,
            format!("{file_len} bytes is too short for Parquet (at least 12)"),
        ));
    }
    reader.seek(SeekFrom::Start(file_len - 8)).await.map_err(io)?;
    let mut tail = [0u8; 8];
    reader.read_exact(&mut tail).await.map_err(io)?;
    if &tail[4..] != b"PAR1" {
        return Err(Error::malformed(
            file,
            "the file does not end with PAR1; expected a complete Parquet file",
        ));
    }
    let meta_len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    if meta_len + 12 > file_len {
        return Err(Error::Truncated {
            file: file.to_owned(),
            what: "the Parquet footer".into(),
            expected: meta_len + 12,
            found: file_len,
        });
    }
    reader.seek(SeekFrom::Start(file_len - 8 - meta_len)).await.map_err(io)?;
    let mut buf = vec![0u8; meta_len as usize];
    reader.read_exact(&mut buf).await.map_err(io)?;
    walk_struct(&buf, FILE_META_DATA, [])
        .map_err(|why| Error::malformed(file, format!("the Parquet footer does not decode: {why}")))?;
    guarded(file, || {
        ParquetMetaDataReader::decode_metadata(&buf)
            .map_err(|e| Error::malformed(file, format!("the Parquet footer does not decode: {e}")))
    })
}

/// Refuses a file with a column chunk in a codec this build does not decompress (valid
/// Parquet; the crate would say only "Disabled feature at compile time").
fn refuse_unread_codecs(metadata: &ParquetMetaData, file: &str) -> Result<()> {
    let unread = metadata.row_groups().iter().flat_map(|group| group.columns()).find_map(|col| {
        match col.compression() {
            Compression::BROTLI(_) => Some((col, "Brotli")),
            Compression::LZO => Some((col, "LZO")),
            _ => None,
        }
    });
    match unread {
        Some((col, codec)) => Err(Error::unsupported(
            file,
            format!(
                "column {:?} is compressed with {codec}, which labelplan does not read; write the file again \
                 with zstd, snappy, gzip or lz4 (pyarrow: compression=\"zstd\")",
                col.column_path().string()
            ),
        )),
        None => Ok(()),
    }
}

/// Runs the `parquet` crate's decoding of `file`, turning a panic into an error: it still
/// panics on some malformed pages (found by `cargo xtask fuzz`; apache/arrow-rs#9742
/// tracks them upstream). Natively the file then gets its message; a browser build
/// aborts on any panic, and the page reports the stopped worker (docs/reliability.md).
fn guarded<T>(file: &str, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    thread_local! { static CATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) }; }
    static QUIET_WHILE_CATCHING: std::sync::Once = std::sync::Once::new();
    // A caught panic is the file's error, so the panic hook's report ("thread panicked
    // at …") would only confuse; panics anywhere else still reach the hook. Where panics
    // abort (the browser), the hook is how the page learns of one: it stays as it is.
    if cfg!(panic = "unwind") {
        QUIET_WHILE_CATCHING.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !CATCHING.get() {
                    report(info);
                }
            }));
        });
    }
    CATCHING.set(true);
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    CATCHING.set(false);
    decoded.unwrap_or_else(|panic| {
        let why = crate::error::panic_text(panic.as_ref());
        Err(Error::malformed(file, format!("Parquet: the decoder failed on a malformed page ({why})")))
    })
}

/// Fetches the bytes of one row group's column chunks, and checks their page headers
/// (see [`check_page_headers`]).
async fn read_row_group<R>(
    reader: &mut R,
    metadata: &ParquetMetaData,
    group: usize,
    file_len: u64,
    memory_limit: u64,
    file: &str,
) -> Result<RowGroupBytes>
where
    R: AsyncRead + AsyncSeek + Unpin,
{
    let (mut start, mut end) = (u64::MAX, 0u64);
    // Each column chunk's byte range, checked once here and walked below.
    let mut chunks = Vec::new();
    for col in metadata.row_group(group).columns() {
        let first = col.dictionary_page_offset().unwrap_or(col.data_page_offset());
        let len = col.compressed_size();
        // Checked here: the crate's byte_range() panics on negative offsets.
        if first < 0 || len < 0 || (first as u64).saturating_add(len as u64) > file_len {
            return Err(Error::Truncated {
                file: file.to_owned(),
                what: format!("row group {group}"),
                expected: (first.max(0) as u64).saturating_add(len.max(0) as u64),
                found: file_len,
            });
        }
        let range = first as u64..first as u64 + len as u64;
        start = start.min(range.start);
        end = end.max(range.end);
        chunks.push(range);
    }
    if start >= end {
        return Ok(RowGroupBytes { file_len, offset: 0, bytes: Bytes::new() });
    }
    let io = |e: std::io::Error| Error::from_io(file, &e, &format!("row group {group}"));
    reader.seek(SeekFrom::Start(start)).await.map_err(io)?;
    let mut buf = vec![0u8; (end - start) as usize];
    reader.read_exact(&mut buf).await.map_err(io)?;
    for (range, col) in chunks.into_iter().zip(metadata.row_group(group).columns()) {
        let chunk = &buf[(range.start - start) as usize..(range.end - start) as usize];
        check_page_headers(chunk, memory_limit).map_err(|(at, why)| {
            Error::malformed(
                file,
                format!(
                    "row group {group}, column {:?}: the page header at byte {} {why}",
                    col.column_path().string(),
                    range.start + at as u64
                ),
            )
        })?;
    }
    Ok(RowGroupBytes { file_len, offset: start, bytes: Bytes::from(buf) })
}

/// Walks the page headers of one column chunk (header, then `compressed_page_size` bytes
/// of page, to the chunk's end) before the crate decodes them (see [`walk_struct`]); on a
/// header that does not pass, its offset in the chunk and why. A page must also fit in
/// `memory_limit` once decoded: the crate allocates what the header declares before it
/// decodes (fuzz findings: a 1.4 GB page, a dictionary of 671 million values, from a few
/// bytes each). A dictionary-encoded data page needs the chunk's dictionary page before it,
/// or the crate panics (fuzzing found that too).
fn check_page_headers(chunk: &[u8], memory_limit: u64) -> std::result::Result<(), (usize, String)> {
    // PageHeader's uncompressed_page_size and compressed_page_size, the value count of its
    // DictionaryPageHeader, its type, and the encoding of its DataPageHeader (v1, v2).
    const FIELDS: [&[i16]; 6] = [&[2], &[3], &[7, 1], &[1], &[5, 2], &[8, 4]];
    const DICTIONARY_PAGE: i32 = 2;
    // PLAIN_DICTIONARY and RLE_DICTIONARY.
    const DICTIONARY_ENCODINGS: [i32; 2] = [2, 8];
    // A decoded value takes at least 4 bytes (an i32, a float, a byte array's offset).
    const VALUE_BYTES: u64 = 4;
    let mib = |bytes: u64| bytes >> 20;
    let (mut at, mut dictionary_seen) = (0, false);
    while at < chunk.len() {
        let (header, fields) = walk_struct(&chunk[at..], PAGE_HEADER, FIELDS)
            .map_err(|why| (at, format!("does not decode: {why}")))?;
        // All are i32 fields, which the crate reads from their varint truncated.
        let [uncompressed, size, values, kind, v1_encoding, v2_encoding] =
            fields.map(|v| v.map(|v| v as i32));
        dictionary_seen |= kind == Some(DICTIONARY_PAGE);
        let encoding = v1_encoding.or(v2_encoding);
        if !dictionary_seen && encoding.is_some_and(|e| DICTIONARY_ENCODINGS.contains(&e)) {
            return Err((
                at,
                "is for a dictionary-encoded page, but no dictionary page comes before it".into(),
            ));
        }
        let past = |v: Option<i32>, each: u64| v.filter(|&v| v > 0 && v as u64 * each > memory_limit);
        if let Some(big) = past(uncompressed, 1) {
            let why = format!(
                "declares a page of {} MiB uncompressed, more than the memory limit ({} MiB)",
                mib(big as u64),
                mib(memory_limit)
            );
            return Err((at, why));
        }
        if let Some(count) = past(values, VALUE_BYTES) {
            let why = format!(
                "declares a dictionary of {count} values, more than the memory limit ({} MiB) holds",
                mib(memory_limit)
            );
            return Err((at, why));
        }
        // A required field; without it the walk cannot find the next header, which the crate
        // (that does not insist on it) would still read.
        let Some(size) = size.and_then(|s| usize::try_from(s).ok()) else {
            return Err((at, "gives no compressed page size (a required field)".into()));
        };
        at = at.saturating_add(header).saturating_add(size);
    }
    Ok(())
}

/// Adds a decoded batch's rows.
fn push_batch(
    batch: &RecordBatch,
    vector: usize,
    id: Option<usize>,
    meta: &[usize],
    row: &mut u64,
    out: &mut Builder<'_>,
) -> Result<()> {
    let file = out.file.to_owned();
    let fmt_err = |e: arrow_schema::ArrowError| Error::malformed(&file, format!("Parquet: {e}"));
    // Release builds of the crate build its arrays unchecked, and fuzzing found strings it
    // had not checked for UTF-8; an array read here is validated first (offsets, UTF-8).
    for i in std::iter::once(vector).chain(id).chain(meta.iter().copied()) {
        batch.column(i).to_data().validate_full().map_err(|e| {
            Error::malformed(
                &file,
                format!("Parquet: column {:?} holds malformed values ({e})", batch.schema().field(i).name()),
            )
        })?;
    }
    let options = FormatOptions::default().with_null("");
    let formatters: Vec<ArrayFormatter> = meta
        .iter()
        .map(|&i| ArrayFormatter::try_new(batch.column(i), &options))
        .collect::<Result<_, _>>()
        .map_err(fmt_err)?;
    let id_format =
        id.map(|i| ArrayFormatter::try_new(batch.column(i), &options)).transpose().map_err(fmt_err)?;
    let column = batch.column(vector);
    let (values, offsets): (ArrayRef, Vec<usize>) = match column.data_type() {
        DataType::FixedSizeList(_, n) => {
            let list = column.as_fixed_size_list();
            let n = (*n).max(0) as usize;
            (list.values().clone(), (0..=list.len()).map(|r| list.value_offset_at(0) + r * n).collect())
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            (list.values().clone(), list.value_offsets().iter().map(|&o| o.max(0) as usize).collect())
        }
        _ => {
            let list = column.as_list::<i64>();
            (list.values().clone(), list.value_offsets().iter().map(|&o| o.max(0) as usize).collect())
        }
    };
    let floats = arrow_cast::cast(&values, &DataType::Float32).map_err(fmt_err)?;
    let floats = floats.as_primitive::<arrow_array::types::Float32Type>();
    let mut vals = Vec::new();
    for r in 0..batch.num_rows() {
        let at = Location { row: *row, line: None };
        if column.is_null(r) {
            return Err(Error::malformed(
                &file,
                format!("{at}: the vector is null; expected a list of numbers"),
            ));
        }
        let (a, b) = (offsets[r], offsets[r + 1]);
        if b > floats.len() || a > b {
            return Err(Error::malformed(&file, format!("{at}: the vector's offsets lie outside its data")));
        }
        vals.clear();
        vals.extend((a..b).map(|k| if floats.is_null(k) { f32::NAN } else { floats.value(k) }));
        let id = id_format.as_ref().map(|f| f.value(r).to_string());
        let meta_values = formatters.iter().map(|f| f.value(r).to_string()).collect();
        out.push_row(&vals, at, id, meta_values)?;
        *row += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_crates_decoding_becomes_the_files_error() {
        // The walk of the headers refuses some of the panics fuzzing found; this catches the
        // others, which lie in the pages' data (natively; a browser build aborts instead).
        let err = guarded("found.parquet", || -> Result<()> { panic!("slice must not be empty") })
            .expect_err("a panic is an error");
        assert_eq!(
            err.to_string(),
            "found.parquet: Parquet: the decoder failed on a malformed page (slice must not be empty)"
        );
    }
}
