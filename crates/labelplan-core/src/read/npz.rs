//! NumPy `.npz`: a zip of `.npy` members, stored or deflated. The member streams
//! through the decompressor into the npy reader.

// The seek reader is the API 0.0.19 documents; its `read1` successor is still unstable.
#[allow(deprecated)]
use async_zip::base::read::seek::ZipFileReader;
use futures::io::{AsyncBufRead, AsyncSeek};

use super::builder::Builder;
use crate::{Error, Result};

/// The most a deflated stream expands: 258 bytes from every 2 bits of a block of
/// repeated matches, about 1032 to 1.
const DEFLATE_MAX_RATIO: u64 = 1032;

#[allow(deprecated)]
pub(super) async fn read<R>(reader: R, file_len: u64, out: &mut Builder<'_>) -> Result<()>
where
    R: AsyncBufRead + AsyncSeek + Unpin,
{
    let file = out.file.to_owned();
    let zip_err = |e: async_zip::error::ZipError| {
        match e {
        async_zip::error::ZipError::UpstreamReadError(io) => Error::from_io(&file, &io, "the zip archive"),
        // Its own message computes how many bytes remain with a subtraction that wraps.
        async_zip::error::ZipError::InvalidExtraFieldHeader(size, _) => Error::malformed(
            &file,
            format!("not a readable .npz (zip) archive: an entry's extra field claims {size} bytes, more than its header holds"),
        ),
        other => Error::malformed(&file, format!("not a readable .npz (zip) archive: {other}")),
    }
    };
    let mut zip = ZipFileReader::new(reader).await.map_err(zip_err)?;
    let names: Vec<String> = zip
        .file()
        .entries()
        .iter()
        .map(|e| String::from_utf8_lossy(e.filename().as_bytes()).into_owned())
        .collect();
    let arrays: Vec<&str> = names.iter().filter_map(|n| n.strip_suffix(".npy")).collect();
    let wanted = out.choose("array", &arrays, ".npy")?;
    let index = names.iter().position(|n| n == &format!("{wanted}.npy")).unwrap_or(0);
    // What the member can hold, whatever its header says: its compressed bytes (no more
    // than the file has), expanded at most as far as its compression allows.
    let stored = zip.file().entries().get(index).map_or(file_len, |e| e.compressed_size().min(file_len));
    let expands = match zip.file().entries().get(index).map(|e| e.compression()) {
        Some(async_zip::Compression::Stored) => 1,
        _ => DEFLATE_MAX_RATIO,
    };
    let mut entry = zip.reader_without_entry(index).await.map_err(zip_err)?;
    super::npy::read(&mut entry, stored.saturating_mul(expands), out).await
}
