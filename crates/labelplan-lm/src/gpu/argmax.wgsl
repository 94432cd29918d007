// The greedy next token: the index of the largest logit (the first on ties), written
// after position `step.pos` in the token list.

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(2) var<uniform> step: Step;

var<workgroup> best_value: array<f32, 256>;
var<workgroup> best_index: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
    var v = -3.4e38;
    var at = 0u;
    for (var i0 = 0u; i0 < VOCAB; i0 += 256u) {
        let i = i0 + lid;
        if (i < VOCAB && logits[i] > v) {
            v = logits[i];
            at = i;
        }
    }
    best_value[lid] = v;
    best_index[lid] = at;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            let ov = best_value[lid + stride];
            let oi = best_index[lid + stride];
            if (ov > best_value[lid] || (ov == best_value[lid] && oi < best_index[lid])) {
                best_value[lid] = ov;
                best_index[lid] = oi;
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        tokens[step.pos + 1u] = best_index[0];
    }
}
