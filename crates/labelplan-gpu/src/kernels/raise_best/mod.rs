//! The greedy-coverage step of k-center and k-means++: raise the best similarity of the
//! rows of some ranges by the new pick, then reduce each range to its least-covered row
//! on the GPU; only the winners (8 bytes a range) come back. CPU twin:
//! `CpuBackend::raise_best_in`.

use std::ops::Range;

use crate::kernels::{per_storage_sources, Kernel, PerStorage, WORKGROUP};
use crate::matrix::{GpuMatrix, GpuVector};
use crate::{GpuContext, GpuError};

const SOURCE: &str = include_str!("raise_best.wgsl");

/// The full WGSL for f32 and for f16 points.
pub fn sources() -> Vec<(String, String)> {
    per_storage_sources("raise_best", &["x"], SOURCE)
}

/// The pipelines: the raise for each storage of the points, and the reduce (which
/// reads no points).
#[derive(Debug)]
pub(crate) struct Kernels {
    raise: PerStorage,
    reduce: Kernel,
}

impl Kernels {
    pub fn new(device: &wgpu::Device) -> Self {
        let (_, f32_source) = &sources()[0];
        Kernels {
            raise: PerStorage::new(device, "raise_best", &["x"], SOURCE, "raise"),
            reduce: Kernel::new(device, "raise_best.reduce", f32_source, "reduce"),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dim4: u32,
    first: u32,
    piece_at: u32,
    pad: u32,
}

/// One workgroup's rows and its partial's slot (the shader's `Piece`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Piece {
    start: u32,
    end: u32,
    slot: u32,
}

/// The pieces of some ranges, grouped by tile (one dispatch each), and each range's
/// slots of the partials.
struct Cut {
    /// (tile index, its pieces), for tiles with any.
    by_tile: Vec<(usize, Vec<Piece>)>,
    /// Each range's `[first slot, one past the last]`.
    slots: Vec<[u32; 2]>,
}

fn cut(points: &GpuMatrix, ranges: &[Range<u32>]) -> Cut {
    let mut by_tile: Vec<(usize, Vec<Piece>)> = (0..points.tiles.len()).map(|t| (t, Vec::new())).collect();
    let mut slots = Vec::with_capacity(ranges.len());
    let mut slot = 0u32;
    for r in ranges {
        let first_slot = slot;
        for (t, tile) in points.tiles.iter().enumerate() {
            let lo = r.start.max(tile.first as u32);
            let hi = r.end.min((tile.first + tile.rows) as u32);
            for start in (lo..hi).step_by(WORKGROUP as usize) {
                by_tile[t].1.push(Piece { start, end: (start + WORKGROUP).min(hi), slot });
                slot += 1;
            }
        }
        slots.push([first_slot, slot]);
    }
    Cut { by_tile: by_tile.into_iter().filter(|(_, p)| !p.is_empty()).collect(), slots }
}

/// See `Backend::raise_best_in`.
pub async fn raise_best_in(
    ctx: &GpuContext,
    points: &GpuMatrix,
    best: &mut GpuVector,
    pick: u32,
    retire: bool,
    ranges: &[Range<u32>],
) -> Result<Vec<Option<(u32, f32)>>, GpuError> {
    let bad_range = ranges.iter().find(|r| r.start > r.end || r.end as usize > points.rows);
    if pick as usize >= points.rows || best.len != points.rows || bad_range.is_some() {
        return Err(GpuError::Shape {
            op: "raise_best",
            rows: points.rows,
            dim: points.dim,
            message: format!("pick {pick} with a best vector of {} rows, ranges {ranges:?}", best.len),
        });
    }
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let row_bytes = points.row_bytes();
    let Cut { by_tile, slots } = cut(points, ranges);
    let parts = slots.last().map_or(0, |s| s[1]) as usize;
    let base = Params { dim4: (points.dim4().max(4) / 4) as u32, first: 0, piece_at: 0, pad: 0 };
    if retire {
        // Queued before the dispatches below, so the kernel sees the pick retired.
        ctx.queue.write_buffer(&best.buffer, pick as u64 * 4, bytemuck::bytes_of(&f32::NAN));
    }
    let (enc, out_value, out_index) = ctx
        .scoped("raise_best", || {
            let k = &ctx.pipelines.raise_best;
            let pick_row = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pick row"),
                size: row_bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut all_pieces: Vec<Piece> = by_tile.iter().flat_map(|(_, p)| p.iter().copied()).collect();
            all_pieces.resize(all_pieces.len().max(1), Piece { start: 0, end: 0, slot: 0 });
            let pieces = ctx.storage("raise.pieces", bytemuck::cast_slice(&all_pieces));
            let slot_table = ctx.storage("raise.slots", bytemuck::cast_slice(&slots));
            let part_value = ctx.storage("parts.value", bytemuck::cast_slice(&vec![f32::NAN; parts.max(1)]));
            let part_index = ctx.storage("parts.index", bytemuck::cast_slice(&vec![u32::MAX; parts.max(1)]));
            let out_value = ctx.storage("raise.value", bytemuck::cast_slice(&vec![f32::NAN; ranges.len()]));
            let out_index =
                ctx.storage("raise.index", bytemuck::cast_slice(&vec![u32::MAX - 1; ranges.len()]));
            let mut enc = ctx.encoder();
            let (tile, at) = points.locate(pick as usize);
            enc.copy_buffer_to_buffer(&tile.buffer, at as u64 * row_bytes, &pick_row, 0, row_bytes);
            let mut piece_at = 0u32;
            for (t, tile_pieces) in &by_tile {
                let tile = &points.tiles[*t];
                let params = ctx.storage(
                    "raise.params",
                    bytemuck::bytes_of(&Params { first: tile.first as u32, piece_at, ..base }),
                );
                let buffers =
                    [&tile.buffer, &pick_row, &best.buffer, &part_value, &part_index, &params, &pieces];
                let raise = k.raise.on(&[points.storage]);
                let bind = raise.bind(&ctx.device, &buffers);
                raise.dispatch(&mut enc, &bind, tile_pieces.len() as u32, ctx.max_workgroups());
                piece_at += tile_pieces.len() as u32;
            }
            let bind = k.reduce.bind_numbered(
                &ctx.device,
                &[(3, &part_value), (4, &part_index), (7, &slot_table), (8, &out_value), (9, &out_index)],
            );
            k.reduce.dispatch(&mut enc, &bind, ranges.len() as u32, ctx.max_workgroups());
            (enc, out_value, out_index)
        })
        .await?;
    // Only the winners come back: their values and indices, in one map.
    let bytes = ranges.len() as u64 * 4;
    let winners = ctx.read_parts(enc, &[(&out_value, 0, bytes), (&out_index, 0, bytes)]).await?;
    let values: Vec<f32> = bytemuck::pod_collect_to_vec(&winners[0]);
    let indices: Vec<u32> = bytemuck::pod_collect_to_vec(&winners[1]);
    Ok(values.into_iter().zip(indices).map(|(v, i)| (i != u32::MAX).then_some((i, v))).collect())
}
