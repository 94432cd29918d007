// A layer's router and the compaction of its chosen experts, in one workgroup: expert
// e runs iff its gate sigmoid(R_e · h + b_e) is above τ, that is iff R_e · h + b_e >
// LOGIT_THRESHOLD; the running experts are listed in order in `experts` (count first)
// for the FFN kernels, which stay on the device (no readback), followed by the grid of
// the gate/up kernel's indirect dispatch (GROUPS_PER_EXPERT workgroups per listed
// expert); their mask is kept per position for the page.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> norm: array<f32>;
// R is stored input after input (R[j · EXPERTS + e]): neighbouring invocations read
// neighbouring words.
@group(0) @binding(2) var<storage, read> R: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> experts: array<u32>;
@group(0) @binding(5) var<storage, read_write> used: array<u32>;
@group(0) @binding(6) var<uniform> step: Step;

var<workgroup> on: array<u32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32) {
    norm_scale(lid);
    stage(lid);
    var running = 0u;
    if (lid < EXPERTS) {
        var z = 0.0;
        for (var j = 0u; j < DIM; j++) {
            z += R[j * EXPERTS + lid] * input(j);
        }
        running = select(0u, 1u, z + bias[lid] > LOGIT_THRESHOLD);
    }
    on[lid] = running;
    workgroupBarrier();
    if (lid == 0u) {
        var count = 0u;
        var mask = vec2<u32>(0u, 0u);
        for (var e = 0u; e < EXPERTS; e++) {
            if (on[e] == 1u) {
                experts[1u + count] = e;
                count++;
                mask[e / 32u] |= 1u << (e % 32u);
            }
        }
        experts[0] = count;
        experts[1u + EXPERTS] = count * GROUPS_PER_EXPERT;
        experts[2u + EXPERTS] = 1u;
        experts[3u + EXPERTS] = 1u;
        used[2u * step.pos] = mask.x;
        used[2u * step.pos + 1u] = mask.y;
    }
}
