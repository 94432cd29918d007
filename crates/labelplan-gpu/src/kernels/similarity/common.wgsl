// Shared by the dense, nearest and top-k similarity kernels. One workgroup takes 64
// query rows and walks the reference rows [r_start, r_end) of one reference tile in
// passes of 64. A pass computes the 64 × 64 block of dot products register-blocked:
// invocation `lid` owns 8 query rows × 8 references (16 vec4 accumulators), reading both
// operands from workgroup memory, where the pass stages 4 vec4s (16 dims) of its 64 query
// and 64 reference rows at a time. The block then goes through workgroup memory (`dots`)
// in two halves of 32 references, and for each half every invocation runs the epilogue
// for one query row (`epilogue`, defined by each kernel). Every invocation reaches every
// barrier: rows past the end compute on zeros.

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

// `Stored_q` / `Stored_r` (four values) and `widen_q` / `widen_r` come from the storage
// prelude: each operand f32, or f16 packed two to a u32.
@group(0) @binding(0) var<storage, read> q: array<Stored_q>;
@group(0) @binding(1) var<storage, read> r: array<Stored_r>;
@group(0) @binding(2) var<uniform> p: Params;

const BLOCK: u32 = 64u;   // query rows per workgroup, and reference rows per pass
const HALF: u32 = 32u;    // references of `dots` (one epilogue round)
const CHUNK: u32 = 4u;    // vec4s of each row staged at a time
const TILE: u32 = 8u;     // query rows and references of one invocation's register tile

// 16 KiB in all, WebGPU's guaranteed workgroup storage.
var<workgroup> q_staged: array<vec4<f32>, 256>; // BLOCK × CHUNK
var<workgroup> r_staged: array<vec4<f32>, 256>; // BLOCK × CHUNK
var<workgroup> dots: array<f32, 2048>;          // BLOCK × HALF

// The first query row of this workgroup.
fn first_query(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * BLOCK;
}

// Stage vec4s [d0, d0 + CHUNK) of the 64 query rows from q0 and of the 64 reference rows
// from r0 (zero past the ends).
fn stage(q0: u32, r0: u32, d0: u32, lid: u32) {
    for (var t = 0u; t < CHUNK; t++) {
        let slot = lid + t * BLOCK;
        let d = d0 + slot % CHUNK;
        let q_row = q0 + slot / CHUNK;
        let r_row = r0 + slot / CHUNK;
        var qv = vec4<f32>(0.0);
        var rv = vec4<f32>(0.0);
        if (d < p.dim4) {
            if (q_row < p.q_rows) {
                qv = widen_q(q[q_row * p.dim4 + d]);
            }
            if (r_row < p.r_end) {
                rv = widen_r(r[r_row * p.dim4 + d]);
            }
        }
        q_staged[slot] = qv;
        r_staged[slot] = rv;
    }
}

// The 64 × 64 dot products of query rows q0.. and references r0.. : invocation `lid`
// holds rows tr..tr+8 × references tc..tc+8 in `acc` (acc[2i + h][e]: row tr + i,
// reference tc + 4h + e).
fn block_dots(q0: u32, r0: u32, lid: u32, acc: ptr<function, array<vec4<f32>, 16>>) {
    let tr = (lid / 8u) * TILE;
    let tc = (lid % 8u) * TILE;
    for (var i = 0u; i < 16u; i++) {
        (*acc)[i] = vec4<f32>(0.0);
    }
    for (var d0 = 0u; d0 < p.dim4; d0 += CHUNK) {
        workgroupBarrier();
        stage(q0, r0, d0, lid);
        workgroupBarrier();
        for (var dd = 0u; dd < CHUNK; dd++) {
            var b: array<vec4<f32>, 8>;
            for (var c = 0u; c < TILE; c++) {
                b[c] = r_staged[(tc + c) * CHUNK + dd];
            }
            for (var i = 0u; i < TILE; i++) {
                let a = q_staged[(tr + i) * CHUNK + dd];
                (*acc)[2u * i] += vec4<f32>(dot(a, b[0]), dot(a, b[1]), dot(a, b[2]), dot(a, b[3]));
                (*acc)[2u * i + 1u] += vec4<f32>(dot(a, b[4]), dot(a, b[5]), dot(a, b[6]), dot(a, b[7]));
            }
        }
    }
}

// Writes half `h` (references 32h..32h+32 of the pass) of the block to `dots`:
// dots[i * HALF + j] = q[q0 + i] · r[r0 + 32h + j].
fn publish(lid: u32, h: u32, acc: ptr<function, array<vec4<f32>, 16>>) {
    let tr = (lid / 8u) * TILE;
    let tc = (lid % 8u) * TILE;
    // Every invocation has finished reading `dots` (the previous round's epilogue).
    workgroupBarrier();
    if (tc / HALF == h) {
        for (var i = 0u; i < TILE; i++) {
            let at = (tr + i) * HALF + tc % HALF;
            let lo = (*acc)[2u * i];
            let hi = (*acc)[2u * i + 1u];
            dots[at] = lo.x;
            dots[at + 1u] = lo.y;
            dots[at + 2u] = lo.z;
            dots[at + 3u] = lo.w;
            dots[at + 4u] = hi.x;
            dots[at + 5u] = hi.y;
            dots[at + 6u] = hi.z;
            dots[at + 7u] = hi.w;
        }
    }
    workgroupBarrier();
}
