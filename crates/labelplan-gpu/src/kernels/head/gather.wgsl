// x[b, c] = points[order[start + b], c] + noise_std · gaussian(seed, row · dim + c), for
// the rows of the batch that lie in this points tile. The Gaussian is the CPU's
// counter-based SplitMix64 and Irwin–Hall sum of four 16-bit uniforms, with 64-bit
// integers as (lo, hi) pairs: integer work and one exact scaling, so it equals the CPU's
// bit for bit.

struct Tile {
    first: u32,
    rows: u32,
}

@group(0) @binding(0) var<storage, read> points: array<Stored_x>; // f32 or f16: see the storage prelude
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> cursor: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<uniform> t: Train;
@group(0) @binding(5) var<uniform> tile: Tile;

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

// a >> n for 0 < n < 32.
fn shr64(a: vec2<u32>, n: u32) -> vec2<u32> {
    return vec2<u32>((a.x >> n) | (a.y << (32u - n)), a.y >> n);
}

// The full 64-bit product of two u32.
fn mul32(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

// The low 64 bits of a · b.
fn mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let p = mul32(a.x, b.x);
    return vec2<u32>(p.x, p.y + a.x * b.y + a.y * b.x);
}

// √3 / 65536: four uniforms on 0..65535 have variance 4·(65536² − 1)/12 ≈ (65536/√3)².
const NOISE_SCALE: f32 = 2.6428998e-5;

const GOLDEN: vec2<u32> = vec2<u32>(0x7f4a7c15u, 0x9e3779b9u);

fn splitmix(x: vec2<u32>) -> vec2<u32> {
    var z = add64(x, GOLDEN);
    z = mul64(z ^ shr64(z, 30u), vec2<u32>(0x1ce4e5b9u, 0xbf58476du));
    z = mul64(z ^ shr64(z, 27u), vec2<u32>(0x133111ebu, 0x94d049bbu));
    return z ^ shr64(z, 31u);
}

fn gaussian(seed: vec2<u32>, index: vec2<u32>) -> f32 {
    let h = splitmix(seed ^ mul64(index, GOLDEN));
    let sum = (h.x & 0xffffu) + (h.x >> 16u) + (h.y & 0xffffu) + (h.y >> 16u);
    return (f32(sum) - 131070.0) * NOISE_SCALE;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    let c = cursor[0];
    let b = id / t.dim;
    let col = id % t.dim;
    if (b >= batch_rows(c, t)) {
        return;
    }
    let row = order[c * t.batch + b];
    if (row < tile.first || row >= tile.first + tile.rows) {
        return;
    }
    let packed = widen_x(points[(row - tile.first) * t.dim4 + col / 4u]);
    var v = packed[col % 4u];
    if (t.noise_std > 0.0) {
        v += t.noise_std * gaussian(vec2<u32>(t.seed_lo, t.seed_hi), add64(mul32(row, t.dim), vec2<u32>(col, 0u)));
    }
    x[b * t.dim + col] = v;
}
