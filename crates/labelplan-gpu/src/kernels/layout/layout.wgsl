// One epoch of the map's layout: every row moves from the positions of the epoch before
// (`now`) by the pull of its graph edges and the push of a few sampled rows, written to
// `next`. The same operations in the same order as `labelplan_core::layout::moved`.
// One invocation per row.

struct Params {
    rows: u32,       // rows in the graph
    epoch: u32,      // this epoch (sets the step size and the samples)
    total: u32,      // epochs of the whole layout
    negatives: u32,  // samples that push each row per epoch
    seed: u32,       // seed of those samples
}

@group(0) @binding(0) var<storage, read> offsets: array<u32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> now: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> next: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> p: Params;

const CLIP: f32 = 4.0;             // layout::GRADIENT_CLIP
const REPULSION_FLOOR: f32 = 0.001; // layout::REPULSION_FLOOR

fn mix(value: u32) -> u32 {
    var x = value;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    return x ^ (x >> 16u);
}

fn negative(item: u32, sample: u32) -> u32 {
    var h = mix(p.seed ^ (p.epoch * 0x9e3779b9u));
    h = mix(h ^ (item * 0x85ebca6bu));
    h = mix(h ^ (sample * 0xc2b2ae35u));
    return h % p.rows;
}

fn clip(v: vec2<f32>) -> vec2<f32> {
    return clamp(v, vec2<f32>(-CLIP), vec2<f32>(CLIP));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * nwg.x) * 64u + lid;
    if (i >= p.rows) {
        return;
    }
    let here = now[i];
    var pull = vec2<f32>(0.0);
    var weight = 0.0;
    for (var e = offsets[i]; e < offsets[i + 1u]; e++) {
        let d = here - now[targets[e]];
        let c = -2.0 / (1.0 + (d.x * d.x + d.y * d.y));
        pull += weights[e] * clip(c * d);
        weight += weights[e];
    }
    var push = vec2<f32>(0.0);
    for (var s = 0u; s < p.negatives; s++) {
        let j = negative(i, s);
        if (j == i) {
            continue;
        }
        let d = here - now[j];
        let d2 = d.x * d.x + d.y * d.y;
        let c = 2.0 / ((REPULSION_FLOOR + d2) * (1.0 + d2));
        push += clip(c * d);
    }
    var scale = 0.0;
    if (p.negatives > 0u) {
        scale = weight / f32(p.negatives);
    }
    let step = 1.0 - f32(p.epoch) / f32(p.total);
    next[i] = here + step * (pull + scale * push);
}
