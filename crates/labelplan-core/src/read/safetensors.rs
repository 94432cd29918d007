//! Hugging Face `.safetensors`: the JSON header is parsed (by `safetensors`), then the
//! chosen 2-D tensor streams.

use futures::io::{AsyncRead, AsyncReadExt};
use safetensors::tensor::Metadata;
use safetensors::Dtype;

use super::builder::Builder;
use super::dense::{read_dense, DenseLayout, Endian};
use crate::{Error, Result, SourceDtype};

/// Largest header read, as the safetensors crate allows.
const MAX_HEADER: u64 = 100_000_000;

pub(super) async fn read<R: AsyncRead + Unpin>(
    reader: &mut R,
    file_len: u64,
    out: &mut Builder<'_>,
) -> Result<()> {
    let file = out.file.to_owned();
    let io = |e: std::io::Error| Error::from_io(&file, &e, "the safetensors header");
    let mut len = [0u8; 8];
    reader.read_exact(&mut len).await.map_err(io)?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(Error::malformed(&file, format!("the header claims {n} bytes; expected under 100 MB")));
    }
    let after_length = file_len.saturating_sub(8);
    if n > after_length {
        return Err(Error::Truncated {
            file,
            what: "the JSON header".into(),
            expected: n,
            found: after_length,
        });
    }
    let mut header = vec![0u8; n as usize];
    reader.read_exact(&mut header).await.map_err(io)?;
    let meta: Metadata = serde_json::from_slice(&header)
        .map_err(|e| Error::malformed(&file, format!("the JSON header does not parse: {e}")))?;
    let tensors = meta.tensors();
    let mut names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    names.sort();
    let name = out.choose("tensor", &names, "")?;
    let info = tensors[name];
    let dtype = match info.dtype {
        Dtype::F16 => SourceDtype::F16,
        Dtype::BF16 => SourceDtype::BF16,
        Dtype::F32 => SourceDtype::F32,
        Dtype::F64 => SourceDtype::F64,
        other => {
            return Err(Error::UnsupportedDtype {
                file,
                dtype: format!("{other:?}"),
                expected: "F16, BF16, F32 or F64".to_owned(),
            })
        }
    };
    let (rows, dim) = match info.shape.as_slice() {
        [rows, dim] => (*rows as u64, *dim as u64),
        shape => {
            return Err(Error::unsupported(
                &file,
                format!("tensor {name:?} has shape {shape:?}; expected 2 dimensions (rows × dim)"),
            ))
        }
    };
    // Skip to the tensor's first byte; offsets count from the end of the header.
    let (start, _) = info.data_offsets;
    futures::io::copy(reader.take(start as u64), &mut futures::io::sink())
        .await
        .map_err(|e| Error::from_io(&file, &e, "the tensor data"))?;
    let available = after_length.saturating_sub(n).saturating_sub(start as u64);
    let layout = DenseLayout { rows, dim, dtype, endian: Endian::Little, available };
    read_dense(reader, layout, &format!("tensor {name:?}"), out).await
}
