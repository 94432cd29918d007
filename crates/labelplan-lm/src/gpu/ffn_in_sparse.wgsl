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
    let first = e * EXPERT_SIZE + first_row(g % GROUPS_PER_EXPERT);
    let lane = lid % LANES;
    for (var p = 0u; p < PASSES; p++) {
        let row = first + pass_row(p, lid);
        lanes[p * 64u + lid] = vec2(lane_WG(row, lane), lane_WU(row, lane));
    }
    workgroupBarrier();
    if (lid < PASSES * ROWS_PER_GROUP) {
        let t = lanes_total(lid);
        act[first + lid] = t.x / (1.0 + exp(-t.x)) * t.y * scales[e];
    }
}
