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
    stage(lid);
    let row = row_of(wid.x + wid.y * nwg.x, lid);
    let lane = lid % LANES;
    let count = experts[0];
    var acc = 0.0;
    if (row < ROWS) {
        for (var k = lane; k < count; k += LANES) {
            acc += block_W(row, experts[1u + k]);
        }
    }
    let total = lane_sum(lid, acc);
    if (lane == 0u && row < ROWS) {
        x[row] += total;
    }
}
