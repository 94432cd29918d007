// out[r] = src[rows[out_first + r] − src_first] for the rows of one output tile whose
// source row lies in one source tile, copied as raw 32-bit words (so f32 and packed f16
// rows alike). One invocation per word.

struct Params {
    out_rows: u32,  // rows in this output tile
    words: u32,     // words per stored row
    src_first: u32, // global index of the source tile's row 0
    src_rows: u32,  // rows in the source tile
    out_first: u32, // index into `rows` of the output tile's row 0
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let id = (wid.x + wid.y * nwg.x) * 64u + lid;
    let r = id / p.words;
    if (r >= p.out_rows) {
        return;
    }
    let g = rows[p.out_first + r];
    if (g < p.src_first || g >= p.src_first + p.src_rows) {
        return;
    }
    let w = id % p.words;
    out[r * p.words + w] = src[(g - p.src_first) * p.words + w];
}
