// Shared by the row-norm and normalize kernels: one invocation per row of a tile.

struct Params {
    rows: u32,
    dim4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

fn row_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * 64u + lid;
}

fn norm_of(row: u32) -> f32 {
    var acc = 0.0;
    for (var j = 0u; j < p.dim4; j++) {
        acc += dot(x[row * p.dim4 + j], x[row * p.dim4 + j]);
    }
    return sqrt(acc);
}
