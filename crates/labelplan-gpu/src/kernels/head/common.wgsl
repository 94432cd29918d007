// Shared by the proxy-head kernels. A minibatch is rows [cursor·batch, …) of `order`;
// `cursor` lives in a storage buffer that the `advance` kernel bumps after each batch,
// so a whole epoch is recorded once and needs no per-batch uniforms. Dispatches in one
// submission run in order, each seeing the previous one's writes.

struct Train {
    count: u32,       // rows in `order`
    batch: u32,       // rows per minibatch
    dim: u32,         // input width (unpadded)
    dim4: u32,        // vec4s per row of the points tile
    classes: u32,
    mode: u32,        // 0: no record, 1: record as epoch `epoch`, 2: record as final
    epoch: u32,
    el2n_epochs: u32,
    items: u32,       // rows of the points matrix (stats stride)
    learning_rate: f32,
    noise_std: f32,
    seed_lo: u32,
    seed_hi: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Layer {
    inputs: u32,
    outputs: u32,
    relu: u32,
    _pad: u32,
}

// Rows in the current minibatch.
fn batch_rows(cursor: u32, t: Train) -> u32 {
    let start = cursor * t.batch;
    return min(t.batch, t.count - min(start, t.count));
}

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * 64u + lid;
}
