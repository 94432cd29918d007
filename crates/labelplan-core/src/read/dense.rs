//! Streams a dense binary array (npy, npz member, safetensors tensor) into the builder,
//! converting each chunk of whole rows to f32 as it arrives.

use futures::io::{AsyncRead, AsyncReadExt};
use half::{bf16, f16};

use super::builder::Builder;
use crate::{Error, Result, SourceDtype};

/// Byte order of the stored elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endian {
    Little,
    Big,
}

/// Layout of a dense array in a file.
#[derive(Debug, Clone, Copy)]
pub(super) struct DenseLayout {
    pub rows: u64,
    pub dim: u64,
    pub dtype: SourceDtype,
    pub endian: Endian,
    /// The most bytes the source can still hold for the array (the rest of the file,
    /// or what a compressed member can expand to): a header declaring more is refused
    /// before anything that size is allocated.
    pub available: u64,
}

impl DenseLayout {
    fn elem_size(&self) -> usize {
        match self.dtype {
            SourceDtype::F16 | SourceDtype::BF16 => 2,
            SourceDtype::F32 => 4,
            SourceDtype::F64 => 8,
            SourceDtype::Text => 0,
        }
    }

    /// Bytes the array occupies.
    pub fn byte_len(&self) -> u64 {
        self.rows.saturating_mul(self.dim).saturating_mul(self.elem_size() as u64)
    }
}

/// Bytes per chunk read: whole rows, about 1 MiB.
const CHUNK_BYTES: usize = 1 << 20;

/// Reads `layout` from `reader` (positioned at the first element) into `out`.
/// `what` names the array in truncation messages.
pub(super) async fn read_dense<R: AsyncRead + Unpin>(
    reader: &mut R,
    layout: DenseLayout,
    what: &str,
    out: &mut Builder<'_>,
) -> Result<()> {
    out.set_dtype(layout.dtype);
    if layout.byte_len() > layout.available {
        return Err(Error::Truncated {
            file: out.file.to_owned(),
            what: what.to_owned(),
            expected: layout.byte_len(),
            found: layout.available,
        });
    }
    out.expect_shape(layout.rows, layout.dim)?;
    let size = layout.elem_size();
    let row_bytes = layout.dim as usize * size;
    let rows_per_chunk = (CHUNK_BYTES / row_bytes).clamp(1, layout.rows.max(1) as usize);
    let mut buf = vec![0u8; rows_per_chunk * row_bytes];
    let mut vals: Vec<f32> = Vec::with_capacity(rows_per_chunk * layout.dim as usize);
    let total = layout.byte_len();
    let mut done_rows = 0u64;
    while done_rows < layout.rows {
        let n_rows = (layout.rows - done_rows).min(rows_per_chunk as u64) as usize;
        let chunk = &mut buf[..n_rows * row_bytes];
        read_full(reader, chunk, out.file, what, done_rows * row_bytes as u64, total).await?;
        vals.clear();
        decode(chunk, layout.dtype, layout.endian, &mut vals);
        out.push_rows(&vals)?;
        done_rows += n_rows as u64;
    }
    Ok(())
}

/// Fills `buf` or reports how many bytes of `total` the file really had.
async fn read_full<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
    file: &str,
    what: &str,
    offset: u64,
    total: u64,
) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]).await {
            Ok(0) => {
                return Err(Error::Truncated {
                    file: file.to_owned(),
                    what: what.to_owned(),
                    expected: total,
                    found: offset + filled as u64,
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(file, &e, what)),
        }
    }
    Ok(())
}

/// Converts raw elements to f32.
fn decode(bytes: &[u8], dtype: SourceDtype, endian: Endian, out: &mut Vec<f32>) {
    let le = endian == Endian::Little;
    match dtype {
        SourceDtype::F16 => out.extend(bytes.chunks_exact(2).map(|b| {
            let bits = [b[0], b[1]];
            f16::from_bits(if le { u16::from_le_bytes(bits) } else { u16::from_be_bytes(bits) }).to_f32()
        })),
        SourceDtype::BF16 => out.extend(bytes.chunks_exact(2).map(|b| {
            let bits = [b[0], b[1]];
            bf16::from_bits(if le { u16::from_le_bytes(bits) } else { u16::from_be_bytes(bits) }).to_f32()
        })),
        SourceDtype::F32 => out.extend(bytes.chunks_exact(4).map(|b| {
            let bits = [b[0], b[1], b[2], b[3]];
            if le {
                f32::from_le_bytes(bits)
            } else {
                f32::from_be_bytes(bits)
            }
        })),
        SourceDtype::F64 => out.extend(bytes.chunks_exact(8).map(|b| {
            let mut bits = [0u8; 8];
            bits.copy_from_slice(b);
            (if le { f64::from_le_bytes(bits) } else { f64::from_be_bytes(bits) }) as f32
        })),
        SourceDtype::Text => {}
    }
}
