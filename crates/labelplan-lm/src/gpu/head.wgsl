// The output head: the final RMSNorm of x, then the logits W · x, PASSES groups of rows
// per workgroup (`passes.wgsl`).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    norm_scale(lid);
    stage(lid);
    let first = first_row(wid.x + wid.y * nwg.x);
    pass_sums_W(first, lid);
    let row = first + lid;
    if (lid < PASSES * ROWS_PER_GROUP && row < ROWS) {
        logits[row] = lanes_total(lid).x;
    }
}
