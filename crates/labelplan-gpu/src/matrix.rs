//! Matrices and vectors resident on the GPU. A matrix is stored with rows padded to a
//! multiple of 4 (zeros, which change no dot product or norm) so kernels load `vec4`s,
//! and split into row tiles that each fit one storage binding of this device. Values are
//! f32, or f16 for the similarity kernels (half the memory and bandwidth; they widen
//! each value to f32 and add in f32).

use crate::{GpuContext, GpuError};

/// Rows of a matrix held in one buffer.
#[derive(Debug)]
pub struct Tile {
    /// The rows, `rows × dim4` f32.
    pub(crate) buffer: wgpu::Buffer,
    /// Index of the tile's first row in the matrix.
    pub(crate) first: usize,
    /// Rows in the tile.
    pub(crate) rows: usize,
}

/// Bytes of one upload piece (see [`GpuMatrix::upload_as`]).
pub const UPLOAD_PIECE: usize = 8 << 20;

/// How a matrix's values are stored: f32, or IEEE half packed two to a `u32` and widened
/// with `unpack2x16float` (core WGSL, so no `shader-f16` feature is needed).
pub use labelplan_core::backend::Storage;

/// A `rows × dim` matrix on the GPU.
#[derive(Debug)]
pub struct GpuMatrix {
    pub(crate) tiles: Vec<Tile>,
    pub(crate) rows: usize,
    pub(crate) dim: usize,
    pub(crate) storage: Storage,
}

/// A per-row f32 vector on the GPU, in one buffer (4 bytes a row fits a binding up to
/// 32 M rows).
#[derive(Debug)]
pub struct GpuVector {
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) len: usize,
}

/// `dim` rounded up to whole `vec4`s.
pub(crate) fn padded(dim: usize) -> usize {
    dim.div_ceil(4) * 4
}

impl GpuMatrix {
    /// Padded row width in values.
    pub(crate) fn dim4(&self) -> usize {
        padded(self.dim)
    }

    /// Bytes of one stored (padded) row.
    pub(crate) fn row_bytes(&self) -> u64 {
        padded(self.dim).max(4) as u64 * self.storage.bytes() as u64
    }

    /// How the values are stored.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// Fails unless the values are f32: every kernel but the similarity ones reads f32.
    pub(crate) fn expect_f32(&self, op: &'static str) -> Result<(), GpuError> {
        if self.storage == Storage::F32 {
            return Ok(());
        }
        let message = "this kernel reads f32 matrices; f16 storage is for the similarity kernels".into();
        Err(GpuError::Shape { op, rows: self.rows, dim: self.dim, message })
    }

    /// Rows per tile for a `dim`-wide matrix stored as `storage` on `ctx`.
    pub(crate) fn tile_rows(
        ctx: &GpuContext,
        op: &'static str,
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<usize, GpuError> {
        let per = ctx.binding_bytes() / (padded(dim).max(4) as u64 * storage.bytes() as u64);
        if per == 0 {
            return Err(GpuError::Shape {
                op,
                rows,
                dim,
                message: "one row is larger than a storage binding".into(),
            });
        }
        // Row indices are u32 in the shaders.
        Ok(per.min(u32::MAX as u64) as usize)
    }

    /// Copies a row-major `rows × dim` matrix to the GPU as f32.
    pub fn upload(ctx: &GpuContext, values: &[f32], rows: usize, dim: usize) -> Result<GpuMatrix, GpuError> {
        Self::upload_as(ctx, values, rows, dim, Storage::F32)
    }

    /// Copies a row-major `rows × dim` matrix to the GPU, stored as `storage` (f16 rounds
    /// each value to nearest), in pieces of [`UPLOAD_PIECE`] bytes: neither the host nor
    /// the driver holds a second copy of a whole tile (a mapped buffer per tile did).
    pub fn upload_as(
        ctx: &GpuContext,
        values: &[f32],
        rows: usize,
        dim: usize,
        storage: Storage,
    ) -> Result<GpuMatrix, GpuError> {
        if values.len() != rows * dim {
            return Err(GpuError::Shape {
                op: "upload",
                rows,
                dim,
                message: "values must hold rows × dim numbers".into(),
            });
        }
        let per = Self::tile_rows(ctx, "upload", rows, dim, storage)?;
        let dim4 = padded(dim).max(4);
        let row_bytes = dim4 as u64 * storage.bytes() as u64;
        let piece = (UPLOAD_PIECE / row_bytes as usize).max(1);
        let mut tiles = Vec::new();
        for first in (0..rows).step_by(per.max(1)) {
            let n = per.min(rows - first);
            let buffer = ctx.empty_storage("matrix", n as u64 * row_bytes);
            for start in (0..n).step_by(piece) {
                let m = piece.min(n - start);
                let from = (first + start) * dim;
                let mut data = vec![0.0f32; m * dim4];
                for (r, row) in values[from..from + m * dim].chunks(dim.max(1)).enumerate() {
                    data[r * dim4..r * dim4 + dim].copy_from_slice(row);
                }
                let at = start as u64 * row_bytes;
                match storage {
                    Storage::F32 => ctx.queue.write_buffer(&buffer, at, bytemuck::cast_slice(&data)),
                    Storage::F16 => {
                        let halves: Vec<u16> =
                            data.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
                        ctx.queue.write_buffer(&buffer, at, bytemuck::cast_slice(&halves));
                    }
                }
                // Hands the piece to the GPU now, so at most one piece waits in staging.
                ctx.queue.submit([]);
            }
            tiles.push(Tile { buffer, first, rows: n });
        }
        Ok(GpuMatrix { tiles, rows, dim, storage })
    }

    /// An empty f32 matrix of the same tiling as an f32 `other`, for a kernel to write.
    pub(crate) fn like(ctx: &GpuContext, other: &GpuMatrix) -> GpuMatrix {
        let dim4 = other.dim4().max(4);
        let tiles = other
            .tiles
            .iter()
            .map(|t| Tile {
                buffer: ctx.storage("matrix", bytemuck::cast_slice(&vec![f32::NAN; t.rows * dim4])),
                first: t.first,
                rows: t.rows,
            })
            .collect();
        GpuMatrix { tiles, rows: other.rows, dim: other.dim, storage: Storage::F32 }
    }

    /// The tile holding row `row`, and the row's index inside it.
    pub(crate) fn locate(&self, row: usize) -> (&Tile, usize) {
        let t = self.tiles.partition_point(|t| t.first <= row) - 1;
        (&self.tiles[t], row - self.tiles[t].first)
    }

    /// An error naming `op` when a row of `rows` is past the end.
    pub(crate) fn check_rows(&self, op: &'static str, rows: &[u32]) -> Result<(), GpuError> {
        match rows.iter().find(|&&r| r as usize >= self.rows) {
            Some(&bad) => Err(GpuError::Shape {
                op,
                rows: self.rows,
                dim: self.dim,
                message: format!("row {bad} does not exist"),
            }),
            None => Ok(()),
        }
    }

    /// Reads rows back as f32, in the order given, without the padding.
    pub async fn read_rows(&self, ctx: &GpuContext, rows: &[u32]) -> Result<Vec<f32>, GpuError> {
        let dim4 = self.dim4().max(4);
        let row_bytes = self.row_bytes();
        self.check_rows("read_rows", rows)?;
        let gathered = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("gathered rows"),
            size: (rows.len() as u64 * row_bytes).max(4),
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = ctx.encoder();
        for (j, &r) in rows.iter().enumerate() {
            let (tile, at) = self.locate(r as usize);
            enc.copy_buffer_to_buffer(
                &tile.buffer,
                at as u64 * row_bytes,
                &gathered,
                j as u64 * row_bytes,
                row_bytes,
            );
        }
        let bytes = ctx.read_bytes(enc, &gathered, 0, rows.len() as u64 * row_bytes).await?;
        let padded: Vec<f32> = match self.storage {
            Storage::F32 => bytemuck::pod_collect_to_vec(&bytes),
            Storage::F16 => bytemuck::pod_collect_to_vec::<u8, u16>(&bytes)
                .into_iter()
                .map(|h| half::f16::from_bits(h).to_f32())
                .collect(),
        };
        Ok(padded.chunks(dim4).flat_map(|row| row[..self.dim].iter().copied()).collect())
    }
}
