// Fused arg-max: the running best reference of each query row, kept in best_sim /
// best_index across dispatches. A strictly larger similarity replaces the best, so ties
// keep the lowest index (references arrive in ascending order).

@group(0) @binding(3) var<storage, read_write> best_sim: array<f32>;
@group(0) @binding(4) var<storage, read_write> best_index: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let q0 = first_query(wid, nwg);
    let qi = q0 + lid;
    var s = -3.0e38;
    var i = 0xffffffffu;
    if (qi < p.q_rows) {
        s = best_sim[qi];
        i = best_index[qi];
    }
    var acc: array<vec4<f32>, 16>;
    for (var r0 = p.r_start; r0 < p.r_end; r0 += BLOCK) {
        block_dots(q0, r0, lid, &acc);
        for (var h = 0u; h < 2u; h++) {
            publish(lid, h, &acc);
            let rh = r0 + h * HALF;
            for (var j = 0u; j < HALF && rh + j < p.r_end; j++) {
                let d = dots[lid * HALF + j];
                if (d > s || i == 0xffffffffu) {
                    s = d;
                    i = p.r_first + rh + j;
                }
            }
        }
    }
    if (qi < p.q_rows) {
        best_sim[qi] = s;
        best_index[qi] = i;
    }
}
