// Dense similarities: out[qi, r_first + j] = q[qi] · r[j].

@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let qi = query_row(wid, nwg, lid);
    var acc: array<f32, 64>;
    for (var r0 = p.r_start; r0 < p.r_end; r0 += BLOCK) {
        block_dots(qi, r0, lid, &acc);
        if (qi < p.q_rows) {
            for (var j = 0u; j < BLOCK && r0 + j < p.r_end; j++) {
                out[qi * p.out_stride + p.r_first + r0 + j] = acc[j];
            }
        }
    }
}
