//! The GGUF container (version 2 and 3): a header, metadata key/value pairs, tensor
//! descriptions, then the tensors' bytes from an aligned offset. Every count and offset
//! is checked against the bytes that are there before anything is allocated for it, so
//! a truncated or inconsistent file is refused with the byte where it goes wrong.

use crate::quant::DType;

/// "GGUF" read as a little-endian u32.
const MAGIC: u32 = 0x4655_4747;
/// ggml's limit on a tensor's dimensions.
const MAX_DIMS: u32 = 4;
/// Where the tensor data starts is aligned to this unless the metadata says otherwise.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Why a file is not a GGUF this crate can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message} (at byte {at})")]
pub struct GgufError {
    /// The file's name.
    pub file: String,
    /// The byte where reading went wrong.
    pub at: u64,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Unsigned 8-bit.
    U8(u8),
    /// Signed 8-bit.
    I8(i8),
    /// Unsigned 16-bit.
    U16(u16),
    /// Signed 16-bit.
    I16(i16),
    /// Unsigned 32-bit.
    U32(u32),
    /// Signed 32-bit.
    I32(i32),
    /// 32-bit float.
    F32(f32),
    /// Boolean.
    Bool(bool),
    /// UTF-8 text.
    String(String),
    /// Values of one type.
    Array(Vec<Value>),
    /// Unsigned 64-bit.
    U64(u64),
    /// Signed 64-bit.
    I64(i64),
    /// 64-bit float.
    F64(f64),
}

impl Value {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an array, if it is one.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One tensor's description.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Its name ("blk.0.attn_q.weight").
    pub name: String,
    /// Its dimensions, innermost first (`dims[0]` is a row's length).
    pub dims: Vec<u64>,
    /// Its element type.
    pub dtype: DType,
    /// Where its bytes start in the file.
    pub start: u64,
    /// How many bytes it takes.
    pub bytes: u64,
}

impl TensorInfo {
    /// Values in a row (`dims[0]`) and rows (the product of the other dimensions).
    pub fn shape(&self) -> (u64, u64) {
        (self.dims.first().copied().unwrap_or(1), self.dims.iter().skip(1).product())
    }
}

/// A parsed GGUF: its metadata and tensor descriptions (the bytes stay in the caller's
/// buffer; [`Gguf::data`] slices them).
#[derive(Debug, Clone, PartialEq)]
pub struct Gguf {
    /// The file's name, for messages.
    pub file: String,
    /// The format version (2 or 3).
    pub version: u32,
    /// Key/value pairs in file order.
    pub metadata: Vec<(String, Value)>,
    /// Tensors in file order.
    pub tensors: Vec<TensorInfo>,
}

/// Reads little-endian values from a byte slice, refusing to read past its end.
struct Cursor<'a> {
    file: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn fail(&self, message: String) -> GgufError {
        GgufError { file: self.file.to_owned(), at: self.at as u64, message }
    }

    fn left(&self) -> u64 {
        (self.bytes.len() - self.at) as u64
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], GgufError> {
        if n > self.left() {
            return Err(
                self.fail(format!("the file ends inside {what}: {n} bytes needed, {} left", self.left()))
            );
        }
        let out = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        Ok(self.take(N as u64, what)?.try_into().expect("took N bytes"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        let start = self.at;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError {
            file: self.file.to_owned(),
            at: start as u64,
            message: format!("{what} is not UTF-8"),
        })
    }

    /// A count of items of at least `min_bytes` each that the rest of the file can hold.
    fn count(&mut self, min_bytes: u64, what: &str) -> Result<u64, GgufError> {
        let n = self.u64(what)?;
        if n.saturating_mul(min_bytes) > self.left() {
            return Err(self.fail(format!(
                "{what} declares {n} items; the {} bytes left cannot hold them",
                self.left()
            )));
        }
        Ok(n)
    }

    fn value(&mut self, kind: u32, what: &str, depth: u32) -> Result<Value, GgufError> {
        Ok(match kind {
            0 => Value::U8(self.array::<1>(what)?[0]),
            1 => Value::I8(self.array::<1>(what)?[0] as i8),
            2 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            4 => Value::U32(self.u32(what)?),
            5 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            7 => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.fail(format!("{what}: a boolean byte is 0 or 1, not {b}"))),
            },
            8 => Value::String(self.string(what)?),
            9 if depth == 0 => {
                let item = self.u32(what)?;
                let min = match item {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => return Err(self.fail(format!("{what}: unknown value type {other}"))),
                };
                let n = self.count(min, what)?;
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(item, what, depth + 1)?);
                }
                Value::Array(items)
            }
            9 => return Err(self.fail(format!("{what}: arrays of arrays are not read"))),
            10 => Value::U64(self.u64(what)?),
            11 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            other => return Err(self.fail(format!("{what}: unknown value type {other}"))),
        })
    }
}

impl Gguf {
    /// Reads the GGUF in `bytes` (the whole file), named `file` in messages.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Gguf, GgufError> {
        let mut c = Cursor { file, bytes, at: 0 };
        let magic = c.u32("the magic number")?;
        if magic != MAGIC {
            return Err(GgufError {
                file: file.to_owned(),
                at: 0,
                message: "not a GGUF file (no \"GGUF\" magic)".into(),
            });
        }
        let version = c.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(c.fail(format!("GGUF version {version}; versions 2 and 3 are read")));
        }
        // A tensor description takes at least 32 bytes, a key/value pair at least 13.
        let tensor_count = c.count(32, "the tensor count")?;
        let kv_count = c.count(13, "the metadata count")?;
        let mut metadata = Vec::with_capacity(kv_count as usize);
        for i in 0..kv_count {
            let key = c.string(&format!("metadata key {i}"))?;
            let kind = c.u32(&format!("the type of {key}"))?;
            let value = c.value(kind, &key, 0)?;
            metadata.push((key, value));
        }
        let mut described = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = c.string(&format!("tensor name {i}"))?;
            let n_dims = c.u32(&format!("the dimension count of {name}"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(
                    c.fail(format!("tensor {name} has {n_dims} dimensions; 1 to {MAX_DIMS} expected"))
                );
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&format!("the dimensions of {name}"))?);
            }
            let type_id = c.u32(&format!("the type of {name}"))?;
            let offset = c.u64(&format!("the offset of {name}"))?;
            let dtype = DType::from_id(type_id).ok_or_else(|| {
                c.fail(format!(
                    "tensor {name} has type id {type_id}, which is no ggml type this reader knows"
                ))
            })?;
            described.push((name, dims, dtype, offset, c.at));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, v)) => v
                .as_u64()
                .filter(|a| a.is_power_of_two())
                .ok_or_else(|| c.fail(format!("general.alignment is {v:?}; a power of two expected")))?,
        };
        let data_start = (c.at as u64).div_ceil(alignment) * alignment;
        let file_len = bytes.len() as u64;
        let mut tensors = Vec::with_capacity(described.len());
        for (name, dims, dtype, offset, at) in described {
            let fail = |message: String| GgufError { file: file.to_owned(), at: at as u64 - 12, message };
            let elements = dims
                .iter()
                .try_fold(1u64, |n, &d| n.checked_mul(d))
                .ok_or_else(|| fail(format!("tensor {name}: dimensions {dims:?} overflow")))?;
            let (per_block, block_bytes) = dtype.block();
            if dims[0] % per_block != 0 {
                return Err(fail(format!(
                    "tensor {name}: rows of {} values are not whole {} blocks of {per_block}",
                    dims[0],
                    dtype.name()
                )));
            }
            if offset % alignment != 0 {
                return Err(fail(format!(
                    "tensor {name}: offset {offset} is not a multiple of the alignment {alignment}"
                )));
            }
            let size = (elements / per_block).checked_mul(block_bytes).ok_or_else(|| {
                fail(format!("tensor {name}: dimensions {dims:?} of {} overflow", dtype.name()))
            })?;
            let start = data_start
                .checked_add(offset)
                .filter(|s| s.checked_add(size).is_some_and(|end| end <= file_len));
            let Some(start) = start else {
                return Err(fail(format!(
                    "tensor {name}: {size} bytes at offset {offset} of the data (byte {}) run past the end of the {file_len}-byte file",
                    data_start.saturating_add(offset)
                )));
            };
            tensors.push(TensorInfo { name, dims, dtype, start, bytes: size });
        }
        Ok(Gguf { file: file.to_owned(), version, metadata, tensors })
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The unsigned integer under `key`, or an error naming the key.
    pub fn require_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.get(key).and_then(Value::as_u64).ok_or_else(|| self.missing(key, "an unsigned integer"))
    }

    /// The number under `key`, or an error naming the key.
    pub fn require_f64(&self, key: &str) -> Result<f64, GgufError> {
        self.get(key).and_then(Value::as_f64).ok_or_else(|| self.missing(key, "a number"))
    }

    /// The text under `key`, or an error naming the key.
    pub fn require_str(&self, key: &str) -> Result<&str, GgufError> {
        self.get(key).and_then(Value::as_str).ok_or_else(|| self.missing(key, "text"))
    }

    fn missing(&self, key: &str, what: &str) -> GgufError {
        let message = match self.get(key) {
            None => format!("no metadata {key:?}"),
            Some(v) => format!("metadata {key:?} is {v:?}; {what} expected"),
        };
        GgufError { file: self.file.clone(), at: 0, message }
    }

    /// The tensor called `name`, or an error naming it.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensors.iter().find(|t| t.name == name).ok_or_else(|| GgufError {
            file: self.file.clone(),
            at: 0,
            message: format!("no tensor {name:?}"),
        })
    }

    /// The bytes of `tensor` in `file` (the buffer this was parsed from).
    pub fn data<'a>(&self, file: &'a [u8], tensor: &TensorInfo) -> &'a [u8] {
        &file[tensor.start as usize..(tensor.start + tensor.bytes) as usize]
    }
}
