// For each query row of one query tile, the best of its candidate references that lie in
// one reference tile, merged into the running best (best_sim / best_index) across
// reference tiles. Ties keep the lowest reference index, whatever the candidates' order.
// One invocation per query row.

struct Params {
    q_rows: u32,   // query rows in this query tile
    dim4: u32,     // padded row width in vec4s
    per_row: u32,  // candidate slots per query row
    r_first: u32,  // global index of the reference tile's row 0
    r_rows: u32,   // rows in the reference tile
}

// `Stored_q` / `Stored_r` (four values) and `widen_q` / `widen_r` come from the storage
// prelude: each operand f32, or f16 packed two to a u32.
@group(0) @binding(0) var<storage, read> q: array<Stored_q>;
@group(0) @binding(1) var<storage, read> r: array<Stored_r>;
@group(0) @binding(2) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> candidates: array<u32>;
@group(0) @binding(4) var<storage, read_write> best_sim: array<f32>;
@group(0) @binding(5) var<storage, read_write> best_index: array<u32>;

const EMPTY: u32 = 0xffffffffu;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let qi = (wid.x + wid.y * nwg.x) * 64u + lid;
    if (qi >= p.q_rows) {
        return;
    }
    var s = best_sim[qi];
    var i = best_index[qi];
    for (var t = 0u; t < p.per_row; t++) {
        let c = candidates[qi * p.per_row + t];
        if (c == EMPTY || c < p.r_first || c >= p.r_first + p.r_rows) {
            continue;
        }
        let at = (c - p.r_first) * p.dim4;
        var acc = 0.0;
        for (var d = 0u; d < p.dim4; d++) {
            acc += dot(widen_q(q[qi * p.dim4 + d]), widen_r(r[at + d]));
        }
        if (i == EMPTY || acc > s || (acc == s && c < i)) {
            s = acc;
            i = c;
        }
    }
    best_sim[qi] = s;
    best_index[qi] = i;
}
