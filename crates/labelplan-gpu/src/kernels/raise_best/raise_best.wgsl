// Greedy coverage step. `raise` (one invocation per row of a tile): best = max(best,
// row · pick_row), or NaN for the retired pick; then each workgroup's least-covered
// live row (smallest best, lowest index on ties) goes to the partials. `reduce` (one
// workgroup) picks the winner of all partials. NaN is tested by bits: shader compilers
// may assume floats are never NaN.

struct Params {
    rows: u32,      // rows in this tile
    dim4: u32,      // padded row width in vec4s
    first: u32,     // global index of the tile's row 0
    pick: u32,      // the row just picked
    retire: u32,    // 1: set best[pick] = NaN
    part_at: u32,   // index of this dispatch's first partial
    parts: u32,     // reduce: partials in all
    nan: u32,       // the bits of a quiet NaN (a constant NaN is a shader-creation error)
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> pick_row: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> best: array<f32>;
@group(0) @binding(3) var<storage, read_write> part_value: array<f32>;
@group(0) @binding(4) var<storage, read_write> part_index: array<u32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> wv: array<f32, 256>;
var<workgroup> wi: array<u32, 256>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether candidate (va, ia) beats (vb, ib): live, smaller, or equal with a lower index.
fn beats(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    return ia != NONE && (ib == NONE || va < vb || (va == vb && ia < ib));
}

// Tree reduction of the first `n` (a power of two) slots into slot 0.
fn reduce_slots(lid: u32, n: u32) {
    for (var stride = n / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lid < stride && beats(wv[lid + stride], wi[lid + stride], wv[lid], wi[lid])) {
            wv[lid] = wv[lid + stride];
            wi[lid] = wi[lid + stride];
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(64)
fn raise(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let group = wid.x + wid.y * nwg.x;
    let row = group * 64u + lid;
    var v = 0.0;
    var i = NONE;
    if (row < p.rows) {
        let g = p.first + row;
        let b = best[g];
        if (!is_nan(b)) {
            if (p.retire == 1u && g == p.pick) {
                best[g] = bitcast<f32>(p.nan);
            } else {
                var s = 0.0;
                for (var j = 0u; j < p.dim4; j++) {
                    s += dot(x[row * p.dim4 + j], pick_row[j]);
                }
                v = max(b, s);
                best[g] = v;
                i = g;
            }
        }
    }
    wv[lid] = v;
    wi[lid] = i;
    reduce_slots(lid, 64u);
    if (lid == 0u) {
        part_value[p.part_at + group] = wv[0];
        part_index[p.part_at + group] = wi[0];
    }
}

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) lid: u32) {
    var v = 0.0;
    var i = NONE;
    for (var t = lid; t < p.parts; t += 256u) {
        if (beats(part_value[t], part_index[t], v, i)) {
            v = part_value[t];
            i = part_index[t];
        }
    }
    wv[lid] = v;
    wi[lid] = i;
    reduce_slots(lid, 256u);
    if (lid == 0u) {
        part_value[p.parts] = wv[0];
        part_index[p.parts] = wi[0];
    }
}
