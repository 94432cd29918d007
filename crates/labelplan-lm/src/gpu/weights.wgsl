// Reading one weight matrix `W` stored as `array<u32>`, `W_BLOCKS` blocks of 32 values
// per row. Rust keeps the part for W's type (between `//# TYPE` markers) and renames W.
// `block_W(r, b)` is block b of row r times the kernel's `input(j)`; `value_W(r, j)` is
// one value (the embedding lookup).

//# Q4_1: 5 words per block: f16 d and m, then 16 bytes of nibbles (low = j, high = j + 16).
fn block_W(r: u32, b: u32) -> f32 {
    let base = (r * W_BLOCKS + b) * 5u;
    let dm = unpack2x16float(W[base]);
    let j0 = b * 32u;
    var qx = 0.0;
    var sx = 0.0;
    for (var k = 0u; k < 4u; k++) {
        let word = W[base + 1u + k];
        for (var i = 0u; i < 4u; i++) {
            let j = j0 + k * 4u + i;
            let a = input(j);
            let c = input(j + 16u);
            qx += f32((word >> (8u * i)) & 15u) * a + f32((word >> (8u * i + 4u)) & 15u) * c;
            sx += a + c;
        }
    }
    return dm.x * qx + dm.y * sx;
}
fn value_W(r: u32, j: u32) -> f32 {
    let base = (r * W_BLOCKS + j / 32u) * 5u;
    let dm = unpack2x16float(W[base]);
    let e = j % 32u;
    let word = W[base + 1u + (e % 16u) / 4u];
    let shift = 8u * (e % 4u) + select(0u, 4u, e >= 16u);
    return f32((word >> shift) & 15u) * dm.x + dm.y;
}
//# Q8_0: 9 words per block (repacked from 34 bytes on upload): f16 d, 2 bytes of padding, 32 signed bytes.
fn block_W(r: u32, b: u32) -> f32 {
    let base = (r * W_BLOCKS + b) * 9u;
    let j0 = b * 32u;
    var acc = 0.0;
    for (var k = 0u; k < 8u; k++) {
        let word = W[base + 1u + k];
        for (var i = 0u; i < 4u; i++) {
            acc += f32(bitcast<i32>(word << (24u - 8u * i)) >> 24u) * input(j0 + k * 4u + i);
        }
    }
    return unpack2x16float(W[base]).x * acc;
}
fn value_W(r: u32, j: u32) -> f32 {
    let base = (r * W_BLOCKS + j / 32u) * 9u;
    let e = j % 32u;
    let q = bitcast<i32>(W[base + 1u + e / 4u] << (24u - 8u * (e % 4u))) >> 24u;
    return f32(q) * unpack2x16float(W[base]).x;
}
//# F16: 16 words per block, two values each.
fn block_W(r: u32, b: u32) -> f32 {
    let base = (r * W_BLOCKS + b) * 16u;
    var acc = 0.0;
    for (var k = 0u; k < 16u; k++) {
        let v = unpack2x16float(W[base + k]);
        acc += v.x * input(b * 32u + 2u * k) + v.y * input(b * 32u + 2u * k + 1u);
    }
    return acc;
}
fn value_W(r: u32, j: u32) -> f32 {
    let v = unpack2x16float(W[r * W_BLOCKS * 16u + j / 2u]);
    return select(v.x, v.y, j % 2u == 1u);
}
//# F32: 32 words per block.
fn block_W(r: u32, b: u32) -> f32 {
    let base = (r * W_BLOCKS + b) * 32u;
    var acc = 0.0;
    for (var k = 0u; k < 32u; k++) {
        acc += bitcast<f32>(W[base + k]) * input(b * 32u + k);
    }
    return acc;
}
fn value_W(r: u32, j: u32) -> f32 {
    return bitcast<f32>(W[r * W_BLOCKS * 32u + j]);
}
