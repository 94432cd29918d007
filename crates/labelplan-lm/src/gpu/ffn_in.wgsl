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
    let row = row_of(wid.x + wid.y * nwg.x, lid);
    let lane = lid % LANES;
    var g = 0.0;
    var u = 0.0;
    if (row < ROWS) {
        g = lane_WG(row, lane);
        u = lane_WU(row, lane);
    }
    let gate = lane_sum(lid, g);
    let up = lane_sum(lid, u);
    if (lane == 0u && row < ROWS) {
        act[row] = gate / (1.0 + exp(-gate)) * up;
    }
}
