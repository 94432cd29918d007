// Shared by the dense, nearest and top-k similarity kernels. One workgroup takes 64
// query rows, one per invocation, and walks the reference rows [r_start, r_end) of one
// reference tile in blocks of 64, staging 8 vec4s (32 dims) of the block at a time in
// workgroup memory; each invocation keeps its 64 dot products in registers. Every
// invocation reaches every barrier: rows past the end compute on zeros.

struct Params {
    q_rows: u32,     // query rows in this query tile
    dim4: u32,       // padded row width in vec4s
    r_start: u32,    // first reference row (tile-local) of this dispatch
    r_end: u32,      // one past the last
    r_first: u32,    // global index of the reference tile's row 0
    q_first: u32,    // global index of the query tile's row 0
    k: u32,          // top-k: neighbours kept per row
    out_stride: u32, // dense: floats per output row
}

// `Stored` (four values) and `widen` come from the storage prelude: f32, or f16 packed
// two to a u32.
@group(0) @binding(0) var<storage, read> q: array<Stored>;
@group(0) @binding(1) var<storage, read> r: array<Stored>;
@group(0) @binding(2) var<uniform> p: Params;

const BLOCK: u32 = 64u;
const CHUNK: u32 = 8u;

var<workgroup> staged: array<vec4<f32>, 512>; // BLOCK × CHUNK

// The query row of this invocation (may be past the end).
fn query_row(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * BLOCK + lid;
}

// acc[j] = q[qi] · r[r0 + j] for the 64 references from r0 (zero past r_end).
fn block_dots(qi: u32, r0: u32, lid: u32, acc: ptr<function, array<f32, 64>>) {
    for (var j = 0u; j < BLOCK; j++) {
        (*acc)[j] = 0.0;
    }
    for (var d0 = 0u; d0 < p.dim4; d0 += CHUNK) {
        workgroupBarrier();
        for (var t = 0u; t < CHUNK; t++) {
            let slot = lid + t * BLOCK;
            let row = r0 + slot / CHUNK;
            let d = d0 + slot % CHUNK;
            var v = vec4<f32>(0.0);
            if (row < p.r_end && d < p.dim4) {
                v = widen(r[row * p.dim4 + d]);
            }
            staged[slot] = v;
        }
        workgroupBarrier();
        var qv: array<vec4<f32>, 8>;
        for (var dd = 0u; dd < CHUNK; dd++) {
            var v = vec4<f32>(0.0);
            if (qi < p.q_rows && d0 + dd < p.dim4) {
                v = widen(q[qi * p.dim4 + d0 + dd]);
            }
            qv[dd] = v;
        }
        for (var j = 0u; j < BLOCK; j++) {
            var s = 0.0;
            for (var dd = 0u; dd < CHUNK; dd++) {
                s += dot(qv[dd], staged[j * CHUNK + dd]);
            }
            (*acc)[j] += s;
        }
    }
}
