// Greedy coverage step over row ranges. `raise` (one workgroup per 64-row piece of a
// range inside one tile, listed in `pieces`): best = max(best, row · pick_row) for live
// rows (the host has already set a retired pick's best to NaN); then the piece's
// least-covered live row (smallest best, lowest index on ties) goes to its slot of the
// partials. `reduce` (one workgroup per range) picks each range's winner from its
// slots. NaN is tested by bits: shader compilers may assume floats are never NaN.
//
// The parameters sit in a storage buffer, not a uniform one, and a retired pick is set
// to NaN by the host: with a uniform block lavapipe recompiled this shader on every
// dispatch (it inlines uniforms that steer control flow; measured 10x slower per step,
// and memory grew by 0.4 MB a dispatch).

struct Params {
    dim4: u32,      // padded row width in vec4s
    first: u32,     // global index of this tile's row 0
    piece_at: u32,  // index in `pieces` of this dispatch's first piece
    pad: u32,
}

// One workgroup's rows [start, end) (global indices) and its partial's slot.
struct Piece {
    start: u32,
    end: u32,
    slot: u32,
}

// A range's partials: slots [start, end); its winner goes to out slot `range`.
struct Slots {
    start: u32,
    end: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<storage, read> x: array<Stored_x>; // f32 or f16: see the storage prelude
@group(0) @binding(1) var<storage, read> pick_row: array<Stored_x>; // a row of x
@group(0) @binding(2) var<storage, read_write> best: array<f32>;
@group(0) @binding(3) var<storage, read_write> part_value: array<f32>;
@group(0) @binding(4) var<storage, read_write> part_index: array<u32>;
@group(0) @binding(5) var<storage, read> p: Params; // see the note above
@group(0) @binding(6) var<storage, read> pieces: array<Piece>;
@group(0) @binding(7) var<storage, read> slots: array<Slots>;
@group(0) @binding(8) var<storage, read_write> out_value: array<f32>;
@group(0) @binding(9) var<storage, read_write> out_index: array<u32>;

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
    let piece = pieces[p.piece_at + wid.x + wid.y * nwg.x];
    let g = piece.start + lid;
    var v = 0.0;
    var i = NONE;
    if (g < piece.end) {
        let row = g - p.first;
        let b = best[g];
        if (!is_nan(b)) {
            var s = 0.0;
            for (var j = 0u; j < p.dim4; j++) {
                s += dot(widen_x(x[row * p.dim4 + j]), widen_x(pick_row[j]));
            }
            v = max(b, s);
            best[g] = v;
            i = g;
        }
    }
    wv[lid] = v;
    wi[lid] = i;
    reduce_slots(lid, 64u);
    if (lid == 0u) {
        part_value[piece.slot] = wv[0];
        part_index[piece.slot] = wi[0];
    }
}

@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let range = wid.x + wid.y * nwg.x;
    let own = slots[range];
    var v = 0.0;
    var i = NONE;
    for (var t = own.start + lid; t < own.end; t += 256u) {
        if (beats(part_value[t], part_index[t], v, i)) {
            v = part_value[t];
            i = part_index[t];
        }
    }
    wv[lid] = v;
    wi[lid] = i;
    reduce_slots(lid, 256u);
    if (lid == 0u) {
        out_value[range] = wv[0];
        out_index[range] = wi[0];
    }
}
