// The FFN's first half over the listed experts only: RMSNorm of x, then gate and up
// rows of the k-th listed expert in workgroups k·GROUPS_PER_EXPERT onwards; silu(gate)
// ⊙ up times the expert's scale. The grid is the listed experts' (an indirect dispatch
// the router sized): no workgroup is launched for an expert that does not run.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> WG: array<u32>;
@group(0) @binding(3) var<storage, read> WU: array<u32>;
@group(0) @binding(4) var<storage, read_write> act: array<f32>;
@group(0) @binding(5) var<storage, read> experts: array<u32>;
@group(0) @binding(6) var<storage, read> scales: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    norm_scale(lid);
    stage(lid);
    let e = experts[1u + g / GROUPS_PER_EXPERT];
    let row = e * EXPERT_SIZE + (g % GROUPS_PER_EXPERT) * ROWS_PER_GROUP + lid / LANES;
    let lane = lid % LANES;
    let gate = lane_sum(lid, lane_WG(row, lane));
    let up = lane_sum(lid, lane_WU(row, lane));
    if (lane == 0u) {
        act[row] = gate / (1.0 + exp(-gate)) * up * scales[e];
    }
}
