//! NumPy `.npy`: the header is read and parsed (by `npyz`), then the data streams.

use futures::io::{AsyncRead, AsyncReadExt};
use npyz::{DType, Order, TypeChar};

use super::builder::Builder;
use super::dense::{read_dense, DenseLayout, Endian};
use crate::{Error, Result, SourceDtype};

/// What npy dtypes labelplan reads.
const SUPPORTED: &str = "float16, float32 or float64 ('<f2', '<f4', '<f8' or big-endian '>')";

/// Reads one `.npy` stream (a file or an npz member) of at most `stream_bytes` into `out`.
pub(super) async fn read<R: AsyncRead + Unpin>(
    reader: &mut R,
    stream_bytes: u64,
    out: &mut Builder<'_>,
) -> Result<()> {
    let file = out.file.to_owned();
    let layout = read_header(reader, stream_bytes, &file).await?;
    read_dense(reader, layout, "the array data", out).await
}

/// Reads and checks the header, leaving `reader` at the first element.
async fn read_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    stream_bytes: u64,
    file: &str,
) -> Result<DenseLayout> {
    let mut head = vec![0u8; 10];
    read_exact(reader, &mut head, file).await?;
    if &head[..6] != b"\x93NUMPY" {
        return Err(Error::malformed(
            file,
            "not a .npy file: expected the magic bytes \\x93NUMPY at the start",
        ));
    }
    let major = head[6];
    let header_len = match major {
        1 => u16::from_le_bytes([head[8], head[9]]) as usize,
        2 | 3 => {
            let mut more = [0u8; 2];
            read_exact(reader, &mut more, file).await?;
            head.extend_from_slice(&more);
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize
        }
        v => return Err(Error::unsupported(file, format!("npy format version {v}; expected 1, 2 or 3"))),
    };
    if header_len > 1 << 20 {
        return Err(Error::malformed(
            file,
            format!("the npy header claims {header_len} bytes; expected under 1 MiB"),
        ));
    }
    let start = head.len();
    head.resize(start + header_len, 0);
    read_exact(reader, &mut head[start..], file).await?;
    check_nesting(&head[start..], file)?;
    check_element_count(&head[start..], file)?;
    let header = npyz::NpyHeader::from_reader(&head[..])
        .map_err(|e| Error::malformed(file, format!("the npy header does not parse: {e}")))?;
    if header.order() == Order::Fortran {
        return Err(Error::unsupported(
            file,
            "the array is stored in Fortran (column-major) order; save it in C order, e.g. np.save(path, np.ascontiguousarray(x))",
        ));
    }
    let (rows, dim) = match header.shape() {
        [rows, dim] => (*rows, *dim),
        shape => {
            return Err(Error::unsupported(
                file,
                format!("the array has shape {shape:?}; expected 2 dimensions (rows × dim)"),
            ))
        }
    };
    let (dtype, endian) = dtype_of(&header.dtype(), file)?;
    let available = stream_bytes.saturating_sub(head.len() as u64);
    Ok(DenseLayout { rows, dim, dtype, endian, available })
}

/// Brackets nested deeper than any npy header needs (a structured dtype's list of tuples
/// of shapes is 4 deep).
const MAX_NESTING: usize = 8;

/// The Python-literal parser npyz uses (py_literal, a pest grammar) backtracks
/// exponentially in deep nesting: 44 `[` took it over 10 s (found by fuzzing). A header
/// nested deeper than [`MAX_NESTING`] is refused before it is parsed.
fn check_nesting(dict: &[u8], file: &str) -> Result<()> {
    let mut depth = 0usize;
    for &b in dict {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(Error::malformed(
                file,
                format!("the npy header nests brackets over {MAX_NESTING} deep; expected a dict like {{'descr': '<f4', 'fortran_order': False, 'shape': (rows, dim)}}"),
            ));
        }
    }
    Ok(())
}

/// npyz multiplies the shape's sides without checking: a shape whose element count does
/// not fit 64 bits is refused here first. Headers that do not parse are left to npyz.
fn check_element_count(dict: &[u8], file: &str) -> Result<()> {
    use py_literal::Value;
    let Ok(Value::Dict(items)) = String::from_utf8_lossy(dict).trim().parse::<Value>() else { return Ok(()) };
    let shape = items.iter().find(|(key, _)| matches!(key, Value::String(k) if k == "shape"));
    let Some((_, Value::Tuple(sides))) = shape else { return Ok(()) };
    let count = sides.iter().try_fold(1u64, |n, side| match side {
        Value::Integer(i) => i.to_string().parse::<u64>().ok().map_or(Some(n), |s| n.checked_mul(s)),
        _ => Some(n),
    });
    match count {
        Some(_) => Ok(()),
        None => Err(Error::malformed(
            file,
            format!(
                "the npy header's shape {} holds more values than any file can",
                Value::Tuple(sides.clone())
            ),
        )),
    }
}

fn dtype_of(dtype: &DType, file: &str) -> Result<(SourceDtype, Endian)> {
    let unsupported = || Error::UnsupportedDtype {
        file: file.to_owned(),
        dtype: dtype.descr(),
        expected: SUPPORTED.to_owned(),
    };
    let DType::Plain(ts) = dtype else { return Err(unsupported()) };
    if ts.type_char() != TypeChar::Float {
        return Err(unsupported());
    }
    let dt = match ts.size_field() {
        2 => SourceDtype::F16,
        4 => SourceDtype::F32,
        8 => SourceDtype::F64,
        _ => return Err(unsupported()),
    };
    let endian = match ts.endianness() {
        npyz::Endianness::Big => Endian::Big,
        // '<' and '|' (no order); '=' is native, which is little on every target we run.
        _ => Endian::Little,
    };
    Ok((dt, endian))
}

async fn read_exact<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8], file: &str) -> Result<()> {
    reader.read_exact(buf).await.map_err(|e| Error::from_io(file, &e, "the npy header"))
}
