// Each row scaled to unit L2 norm (all-zero rows stay zero).

@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = row_of(wid, nwg, lid);
    if (row >= p.rows) {
        return;
    }
    let norm = norm_of(row);
    var scale = 0.0;
    if (norm > 0.0) {
        scale = 1.0 / norm;
    }
    for (var j = 0u; j < p.dim4; j++) {
        out[row * p.dim4 + j] = x[row * p.dim4 + j] * scale;
    }
}
