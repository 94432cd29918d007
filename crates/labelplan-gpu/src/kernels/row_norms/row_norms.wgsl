// L2 norm of each row of a row-major matrix tile. One invocation per row; rows beyond
// the tile return early. A 2-D grid lets a tile exceed 65535 workgroups in x.

override WORKGROUP: u32 = 64u;

struct Params {
    rows: u32,
    dim: u32,
    grid_x: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> norms: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x + gid.y * params.grid_x * WORKGROUP;
    if (row >= params.rows) {
        return;
    }
    let base = row * params.dim;
    var acc = 0.0;
    for (var j = 0u; j < params.dim; j = j + 1u) {
        let v = x[base + j];
        acc = acc + v * v;
    }
    norms[row] = sqrt(acc);
}
