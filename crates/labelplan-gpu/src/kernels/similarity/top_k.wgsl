// Fused top-k: the k most similar references of each query row, best first, skipping
// references whose group equals the query's (itself and its exact duplicates when the
// queries are the references). The running list lives in list_sim /
// list_index across dispatches (empty slots: index 0xffffffff). A new value goes after
// every equal one, so ties keep the lowest index first.

@group(0) @binding(3) var<storage, read_write> list_sim: array<f32>;
@group(0) @binding(4) var<storage, read_write> list_index: array<u32>;
@group(0) @binding(5) var<storage, read> group_of: array<u32>;       // per reference row
@group(0) @binding(6) var<storage, read> query_group: array<u32>;    // per query row

const MAX_K: u32 = 32u;
const EMPTY: u32 = 0xffffffffu;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let q0 = first_query(wid, nwg);
    let qi = q0 + lid;
    let live = qi < p.q_rows;
    var sims: array<f32, 32>;
    var idx: array<u32, 32>;
    var filled = 0u;
    var me = EMPTY;
    if (live) {
        me = query_group[p.q_first + qi];
        for (var t = 0u; t < p.k; t++) {
            sims[t] = list_sim[qi * p.k + t];
            idx[t] = list_index[qi * p.k + t];
            if (idx[t] != EMPTY) {
                filled = t + 1u;
            }
        }
    }
    var acc: array<vec4<f32>, 16>;
    for (var r0 = p.r_start; r0 < p.r_end; r0 += BLOCK) {
        block_dots(q0, r0, lid, &acc);
        for (var h = 0u; h < 2u; h++) {
            publish(lid, h, &acc);
            let rh = r0 + h * HALF;
            if (live) {
                for (var j = 0u; j < HALF && rh + j < p.r_end; j++) {
                    let g = p.r_first + rh + j;
                    let s = dots[lid * HALF + j];
                    if (group_of[g] != me && (filled < p.k || s > sims[p.k - 1u])) {
                        // Shift worse entries down; insert after every entry >= s.
                        var at = min(filled, p.k - 1u);
                        while (at > 0u && sims[at - 1u] < s) {
                            sims[at] = sims[at - 1u];
                            idx[at] = idx[at - 1u];
                            at -= 1u;
                        }
                        sims[at] = s;
                        idx[at] = g;
                        filled = min(filled + 1u, p.k);
                    }
                }
            }
        }
    }
    if (live) {
        for (var t = 0u; t < p.k; t++) {
            list_sim[qi * p.k + t] = sims[t];
            list_index[qi * p.k + t] = idx[t];
        }
    }
}
