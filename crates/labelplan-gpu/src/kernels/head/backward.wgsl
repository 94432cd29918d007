// Gradient into a layer's input: prev[b, i] = (Σ_o grad[b, o] · w[i, o]) where the
// input (a ReLU output) is positive, else 0. Runs before the layer's update.

@group(0) @binding(0) var<storage, read> grad: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> input: array<f32>;
@group(0) @binding(3) var<storage, read_write> prev: array<f32>;
@group(0) @binding(4) var<storage, read> cursor: array<u32>;
@group(0) @binding(5) var<uniform> t: Train;
@group(0) @binding(6) var<uniform> layer: Layer;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    let b = id / layer.inputs;
    let i = id % layer.inputs;
    if (b >= batch_rows(cursor[0], t)) {
        return;
    }
    var g = 0.0;
    if (input[b * layer.inputs + i] > 0.0) {
        for (var o = 0u; o < layer.outputs; o++) {
            g += grad[b * layer.outputs + o] * w[i * layer.outputs + o];
        }
    }
    prev[b * layer.inputs + i] = g;
}
