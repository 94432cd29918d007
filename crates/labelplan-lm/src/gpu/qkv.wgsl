// Queries, keys and values of one layer at position `step.pos`, in one dispatch: RMSNorm
// of x, the three products, RoPE on queries and keys (rows 2i and 2i + 1 sit in the same
// workgroup, whose first row is even), keys and values stored in the layer's cache.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
@group(0) @binding(2) var<storage, read> WQ: array<u32>;
@group(0) @binding(3) var<storage, read> WK: array<u32>;
@group(0) @binding(4) var<storage, read> WV: array<u32>;
@group(0) @binding(5) var<storage, read_write> q: array<f32>;
// Keys of every position, then values of every position.
@group(0) @binding(6) var<storage, read_write> cache: array<f32>;
// (cos, sin) per position and pair of a head.
@group(0) @binding(7) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(8) var<uniform> step: Step;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    norm_scale(lid);
    stage(lid);
    let first = first_row(wid.x + wid.y * nwg.x);
    let lane = lid % LANES;
    for (var p = 0u; p < PASSES; p++) {
        let row = first + pass_row(p, lid);
        var acc = 0.0;
        if (row < Q_ROWS) {
            acc = lane_WQ(row, lane);
        } else if (row < Q_ROWS + KV_ROWS) {
            acc = lane_WK(row - Q_ROWS, lane);
        } else if (row < Q_ROWS + 2u * KV_ROWS) {
            acc = lane_WV(row - Q_ROWS - KV_ROWS, lane);
        }
        lanes[p * 64u + lid] = vec2(acc, 0.0);
    }
    workgroupBarrier();
    if (lid >= PASSES * ROWS_PER_GROUP) {
        return;
    }
    let r = first + lid;
    let v = lanes_total(lid).x;
    if (r < Q_ROWS + KV_ROWS) {
        let within = select(r, r - Q_ROWS, r >= Q_ROWS) % HEAD_DIM;
        let cs = rope[step.pos * (HEAD_DIM / 2u) + within / 2u];
        let other = lanes_total(lid ^ 1u).x;
        // (a, b) -> (a cos - b sin, a sin + b cos)
        let turned = select(v * cs.x - other * cs.y, other * cs.y + v * cs.x, within % 2u == 1u);
        if (r < Q_ROWS) {
            q[r] = turned;
        } else {
            cache[step.pos * KV_ROWS + r - Q_ROWS] = turned;
        }
    } else if (r < Q_ROWS + 2u * KV_ROWS) {
        cache[POSITIONS * KV_ROWS + step.pos * KV_ROWS + r - Q_ROWS - KV_ROWS] = v;
    }
}
