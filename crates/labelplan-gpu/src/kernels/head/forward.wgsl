// One dense layer: out[b, o] = bias[o] + Σ_i input[b, i] · w[i, o], ReLU unless last.

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> cursor: array<u32>;
@group(0) @binding(5) var<uniform> t: Train;
@group(0) @binding(6) var<uniform> layer: Layer;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    let b = id / layer.outputs;
    let o = id % layer.outputs;
    if (b >= batch_rows(cursor[0], t)) {
        return;
    }
    var z = bias[o];
    for (var i = 0u; i < layer.inputs; i++) {
        z += input[b * layer.inputs + i] * w[i * layer.outputs + o];
    }
    if (layer.relu == 1u) {
        z = max(z, 0.0);
    }
    out[b * layer.outputs + o] = z;
}
