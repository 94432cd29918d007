//! NumPy `.npz`: a zip of `.npy` members, stored or deflated. The member streams
//! through the decompressor into the npy reader.

// The seek reader is the API 0.0.19 documents; its `read1` successor is still unstable.
#[allow(deprecated)]
use async_zip::base::read::seek::ZipFileReader;
use futures::io::{AsyncBufRead, AsyncSeek};

use super::builder::Builder;
use crate::{Error, Result};

#[allow(deprecated)]
pub(super) async fn read<R>(reader: R, out: &mut Builder<'_>) -> Result<()>
where
    R: AsyncBufRead + AsyncSeek + Unpin,
{
    let file = out.file.to_owned();
    let zip_err = |e: async_zip::error::ZipError| match e {
        async_zip::error::ZipError::UpstreamReadError(io) => Error::from_io(&file, &io, "the zip archive"),
        other => Error::malformed(&file, format!("not a readable .npz (zip) archive: {other}")),
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
    let mut entry = zip.reader_without_entry(index).await.map_err(zip_err)?;
    super::npy::read(&mut entry, out).await
}
