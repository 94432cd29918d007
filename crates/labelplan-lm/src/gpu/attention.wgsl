// Grouped-query attention of one layer at position `step.pos`: one workgroup per query
// head, over the cached keys and values of positions 0..=pos.

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> cache: array<f32>;
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> step: Step;

var<workgroup> shared_max: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = wid.x;
    let kv = (h / GROUP) * HEAD_DIM;
    let n = step.pos + 1u;
    let s0 = h * POSITIONS;
    var m = -3.4e38;
    // Loops over positions and dimensions count with a counter the same in every
    // invocation: a loop nested in one whose counter differs between invocations ran
    // 30× slower on lavapipe.
    for (var t0 = 0u; t0 < n; t0 += 64u) {
        let t = t0 + lid;
        if (t < n) {
            var s = 0.0;
            for (var d = 0u; d < HEAD_DIM; d++) {
                s += q[h * HEAD_DIM + d] * cache[t * KV_ROWS + kv + d];
            }
            s *= SCALE;
            scores[s0 + t] = s;
            m = max(m, s);
        }
    }
    shared_max[lid] = m;
    workgroupBarrier();
    if (lid == 0u) {
        var best = shared_max[0];
        for (var i = 1u; i < 64u; i++) { best = max(best, shared_max[i]); }
        shared_max[0] = best;
    }
    workgroupBarrier();
    let top = shared_max[0];
    var sum = 0.0;
    for (var t0 = 0u; t0 < n; t0 += 64u) {
        let t = t0 + lid;
        if (t < n) {
            let e = exp(scores[s0 + t] - top);
            scores[s0 + t] = e;
            sum += e;
        }
    }
    storageBarrier();
    let total = group_sum(lid, sum);
    for (var d0 = 0u; d0 < HEAD_DIM; d0 += 64u) {
        let d = d0 + lid;
        if (d < HEAD_DIM) {
            var o = 0.0;
            for (var t = 0u; t < n; t++) {
                o += scores[s0 + t] * cache[(POSITIONS + t) * KV_ROWS + kv + d];
            }
            out[h * HEAD_DIM + d] = o / total;
        }
    }
}
