// The output head: the final RMSNorm of x, then the logits W · x, PASSES groups of rows
// per workgroup (the norm and the staged input, DIM values, are worth reusing over
// more than 8 of the vocabulary's rows).

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    norm_scale(lid);
    stage(lid);
    let lane = lid % LANES;
    for (var p = 0u; p < PASSES; p++) {
        let row = row_of((wid.x + wid.y * nwg.x) * PASSES + p, lid);
        var acc = 0.0;
        if (row < ROWS) {
            acc = lane_W(row, lane);
        }
        let total = lane_sum(lid, acc);
        if (lane == 0u && row < ROWS) {
            logits[row] = total;
        }
    }
}
