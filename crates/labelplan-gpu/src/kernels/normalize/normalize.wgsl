// Each row scaled to unit L2 norm (all-zero rows stay zero): one invocation per row.

struct Params {
    rows: u32,
    dim4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * 64u + lid;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.dim4;
    var acc = 0.0;
    for (var j = 0u; j < p.dim4; j++) {
        acc += dot(x[base + j], x[base + j]);
    }
    let norm = sqrt(acc);
    var scale = 0.0;
    if (norm > 0.0) {
        scale = 1.0 / norm;
    }
    for (var j = 0u; j < p.dim4; j++) {
        out[base + j] = x[base + j] * scale;
    }
}
