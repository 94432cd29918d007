// x += W · act over the listed experts' blocks only: expert e's hidden values are block
// e of every row of the down projection (one block of 32 per expert), so a row's lanes
// sum the listed blocks and nothing else. Each output row belongs to one workgroup: no
// atomics.

@group(0) @binding(0) var<storage, read> inp: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read> experts: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let first = first_row(wid.x + wid.y * nwg.x);
    let lane = lid % LANES;
    let count = experts[0];
    for (var p = 0u; p < PASSES; p++) {
        let row = first + pass_row(p, lid);
        var acc = 0.0;
        if (row < ROWS) {
            // The same trip count in every invocation (a software GPU runs a loop whose
            // counter starts at the lane far slower).
            for (var k0 = 0u; k0 < count; k0 += LANES) {
                let k = k0 + lane;
                if (k < count) {
                    acc += block_W(row, experts[1u + k]);
                }
            }
        }
        lanes[p * 64u + lid] = vec2(acc, 0.0);
    }
    workgroupBarrier();
    let row = first + lid;
    if (lid < PASSES * ROWS_PER_GROUP && row < ROWS) {
        x[row] += lanes_total(lid).x;
    }
}
