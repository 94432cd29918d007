// Dense similarities: out[qi, r_first + j] = q[qi] · r[j].

@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let q0 = first_query(wid, nwg);
    let qi = q0 + lid;
    var acc: array<vec4<f32>, 16>;
    for (var r0 = p.r_start; r0 < p.r_end; r0 += BLOCK) {
        block_dots(q0, r0, lid, &acc);
        for (var h = 0u; h < 2u; h++) {
            publish(lid, h, &acc);
            let rh = r0 + h * HALF;
            if (qi < p.q_rows) {
                for (var j = 0u; j < HALF && rh + j < p.r_end; j++) {
                    out[qi * p.out_stride + p.r_first + rh + j] = dots[lid * HALF + j];
                }
            }
        }
    }
}
