// x += W · input: the attention output and the FFN's down projection, each added to
// the residual stream.

@group(0) @binding(0) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let first = first_row(wid.x + wid.y * nwg.x);
    pass_sums_W(first, lid);
    let row = first + lid;
    if (lid < PASSES * ROWS_PER_GROUP && row < ROWS) {
        x[row] += lanes_total(lid).x;
    }
}
