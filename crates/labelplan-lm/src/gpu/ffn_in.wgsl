// The FFN's first half: RMSNorm of x, gate and up products, silu(gate) ⊙ up.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> WG: array<u32>;
@group(0) @binding(3) var<storage, read> WU: array<u32>;
@group(0) @binding(4) var<storage, read_write> act: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    norm_scale(lid);
    stage(lid);
    let first = first_row(wid.x + wid.y * nwg.x);
    let lane = lid % LANES;
    for (var p = 0u; p < PASSES; p++) {
        let row = first + pass_row(p, lid);
        var gate_up = vec2(0.0);
        if (row < ROWS) {
            gate_up = vec2(lane_WG(row, lane), lane_WU(row, lane));
        }
        lanes[p * 64u + lid] = gate_up;
    }
    workgroupBarrier();
    let row = first + lid;
    if (lid < PASSES * ROWS_PER_GROUP && row < ROWS) {
        let t = lanes_total(lid);
        act[row] = t.x / (1.0 + exp(-t.x)) * t.y;
    }
}
