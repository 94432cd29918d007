// Partial weighted sums of rows without float atomics: the host lists chunks of at
// most 256 (tile row, weight) entries of one output row (segment sums: weight 1; the
// map's Xᵀu: every row with its weight); one invocation per (chunk, vec4 column) sums
// its chunk in order. The host adds the partials in chunk order, so the result never
// depends on timing.

struct Params {
    chunks: u32,
    dim4: u32,
}

@group(0) @binding(0) var<storage, read> x: array<Stored_x>; // f32 or f16: see the storage prelude
@group(0) @binding(1) var<storage, read> rows: array<u32>;        // tile-local rows, chunk by chunk
@group(0) @binding(2) var<storage, read> weights: array<f32>;     // one per entry of rows
@group(0) @binding(3) var<storage, read> bounds: array<vec2<u32>>; // [start, end) into rows, per chunk
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = (wid.x + wid.y * nwg.x) * 64u + lid;
    if (t >= p.chunks * p.dim4) {
        return;
    }
    let chunk = t / p.dim4;
    let col = t % p.dim4;
    let span = bounds[chunk];
    var acc = vec4<f32>(0.0);
    for (var i = span.x; i < span.y; i++) {
        acc += weights[i] * widen_x(x[rows[i] * p.dim4 + col]);
    }
    out[t] = acc;
}
